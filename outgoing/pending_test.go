package outgoing

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/e2ee"
	"github.com/dttui/dttui/schema"
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
	key, err := e2ee.NewKey("pass")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{E2EE: key})
	var mu sync.Mutex
	var seen [][]byte
	req, res := h.publishAsync(context.Background(), PublishOptions{Name: "x", E2EE: true, OnSent: func(sid string, p []byte, _ uint64) {
		if sid != "DTR_1" {
			t.Errorf("sent under %q", sid)
		}
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

// The session's cap on queued bytes holds over all tracks: a push past it
// is dropped with its own reason, and the room comes back as frames leave.
func TestMemoryCapOverAllTracks(t *testing.T) {
	h := newHarness(t, Options{MaxQueuedBytes: 1000})
	a, b := h.publish("a", "DTR_a"), h.publish("b", "DTR_b")
	gate := make(chan struct{})
	h.tr.set(func(f *fakeTransport) { f.gate = gate })
	if err := a.TryPush(make([]byte, 400), 0); err != nil {
		t.Fatal(err)
	}
	recv(t, h.tr.entered) // a's frame is at the transport: it still holds its bytes
	if err := b.TryPush(make([]byte, 400), 0); err != nil {
		t.Fatal(err)
	}
	if err := b.TryPush(make([]byte, 400), 0); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("a push over the cap: %v", err)
	}
	if got := h.m.QueuedBytes(); got != 800 {
		t.Fatalf("queued bytes %d", got)
	}
	sb := b.Stats()
	if sb.DroppedBy[DropMemoryCap] != 1 || sb.FramesQueued != 1 {
		t.Fatalf("b: %+v", sb.Counters)
	}
	checkAddsUp(t, sb)
	close(gate)
	flush(t, a)
	flush(t, b)
	if got := h.m.QueuedBytes(); got != 0 {
		t.Fatalf("queued bytes after the flush: %d", got)
	}
	if err := b.TryPush(make([]byte, 900), 0); err != nil {
		t.Fatalf("room came back, yet: %v", err)
	}
}

// A frame the sender reaches later than MaxFrameAge after its push is
// dropped as stale, not sent late.
func TestStaleFramesAreDropped(t *testing.T) {
	clk := newFakeClock()
	h := newHarness(t, Options{Now: clk.now, MaxFrameAge: 2 * time.Second})
	tr := h.publish("x", "DTR_1")
	gate := make(chan struct{})
	h.tr.set(func(f *fakeTransport) { f.gate = gate })
	_ = tr.TryPush([]byte{0}, 0)
	recv(t, h.tr.entered) // frame 0 is at the stalled transport
	_ = tr.TryPush([]byte{1}, 0)
	clk.add(1500 * time.Millisecond)
	_ = tr.TryPush([]byte{2}, 0)
	clk.add(time.Second) // frame 1 is now 2.5 s old, frame 2 only 1 s
	close(gate)
	flush(t, tr)
	s := tr.Stats()
	checkAddsUp(t, s)
	if s.FramesSent != 2 || s.DroppedBy[DropStale] != 1 {
		t.Fatalf("%+v", s.Counters)
	}
	if p := h.tr.parsed(t); len(p) != 2 || p[0].Payload[0] != 0 || p[1].Payload[0] != 2 {
		t.Fatalf("sent %v", p)
	}
}

// While the transport says the path is congested, a frame that waited
// longer than it allows is dropped for the fresher one behind it; the
// last frame queued goes however long it waited, and an uncongested path
// (QueueDelay 0) sends every frame.
func TestCongestedPathKeepsTheFreshest(t *testing.T) {
	clk := newFakeClock()
	h := newHarness(t, Options{Now: clk.now, MaxFrameAge: 2 * time.Second})
	tr := h.publish("x", "DTR_1")
	gate := make(chan struct{})
	h.tr.set(func(f *fakeTransport) { f.gate, f.delay = gate, 100*time.Millisecond })
	_ = tr.TryPush([]byte{0}, 0)
	recv(t, h.tr.entered) // frame 0 is at the stalled transport
	_ = tr.TryPush([]byte{1}, 0)
	clk.add(80 * time.Millisecond)
	_ = tr.TryPush([]byte{2}, 0)
	clk.add(50 * time.Millisecond) // 1 waited 130 ms, 2 only 50 ms
	gate <- struct{}{}             // frame 0 goes
	recv(t, h.tr.entered)          // frame 2 is at the transport: 1 was dropped
	clk.add(time.Second)
	_ = tr.TryPush([]byte{3}, 0) // the last queued: goes after a second's wait
	clk.add(time.Second - time.Millisecond)
	gate <- struct{}{}
	recv(t, h.tr.entered)
	h.tr.set(func(f *fakeTransport) { f.delay = 0 })
	_ = tr.TryPush([]byte{4}, 0)
	clk.add(time.Second) // 4 waited a second behind 3 on a path no longer congested
	_ = tr.TryPush([]byte{5}, 0)
	close(gate)
	flush(t, tr)
	s := tr.Stats()
	checkAddsUp(t, s)
	if s.FramesSent != 5 || s.DroppedBy[DropCongested] != 1 || s.FramesDropped != 1 {
		t.Fatalf("%+v", s.Counters)
	}
	var got []byte
	for _, p := range h.tr.parsed(t) {
		got = append(got, p.Payload[0])
	}
	if string(got) != string([]byte{0, 2, 3, 4, 5}) {
		t.Fatalf("sent %v", got)
	}
}

// A typed track's frame encoding and schema go in the request (and again
// in a republish); a pair that breaks the rules is refused before
// anything is sent.
func TestTypedPublish(t *testing.T) {
	h := newHarness(t, Options{})
	typ := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameProtobuf},
		Schema: schema.ID{Name: "pose", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingProtobuf}}}
	req, res := h.publishAsync(context.Background(), PublishOptions{Name: "pose", Type: typ})
	if req.Type != typ {
		t.Fatalf("request %+v", req)
	}
	h.m.HandlePublishResponse(Info{Handle: req.Handle, SID: "DTR_p", Name: "pose", Type: typ})
	r := recv(t, res)
	if r.err != nil || r.tr.Info().Type != typ || r.tr.Stats().Type != typ {
		t.Fatalf("track %+v %v", r.tr.Info(), r.err)
	}
	h.timer.next()
	h.m.Republish()
	if again := recv(t, h.tr.publishes); again.Type != typ || again.Handle != req.Handle {
		t.Fatalf("republish request %+v", again)
	}

	bad := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameProtobuf}}
	_, err := h.m.StartPublish(PublishOptions{Name: "raw", Type: bad})
	var pe *PublishError
	if !errors.Is(err, ErrInvalidType) || !errors.Is(err, schema.ErrEncodingNeedsSchema) || !errors.As(err, &pe) || pe.Handle != 0 {
		t.Fatalf("protobuf without a schema: %v", err)
	}
	none(t, h.tr.publishes)
}

