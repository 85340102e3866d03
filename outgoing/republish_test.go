package outgoing

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/e2ee"
)

// An Unpublish waiting for the SFU when the connection restarts is done:
// the SFU forgot the track with the old participant, so the confirmation
// will never come and the track must not be republished.
func TestUnpublishAcrossFullReconnect(t *testing.T) {
	for _, begin := range []bool{false, true} {
		h := newHarness(t, Options{})
		tr := h.publish("x", "DTR_1")
		done := make(chan error, 1)
		go func() { done <- tr.Unpublish(context.Background()) }()
		recv(t, h.tr.unpublishes)
		if begin {
			h.m.BeginRepublish()
		}
		h.m.Republish()
		if err := recv(t, done); err != nil {
			t.Fatalf("begin=%v: %v", begin, err)
		}
		none(t, h.tr.publishes)
		none(t, h.timer.armed)
		if tr.State() != StateUnpublished || lastReason(tr) != "unpublished: connection restarted" {
			t.Fatalf("begin=%v: %v %q", begin, tr.State(), lastReason(tr))
		}
		if !errors.Is(tr.TryPush([]byte{1}, 0), ErrTrackUnpublished) {
			t.Fatal("push accepted")
		}
		flush(t, tr)
	}
}

// BeginRepublish fails pending publishes and stops the tracks' frames
// without sending anything; Republish then asks for every track again.
func TestBeginRepublishThenRepublish(t *testing.T) {
	key, _ := e2ee.NewKeyFromBytes(make([]byte, 16))
	h := newHarness(t, Options{E2EE: key})
	tr := h.publish("x", "DTR_old")
	reqE, resE := h.publishAsync(context.Background(), PublishOptions{Name: "enc", E2EE: true})
	h.m.HandlePublishResponse(Info{Handle: reqE.Handle, SID: "DTR_e", Name: "enc", E2EE: true})
	enc := recv(t, resE).tr
	h.timer.next() // enc's publish timer
	_, pend := h.publishAsync(context.Background(), PublishOptions{Name: "y"})
	h.timer.next()

	h.m.BeginRepublish()
	r := recv(t, pend)
	var pe *PublishError
	if !errors.As(r.err, &pe) || pe.Reason != ReasonDisconnected || pe.RawMessage != "" || pe.SFUReason != 0 {
		t.Fatalf("pending: %#v", r.err)
	}
	if got := r.err.Error(); got != `publish "y": disconnected (full reconnect)` {
		t.Fatalf("message %q", got)
	}
	none(t, h.tr.publishes)
	none(t, h.timer.armed)
	for _, x := range []*LocalTrack{tr, enc} {
		if x.State() != StateRepublishing {
			t.Fatalf("%s: state %v", x.Name(), x.State())
		}
	}
	var push *PushError
	if err := tr.TryPush([]byte{1}, 0); !errors.As(err, &push) || push.Drop != DropRepublishing {
		t.Fatalf("push while reconnecting: %v", err)
	}

	h.m.Republish()
	for _, want := range []PublishRequest{{Handle: tr.Handle(), Name: "x"}, {Handle: enc.Handle(), Name: "enc", E2EE: true}} {
		if got := recv(t, h.tr.publishes); got != want {
			t.Fatalf("republish request %+v, want %+v", got, want)
		}
		if a := h.timer.next(); a.d != 10*time.Second {
			t.Fatalf("republish timer armed with %v", a.d)
		}
	}
	h.m.HandlePublishResponse(Info{Handle: tr.Handle(), SID: "DTR_new", Name: "x"})
	h.m.HandlePublishResponse(Info{Handle: enc.Handle(), SID: "DTR_e2", Name: "enc", E2EE: true})
	if tr.State() != StatePublished || tr.Info().SID != "DTR_new" || enc.Info().SID != "DTR_e2" {
		t.Fatalf("after republish: %v %+v %+v", tr.State(), tr.Info(), enc.Info())
	}
	if err := tr.TryPush([]byte{2}, 0); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	if s := tr.Stats(); s.FramesSent != 1 || s.DroppedBy[DropRepublishing] != 1 || s.PublishAttempts != 2 {
		t.Fatalf("stats %+v", s)
	}
	h.closeNow()
	none(t, h.tr.unpublishes) // the answered attempts' timers did nothing
}

