package outgoing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPublishOK(t *testing.T) {
	h := newHarness(t, Options{})
	req, res := h.publishAsync(context.Background(), PublishOptions{Name: "sensors"})
	if req.Handle != 1 || req.Name != "sensors" || req.E2EE {
		t.Fatalf("request %+v", req)
	}
	if s := h.m.Snapshot(); len(s) != 1 || s[0].State != StatePending {
		t.Fatalf("snapshot while pending: %+v", s)
	}
	h.m.HandlePublishResponse(Info{Handle: 1, SID: "DTR_a", Name: "sensors"})
	r := recv(t, res)
	if r.err != nil || r.tr.Info().SID != "DTR_a" || r.tr.State() != StatePublished {
		t.Fatalf("publish: %+v %v", r.tr, r.err)
	}
	if s := h.m.Snapshot(); len(s) != 1 || s[0].State != StatePublished || s[0].PublishAttempts != 1 {
		t.Fatalf("snapshot: %+v", s)
	}
	// Handles are never reused.
	req2, _ := h.publishAsync(context.Background(), PublishOptions{Name: "other"})
	if req2.Handle != 2 {
		t.Fatalf("second handle %d", req2.Handle)
	}
}

func TestPublishRejectedBySFU(t *testing.T) {
	for _, tc := range []struct {
		sfu    int32
		want   error
		reason Reason
	}{
		{2, ErrNotAllowed, ReasonNotAllowed},
		{10, ErrDuplicateName, ReasonDuplicateName},
		{8, ErrInvalidName, ReasonInvalidName},
		{3, ErrLimitReached, ReasonLimitReached},
		{9, ErrUnknown, ReasonUnknown},
		{11, ErrInvalidType, ReasonInvalidType},
	} {
		h := newHarness(t, Options{})
		req, res := h.publishAsync(context.Background(), PublishOptions{Name: "x"})
		h.m.HandleRequestError(RequestError{Handle: req.Handle, Request: RequestPublish, Reason: tc.sfu, Message: "the SFU's words"})
		r := recv(t, res)
		var pe *PublishError
		if !errors.Is(r.err, tc.want) || !errors.As(r.err, &pe) || pe.Reason != tc.reason || pe.RawMessage != "the SFU's words" || pe.SFUReason != tc.sfu {
			t.Fatalf("sfu reason %d: %v", tc.sfu, r.err)
		}
		if !strings.Contains(r.err.Error(), "the SFU's words") {
			t.Fatalf("message lost: %v", r.err)
		}
		if len(h.m.Snapshot()) != 0 {
			t.Fatal("rejected publish left a descriptor")
		}
	}
}

func TestPublishInvalidNameFailsFast(t *testing.T) {
	h := newHarness(t, Options{})
	for _, name := range []string{"", strings.Repeat("a", 257)} {
		_, err := h.m.Publish(context.Background(), PublishOptions{Name: name})
		if !errors.Is(err, ErrInvalidName) {
			t.Fatalf("%q: %v", name, err)
		}
	}
	none(t, h.tr.publishes)
	// 256 bytes is fine.
	req, _ := h.publishAsync(context.Background(), PublishOptions{Name: strings.Repeat("é", 128)})
	if len(req.Name) != 256 {
		t.Fatal("256-byte name not sent")
	}
}

func TestPublishE2EEWithoutKey(t *testing.T) {
	h := newHarness(t, Options{})
	_, err := h.m.Publish(context.Background(), PublishOptions{Name: "x", E2EE: true})
	if !errors.Is(err, ErrE2EENotConfigured) || !strings.Contains(err.Error(), "--e2ee-passphrase") {
		t.Fatalf("%v", err)
	}
}

func TestPublishTimeoutUnpublishesAndLateAnswerIsUndone(t *testing.T) {
	h := newHarness(t, Options{})
	req, res := h.publishAsync(context.Background(), PublishOptions{Name: "x"})
	h.timer.fire()
	r := recv(t, res)
	if !errors.Is(r.err, ErrTimeout) || !strings.Contains(r.err.Error(), "enable_data_tracks") {
		t.Fatalf("%v", r.err)
	}
	if got := recv(t, h.tr.unpublishes); got != req.Handle {
		t.Fatalf("unpublish for %d, want %d", got, req.Handle)
	}
	h.answerLate(req.Handle) // the SFU answers after all: the manager undoes it
	if len(h.m.Snapshot()) != 0 {
		t.Fatal("late answer created a track")
	}
}

