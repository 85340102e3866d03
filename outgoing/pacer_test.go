package outgoing

import (
	"testing"
	"time"
)

func TestPacerSpreadsOverAShareOfTheInterval(t *testing.T) {
	p := pacer{share: 0.5} // no pace rate
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := p.begin(t0, 66, 66*1000, false); got != 0 {
		t.Fatalf("first frame: spread %v, want 0 (no interval known)", got)
	}
	// 2 frames/s: half of 500 ms.
	for i := 1; i <= 3; i++ {
		if got := p.begin(t0.Add(time.Duration(i)*500*time.Millisecond), 66, 66*1000, false); got != 250*time.Millisecond {
			t.Fatalf("frame %d: spread %v, want 250ms", i, got)
		}
	}
	now := t0.Add(1500 * time.Millisecond)
	// Single-packet frames and a backlog are never paced, but still
	// measured.
	now = now.Add(500 * time.Millisecond)
	if got := p.begin(now, 1, 1*1000, false); got != 0 {
		t.Fatalf("single packet: spread %v", got)
	}
	now = now.Add(500 * time.Millisecond)
	if got := p.begin(now, 66, 66*1000, true); got != 0 {
		t.Fatalf("backlogged: spread %v", got)
	}
	// Speeding up to 10 frames/s is followed at once.
	now = now.Add(100 * time.Millisecond)
	if got := p.begin(now, 66, 66*1000, false); got != 50*time.Millisecond {
		t.Fatalf("after speeding up: spread %v, want 50ms", got)
	}
	// Slowing down is followed gradually: the average moves a quarter of
	// the way per frame.
	now = now.Add(time.Second)
	got := p.begin(now, 66, 66*1000, false)
	if got <= 50*time.Millisecond || got >= 500*time.Millisecond {
		t.Fatalf("after slowing down: spread %v, want between 50ms and 500ms", got)
	}
	// A long pause is capped.
	p.smoothed = time.Hour
	now = now.Add(time.Hour)
	if got := p.begin(now, 66, 66*1000, false); got != MaxPaceSpread {
		t.Fatalf("after a pause: spread %v, want %v", got, MaxPaceSpread)
	}
	off := pacer{}
	off.begin(t0, 2, 2*1000, false)
	if got := off.begin(t0.Add(time.Second), 2, 2*1000, false); got != 0 {
		t.Fatalf("share 0: spread %v", got)
	}
}

// Large frames go out at no more than the pace rate, within MaxRateShare
// of the track's interval and MaxRateSpread; a first frame, whose interval
// is unknown, too. Small frames keep the spread by share.
func TestPacerSpreadsLargeFramesAtThePaceRate(t *testing.T) {
	const mib = 1 << 20
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for _, c := range []struct {
		name   string
		size   int
		starts []float64 // frame starts, seconds
		want   []time.Duration
	}{
		// At 4 MB/s a 4 MiB frame takes 1.05 s: capped at 1 s alone,
		// then at 90 % of the 1 s interval.
		{"4MiB@1", 4 * mib, []float64{0, 1, 2}, []time.Duration{MaxRateSpread, 900 * time.Millisecond, 900 * time.Millisecond}},
		// 2 MiB takes 524 ms at 4 MB/s: more than half the interval.
		{"2MiB@1", 2 * mib, []float64{0, 1}, []time.Duration{524288 * time.Microsecond, 524288 * time.Microsecond}},
		// 4 MiB at 4/s: the track's own rate wins, 90 % of 250 ms.
		{"4MiB@4", 4 * mib, []float64{0, 0.25, 0.5}, []time.Duration{MaxRateSpread, 225 * time.Millisecond, 225 * time.Millisecond}},
		// 16 000 B at 1/s: 4 ms by rate, 500 ms by share.
		{"16000B@1", 16000, []float64{0, 1}, []time.Duration{4 * time.Millisecond, MaxPaceSpread}},
	} {
		p := pacer{share: DefaultPaceShare, rate: DefaultPaceRate}
		for i, s := range c.starts {
			if got := p.begin(at(s), 2+c.size/16000, c.size, false); got != c.want[i] {
				t.Errorf("%s: frame %d spread %v, want %v", c.name, i, got, c.want[i])
			}
		}
	}
	p := pacer{share: DefaultPaceShare, rate: DefaultPaceRate}
	if got := p.begin(t0, 263, 4*mib, true); got != 0 {
		t.Errorf("backlogged: spread %v, want 0", got)
	}
}

func TestDue(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		sent, total int
		want        time.Duration
	}{{0, 100, 0}, {50, 100, 100 * time.Millisecond}, {100, 100, 200 * time.Millisecond}, {5, 0, 0}} {
		if got := due(t0, 200*time.Millisecond, c.sent, c.total).Sub(t0); got != c.want {
			t.Errorf("due(%d of %d) = +%v, want +%v", c.sent, c.total, got, c.want)
		}
	}
}

