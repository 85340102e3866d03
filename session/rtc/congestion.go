package rtc

import (
	"math"
	"time"

	"github.com/dttui/dttui/packetizer"
)

// The congestion limit: backing off on a path that carries less than we
// offer.
//
// On `_data_track` (maxRetransmits 0) pion's SCTP marks every chunk
// abandoned as it first sends it, so a chunk the path drops never counts
// as lost for its congestion control: the window never shrinks, and the
// abandoned bytes leave pion's buffer as acknowledged ones do, so the
// flow's delivery estimate counts them as delivered. Offered more than a
// capped path carries, nothing backed off and the path's drop-tail queue
// dropped a datagram of nearly every frame. Chromium's SCTP, under
// livekit-client, halves its window on such a loss.
//
// The loopback subscriber knows what arrived: its packets, their bytes,
// and the sequence numbers that never came. When it reports loss, or
// less arriving than we send, while SCTP's round trip stands above the
// least it was lately (a queue on the path: a drop-tail queue drops only
// when full), or heavy loss on a path too short for the SFU to shed toward
// the loopback for its round trip alone (limitShedPath), the limiter holds
// writes to a fraction of the rate that arrived, and probes
// up from there while nothing is lost. What arrived counts whole packets
// only: a packet of 16 000 B is 13 datagrams and lost with any one of
// them, so past the path's rate it can collapse far below what the path
// carries; half the rate we sent at is the least a back-off starts from.
// Random loss on an uncongested path raises no queue, and so no back-off:
// those packets are lost whatever the sender does.
//
// Only on a path of limitMinPath or more: on loopback or a LAN the flow's
// window alone keeps the SFU's socket from overflowing, and SCTP's round
// trip there measures the SFU's own processing queue, not a path's.
const (
	// limitMinPath is the least round trip (ICE's) the limit acts on.
	limitMinPath = 5 * time.Millisecond
	// limitStep is the least interval between two decisions (at least
	// the path's round trip): what a decision did shows a round trip later.
	limitStep = 100 * time.Millisecond
	// limitSamples is the least packets (arrived or lost) a decision
	// weighs: fewer, and one lost packet reads as a third of them lost.
	limitSamples = 16
	// limitLoss is the share of datagrams lost over a step
	// (datagramLoss) that counts as congestion, with a queue.
	limitLoss = 0.01
	// limitQueue is the least queueing delay (SCTP's round trip above its
	// least) that counts as a queue; a quarter of the least round trip
	// counts too when that is more, up to limitQueueMost.
	limitQueue = 10 * time.Millisecond
	// limitQueueMost caps the quarter of the round trip: past
	// limitShedPath the queue is the only signal left, and a 50 ms
	// drop-tail queue at a 5 Mbit/s cap 150 ms away showed as 29-33 ms in
	// SCTP's smoothed round trip (it averages the queue's fill and drop),
	// never a quarter of the path (38 ms): 16 000-B frames at 50/s lost
	// 95 % of themselves without a back-off. A clean path's round trip
	// stayed within 14 ms of its least.
	limitQueueMost = 20 * time.Millisecond
	// limitBacklog: less arriving than this share of what we sent, while
	// a queue stands, is congestion before any loss: the path's queue is
	// filling, and a drop-tail queue drops only once it is full.
	limitBacklog = 0.9
	// limitHeavyLoss is the share of datagrams lost over a step that
	// counts as congestion with or without a queue: far past any random
	// loss a path has; what a drop-tail queue does to a sender at twice
	// its rate.
	limitHeavyLoss = 0.1
	// limitShedPath is the round trip from which heavy loss without a
	// queue no longer counts: LiveKit's SFU drops a packet toward a
	// subscriber when more than its target latency (100 ms by default) of
	// bytes, at the rate it drains, wait unacknowledged, beyond 8 KiB. On
	// a round trip near that the bytes merely in flight toward the
	// loopback pass it, so the SFU sheds toward it whatever our uplink
	// does (a fifth below the target: the loopback's delayed SACKs and
	// the SFU's own queue count too). The loopback's path is taken to be
	// ours: the same host to the same SFU.
	limitShedPath = 80 * time.Millisecond
	// limitHold is how long after a back-off (when more: two round trips
	// and twice the queue then, which takes that long to drain) the loss
	// and the queue it came too late for are not counted again: one
	// back-off per congestion event, as SCTP's fast recovery takes one
	// per window. The loopback counts a packet lost only once its reorder
	// delay has passed (packetizer.DefaultReorderDelay): that comes on top.
	limitHold = 200 * time.Millisecond
	// limitQueueStays is the share of a queue that, still standing when
	// a back-off's hold ends, says it was not ours (see queueOnly).
	limitQueueStays = 0.8
	// limitBackoff is the share of the rate that arrived (at least half
	// the rate we sent at; at most the limit) a back-off holds writes to.
	limitBackoff = 0.85
	// limitFloor is the least limit: two full packets a second.
	limitFloor = 32_000
	// limitProbe is how much a second without loss raises the
	// limit (steps last as long as limitSamples take): slowly, as each
	// probe past the path's rate ends in a loss.
	limitProbe = 1.2
	// limitNear is the share of the ceiling (the rate the path last
	// congested at) above which the limit probes by limitProbeNear; past
	// limitPast of it the ceiling is forgotten.
	limitNear, limitPast = 0.9, 1.1
	// limitProbeNear is a second's probe near the ceiling: 1 % a second
	// fills the 15 KiB a 50 ms queue at 5 Mbit/s has beside one packet
	// in about eight seconds past the path's rate.
	limitProbeNear = 1.01
	// limitAtRate is the share of the limit a step must send at for its
	// queue alone to count as congestion.
	limitAtRate = 0.9
	// limitBinding is the share of the limit we must send at for a step
	// to probe: a limit the sender does not reach tells nothing of the
	// path. (It is never lifted: after a pause the path is what it was.)
	limitBinding = 0.5
	// limitBurst is how long a burst at the limit may be: the pacing
	// bucket's depth while limited (at least one packet), so a queue
	// that holds 50 ms at the limit is not overrun by one burst.
	limitBurst = 10 * time.Millisecond
	// limitQueueDelay is the longest a frame waits in its track's queue
	// while the limit is in force (the path's round trip when longer),
	// if a fresher frame waits behind it (outgoing.DropCongested): held
	// to a fraction of what it offers, a track's 16-frame queue would
	// otherwise add most of a second to every frame that leaves.
	limitQueueDelay = 100 * time.Millisecond
)