// Push waits for room instead of dropping: every frame of a long burst
// into a slow transport is sent, none counted dropped, in order; a ctx
// that ends while waiting hands nothing over.
func TestPushWaitsForRoom(t *testing.T) {
	h := newHarness(t, Options{QueueCapacity: 2})
	tr := h.publish("x", "DTR_1")
	gate := make(chan struct{})
	h.tr.set(func(f *fakeTransport) { f.gate = gate })
	done := make(chan error, 1)
	go func() {
		for i := range 50 {
			if err := tr.Push(context.Background(), []byte{byte(i)}, 0); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 50 {
		recv(t, h.tr.entered)
		gate <- struct{}{}
	}
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	s := tr.Stats()
	checkAddsUp(t, s)
	if s.FramesSent != 50 || s.FramesDropped != 0 || s.FramesPushed != 50 {
		t.Fatalf("%+v", s.Counters)
	}
	for i, p := range h.tr.parsed(t) {
		if p.Payload[0] != byte(i) {
			t.Fatalf("frame %d arrived as %d", i, p.Payload[0])
		}
	}
	// Stalled, with the queue full: Push gives up with ctx, counting nothing.
	_ = tr.TryPush([]byte{1}, 0)
	recv(t, h.tr.entered)
	_ = tr.TryPush([]byte{2}, 0)
	_ = tr.TryPush([]byte{3}, 0)
	before := tr.Stats().FramesPushed
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := tr.Push(ctx, []byte{4}, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("push into a stalled queue: %v", err)
	}
	if after := tr.Stats(); after.FramesPushed != before || after.FramesDropped != 0 {
		t.Fatalf("a push that never happened was counted: %+v", after.Counters)
	}
	close(gate)
}