// A republish that gets no answer gives up after the publish timeout:
// the SFU is told to drop the handle, the track ends with a typed error,
// and a late answer or error is undone or ignored.
func TestRepublishTimeout(t *testing.T) {
	h := newHarness(t, Options{PublishTimeout: 3 * time.Second})
	tr := h.publish("x", "DTR_old")
	a := h.republish(tr)
	if a.d != 3*time.Second {
		t.Fatalf("armed with %v", a.d)
	}
	a.fire()
	if got := recv(t, h.tr.unpublishes); got != tr.Handle() {
		t.Fatalf("unpublish %d", got)
	}
	if tr.State() != StateUnpublished || lastReason(tr) != "republish: no answer from the SFU within 3s" {
		t.Fatalf("%v %q", tr.State(), lastReason(tr))
	}
	var pe *PublishError
	if err := tr.LastErr(); !errors.Is(err, ErrTimeout) || !errors.As(err, &pe) || !pe.Republish || pe.Timeout != 3*time.Second {
		t.Fatalf("last error %#v", err)
	}
	if got := tr.Stats().LastError; got != `republish "x": no answer from the SFU within 3s` {
		t.Fatalf("LastError %q", got)
	}
	flush(t, tr)

	h.answerLate(tr.Handle())
	h.m.HandleRequestError(RequestError{Handle: tr.Handle(), Request: RequestPublish, Reason: sfuDuplicateName, Message: "late"})
	if tr.State() != StateUnpublished || tr.Info().SID != "DTR_old" || !errors.Is(tr.TryPush([]byte{1}, 0), ErrTrackUnpublished) {
		t.Fatalf("late answer revived the track: %v %s", tr.State(), tr.Info().SID)
	}
	none(t, h.tr.publishes)
	none(t, h.tr.unpublishes)
}

// A second rejoin supersedes the first republish attempt: the first
// attempt's timer no longer ends the track.
func TestRepublishAgainSupersedesTimer(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_old")
	first := h.republish(tr)
	h.m.BeginRepublish()
	second := h.republish(tr)
	first.fire()
	h.m.HandlePublishResponse(Info{Handle: tr.Handle(), SID: "DTR_new", Name: "x"})
	second.fire()
	h.closeNow() // waits for the timer goroutines
	none(t, h.tr.unpublishes)
	if s := tr.Stats(); s.SID != "DTR_new" || s.PublishAttempts != 3 {
		t.Fatalf("%+v", s)
	}
}

func TestRepublishSendFails(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_old")
	h.tr.set(func(f *fakeTransport) { f.pubErr = errBoom })
	h.m.Republish()
	if tr.State() != StateUnpublished {
		t.Fatalf("state %v", tr.State())
	}
	var pe *PublishError
	err := tr.LastErr()
	if !errors.Is(err, ErrDisconnected) || !errors.Is(err, errBoom) || !errors.As(err, &pe) || !pe.Republish {
		t.Fatalf("%#v", err)
	}
	if got := err.Error(); got != `republish "x": disconnected (could not send the request): boom` {
		t.Fatalf("message %q", got)
	}
	if got := lastReason(tr); got != "republish failed: disconnected (could not send the request): boom" {
		t.Fatalf("reason %q", got)
	}
	none(t, h.timer.armed)
	h.closeNow()
}

func TestResetWhileRepublishing(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_old")
	a := h.republish(tr)
	h.m.Reset(errBoom)
	if tr.State() != StateUnpublished || lastReason(tr) != "disconnected: boom" {
		t.Fatalf("%v %q", tr.State(), lastReason(tr))
	}
	flush(t, tr)
	a.fire() // too late: the track is gone
	h.answerLate(tr.Handle())
	if tr.State() != StateUnpublished {
		t.Fatalf("state %v", tr.State())
	}
	h.closeNow()
	none(t, h.tr.unpublishes)
}

