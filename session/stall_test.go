package session

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestStallWatch(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var w stallWatch
	steps := []struct {
		ms       int
		buffered uint64
		stalled  bool
	}{
		{0, 0, false},
		{1000, 5000, false}, // bytes waiting, but not for long
		{3500, 5000, false}, // 2.5 s without progress
		{4000, 5000, true},  // 3 s: stalled
		{4100, 9000, true},  // more queued: still no progress
		{4200, 8000, false}, // the buffer shrank: progress
		{7100, 8000, false},
		{7300, 8000, true},
		{7400, 0, false}, // empty: nothing is waiting
		{20000, 0, false},
	}
	for _, s := range steps {
		if got := w.observe(at(s.ms), s.buffered); got != s.stalled {
			t.Fatalf("at %d ms with %d buffered: stalled %v, want %v", s.ms, s.buffered, got, s.stalled)
		}
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
	s := connect(t, sfu(t), Config{net: cutNet(cut)})
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
