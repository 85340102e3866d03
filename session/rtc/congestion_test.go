package rtc

import (
	"math"
	"testing"
	"time"
)

// limiterRig feeds a limiter what a steady sender and its loopback see,
// one step (limitStep) at a time, on a path of rigPath.
type limiterRig struct {
	l    limiter
	now  time.Time
	s    limitSample
	path time.Duration // ICE's least round trip (rigPath unless set)
}

const (
	rigPath = 50 * time.Millisecond
	// rigStep is a step on rigPath: the limiter decides once per round
	// trip and limitStep, whichever is longer.
	rigStep = limitStep
)

// step: sent bytes written, pkts packets of rigPacket bytes arrived at
// the loopback and lost more never did, with SCTP's round trip at rtt.
func (r *limiterRig) step(sent, pkts, lost uint64, rtt time.Duration) {
	r.now = r.now.Add(max(rigStep, r.path))
	r.s.sent += sent
	r.s.rx.Packets += pkts
	r.s.rx.Bytes += pkts * rigPacket
	r.s.rx.Lost += lost
	r.s.rtt = rtt
	r.l.step(r.now, r.s, r.path)
}

// rigPacket is one datagram's worth: a packet lost is a datagram lost.
const rigPacket = 1000

// newLimiterRig has taken its first sample, the baseline, at the path's
// least round trip.
func newLimiterRig() *limiterRig { return newLimiterRigOn(rigPath) }

// newLimiterRigOn is newLimiterRig on a path of path, each step one round
// trip when that is longer than limitStep.
func newLimiterRigOn(path time.Duration) *limiterRig {
	r := &limiterRig{now: time.Unix(1000, 0), s: limitSample{rtt: path}, path: path}
	r.l.step(r.now, r.s, path)
	return r
}

// 100 kB a step of 100 ms: 1 MB/s sent (and, of 100 packets, arrived).
const rigSent, rigRate = 100_000, 1e6

func nearRate(a, b float64) bool { return math.Abs(a-b) <= 1e-6*max(math.Abs(a), math.Abs(b), 1) }

// Loss behind a queue is congestion: writes are held to limitBackoff of
// what arrived, once per congestion event (limitHold), again if it goes
// on after that.
func TestLimiterBacksOffOnLossBehindAQueue(t *testing.T) {
	r := newLimiterRig()
	r.step(rigSent, 100, 0, rigPath)
	if r.l.rate != 0 {
		t.Fatalf("limited without loss: %v", r.l.rate)
	}
	r.step(rigSent, 100, 5, rigPath+15*time.Millisecond) // a queue of 15 ms, past a quarter of the path
	if r.l.rate != 0 {
		t.Fatalf("limited after one lossy step: %v", r.l.rate)
	}
	r.step(rigSent, 100, 5, rigPath+15*time.Millisecond) // and again
	if want := limitBackoff * rigRate; !nearRate(r.l.rate, want) || r.l.backoffs != 1 {
		t.Fatalf("rate %v after %d back-offs; want %v", r.l.rate, r.l.backoffs, want)
	}
	// Within the hold (the loopback's reorder delay, and limitHold or two
	// round trips and twice the queue: 700 ms here), what comes was sent
	// before the back-off.
	for range 6 {
		r.step(rigSent, 100, 5, rigPath+15*time.Millisecond)
	}
	if r.l.backoffs != 1 {
		t.Fatalf("%d back-offs within the hold", r.l.backoffs)
	}
	// After it, the loss goes on two steps: lower again, from the limit
	// (below what arrived).
	r.step(rigSent, 100, 5, rigPath+15*time.Millisecond)
	r.step(rigSent, 100, 5, rigPath+15*time.Millisecond)
	if want := limitBackoff * limitBackoff * rigRate; !nearRate(r.l.rate, want) || r.l.backoffs != 2 {
		t.Fatalf("rate %v after %d back-offs; want %v", r.l.rate, r.l.backoffs, want)
	}
}

