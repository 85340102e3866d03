package rtc

import (
	"testing"
	"time"
)

// deliver feeds f samples every step for d, with bytes leaving at rate
// (bytes/s), pion holding more than a packet's worth throughout (the path
// is the limit), and the path's round trip rtt; it returns the time
// reached.
func deliver(f *flow, now time.Time, left *uint64, d, step time.Duration, rate float64, rtt time.Duration) time.Time {
	return deliverHolding(f, now, left, d, step, rate, rtt, flowBusy)
}

// deliverHolding is deliver with pion holding buffered bytes.
func deliverHolding(f *flow, now time.Time, left *uint64, d, step time.Duration, rate float64, rtt time.Duration, buffered int) time.Time {
	for end := now.Add(d); now.Before(end); now = now.Add(step) {
		*left += uint64(rate * step.Seconds())
		f.observe(now, *left, buffered, rtt)
	}
	return now
}

// On loopback the window is its floor; writes are paced too, at
// paceGain × the delivery rate, in bursts of paceBurst at it: there the
// window binds first.
func TestFlowWindowIsTheFloorOnLoopback(t *testing.T) {
	f := newFlow()
	now, left := time.Unix(1000, 0), uint64(0)
	// 64 KiB frames at 500/s through a sub-millisecond round trip.
	deliver(f, now, &left, time.Second, 10*time.Millisecond, 32e6, 300*time.Microsecond)
	if f.window != MinFlowWindow || !nearRate(f.pace, paceGain*32e6) {
		t.Fatalf("window %d, pace %.0f; want %d and %.0f", f.window, f.pace, MinFlowWindow, paceGain*32e6)
	}
	if _, depth := f.pacing(16000); depth < MinFlowWindow {
		t.Fatalf("bursts of %.0f at %.0f B/s: the pace, not the window, binds", depth, f.pace)
	}
}

// A 64 KiB frame on a 5 Mbit/s path of 2 ms: the window's floor holds
// all of it, and unpaced it went out at once into the link's 31 KB
// queue; paced, it leaves a packet at a time at paceGain × the path.
func TestFlowPacesAFrameLargerThanTheLinksQueue(t *testing.T) {
	f := newFlow()
	now, left := time.Unix(1000, 0), uint64(0)
	now = deliver(f, now, &left, time.Second, 25*time.Millisecond, 625_000, 2*time.Millisecond)
	sent, at := 0, now
	for sent < 65536 {
		ok, wait := f.admit(at, 1, 16000)
		if !ok {
			at = at.Add(wait)
			continue
		}
		sent += 16000
	}
	// 16 000 B at once, the rest at the pace.
	rest := float64(65536 - 16000)
	if want := time.Duration(rest / (paceGain * 625_000) * float64(time.Second)); at.Sub(now) < want-time.Millisecond {
		t.Fatalf("64 KiB left in %v; want about %v", at.Sub(now), want)
	}
}

// The path's rate holds through an idle spell and a trickle: both
// measure the sender, not the path. Until the path first limits what
// leaves, nothing is paced.
func TestFlowKeepsThePathsRateWhileTheSenderIdles(t *testing.T) {
	f := newFlow()
	now, left := time.Unix(1000, 0), uint64(0)
	now = deliverHolding(f, now, &left, 2*time.Second, 25*time.Millisecond, 50_000, 2*time.Millisecond, 0)
	if f.pace != 0 || f.est != 0 {
		t.Fatalf("paced at %.0f before the path limited anything", f.pace)
	}
	now = deliver(f, now, &left, time.Second, 25*time.Millisecond, 625_000, 2*time.Millisecond)
	want := paceGain * 625_000
	if !nearRate(f.pace, want) {
		t.Fatalf("pace %.0f; want %.0f", f.pace, want)
	}
	now = deliverHolding(f, now, &left, 3*rateWindow, 25*time.Millisecond, 0, 2*time.Millisecond, 0)
	now = deliverHolding(f, now, &left, 3*rateWindow, 25*time.Millisecond, 10_000, 2*time.Millisecond, 1000)
	if !nearRate(f.pace, want) {
		t.Fatalf("pace %.0f after idling and trickling; want %.0f", f.pace, want)
	}
	// A higher sample raises it, limited or not; a slower path, once it
	// limits, lowers it within rateWindow.
	now = deliverHolding(f, now, &left, 100*time.Millisecond, 25*time.Millisecond, 800_000, 2*time.Millisecond, 0)
	if !nearRate(f.pace, paceGain*800_000) {
		t.Fatalf("pace %.0f after 800 kB/s; want %.0f", f.pace, paceGain*800_000)
	}
	deliver(f, now, &left, 2*rateWindow, 25*time.Millisecond, 300_000, 2*time.Millisecond)
	if !nearRate(f.pace, paceGain*300_000) {
		t.Fatalf("pace %.0f on a 300 kB/s path; want %.0f", f.pace, paceGain*300_000)
	}
}

func TestFlowWindowFollowsTheBandwidthDelayProduct(t *testing.T) {
	f := newFlow()
	now, left := time.Unix(1000, 0), uint64(0)
	// 20 Mbit/s across a 50 ms round trip: 125 000 bytes in flight.
	deliver(f, now, &left, 2*time.Second, 50*time.Millisecond, 2.5e6, 50*time.Millisecond)
	if want := 2 * 125_000; f.window < want-1000 || f.window > want+1000 {
		t.Fatalf("window %d; want about %d (twice the bandwidth-delay product)", f.window, want)
	}
	if !nearRate(f.pace, flowGain*2.5e6) {
		t.Fatalf("pace %.0f B/s; want flowGain × the delivery rate", f.pace)
	}
	// A faster path over the same round trip grows it, up to the cap.
	deliver(f, now.Add(2*time.Second), &left, 2*time.Second, 50*time.Millisecond, 1e9, 50*time.Millisecond)
	if f.window != MaxFlowWindow {
		t.Fatalf("window %d; want the cap %d", f.window, MaxFlowWindow)
	}
}

