package outgoing

import (
	"context"
	"errors"
	"testing"
)

var errNotOK = errors.New("frame is not ok")

// publishChecked publishes a track whose check refuses frames that do not
// start with "ok".
func (h *harness) publishChecked(name, sid string, refuse bool) *LocalTrack {
	h.t.Helper()
	check := FrameCheck{Refuse: refuse, Check: func(p []byte) error {
		if len(p) >= 2 && string(p[:2]) == "ok" {
			return nil
		}
		return errNotOK
	}}
	req, res := h.publishAsync(context.Background(), PublishOptions{Name: name, Check: check})
	h.m.HandlePublishResponse(Info{Handle: req.Handle, SID: sid, Name: name})
	r := recv(h.t, res)
	if r.err != nil {
		h.t.Fatal(r.err)
	}
	h.timer.next()
	return r.tr
}

// Warn: every frame is sent, mismatches counted, the first of each run
// recorded with its cause.
func TestSchemaCheckWarnSendsAndCounts(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publishChecked("x", "DTR_1", false)
	for _, p := range []string{"ok 1", "bad 1", "bad 2", "ok 2", "bad 3"} {
		if err := tr.TryPush([]byte(p), 0); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	flush(t, tr)
	s := tr.Stats()
	checkAddsUp(t, s)
	if s.FramesSent != 5 || s.SchemaMismatches != 3 || s.DroppedBy[DropSchemaMismatch] != 0 {
		t.Fatalf("sent %d mismatches %d dropped %d", s.FramesSent, s.SchemaMismatches, s.DroppedBy[DropSchemaMismatch])
	}
	n := 0
	for _, e := range s.Errors {
		if errors.Is(e.Cause, errNotOK) {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d mismatch events, want 2 (one per run): %+v", n, s.Errors)
	}
}

// Refuse: a mismatching frame is dropped with its reason; the books balance.
func TestSchemaCheckRefuseDrops(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publishChecked("x", "DTR_1", true)
	for _, p := range []string{"ok 1", "bad 1", "ok 2", "bad 2", "ok 3"} {
		err := tr.TryPush([]byte(p), 0)
		var pe *PushError
		if p[0] == 'b' && (!errors.As(err, &pe) || pe.Drop != DropSchemaMismatch || pe.Problem() != "frame dropped: schema mismatch" ||
			!errors.Is(err, ErrSchemaMismatch) || errors.Is(err, ErrQueueFull)) {
			t.Fatalf("%s: %v", p, err)
		}
		if p[0] == 'o' && err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	flush(t, tr)
	s := tr.Stats()
	checkAddsUp(t, s)
	if s.FramesPushed != 5 || s.FramesSent != 3 || s.SchemaMismatches != 2 || s.DroppedBy[DropSchemaMismatch] != 2 || s.FramesDropped != 2 {
		t.Fatalf("%+v", s.Counters)
	}
}