// RxTotals is what a subscriber following our packets (the loopback)
// received of them so far: packets, bytes, and packets it counts lost.
type RxTotals struct {
	Packets, Lost, Bytes uint64
}

// limitSample is one sample for the limiter: the loopback's totals, the
// bytes that left pion's buffer so far (on the wire: what a step sent,
// where the bytes written would count a filling buffer too), SCTP's
// smoothed round trip (0: not measured).
type limitSample struct {
	rx   RxTotals
	sent uint64
	rtt  time.Duration
}

// limiter is the congestion limit's state machine: the caller feeds it
// samples and reads rate; it has no clock of its own.
type limiter struct {
	rate float64 // bytes/s; 0: no limit

	baseRTT time.Duration // the least SCTP round trip within rttWindow
	baseAt  time.Time

	at   time.Time   // the last decision
	last limitSample // the sample then
	have bool
	hold time.Time // no back-off before it
	// strikes counts the steps running that saw loss behind a queue.
	strikes int
	// ceiling is what we sent at when the path last congested (0: not
	// yet, or probed past since): the limit nears it slowly.
	ceiling float64

	// queueOnly is the queue the last back-off came from when nothing was
	// lost or backed up (0: it had another cause, or has been judged).
	queueOnly time.Duration

	backoffs uint64
	rebases  uint64 // least round trips taken anew, the path grown longer
}