// A queue that stands while less arrives than is sent is congestion
// before anything is lost (the path's queue filling): the back-off
// starts from what arrived. Less arriving without a queue (a rate just
// raised, its frames still on the way) is not.
func TestLimiterBacksOffOnABacklog(t *testing.T) {
	r := newLimiterRig()
	r.step(rigSent, 70, 0, rigPath) // no queue
	r.step(rigSent, 70, 0, rigPath+5*time.Millisecond)
	if r.l.rate != 0 {
		t.Fatalf("limited without a queue: %v", r.l.rate)
	}
	r.step(rigSent, 95, 0, rigPath+30*time.Millisecond) // a queue, but 95 % arrives
	r.step(rigSent, 70, 0, rigPath+30*time.Millisecond)
	if r.l.rate != 0 {
		t.Fatalf("limited after one step of backlog: %v", r.l.rate)
	}
	r.step(rigSent, 70, 0, rigPath+40*time.Millisecond)
	if want := limitBackoff * 0.7 * rigRate; !nearRate(r.l.rate, want) || r.l.backoffs != 1 {
		t.Fatalf("rate %v after %d back-offs; want %v", r.l.rate, r.l.backoffs, want)
	}
}

// Heavy loss is congestion with or without a queue (a sender that starts
// past the path's rate never sees the path without one); what arrived is
// then far below what was sent, and the back-off starts from half of that.
func TestLimiterBacksOffOnHeavyLoss(t *testing.T) {
	r := newLimiterRig()
	r.step(rigSent, 40, 60, rigPath)
	if want := limitBackoff * rigRate / 2; !nearRate(r.l.rate, want) || r.l.backoffs != 1 {
		t.Fatalf("rate %v after %d back-offs; want %v", r.l.rate, r.l.backoffs, want)
	}
}

// On a round trip past limitShedPath, heavy loss without a queue is what
// the SFU sheds toward the loopback (LiveKit's target of 100 ms counts the
// bytes in flight toward it), not the uplink's: no back-off, and a limit
// probes on through it (1 KiB frames were held to 45/s on a lossless
// 150 ms path, livekit-client's to 1 400/s). Loss behind a queue still
// backs off there, and heavy loss on a shorter path.
func TestLimiterLeavesShedLossOnALongPath(t *testing.T) {
	const path = 150 * time.Millisecond
	sent := uint64(rigRate * path.Seconds())
	r := newLimiterRigOn(path)
	for range 5 {
		r.step(sent, 60, 40, path)
		r.step(sent, 60, 40, path+14*time.Millisecond) // a clean path's jitter
	}
	if r.l.rate != 0 || r.l.backoffs != 0 {
		t.Fatalf("shed loss alone: rate %v after %d back-offs, want no limit", r.l.rate, r.l.backoffs)
	}
	// Loss behind a queue (the uplink's own 50 ms drop-tail queue, as
	// SCTP's smoothed round trip shows it), two steps running: one
	// back-off.
	queue := path + 25*time.Millisecond
	r.step(sent, 60, 40, queue)
	r.step(sent, 60, 40, queue)
	if r.l.backoffs != 1 {
		t.Fatalf("loss behind a queue: %d back-offs, want 1", r.l.backoffs)
	}
	// Past the hold, shed loss without a queue: the limit probes up.
	for r.now.Add(path).Before(r.l.hold) {
		r.step(sent, 60, 40, path)
	}
	held := r.l.rate
	r.step(uint64(held*path.Seconds()), 60, 40, path)
	if r.l.rate <= held || r.l.backoffs != 1 {
		t.Fatalf("shed loss after a back-off: rate %v from %v (%d back-offs), want a probe", r.l.rate, held, r.l.backoffs)
	}
	// The same loss on a 50 ms path is heavy loss: a back-off.
	short := newLimiterRig()
	short.step(rigSent, 60, 40, rigPath)
	if short.l.backoffs != 1 {
		t.Fatalf("heavy loss on a short path: %d back-offs, want 1", short.l.backoffs)
	}
}