// packetCount is how many packets the fake transport has taken.
func (f *fakeTransport) packetCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.packets)
}

// A track sending 5 frames/s of 4 packets spreads each frame after the
// first over 100 ms (half of 200 ms): its first packet at once, the others
// 25 ms apart, each on a timer of the manager's injected clock.
func TestTrackPacesMultiPacketFrames(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, Options{MTU: 100, PaceShare: DefaultPaceShare, Now: clock.now})
	tr := h.publish("paced", "DTR_p")
	frame := make([]byte, 4*76) // 4 packets of 76 payload bytes at MTU 100 with the user timestamp

	if err := tr.TryPush(frame, 1); err != nil {
		t.Fatal(err)
	}
	flush(t, tr) // the first frame: no interval known, no pacing
	if n := h.tr.packetCount(); n != 4 {
		t.Fatalf("first frame: %d packets, want 4 at once", n)
	}

	clock.add(200 * time.Millisecond)
	if err := tr.TryPush(append([]byte(nil), frame...), 1); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 4; i++ {
		tm := h.timer.next()
		if tm.d != 25*time.Millisecond {
			t.Fatalf("packet %d waits %v, want 25ms", i, tm.d)
		}
		if n := h.tr.packetCount(); n != 4+i {
			t.Fatalf("before packet %d is due: %d packets, want %d", i, n, 4+i)
		}
		clock.add(tm.d)
		tm.fire()
	}
	flush(t, tr)
	if n := h.tr.packetCount(); n != 8 {
		t.Fatalf("%d packets, want 8", n)
	}
	if s := tr.Stats(); s.FramesSent != 2 || s.FramesDropped != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A track's first frame has no interval to spread over: it goes out at the
// pace rate, so a large one does not reach the SFU as one burst (at 4 MiB
// such a burst made the SFU shed packets toward its subscribers). At 3 040
// B/s the 304 bytes of 4 packets take 100 ms: 25 ms between packets.
func TestTrackPacesTheFirstFrameAtThePaceRate(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, Options{MTU: 100, PaceShare: DefaultPaceShare, PaceRate: 3040, Now: clock.now})
	tr := h.publish("paced", "DTR_p")
	if err := tr.TryPush(make([]byte, 4*76), 1); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 4; i++ {
		tm := h.timer.next()
		if tm.d != 25*time.Millisecond {
			t.Fatalf("packet %d waits %v, want 25ms", i, tm.d)
		}
		if n := h.tr.packetCount(); n != i {
			t.Fatalf("before packet %d is due: %d packets, want %d", i, n, i)
		}
		clock.add(tm.d)
		tm.fire()
	}
	flush(t, tr)
	if s := tr.Stats(); s.FramesSent != 1 || s.PacketsSent != 4 {
		t.Fatalf("stats %+v", s)
	}
}

// pacingSecondFrame publishes a paced track (MTU 100: 4 packets a frame),
// sends one frame, and 200 ms later pushes a second, whose packets the
// sender then spreads over 100 ms: its first packet is out, the second
// waits on a timer of h.
func pacingSecondFrame(t *testing.T) (*harness, *LocalTrack, []byte) {
	t.Helper()
	clock := newFakeClock()
	h := newHarness(t, Options{MTU: 100, PaceShare: DefaultPaceShare, Now: clock.now})
	tr := h.publish("paced", "DTR_p")
	frame := make([]byte, 4*76)
	if err := tr.TryPush(append([]byte(nil), frame...), 1); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	clock.add(200 * time.Millisecond)
	if err := tr.TryPush(append([]byte(nil), frame...), 1); err != nil {
		t.Fatal(err)
	}
	return h, tr, frame
}

// A frame that arrives while another is being paced ends the pacing: the
// rest of the paced frame and the new one go out at once.
func TestTrackStopsPacingWhenBehind(t *testing.T) {
	h, tr, frame := pacingSecondFrame(t)
	tm := h.timer.next() // the second packet's wait
	if err := tr.TryPush(append([]byte(nil), frame...), 1); err != nil {
		t.Fatal(err)
	}
	tm.fire()
	flush(t, tr)
	if n := h.tr.packetCount(); n != 12 {
		t.Fatalf("%d packets, want 12", n)
	}
	select {
	case tm := <-h.timer.armed:
		t.Fatalf("a timer of %v was armed although frames were waiting", tm.d)
	default:
	}
}

// Stopping a track while it paces a frame ends the wait at once; the frame
// is dropped with the stop's reason and counted.
func TestTrackStopsWhilePacing(t *testing.T) {
	h, tr, _ := pacingSecondFrame(t)
	h.timer.next() // the second packet's wait, never fired
	h.m.HandleUnpublishResponse(tr.Handle())
	s := tr.Stats()
	if s.FramesSent != 1 || s.DroppedBy[DropUnpublished] != 1 || s.PacketsSent != 5 {
		t.Fatalf("stats %+v", s)
	}
	checkAddsUp(t, s)
}