// step takes a sample, path being ICE's least round trip. It decides at
// most once per limitStep and per round trip, and on limitSamples packets.
func (l *limiter) step(now time.Time, s limitSample, path time.Duration) {
	if s.rtt > 0 && (l.baseRTT == 0 || s.rtt <= l.baseRTT || now.Sub(l.baseAt) > rttWindow) {
		l.baseRTT, l.baseAt = s.rtt, now
	}
	rx, was := s.rx, l.last
	if !l.have || rx.Packets < was.rx.Packets || rx.Lost < was.rx.Lost || rx.Bytes < was.rx.Bytes || s.sent < was.sent {
		// The first sample, or the loopback or the channel started over.
		l.at, l.last, l.have = now, s, true
		return
	}
	dt := now.Sub(l.at)
	if dt < max(limitStep, path) {
		return
	}
	if path < limitMinPath {
		// Nothing limits a short path, and nothing here would lift a
		// limit set while it was longer: 64 KiB frames stayed held to
		// 1.6 MB/s on an uncapped 2 ms path by a limit from a 20 Mbit/s one.
		l.at, l.last = now, s
		l.rate, l.ceiling = 0, 0
		return
	}
	got, lost := rx.Packets-was.rx.Packets, rx.Lost-was.rx.Lost
	if got+lost < limitSamples {
		return // too few to tell: the step goes on
	}
	sent := float64(s.sent-was.sent) / dt.Seconds()
	arrived := float64(rx.Bytes-was.rx.Bytes) / dt.Seconds()
	l.at, l.last = now, s
	// The queue is SCTP's round trip above its least. (Not above ICE's:
	// SCTP's also holds the peer's delayed acknowledgement, up to a
	// packet interval at low rates.) A sender that starts past the path's
	// rate never sees SCTP's round trip without the queue: loss past
	// limitHeavyLoss is congestion alone.
	queue := s.rtt - l.baseRTT
	share := datagramLoss(lost, got, rx.Bytes-was.rx.Bytes)
	// A packet's own datagrams, sent at once, queue at the bottleneck
	// for as long as the packet takes at our rate (16 000 B at 5 Mbit/s:
	// 26 ms): a queue counts beyond that.
	var own time.Duration
	if got > 0 && sent > 0 {
		own = time.Duration(float64(rx.Bytes-was.rx.Bytes) / float64(got) / sent * float64(time.Second))
	}
	if l.queueOnly > 0 && !now.Before(l.hold) {
		// The last back-off was on a queue alone. Sending 15 % below
		// what arrived drains a queue of ours well within the hold; one
		// that stands on with nothing lost or backed up is the path's
		// round trip grown (a new route), not a queue: the least round
		// trip would otherwise take rttWindow to follow it, backing off
		// all the while.
		if share <= limitLoss && arrived >= limitBacklog*sent && float64(queue) >= limitQueueStays*float64(l.queueOnly) {
			l.baseRTT, l.baseAt = s.rtt, now
			queue, l.strikes = 0, 0
			l.rebases++
		}
		l.queueOnly = 0
	}
	// Loss behind a queue, or a queue that grows while less arrives than
	// we send (a path past its rate: its queue fills, to drop only when
	// full), counts once it holds for two steps running: a lossy path's
	// round trip jumps now and then (a lost SACK), a filling queue stays.
	backlog := arrived < limitBacklog*sent
	// A queue of twice that, with the sender at the limit, is one with
	// or without loss or backlog: a limit a few per cent past the path's
	// rate fills a drop-tail queue within seconds while nearly all of
	// what we send still arrives.
	pathQueue := max(limitQueue, min(path/4, limitQueueMost)) // a queue, whatever our packets' own
	atLimit := l.rate > 0 && sent >= limitAtRate*l.rate
	queued := (share > limitLoss || backlog || atLimit && queue >= 2*pathQueue) && queue >= max(pathQueue, own)
	if queued {
		l.strikes++
	} else {
		l.strikes = 0
	}
	// Heavy loss alone, where the SFU cannot shed toward the loopback
	// for the round trip alone: 1 KiB frames were held to 45/s on a
	// lossless 150 ms path (livekit-client's reached 1 400/s) by a limit
	// that backed off on every step the SFU shed toward the loopback.
	heavy := share > limitHeavyLoss && path < limitShedPath
	congested := queued && l.strikes >= 2 || heavy
	switch {
	case now.Before(l.hold):
		// What this step saw was sent before the last back-off.
	case congested:
		l.strikes = 0
		// The first back-off starts from what arrived (at least half
		// what was sent); later ones from the limit, which the sender
		// then reaches: what arrives behind a loss collapses further.
		base := max(arrived, sent/2)
		if l.rate > 0 {
			base = min(l.rate, max(base, sent))
		}
		// The ceiling is the limit the path congested at: the first
		// congestion, with nothing paced, says little of the path's rate.
		l.ceiling = l.rate
		l.rate = max(limitBackoff*base, limitFloor)
		l.backoffs++
		l.queueOnly = 0
		if share <= limitLoss && !backlog && !heavy {
			l.queueOnly = queue
		}
		l.hold = now.Add(packetizer.DefaultReorderDelay + max(limitHold, 2*path+2*queue))
	case l.rate > 0 && !heavy && sent >= limitBinding*l.rate && queue < pathQueue:
		// Only while no queue stands: one that does says the limit is at
		// or past the path's rate already, and probing on filled a 50 ms
		// drop-tail queue within a second (a back-off and a burst of lost
		// frames every second or two on a 5 Mbit/s path). Its own packet's
		// datagrams do not raise SCTP's smoothed round trip that far.
		// Loss without a queue does not stop it: it is not ours to
		// prevent (random loss, or the SFU shedding toward the loopback,
		// which a downlink of over 100 ms round trip makes it do: the
		// limit, held at 189 kB/s by a 5 Mbit/s path, never rose again
		// when the cap went, while 45 % of its packets never reached the
		// loopback and none was lost on the way up).
		// Near the rate the path last congested at, slowly (CUBIC's
		// plateau): a queue filling at a few per cent of the rate shows
		// as a queue before it drops anything.
		probe := limitProbe
		if l.ceiling > 0 && l.rate >= limitNear*l.ceiling {
			probe = limitProbeNear
		}
		l.rate *= math.Pow(probe, dt.Seconds())
		if l.rate > limitPast*l.ceiling {
			l.ceiling = 0 // the path carries more now
		}
	}
}