// Loss is judged per datagram: a 16 000-byte packet spans 13 of them, so
// 3 % random loss of datagrams loses a third of such packets — heavy
// packet loss, no congestion.
func TestDatagramLoss(t *testing.T) {
	for _, c := range []struct {
		lost, got, bytes uint64
		want             float64
	}{
		{0, 10, 10_000, 0},
		{5, 0, 0, 1},
		{1, 2, 2000, 1.0 / 3}, // one datagram a packet
		{1, 2, 32_000, 1 - math.Pow(2.0/3, 0.075)}, // 16 000 B: 13⅓ datagrams
	} {
		if got := datagramLoss(c.lost, c.got, c.bytes); !nearRate(got, c.want) {
			t.Errorf("datagramLoss(%d, %d, %d) = %v, want %v", c.lost, c.got, c.bytes, got, c.want)
		}
	}
	if d := datagramLoss(1, 2, 32_000); d < 0.029 || d > 0.031 || d > limitHeavyLoss {
		t.Errorf("a third of 16 000-byte packets lost is %.4f of datagrams", d)
	}
	var l limiter
	t0 := time.Unix(1000, 0)
	l.step(t0, limitSample{rtt: rigPath}, rigPath)
	l.step(t0.Add(time.Second), limitSample{sent: 1e6, rx: RxTotals{Packets: 40, Lost: 20, Bytes: 640_000}, rtt: rigPath}, rigPath)
	if l.rate != 0 {
		t.Fatalf("a third of 16 000-byte packets lost on a path without a queue: limited to %v", l.rate)
	}
}

// Random loss on a path without a queue is not the sender's doing: no
// back-off. Nor is a queue without loss, or loss under limitLoss.
func TestLimiterIgnoresLossWithoutAQueue(t *testing.T) {
	r := newLimiterRig()
	r.step(rigSent, 100, 5, rigPath+5*time.Millisecond)   // 5 ms: no queue
	r.step(rigSent, 100, 0, rigPath+40*time.Millisecond)  // a queue, nothing lost
	r.step(rigSent, 1000, 5, rigPath+20*time.Millisecond) // 0.5 %
	if r.l.rate != 0 || r.l.backoffs != 0 {
		t.Fatalf("limited to %v after %d back-offs", r.l.rate, r.l.backoffs)
	}
}

// Steps without loss probe up from a back-off while the sender
// reaches the limit; one that does not reach half of it tells nothing,
// and the limit stays (a pause does not change the path).
func TestLimiterProbesUpWhileItBinds(t *testing.T) {
	r := newLimiterRig()
	r.step(rigSent, 100, 5, rigPath+15*time.Millisecond)
	r.step(rigSent, 100, 5, rigPath+15*time.Millisecond)
	want := limitBackoff * rigRate
	held := limitBackoff * rigSent // bytes a step at the limit
	for r.now.Add(rigStep).Before(r.l.hold) {
		r.step(uint64(held), 100, 0, rigPath)
	}
	if !nearRate(r.l.rate, want) {
		t.Fatalf("probed within the hold: %v", r.l.rate)
	}
	for range 3 {
		r.step(uint64(held), 100, 0, rigPath)
		want *= math.Pow(limitProbe, rigStep.Seconds())
		if !nearRate(r.l.rate, want) {
			t.Fatalf("rate %v, want %v", r.l.rate, want)
		}
	}
	// A queue standing without loss or backlog (the limit is at the
	// path's rate): no probe, and no back-off either.
	for range 5 {
		r.step(uint64(held), uint64(held/rigPacket), 0, rigPath+max(limitQueue, rigPath/4))
	}
	if !nearRate(r.l.rate, want) || r.l.backoffs != 1 {
		t.Fatalf("behind a queue: rate %v (%d back-offs), want %v", r.l.rate, r.l.backoffs, want)
	}
	// Loss without a queue (random, or the SFU shedding toward the
	// loopback): no back-off, and the probe goes on.
	r.step(uint64(held), 100, 5, rigPath)
	if want *= math.Pow(limitProbe, rigStep.Seconds()); !nearRate(r.l.rate, want) || r.l.backoffs != 1 {
		t.Fatalf("loss without a queue: rate %v (%d back-offs), want %v", r.l.rate, r.l.backoffs, want)
	}
	// A sender well below the limit: neither probe nor back-off.
	for range 20 {
		r.step(1000, 1, 0, rigPath)
	}
	if !nearRate(r.l.rate, want) || r.l.backoffs != 1 {
		t.Fatalf("rate %v (%d back-offs), want %v", r.l.rate, r.l.backoffs, want)
	}
}