// A SACK that acknowledges a lump at once must not read as a burst of
// rate: samples closer than flowSample are not taken.
func TestFlowIgnoresSamplesCloserThanFlowSample(t *testing.T) {
	f := newFlow()
	now := time.Unix(1000, 0)
	f.observe(now, 0, 0, 10*time.Millisecond)
	f.observe(now.Add(time.Millisecond), 1<<20, 0, 10*time.Millisecond) // 1 GB/s for 1 ms
	if r := f.maxRate(now.Add(time.Millisecond)); r != 0 || f.window != MinFlowWindow {
		t.Fatalf("rate %.0f, window %d after a 1 ms lump", r, f.window)
	}
	f.observe(now.Add(flowSample), 1<<20, 0, 10*time.Millisecond)
	if want := float64(1<<20) / flowSample.Seconds(); f.maxRate(now.Add(flowSample)) != want {
		t.Fatalf("rate %.0f over %v; want %.0f", f.maxRate(now.Add(flowSample)), flowSample, want)
	}
}

func TestFlowForgetsOldRatesAndRoundTrips(t *testing.T) {
	f := newFlow()
	now, left := time.Unix(1000, 0), uint64(0)
	now = deliver(f, now, &left, time.Second, 50*time.Millisecond, 10e6, 50*time.Millisecond)
	if f.window <= MinFlowWindow {
		t.Fatalf("window %d; want above the floor", f.window)
	}
	// The path slows to a trickle: the high sample ages out of the max
	// filter and the window falls back to the floor.
	deliver(f, now, &left, 2*rateWindow, 50*time.Millisecond, 1000, 50*time.Millisecond)
	if f.window != MinFlowWindow {
		t.Fatalf("window %d after the rate fell; want %d", f.window, MinFlowWindow)
	}
	// A round trip that rose stays at the lowest for rttWindow, then
	// follows.
	f = newFlow()
	now, left = time.Unix(2000, 0), 0
	now = deliver(f, now, &left, time.Second, 50*time.Millisecond, 10e6, 10*time.Millisecond)
	now = deliver(f, now, &left, rttWindow/2, 50*time.Millisecond, 10e6, 100*time.Millisecond)
	if f.minRTT != 10*time.Millisecond {
		t.Fatalf("min RTT %v within its window; want 10ms", f.minRTT)
	}
	deliver(f, now, &left, rttWindow, 50*time.Millisecond, 10e6, 100*time.Millisecond)
	if f.minRTT != 100*time.Millisecond {
		t.Fatalf("min RTT %v after its window; want 100ms", f.minRTT)
	}
}

func TestFlowAdmit(t *testing.T) {
	f := newFlow()
	now := time.Unix(1000, 0)
	if ok, _ := f.admit(now, 0, 4<<20); !ok {
		t.Fatal("an empty buffer refused a message larger than the window")
	}
	if ok, _ := f.admit(now, MinFlowWindow-1000, 1000); !ok {
		t.Fatal("a write that fits the window was refused")
	}
	if ok, wait := f.admit(now, MinFlowWindow-1000, 1001); ok || wait != 0 {
		t.Fatalf("a write past the window: ok %v, wait %v; want a wait for the drain", ok, wait)
	}
	if f.windowWaits != 1 || f.paceWaits != 0 {
		t.Fatalf("waits %d/%d", f.windowWaits, f.paceWaits)
	}
}

func TestFlowPacesALargeWindow(t *testing.T) {
	f := newFlow()
	now, left := time.Unix(1000, 0), uint64(0)
	now = deliver(f, now, &left, time.Second, 50*time.Millisecond, 2.5e6, 50*time.Millisecond)
	pace := f.pace
	// The bucket holds one floor's worth: writes of 16 000 B go at once
	// until it is spent, then each waits for its bytes at the pace.
	sent := 0
	for {
		ok, wait := f.admit(now, 1, 16000)
		if !ok {
			want := time.Duration((16000 - f.tokens) / pace * float64(time.Second))
			if wait < want || wait > want+time.Microsecond {
				t.Fatalf("wait %v; want %v", wait, want)
			}
			break
		}
		sent += 16000
		if sent > 2*MinFlowWindow {
			t.Fatal("pacing never held a write")
		}
	}
	if sent < MinFlowWindow-16000 || sent > MinFlowWindow {
		t.Fatalf("%d bytes went before pacing held; want one bucket (%d)", sent, MinFlowWindow)
	}
	// After the wait, the write goes.
	_, wait := f.admit(now, 1, 16000)
	if ok, _ := f.admit(now.Add(wait), 1, 16000); !ok {
		t.Fatal("the write was still held after its wait")
	}
}

// Where the window's floor is about what the path holds (5 Mbit/s over
// 50 ms: 31 KB), acknowledgements clock the writes: no pacing.
func TestFlowLeavesAPathOfAboutTheFloorUnpaced(t *testing.T) {
	f := newFlow()
	deliver(f, time.Unix(1000, 0), new(uint64), time.Second, 25*time.Millisecond, 625_000, 50*time.Millisecond)
	if f.window != MinFlowWindow || f.pace != 0 {
		t.Fatalf("window %d, pace %.0f; want %d, unpaced", f.window, f.pace, MinFlowWindow)
	}
}
