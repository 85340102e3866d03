package rtc

import (
	"math"
	"time"

	"github.com/dttui/dttui/packetizer"
)

// Flow control of the `_data_track` channel.
//
// pion's SCTP sends whatever its congestion window allows the moment a
// message is queued or a SACK arrives, with no Max.Burst (RFC 9260
// §6.1) and no pacing. On loopback its window grows to hundreds of KiB, so
// a writer that keeps a 256 KiB buffer full sends bursts larger than the
// SFU's UDP receive buffer (the kernel's default, 208 KiB, holds about 90
// full-size datagrams): the kernel drops the rest (Udp RcvbufErrors), and
// with no retransmissions every dropped datagram loses its frame for good.
// livekit-client's SCTP (Chromium's) paces and never overflows it.
//
// So the channel holds at most a window of bytes that the SFU has not yet
// acknowledged, and the window follows the path: twice the bytes the path
// delivers in its shortest round trip (the bandwidth-delay product, BBR's
// estimate), never less than MinFlowWindow. The round trip is ICE's (STUN
// checks), not SCTP's: SCTP's includes the time our own data waits in the
// SFU's buffers, 7–80 ms on a busy loopback whose network round trip is
// under 1 ms, and a window grown from it is what overflows them. On loopback that floor is the
// window: self-clocked by the SFU's acknowledgements, at most 64 KiB can
// ever sit in its socket. On a long path the window grows with the delivery
// rate × round trip instead of capping the path at 64 KiB per round trip,
// and writes are paced at twice the measured delivery rate, so a large
// window is not sent as one burst either. On a short path, where the floor
// is several times what the path holds, writes are paced just above the
// path's rate, so a large frame is not sent as one burst.
const (
	// MinFlowWindow is the least the channel may hold unacknowledged: a
	// burst this size fits the SFU's socket buffer with room to spare.
	MinFlowWindow = 64 << 10
	// MaxFlowWindow bounds the window on the longest, fastest paths (and
	// the latency a full buffer adds).
	MaxFlowWindow = 8 << 20
	// flowGain scales the delivery estimate: the window is flowGain ×
	// the bandwidth-delay product.
	flowGain = 2
	// paceGain is the pace over the delivery estimate on a short path:
	// above it, so the estimate can grow (by a tenth every flowSample),
	// and not far above, as a frame of several packets written at g
	// times the path's rate queues 1 − 1/g of itself there: at 2, 33 KB
	// of a 64 KiB frame, past a 5 Mbit/s link's 50 ms drop-tail queue
	// (31 KB). The max filter reads SACKs' lumps as up to a tenth more
	// than the path; 1.25 and 1.5 still lost frames there.
	paceGain = 1.1
	// flowShort: a path whose bandwidth-delay product is less than
	// 1/flowShort of the window's floor is paced at paceGain.
	flowShort = 4
	// flowBusy is what pion must hold at both ends of a sample for its
	// rate to be the path's, not the sender's: a packet's worth.
	flowBusy = packetizer.MTU
	// paceBurst is the pacing bucket's depth in time at the pace (at
	// least one packet): slack for a timer that fires late.
	paceBurst = 10 * time.Millisecond
	// flowSample is the shortest interval a delivery-rate sample covers:
	// SACKs acknowledge in lumps, and shorter samples read a lump as a
	// rate several times the path's.
	flowSample = 25 * time.Millisecond
	// rateWindow is how long the highest delivery-rate sample counts
	// (a max filter, as BBR's, over several round trips).
	rateWindow = time.Second
	// rttWindow is how long the lowest round-trip time counts.
	rttWindow = 10 * time.Second
	// flowPoll bounds a writer's wait for the buffer to drain: pion
	// signals only crossings of its low threshold, which follows the
	// window and so may be moved while a writer waits.
	flowPoll = 2 * time.Millisecond
)

// paceRecheck bounds a pacing wait.
const paceRecheck = 10 * time.Millisecond

// rateSlots is the max filter's resolution: rateWindow in slots.
const rateSlots = 10

// flow is the sender's estimate of the path and the window it allows. It
// is a pure state machine: the data channel feeds it what pion reports
// and asks it before each write; the caller serializes calls.
type flow struct {
	// Delivery: bytes that have left pion's buffer (acknowledged, or
	// abandoned by partial reliability) over time.
	sampleAt   time.Time
	sampleLeft uint64
	slots      [rateSlots]struct {
		at   int64 // the slot's start, in rateWindow/rateSlots units
		rate float64
	}

	minRTT   time.Duration // the lowest round trip ICE measured within rttWindow
	minRTTAt time.Time

	window int     // bytes the channel may hold unacknowledged
	pace   float64 // bytes/s writes are paced at; 0: not paced

	tokens float64 // the pacing bucket: MinFlowWindow, paceBurst at a short path's pace, limitBurst at the limit
	tokAt  time.Time

	// lim holds writes below what the path carries once it loses packets
	// behind a queue (congestion.go).
	lim limiter

	// What writers waited for, for the connection's figures.
	windowWaits, paceWaits uint64

	// est is the path's rate the window and the pace follow: the max
	// filter's while the path limits what leaves (a sample that began
	// and ended with a packet's worth waiting in pion), else the last
	// such, raised by any higher sample. A sender that idles or trickles
	// measures its own rate, not the path's: the next large frame, paced
	// at 1.1 times a trickle, would crawl, and unpaced after an idle
	// second it went out as one burst. 0 until the path first limits: the
	// window alone holds until then.
	est  float64
	busy bool // a packet's worth was waiting at the last sample
}

