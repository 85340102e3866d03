package report

import (
	"math"
	"testing"
)

// Loss is of the frames whose fate is known: those within their grace
// are not counted yet.
func TestLoss(t *testing.T) {
	rx := Receive{Frames: 6, Bytes: 600, Lost: 2, InGrace: 2, Duplicates: 1, Late: 1, Corrupt: 1, Unfollowed: 3}
	if l := rx.Loss(); l != (Loss{Lost: 2, Expected: 8}) {
		t.Fatalf("Loss = %+v", l)
	}
	if r, ok := rx.Loss().Ratio(); !ok || r != 0.25 {
		t.Fatalf("Ratio = %v %v", r, ok)
	}
	if _, ok := (Loss{}).Ratio(); ok {
		t.Fatal("a loss of nothing expected has a ratio")
	}
	if l := LossOf(math.MaxUint64, 2); l.Expected != math.MaxUint64 {
		t.Fatalf("Expected wrapped: %+v", l)
	}
	// A room track: by its probe frames' numbers when it carries them,
	// else the frames that never arrived whole.
	var r Remote
	r.Stats.FramesCompleted, r.Stats.FramesLost, r.Stats.FramesIncomplete = 90, 4, 6
	if l := r.Loss(); l != (Loss{Lost: 10, Expected: 100}) {
		t.Fatalf("room loss %+v", l)
	}
	r.Probe = &RemoteProbe{Received: 95, Lost: 5}
	if l := r.Loss(); l != (Loss{Lost: 5, Expected: 100}) {
		t.Fatalf("probe loss %+v", l)
	}
}