// The limit never goes below limitFloor.
func TestLimiterFloor(t *testing.T) {
	r := newLimiterRig()
	for range 100 {
		r.step(100, 1, 1, rigPath+rigPath)
	}
	if r.l.rate != limitFloor {
		t.Fatalf("rate %v, want the floor %v", r.l.rate, float64(limitFloor))
	}
}

// A decision waits for limitStep and the path's round trip; a loopback
// or channel that started over is a new baseline, not a step; on a path
// under limitMinPath (loopback, a LAN) nothing is decided.
func TestLimiterStepsAtMostOncePerRoundTrip(t *testing.T) {
	var l limiter
	t0 := time.Unix(1000, 0)
	path := 300 * time.Millisecond
	l.step(t0, limitSample{rtt: path}, path)
	lossy := limitSample{sent: 300_000, rx: RxTotals{Packets: 100, Lost: 50, Bytes: 300_000}, rtt: path + 100*time.Millisecond}
	l.step(t0.Add(200*time.Millisecond), lossy, path)
	if l.rate != 0 {
		t.Fatalf("decided within the round trip: %v", l.rate)
	}
	// Loss behind a queue, the first step of it (on a path this long,
	// heavy loss alone may be the SFU shedding toward the loopback), then
	// the second, a round trip later: a back-off.
	l.step(t0.Add(300*time.Millisecond), lossy, path)
	if l.rate != 0 || l.strikes != 1 {
		t.Fatalf("backed off on one step: %v", l.rate)
	}
	lossy.sent, lossy.rx = 2*lossy.sent, RxTotals{Packets: 2 * lossy.rx.Packets, Lost: 2 * lossy.rx.Lost, Bytes: 2 * lossy.rx.Bytes}
	l.step(t0.Add(500*time.Millisecond), lossy, path)
	if l.rate != 0 {
		t.Fatalf("decided within the round trip: %v", l.rate)
	}
	l.step(t0.Add(600*time.Millisecond), lossy, path)
	if want := limitBackoff * 1e6; !nearRate(l.rate, want) {
		t.Fatalf("rate %v, want %v", l.rate, want)
	}
	before := l.rate
	l.step(t0.Add(2*time.Second), limitSample{sent: 10, rx: RxTotals{Packets: 10, Lost: 5, Bytes: 10}, rtt: path}, path)
	if l.rate != before || l.backoffs != 1 {
		t.Fatalf("after a restart: rate %v (%d back-offs)", l.rate, l.backoffs)
	}

	// A limit set while the path was long goes once it is short.
	l.step(t0.Add(3*time.Second), limitSample{sent: 20, rx: RxTotals{Packets: 30, Lost: 5, Bytes: 30}, rtt: time.Millisecond}, time.Millisecond)
	if l.rate != 0 {
		t.Fatalf("a limit of %v held on a 1 ms path", l.rate)
	}

	var lan limiter
	lan.step(t0, limitSample{rtt: time.Millisecond}, time.Millisecond)
	lan.step(t0.Add(time.Second), limitSample{sent: 1e6, rx: RxTotals{Packets: 100, Lost: 50, Bytes: 100_000}, rtt: 80 * time.Millisecond}, time.Millisecond)
	if lan.rate != 0 || lan.backoffs != 0 {
		t.Fatalf("limited on a 1 ms path: %v", lan.rate)
	}
}

