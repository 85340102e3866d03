package outgoing

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
)

// StartPublish returns at once with the handle the request carries, so a
// caller can show the pending row and cancel exactly that publish.
func TestStartPublishExposesHandleAndCancels(t *testing.T) {
	h := newHarness(t, Options{})
	a, err := h.m.StartPublish(PublishOptions{Name: "same"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.m.StartPublish(PublishOptions{Name: "same"})
	if err != nil {
		t.Fatal(err)
	}
	if ra, rb := recv(t, h.tr.publishes), recv(t, h.tr.publishes); ra.Handle != a.Handle() || rb.Handle != b.Handle() || a.Handle() == b.Handle() {
		t.Fatalf("requests %+v %+v for handles %d %d", ra, rb, a.Handle(), b.Handle())
	}
	if tr, err := a.Result(); tr != nil || err != nil {
		t.Fatalf("result before the answer: %v %v", tr, err)
	}
	// Cancel the second one by its handle: the first is untouched.
	b.Cancel()
	if got := recv(t, h.tr.unpublishes); got != b.Handle() {
		t.Fatalf("cancel unpublished %d, want %d", got, b.Handle())
	}
	recv(t, b.Done())
	if _, err := b.Result(); !errors.Is(err, ErrCancelled) {
		t.Fatalf("cancelled: %v", err)
	}
	h.m.HandlePublishResponse(Info{Handle: a.Handle(), SID: "DTR_a", Name: "same"})
	tr, err := a.Wait(context.Background())
	if err != nil || tr.Handle() != a.Handle() {
		t.Fatalf("first publish: %v %v", tr, err)
	}
	// The late answer for the cancelled one is undone.
	h.answerLate(b.Handle())
}

// Wait's ctx only bounds the wait: the publish goes on.
func TestPendingWaitContextDoesNotCancel(t *testing.T) {
	h := newHarness(t, Options{})
	p, err := h.m.StartPublish(PublishOptions{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, h.tr.publishes)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait: %v", err)
	}
	none(t, h.tr.unpublishes)
	h.m.HandlePublishResponse(Info{Handle: p.Handle(), SID: "DTR_x", Name: "x"})
	if tr, err := p.Wait(context.Background()); err != nil || tr == nil {
		t.Fatalf("after the answer: %v %v", tr, err)
	}
}

// The publish timeout belongs to the pending publish, not to a caller's
// goroutine: it fires with nobody waiting.
func TestStartPublishTimesOutUnattended(t *testing.T) {
	h := newHarness(t, Options{})
	p, err := h.m.StartPublish(PublishOptions{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, h.tr.publishes)
	if tm := h.timer.next(); tm.d != DefaultPublishTimeout {
		t.Fatalf("timer armed for %s", tm.d)
	} else {
		tm.fire()
	}
	recv(t, p.Done())
	if _, err := p.Result(); !errors.Is(err, ErrTimeout) {
		t.Fatalf("timeout: %v", err)
	}
	if got := recv(t, h.tr.unpublishes); got != p.Handle() {
		t.Fatalf("unpublish %d", got)
	}
}

// Frames still queued when the connection is lost for good, or when the
// session closes before its flush got them out, are dropped with reasons of
// their own.
func TestQueuedFramesAtResetAndClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(*Manager)
		want DropReason
	}{
		{"reset", func(m *Manager) { m.Reset(errBoom) }, DropDisconnected},
		{"close", func(m *Manager) { m.Close() }, DropClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			tr := h.publish("x", "DTR_1")
			gate := make(chan struct{})
			h.tr.set(func(f *fakeTransport) { f.gate = gate })
			_ = tr.TryPush([]byte{0}, 0)
			recv(t, h.tr.entered)
			for i := range 3 {
				if err := tr.TryPush([]byte{byte(i + 1)}, 0); err != nil {
					t.Fatal(err)
				}
			}
			tc.end(h.m)
			s := tr.Stats()
			checkAddsUp(t, s)
			// The frame at the stalled transport is cancelled with the same reason.
			if s.DroppedBy[tc.want] != 4 || s.FramesQueued != 0 || s.FramesSent != 0 {
				t.Fatalf("%+v", s.Counters)
			}
		})
	}
}

// OnSent sees each frame that was sent, once, as pushed (before
// encryption), and no frame that was dropped.
func TestOnSentSeesSentFramesOnly(t *testing.T) {
	key, err := NewE2EEKey("pass")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{E2EE: key})
	var mu sync.Mutex
	var seen [][]byte
	req, res := h.publishAsync(context.Background(), PublishOptions{Name: "x", E2EE: true, OnSent: func(p []byte) {
		mu.Lock()
		seen = append(seen, bytes.Clone(p))
		mu.Unlock()
	}})
	h.m.HandlePublishResponse(Info{Handle: req.Handle, SID: "DTR_1", Name: "x", E2EE: true})
	r := recv(t, res)
	if r.err != nil {
		t.Fatal(r.err)
	}
	gate := make(chan struct{})
	h.tr.set(func(f *fakeTransport) { f.gate = gate })
	_ = r.tr.TryPush([]byte("first"), 0)
	recv(t, h.tr.entered)
	for i := range 40 { // 16 fit the queue, the rest are dropped
		_ = r.tr.TryPush([]byte{byte(i)}, 0)
	}
	close(gate)
	flush(t, r.tr)
	s := r.tr.Stats()
	mu.Lock()
	defer mu.Unlock()
	if uint64(len(seen)) != s.FramesSent || s.FramesSent != 17 || s.DroppedBy[DropQueueFull] != 24 {
		t.Fatalf("OnSent saw %d frames; stats %+v", len(seen), s.Counters)
	}
	if string(seen[0]) != "first" || seen[1][0] != 0 || seen[16][0] != 15 {
		t.Fatalf("OnSent saw %q … %v", seen[0], seen[16])
	}
}

// The error history keeps typed causes, and the problem in words comes
// from them, not from cutting a message apart.
func TestErrorEventProblemIsTyped(t *testing.T) {
	h := newHarness(t, Options{QueueCapacity: 1})
	tr := h.publish("lab: sensors", "DTR_1")
	h.m.Republish()
	recv(t, h.tr.publishes)
	h.timer.next()
	h.m.HandleRequestError(RequestError{Handle: tr.Handle(), Request: RequestPublish, Reason: sfuDuplicateName, Message: `"x": y`})
	ev := tr.Stats().Errors
	if len(ev) == 0 {
		t.Fatal("no error recorded")
	}
	last := ev[len(ev)-1]
	var pe *PublishError
	if !errors.As(last.Cause, &pe) || pe.Reason != ReasonDuplicateName || !pe.Republish {
		t.Fatalf("cause %#v", last.Cause)
	}
	if got, want := last.Problem(), pe.Problem(); got != want || got == "" {
		t.Fatalf("problem %q, want %q", got, want)
	}
	push := ErrorEvent{Cause: &PushError{Track: "lab: sensors", Drop: DropQueueFull}}
	if got := push.Problem(); got != "frame dropped: queue full" {
		t.Fatalf("push problem %q", got)
	}
}
