package rtc

import (
	"math"
	"time"
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
// window is not sent as one burst either.
const (
	// MinFlowWindow is the least the channel may hold unacknowledged: a
	// burst this size fits the SFU's socket buffer with room to spare.
	MinFlowWindow = 64 << 10
	// MaxFlowWindow bounds the window on the longest, fastest paths (and
	// the latency a full buffer adds).
	MaxFlowWindow = 8 << 20
	// flowGain scales the delivery estimate: the window is flowGain ×
	// the bandwidth-delay product, and writes are paced at flowGain × the
	// delivery rate, so the estimate can grow when the path allows.
	flowGain = 2
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

	tokens float64 // the pacing bucket, at most MinFlowWindow (limitBurst at the limit)
	tokAt  time.Time

	// lim holds writes below what the path carries once it loses packets
	// behind a queue (congestion.go).
	lim limiter

	// What writers waited for, for the connection's figures.
	windowWaits, paceWaits uint64
}

func newFlow() *flow { return &flow{window: MinFlowWindow, tokens: MinFlowWindow} }

// due says whether a sample taken at now would count (observe ignores
// closer ones): the caller asks pion for the round trip only then.
func (f *flow) due(now time.Time) bool {
	return f.sampleAt.IsZero() || now.Sub(f.sampleAt) >= flowSample
}

// observe takes a sample at now: left is every byte that has left
// pion's buffer so far (written − buffered), rtt the path's latest round
// trip (0: not measured yet). Samples closer than flowSample are ignored.
func (f *flow) observe(now time.Time, left uint64, rtt time.Duration) {
	if f.sampleAt.IsZero() {
		f.sampleAt, f.sampleLeft = now, left
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
	bdp := rate * f.minRTT.Seconds()
	f.window = int(min(max(flowGain*bdp, MinFlowWindow), MaxFlowWindow))
	// Pace only where the window is beyond what one burst may be: below
	// it, the window alone keeps bursts small.
	f.pace = 0
	if f.window > MinFlowWindow && rate > 0 {
		f.pace = flowGain * rate
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
		f.tokens = min(f.tokens+now.Sub(f.tokAt).Seconds()*pace, depth)
	}
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