func TestPublishCancelledBeforeRequest(t *testing.T) {
	h := newHarness(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h.m.Publish(ctx, PublishOptions{Name: "x"})
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("%v", err)
	}
	none(t, h.tr.publishes)
}

func TestPublishCancelledAfterRequest(t *testing.T) {
	h := newHarness(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	req, res := h.publishAsync(ctx, PublishOptions{Name: "x"})
	cancel()
	r := recv(t, res)
	if !errors.Is(r.err, ErrCancelled) || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("%v", r.err)
	}
	if got := recv(t, h.tr.unpublishes); got != req.Handle {
		t.Fatalf("unpublish %d", got)
	}
}

func TestUnpublishWaitsForSFU(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_1")
	done := make(chan error, 1)
	go func() { done <- tr.Unpublish(context.Background()) }()
	if got := recv(t, h.tr.unpublishes); got != tr.Handle() {
		t.Fatalf("unpublish %d", got)
	}
	none(t, done)
	// Pushes still go out until the SFU confirms, as in the JS client.
	if err := tr.TryPush([]byte("still"), 0); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	h.m.HandleUnpublishResponse(tr.Handle())
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if tr.State() != StateUnpublished {
		t.Fatalf("state %v", tr.State())
	}
	err := tr.TryPush([]byte("late"), 0)
	if !errors.Is(err, ErrTrackUnpublished) {
		t.Fatalf("push after unpublish: %v", err)
	}
	s := tr.Stats()
	if s.UnpublishedErrors != 1 || s.FramesSent != 1 || s.DroppedBy[DropUnpublished] != 1 {
		t.Fatalf("stats %+v", s)
	}
	checkAddsUp(t, s)
	if last := s.Timeline[len(s.Timeline)-1]; last.State != StateUnpublished || last.Reason != "unpublished" {
		t.Fatalf("timeline %+v", s.Timeline)
	}
}

func TestUnpublishNotFoundCountsAsDone(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_1")
	done := make(chan error, 1)
	go func() { done <- tr.Unpublish(context.Background()) }()
	recv(t, h.tr.unpublishes)
	h.m.HandleRequestError(RequestError{Handle: tr.Handle(), Request: RequestUnpublish, Reason: 1, Message: ""})
	if err := recv(t, done); err != nil || tr.State() != StateUnpublished {
		t.Fatalf("%v %v", err, tr.State())
	}
}

func TestSFUInitiatedUnpublish(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_1")
	h.m.HandleUnpublishResponse(tr.Handle())
	if tr.State() != StateUnpublished {
		t.Fatalf("state %v", tr.State())
	}
	s := tr.Stats()
	if s.Timeline[len(s.Timeline)-1].Reason != "unpublished by the SFU" {
		t.Fatalf("timeline %+v", s.Timeline)
	}
	if !errors.Is(tr.TryPush([]byte{1}, 0), ErrTrackUnpublished) {
		t.Fatal("push after SFU unpublish accepted")
	}
}

func TestRepublishAfterReconnect(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_old")
	pending, res := h.publishAsync(context.Background(), PublishOptions{Name: "y"})

	h.m.Republish()
	if r := recv(t, res); !errors.Is(r.err, ErrDisconnected) {
		t.Fatalf("pending across reconnect: %v", r.err)
	}
	again := recv(t, h.tr.publishes)
	if again.Handle != tr.Handle() || again.Name != "x" {
		t.Fatalf("republish request %+v", again)
	}
	if tr.State() != StateRepublishing {
		t.Fatalf("state %v", tr.State())
	}
	err := tr.TryPush([]byte{1}, 0)
	var pe *PushError
	if !errors.Is(err, ErrQueueFull) || !errors.As(err, &pe) || pe.Drop != DropRepublishing {
		t.Fatalf("push while republishing: %v", err)
	}
	if len(h.m.ActiveInfos()) != 0 {
		t.Fatal("republishing track listed for sync state")
	}

	h.m.HandlePublishResponse(Info{Handle: tr.Handle(), SID: "DTR_new", Name: "x"})
	if tr.State() != StatePublished || tr.Info().SID != "DTR_new" {
		t.Fatalf("after republish: %v %s", tr.State(), tr.Info().SID)
	}
	if err := tr.TryPush([]byte{2}, 0); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	s := tr.Stats()
	if s.FramesSent != 1 || s.DroppedBy[DropRepublishing] != 1 || s.PublishAttempts != 2 {
		t.Fatalf("stats %+v", s)
	}
	if pending.Handle == tr.Handle() {
		t.Fatal("handles collide")
	}
}