// Limited, the flow paces at the limit with bursts of limitBurst (at
// least one packet), whatever its own pace; and a writer waiting for it
// asks again within paceRecheck.
func TestFlowPacesAtTheLimit(t *testing.T) {
	f := newFlow()
	if rate, _ := f.pacing(1000); rate != 0 {
		t.Fatalf("paced at %v on loopback", rate)
	}
	f.lim.rate = 600_000
	rate, depth := f.pacing(1000)
	if rate != 600_000 || depth != 6000 {
		t.Fatalf("paced at %v, bursts of %v", rate, depth)
	}
	if _, depth := f.pacing(16_000); depth != 16_000 {
		t.Fatalf("bursts of %v for a 16 000 B packet", depth)
	}
	f.pace = 300_000 // the flow's own pace is lower: it stands
	if rate, depth := f.pacing(1000); rate != 300_000 || depth != max(1000, 300_000*paceBurst.Seconds()) {
		t.Fatalf("paced at %v, bursts of %v", rate, depth)
	}
	// At the limit, 60 packets of 1 000 B take 100 ms, not one burst.
	f = newFlow()
	f.lim.rate = 600_000
	t0 := time.Unix(1000, 0)
	now := t0
	f.tokens, f.tokAt = 0, now
	sent := 0
	for now.Sub(t0) < 100*time.Millisecond {
		if ok, wait := f.admit(now, 1, 1000); ok {
			sent++
		} else {
			now = now.Add(wait)
		}
	}
	if sent < 58 || sent > 61 {
		t.Fatalf("%d packets of 1 000 B in 100 ms at 600 kB/s", sent)
	}
	f.lim.rate = limitFloor
	f.tokens = 0
	if ok, wait := f.admit(now, 1, 16_000); ok || wait != paceRecheck {
		t.Fatalf("at the floor: ok %v, wait %v", ok, wait)
	}
}

// Near the rate the path last congested at (the ceiling), the limit
// probes by limitProbeNear a second, not limitProbe: probing on at 20 % a
// second overfilled a 5 Mbit/s path's 50 ms queue every second or two,
// losing a burst of frames each time. Past limitPast of the ceiling the
// path carries more than it did, and probing is fast again.
func TestLimiterProbesSlowlyNearTheCeiling(t *testing.T) {
	r := newLimiterRig()
	r.l.rate = rigRate // held to 1 MB/s, sending at it, behind a loss
	r.step(rigSent, 100, 5, rigPath+15*time.Millisecond)
	r.step(rigSent, 100, 5, rigPath+15*time.Millisecond)
	if r.l.backoffs != 1 || !nearRate(r.l.ceiling, rigRate) {
		t.Fatalf("%d back-offs, ceiling %v; want 1 at %v", r.l.backoffs, r.l.ceiling, float64(rigRate))
	}
	atLimit := func() {
		sent := uint64(r.l.rate * rigStep.Seconds())
		r.step(sent, sent/rigPacket, 0, rigPath)
	}
	for r.now.Add(rigStep).Before(r.l.hold) {
		atLimit()
	}
	fast, slow := math.Pow(limitProbe, rigStep.Seconds()), math.Pow(limitProbeNear, rigStep.Seconds())
	var sawFast, sawSlow, sawForgot bool
	for range 2000 {
		was, near := r.l.rate, r.l.ceiling > 0 && r.l.rate >= limitNear*r.l.ceiling
		atLimit()
		switch grew := r.l.rate / was; {
		case r.l.ceiling == 0 && !sawForgot:
			if !near || !nearRate(grew, slow) || r.l.rate <= limitPast*rigRate {
				t.Fatalf("forgot the ceiling at %v (x%v)", r.l.rate, grew)
			}
			sawForgot = true
		case near:
			sawSlow = true
			if !nearRate(grew, slow) {
				t.Fatalf("at %v near the ceiling: x%v a step, want x%v", was, grew, slow)
			}
		default:
			if sawSlow && !sawForgot {
				t.Fatalf("fast again at %v before passing the ceiling", was)
			}
			sawFast = true
			if !nearRate(grew, fast) {
				t.Fatalf("at %v: x%v a step, want x%v", was, grew, fast)
			}
		}
		if sawForgot && r.l.rate > 2*rigRate {
			break
		}
	}
	if !sawFast || !sawSlow || !sawForgot || r.l.backoffs != 1 {
		t.Fatalf("fast %v, slow %v, forgot %v; %d back-offs", sawFast, sawSlow, sawForgot, r.l.backoffs)
	}
}

