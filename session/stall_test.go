package session

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/dttui/dttui/session/probe"
)

func TestStallWatch(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var w stallWatch
	steps := []struct {
		ms                int
		written, buffered uint64
		stalled           bool
	}{
		{0, 0, 0, false},
		{1000, 5000, 5000, false}, // bytes waiting, but not for long
		{2000, 5000, 5000, false}, // 1 s without progress (one RTO)
		{2500, 5000, 5000, true},  // 1.5 s: stalled
		{2600, 9000, 9000, true},  // more queued: still no progress
		{2700, 9000, 8000, false}, // 1000 bytes left: progress
		{4100, 9000, 8000, false}, //
		{4200, 9000, 8000, true},  //
		{4300, 9000, 0, false},    // empty: nothing is waiting
		{20000, 9000, 0, false},   //
		{20100, 9044, 44, false},  // a steady stream: one small packet in flight
		{21500, 19044, 44, false}, // at every look, but 10 000 bytes left since
		{22900, 29044, 44, false}, // and again: never stalled
		{23000, 29000, 88, false}, // a write between the two reads: acked looks smaller
		{24400, 29044, 44, true},  // back where it was is no progress
	}
	for _, s := range steps {
		if got := w.observe(at(s.ms), s.written, s.buffered); got != s.stalled {
			t.Fatalf("at %d ms with %d written, %d buffered: stalled %v, want %v", s.ms, s.written, s.buffered, got, s.stalled)
		}
	}
}

// A steady stream of small frames keeps a few bytes in the buffer at
// every look while everything flows: connected, not stalled (it read
// stalled after 3 s of 100 frames/s × 20 B, with nothing lost).
func TestE2ESteadySmallFramesAreNotAStall(t *testing.T) {
	acrossSFUs(t, testE2ESteadySmallFramesAreNotAStall)
}

func testE2ESteadySmallFramesAreNotAStall(t *testing.T) {
	// With the loopback subscriber, as the binary runs by default (where
	// it read stalled, against both SFU builds).
	s := connect(t, sfu(t), Config{Loopback: true})
	tr, err := s.Publish(bounded(t, 15*time.Second), "steady", false)
	if err != nil {
		t.Fatal(err)
	}
	src := tr.Probe()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(StallAfter + 2*time.Second); time.Now().Before(end); <-tick.C {
		_ = src.Push(probe.MinSize)
		if st := s.Status(); st.State != StateConnected {
			t.Fatalf("%v while frames flow: %v (sent %d)", st.State, st.Err, tr.Stats().FramesSent)
		}
	}
	if st := tr.Stats(); st.FramesSent < 300 || st.FramesDropped != 0 {
		t.Fatalf("sent %d, dropped %d", st.FramesSent, st.FramesDropped)
	}
}

// A path that goes quiet without failing (packets dropped both ways)
// shows as stalled within StallAfter and a bit, and as connected again
// once packets flow.
func TestE2EStalledWhileThePathIsQuiet(t *testing.T) {
	acrossSFUs(t, testE2EStalledWhileThePathIsQuiet)
}

func testE2EStalledWhileThePathIsQuiet(t *testing.T) {
	cut := new(atomic.Bool)
	s := connect(t, sfu(t), Config{Net: cutNet(cut)})
	tr, err := s.Publish(bounded(t, 15*time.Second), "quiet", false)
	if err != nil {
		t.Fatal(err)
	}
	cut.Store(true)
	deadline := time.Now().Add(StallAfter + 3*time.Second)
	for s.Status().State != StateStalled {
		if time.Now().After(deadline) {
			t.Fatalf("state %v after %s of silence", s.Status().State, StallAfter+3*time.Second)
		}
		_ = tr.Probe().Push(1000) // keep bytes waiting
		time.Sleep(20 * time.Millisecond)
	}
	if s.Status().Err == nil {
		t.Fatal("stalled without saying why")
	}
	cut.Store(false)
	eventually(t, 15*time.Second, "connected again", func() bool { return s.Status().State == StateConnected })
}