func TestRepublishRejected(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_old")
	h.m.Republish()
	recv(t, h.tr.publishes)
	h.m.HandleRequestError(RequestError{Handle: tr.Handle(), Request: RequestPublish, Reason: 10, Message: "duplicate"})
	if tr.State() != StateUnpublished || !strings.Contains(tr.Stats().LastError, "duplicate") {
		t.Fatalf("%v %+v", tr.State(), tr.Stats())
	}
	var pe *PublishError
	if err := tr.LastErr(); !errors.Is(err, ErrDuplicateName) || !errors.As(err, &pe) || !pe.Republish || pe.RawMessage != "duplicate" {
		t.Fatalf("last error %#v", err)
	}
	if got := lastReason(tr); got != `republish rejected: a track with this name is already published by this participant (SFU said DUPLICATE_NAME: "duplicate")` {
		t.Fatalf("reason %q", got)
	}
}

func TestResetFailsPendingAndUnpublishesActive(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_1")
	_, res := h.publishAsync(context.Background(), PublishOptions{Name: "y"})
	unpub := make(chan error, 1)
	go func() { unpub <- tr.Unpublish(context.Background()) }()
	recv(t, h.tr.unpublishes)

	h.m.Reset(errBoom)
	if r := recv(t, res); !errors.Is(r.err, ErrDisconnected) {
		t.Fatalf("pending: %v", r.err)
	}
	if err := recv(t, unpub); err != nil {
		t.Fatalf("unpublish waiter: %v", err)
	}
	if tr.State() != StateUnpublished || !strings.Contains(tr.Stats().Timeline[len(tr.Stats().Timeline)-1].Reason, "boom") {
		t.Fatalf("%+v", tr.Stats().Timeline)
	}
	flush(t, tr) // nothing hangs
}

func TestHandleExhaustion(t *testing.T) {
	h := newHarness(t, Options{})
	h.m.nextHandle = 0xFFFF
	req, _ := h.publishAsync(context.Background(), PublishOptions{Name: "last"})
	if req.Handle != 0xFFFF {
		t.Fatalf("handle %d", req.Handle)
	}
	if _, err := h.m.Publish(context.Background(), PublishOptions{Name: "more"}); !errors.Is(err, ErrLimitReached) {
		t.Fatalf("%v", err)
	}
}

func TestClosedManagerRefuses(t *testing.T) {
	h := newHarness(t, Options{})
	h.m.Close()
	if _, err := h.m.Publish(context.Background(), PublishOptions{Name: "x"}); !errors.Is(err, ErrDisconnected) || !errors.Is(err, ErrClosed) {
		t.Fatalf("%v", err)
	}
}

func TestPublishTimeoutUsesOption(t *testing.T) {
	for _, tc := range []struct {
		opt, want time.Duration
	}{{0, 10 * time.Second}, {1500 * time.Millisecond, 1500 * time.Millisecond}} {
		h := newHarness(t, Options{PublishTimeout: tc.opt})
		_, res := h.publishAsync(context.Background(), PublishOptions{Name: "x"})
		a := h.timer.next()
		if a.d != tc.want {
			t.Fatalf("option %v: timer armed with %v, want %v", tc.opt, a.d, tc.want)
		}
		a.fire()
		var pe *PublishError
		if r := recv(t, res); !errors.As(r.err, &pe) || pe.Timeout != tc.want ||
			!strings.Contains(r.err.Error(), "within "+tc.want.String()) {
			t.Fatalf("%v", r.err)
		}
	}
}