// limit steps the congestion limit, rtt being ICE's latest round trip.
// When the limiter finds the path grown longer, ICE's least round trip is
// taken anew as well: the window, and whether heavy loss counts, follow
// the new path at once rather than rttWindow later.
func (f *flow) limit(now time.Time, s limitSample, rtt time.Duration) {
	before := f.lim.rebases
	f.lim.step(now, s, f.minRTT)
	if f.lim.rebases != before && rtt > 0 {
		f.minRTT, f.minRTTAt = rtt, now
	}
}

// sctpChunk is the payload of a full SCTP datagram (pion's 1 228-byte
// MTU less the common and DATA chunk headers).
const sctpChunk = 1200

// datagramLoss is the share of datagrams lost that loses lost of got+lost
// packets of bytes/got bytes on average: a packet spans k datagrams and
// is lost with any one of them, so 3 % of datagrams lose a third of
// 16 000-byte packets. The thresholds are datagrams': random loss is.
func datagramLoss(lost, got, bytes uint64) float64 {
	if lost == 0 {
		return 0
	}
	if got == 0 {
		return 1
	}
	k := max(1, float64(bytes)/float64(got)/sctpChunk)
	return 1 - math.Pow(1-float64(lost)/float64(got+lost), 1/k)
}

// burst is the pacing bucket's depth at the limit: limitBurst of it, at
// least one packet of n bytes.
func (l *limiter) burst(n int) float64 {
	return max(l.rate*limitBurst.Seconds(), float64(n))
}