// Unpublished is final, whatever order the calls come in.
func TestUnpublishedIsFinal(t *testing.T) {
	t.Run("stale pointer", func(t *testing.T) {
		// What HandlePublishResponse used to do: look the track up, then
		// (after a Reset ended it) mark it published.
		h := newHarness(t, Options{})
		tr := h.publish("x", "DTR_1")
		h.republish(tr)
		h.m.Reset(nil)
		if tr.casState(StateRepublishing, StatePublished, "DTR_2", "late") || tr.setState(StatePublished, "late") ||
			tr.setState(StateRepublishing, "late") || tr.casState(StateUnpublished, StatePublished, "DTR_2", "late") {
			t.Fatal("left unpublished")
		}
		if tr.State() != StateUnpublished || tr.Info().SID != "DTR_1" {
			t.Fatalf("%v %s", tr.State(), tr.Info().SID)
		}
		if !errors.Is(tr.TryPush([]byte{1}, 0), ErrTrackUnpublished) {
			t.Fatal("push accepted")
		}
		flush(t, tr)
	})
	t.Run("republish after SFU unpublish", func(t *testing.T) {
		h := newHarness(t, Options{})
		tr := h.publish("x", "DTR_1")
		h.m.HandleUnpublishResponse(tr.Handle())
		h.m.BeginRepublish()
		h.m.Republish()
		none(t, h.tr.publishes)
		if tr.State() != StateUnpublished {
			t.Fatalf("state %v", tr.State())
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		// Every interleaving of a republish answer, a new rejoin and a
		// reset must leave a track that either works or refuses pushes.
		for round := range 50 {
			h := newHarness(t, Options{QueueCapacity: 4})
			tr := h.publish("x", "DTR_1")
			h.republish(tr)
			var wg sync.WaitGroup
			for _, f := range []func(){
				func() { h.m.HandlePublishResponse(Info{Handle: tr.Handle(), SID: "DTR_2", Name: "x"}) },
				func() { h.m.Republish() },
				func() { h.m.Reset(errBoom) },
				func() { _ = tr.TryPush([]byte{1}, 0) },
			} {
				wg.Go(f)
			}
			wg.Wait()
			if tr.State() != StateUnpublished {
				t.Fatalf("round %d: %v after Reset", round, tr.State())
			}
			if !errors.Is(tr.TryPush([]byte{1}, 0), ErrTrackUnpublished) {
				t.Fatalf("round %d: push accepted", round)
			}
			flush(t, tr)
			checkAddsUp(t, tr.Stats())
			h.closeNow()
		}
	})
}

func TestPublishErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  *PublishError
		want string
	}{
		{&PublishError{Reason: ReasonDisconnected, Name: "x", Detail: "full reconnect"}, `publish "x": disconnected (full reconnect)`},
		{&PublishError{Reason: ReasonDisconnected, Name: "x", Err: ErrClosed}, `publish "x": disconnected: data track manager closed`},
		{&PublishError{Reason: ReasonDuplicateName, Name: "x", SFUReason: sfuDuplicateName, RawMessage: "name taken"},
			`publish "x": a track with this name is already published by this participant (SFU said DUPLICATE_NAME: "name taken")`},
		{&PublishError{Reason: ReasonUnknown, Name: "x", SFUReason: sfuInvalidRequest},
			`publish "x": rejected by the SFU (SFU said INVALID_REQUEST)`},
		{&PublishError{Reason: ReasonTimeout, Name: "x", Timeout: 10 * time.Second},
			`publish "x": no answer from the SFU within 10s: does the server support data tracks (livekit-server ≥ 1.11 with enable_data_tracks)?`},
		{&PublishError{Reason: ReasonTimeout, Name: "x", Republish: true, Timeout: 10 * time.Second},
			`republish "x": no answer from the SFU within 10s`},
		{&PublishError{Reason: ReasonCancelled, Name: "x", Err: context.Canceled}, `publish "x": cancelled: context canceled`},
		{&PublishError{Reason: ReasonInvalidName, Name: ""}, `publish "": invalid name: it must be 1 to 256 bytes, not 0`},
		{&PublishError{Reason: ReasonInvalidName, Name: strings.Repeat("é", 150)},
			`publish "` + strings.Repeat("é", 20) + `"…: invalid name: it must be 1 to 256 bytes, not 300`},
		{&PublishError{Reason: ReasonLimitReached, Name: "x", Detail: "all 65535 handles of this session are used"},
			`publish "x": track limit reached (all 65535 handles of this session are used)`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}