func TestLateAnswerAfterCancelIsUndone(t *testing.T) {
	h := newHarness(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	req, res := h.publishAsync(ctx, PublishOptions{Name: "x"})
	cancel()
	if r := recv(t, res); !errors.Is(r.err, ErrCancelled) {
		t.Fatalf("%v", r.err)
	}
	recv(t, h.tr.unpublishes)
	h.answerLate(req.Handle)
	if len(h.m.Snapshot()) != 0 {
		t.Fatal("late answer created a track")
	}
}

// An SFU error after the caller gave up changes nothing and sends nothing.
func TestLateSFUErrorAfterTimeout(t *testing.T) {
	h := newHarness(t, Options{})
	req, res := h.publishAsync(context.Background(), PublishOptions{Name: "x"})
	h.timer.fire()
	recv(t, res)
	recv(t, h.tr.unpublishes)
	h.m.HandleRequestError(RequestError{Handle: req.Handle, Request: RequestPublish, Reason: sfuDuplicateName, Message: "too late"})
	h.m.HandleRequestError(RequestError{Handle: req.Handle, Request: RequestUnpublish, Reason: sfuNotFound, Message: ""})
	none(t, h.tr.publishes)
	none(t, h.tr.unpublishes)
	if len(h.m.Snapshot()) != 0 {
		t.Fatal("late error left a descriptor")
	}
}

func TestPublishSendFails(t *testing.T) {
	h := newHarness(t, Options{})
	h.tr.set(func(f *fakeTransport) { f.pubErr = errBoom })
	_, err := h.m.Publish(context.Background(), PublishOptions{Name: "x"})
	var pe *PublishError
	if !errors.Is(err, ErrDisconnected) || !errors.Is(err, errBoom) || !errors.As(err, &pe) || pe.Handle != 1 || pe.RawMessage != "" {
		t.Fatalf("%#v", err)
	}
	if got := err.Error(); got != `publish "x": disconnected (could not send the request): boom` {
		t.Fatalf("message %q", got)
	}
	none(t, h.timer.armed)
	if len(h.m.Snapshot()) != 0 {
		t.Fatal("failed publish left a descriptor")
	}
}

// Unpublish whose ctx ends before the SFU confirms stops the track locally;
// the confirmation arriving later is ignored.
func TestUnpublishContextExpires(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Unpublish(ctx) }()
	recv(t, h.tr.unpublishes)
	cancel()
	err := recv(t, done)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "unpublished locally") {
		t.Fatalf("%v", err)
	}
	if tr.State() != StateUnpublished || lastReason(tr) != "unpublished locally: the SFU did not confirm in time" {
		t.Fatalf("%v %q", tr.State(), lastReason(tr))
	}
	h.m.HandleUnpublishResponse(tr.Handle())
	if n := len(tr.Stats().Timeline); n != 2 {
		t.Fatalf("late confirmation changed the timeline: %+v", tr.Stats().Timeline)
	}
	if err := tr.Unpublish(context.Background()); !errors.Is(err, ErrTrackUnpublished) {
		t.Fatalf("second unpublish: %v", err)
	}
}

func TestUnpublishSendFails(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_1")
	if err := tr.TryPush([]byte{1}, 0); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	h.tr.set(func(f *fakeTransport) { f.unpubErr = errBoom })
	err := tr.Unpublish(context.Background())
	if !errors.Is(err, errBoom) || err.Error() != `unpublish "x": could not send the request, unpublished locally: boom` {
		t.Fatalf("%v", err)
	}
	if tr.State() != StateUnpublished || !strings.Contains(lastReason(tr), "boom") {
		t.Fatalf("%v %q", tr.State(), lastReason(tr))
	}
	if !errors.Is(tr.TryPush([]byte{1}, 0), ErrTrackUnpublished) {
		t.Fatal("push accepted")
	}
	checkAddsUp(t, tr.Stats())
}

func TestRemove(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publish("a", "DTR_a")
	b := h.publish("b", "DTR_b")
	if err := h.m.Remove(a.Handle()); !errors.Is(err, ErrStillPublished) {
		t.Fatalf("forget a published track: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Unpublish(context.Background()) }()
	h.m.HandleUnpublishResponse(recv(t, h.tr.unpublishes))
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Remove(a.Handle()); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Remove(a.Handle()); !errors.Is(err, ErrUnknownTrack) {
		t.Fatalf("forget twice: %v", err)
	}
	if snap := h.m.Snapshot(); len(snap) != 1 || snap[0].Handle != b.Handle() {
		t.Fatalf("snapshot after forget: %+v", snap)
	}
	if tr := h.m.Tracks(); len(tr) != 1 || tr[0] != b {
		t.Fatalf("tracks after forget: %v", tr)
	}
}