// A queue of twice limitQueue standing while we send at the limit is
// congestion without a packet lost or a backlog: a limit a few per cent
// past the path's rate fills its queue while nearly everything arrives.
func TestLimiterBacksOffOnAQueueAlone(t *testing.T) {
	r := newLimiterRig()
	r.l.rate = rigRate
	queue := 2 * max(limitQueue, rigPath/4)
	r.step(rigSent, 100, 0, rigPath+queue-time.Millisecond)
	r.step(rigSent, 100, 0, rigPath+queue-time.Millisecond)
	if r.l.backoffs != 0 {
		t.Fatalf("backed off behind a queue of %v", queue-time.Millisecond)
	}
	r.step(rigSent/2, 50, 0, rigPath+queue) // below the limit: not its queue
	r.step(rigSent/2, 50, 0, rigPath+queue)
	if r.l.backoffs != 0 {
		t.Fatal("backed off sending at half the limit")
	}
	r.step(rigSent, 100, 0, rigPath+queue)
	r.step(rigSent, 100, 0, rigPath+queue)
	if r.l.backoffs != 1 || !nearRate(r.l.rate, limitBackoff*rigRate) {
		t.Fatalf("%d back-offs, rate %v; want 1, %v", r.l.backoffs, r.l.rate, limitBackoff*rigRate)
	}
}

// A path whose round trip grows for good (a new route: 50 ms to 150 ms,
// nothing lost, everything arriving) reads as a queue until the least
// round trip follows it. One back-off that does not drain it says it is
// the path's: the limiter takes the round trip anew and probes on, where
// it had backed off each hold for rttWindow.
func TestLimiterFollowsAPathThatGrowsLonger(t *testing.T) {
	r := newLimiterRig()
	r.l.rate = rigRate
	send := func(rtt time.Duration) {
		sent := uint64(r.l.rate * max(rigStep, r.path).Seconds())
		r.step(sent, sent/rigPacket, 0, rtt)
	}
	for range 10 {
		send(rigPath)
	}
	if r.l.backoffs != 0 {
		t.Fatalf("%d back-offs on a clean path", r.l.backoffs)
	}
	longer := 3 * rigPath
	var rate float64
	for i := range 100 { // rttWindow
		send(longer)
		if i == 20 {
			rate = r.l.rate
		}
	}
	if r.l.backoffs != 1 || r.l.rebases != 1 {
		t.Fatalf("%d back-offs, %d rebases over %v; want 1, 1", r.l.backoffs, r.l.rebases, rttWindow)
	}
	if r.l.rate <= rate {
		t.Fatalf("the limit did not probe on: %v, %v eight seconds later", rate, r.l.rate)
	}

	// A queue of ours drains when the sender backs off: no rebase.
	q := newLimiterRig()
	q.l.rate = rigRate
	queue := 2 * max(limitQueue, rigPath/4)
	q.step(rigSent, 100, 0, rigPath+queue)
	q.step(rigSent, 100, 0, rigPath+queue)
	if q.l.backoffs != 1 {
		t.Fatalf("%d back-offs behind a queue", q.l.backoffs)
	}
	for range 10 {
		sent := uint64(q.l.rate * rigStep.Seconds())
		q.step(sent, sent/rigPacket, 0, rigPath+queue/4)
	}
	if q.l.rebases != 0 || q.l.baseRTT != rigPath {
		t.Fatalf("%d rebases, least round trip %v, after a queue that drained", q.l.rebases, q.l.baseRTT)
	}
}

// The flow takes ICE's least round trip anew with the limiter's.
func TestFlowFollowsAPathThatGrowsLonger(t *testing.T) {
	f := newFlow()
	now := time.Unix(1000, 0)
	s := limitSample{rtt: rigPath}
	f.minRTT, f.minRTTAt = rigPath, now
	f.lim.rate = rigRate
	f.limit(now, s, rigPath)
	longer := 3 * rigPath
	for range 30 {
		now = now.Add(rigStep)
		sent := uint64(f.lim.rate * rigStep.Seconds())
		s.sent += sent
		s.rx.Packets += sent / rigPacket
		s.rx.Bytes += sent / rigPacket * rigPacket
		s.rtt = longer
		f.limit(now, s, longer)
	}
	if f.lim.rebases != 1 || f.minRTT != longer || f.lim.baseRTT != longer {
		t.Fatalf("%d rebases; least round trips ICE %v, SCTP %v; want 1, %v", f.lim.rebases, f.minRTT, f.lim.baseRTT, longer)
	}
}