func newFlow() *flow { return &flow{window: MinFlowWindow, tokens: MinFlowWindow} }

// due says whether a sample taken at now would count (observe ignores
// closer ones): the caller asks pion for the round trip only then.
func (f *flow) due(now time.Time) bool {
	return f.sampleAt.IsZero() || now.Sub(f.sampleAt) >= flowSample
}

// observe takes a sample at now: left is every byte that has left
// pion's buffer so far (written − buffered), buffered what it holds, rtt
// the path's latest round trip (0: not measured yet). Samples closer than
// flowSample are ignored.
func (f *flow) observe(now time.Time, left uint64, buffered int, rtt time.Duration) {
	busy := buffered >= flowBusy
	if f.sampleAt.IsZero() {
		f.sampleAt, f.sampleLeft, f.busy = now, left, busy
		return
	}
	dt := now.Sub(f.sampleAt)
	if dt < flowSample {
		return
	}
	if left >= f.sampleLeft {
		f.noteRate(now, float64(left-f.sampleLeft)/dt.Seconds())
	}
	f.sampleAt, f.sampleLeft = now, left
	if rtt > 0 && (f.minRTT == 0 || rtt <= f.minRTT || now.Sub(f.minRTTAt) > rttWindow) {
		f.minRTT, f.minRTTAt = rtt, now
	}
	rate := f.maxRate(now)
	if limited := busy && f.busy; limited || f.est > 0 && rate > f.est {
		f.est = rate
	}
	f.busy = busy
	rate = f.est
	bdp := rate * f.minRTT.Seconds()
	f.window = int(min(max(flowGain*bdp, MinFlowWindow), MaxFlowWindow))
	switch {
	case f.window > MinFlowWindow:
		// A window beyond one burst: paced so it is not sent as one.
		f.pace = flowGain * rate
	case flowShort*bdp < MinFlowWindow:
		// A short path, where the window's floor is several times what
		// the path holds: the floor lets a whole frame of 64 KiB go at
		// once into a capped link's queue (5 frames/s of it, half a 5
		// Mbit/s link's rate, lost 40 % of them over a 2 ms round
		// trip), so writes are paced just above the path's rate.
		f.pace = paceGain * rate
	default:
		// The floor is about what the path holds: acknowledgements clock
		// the writes. (Paced at 1.1 times the path here, 16 000-B frames
		// at 85 % of a 5 Mbit/s link over 50 ms lost 2–5 %; unpaced,
		// none.)
		f.pace = 0
	}
}

func (f *flow) noteRate(now time.Time, rate float64) {
	slot := now.UnixNano() / int64(rateWindow/rateSlots)
	s := &f.slots[slot%rateSlots]
	if s.at != slot {
		s.at, s.rate = slot, 0
	}
	s.rate = max(s.rate, rate)
}

// maxRate is the highest delivery rate sampled within rateWindow.
func (f *flow) maxRate(now time.Time) float64 {
	slot := now.UnixNano() / int64(rateWindow/rateSlots)
	r := 0.0
	for _, s := range f.slots {
		if slot-s.at < rateSlots {
			r = max(r, s.rate)
		}
	}
	return r
}

// admit says whether a write of n bytes may go now, with buffered bytes
// already in pion. If not, wait > 0 is how long until pacing allows it,
// or wait == 0 means: until the buffer drains below the window. An empty
// buffer always takes the write (a message larger than the window must
// still go).
func (f *flow) admit(now time.Time, buffered, n int) (ok bool, wait time.Duration) {
	if buffered > 0 && buffered+n > f.window {
		f.windowWaits++
		return false, 0
	}
	pace, depth := f.pacing(n)
	if pace <= 0 {
		return true, 0
	}
	if !f.tokAt.IsZero() {
		f.tokens += now.Sub(f.tokAt).Seconds() * pace
	}
	f.tokens = min(f.tokens, depth)
	f.tokAt = now
	if f.tokens < float64(n) && buffered > 0 {
		f.paceWaits++
		// At most paceRecheck: the writer asks again, so the limit's
		// decisions (taken as writers ask) go on while it waits.
		return false, min(max(time.Duration(math.Ceil((float64(n)-f.tokens)/pace*float64(time.Second))), time.Microsecond), paceRecheck)
	}
	f.tokens -= float64(n)
	return true, 0
}

// pacing is the rate writes of n bytes are paced at (0: not paced) and
// the bucket's depth: the flow's pace, held to the congestion limit when
// one is set, with bursts of at most limitBurst at it.
func (f *flow) pacing(n int) (rate, depth float64) {
	rate, depth = f.pace, MinFlowWindow
	if f.window <= MinFlowWindow {
		// Paced on a short path: bursts of paceBurst, so a frame larger
		// than a capped link's queue leaves a packet at a time.
		depth = max(float64(n), f.pace*paceBurst.Seconds())
	}
	if r := f.lim.rate; r > 0 && (rate <= 0 || r < rate) {
		rate, depth = r, f.lim.burst(n)
	}
	return rate, depth
}

// lowThreshold is where pion should signal that a writer waiting for the
// window may go: room for a full packet below it.
func (f *flow) lowThreshold(maxPacket int) int {
	return max(f.window-maxPacket, 0)
}
