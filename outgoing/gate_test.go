package outgoing

import (
	"context"
	"errors"
	"testing"
)

// With the window full, publishes wait here, pending, and go out in
// order as answers free slots; a publish cancelled or failed while it
// waits never goes out; the publish timeout starts when the request does.
func TestPublishRequestsWaitForASlot(t *testing.T) {
	h := newHarness(t, Options{MaxRequestsInFlight: 2})
	var ps []*PendingPublish
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		p, err := h.m.StartPublish(PublishOptions{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	first, second := recv(t, h.tr.publishes), recv(t, h.tr.publishes)
	if first.Name != "a" || second.Name != "b" {
		t.Fatalf("first requests %q, %q", first.Name, second.Name)
	}
	none(t, h.tr.publishes)
	ta, tb := h.timer.next(), h.timer.next()
	none(t, h.timer.armed) // waiting publishes have no timeout yet
	if n := len(h.m.Snapshot()); n != 5 {
		t.Fatalf("%d rows; waiting publishes are pending too", n)
	}

	ps[3].Cancel() // "d", still waiting: never sent, nothing to undo
	if _, err := ps[3].Wait(context.Background()); !errors.Is(err, ErrCancelled) {
		t.Fatalf("cancelled while waiting: %v", err)
	}
	none(t, h.tr.unpublishes)

	h.m.HandlePublishResponse(Info{Handle: first.Handle, SID: "DTR_a", Name: "a"})
	if req := recv(t, h.tr.publishes); req.Name != "c" {
		t.Fatalf("next request %q, want c", req.Name)
	}
	h.timer.next() // c's timeout, armed as its request went out
	tb.fire()      // b times out: its slot goes to e
	if _, err := ps[1].Wait(context.Background()); !errors.Is(err, ErrTimeout) {
		t.Fatalf("b: %v", err)
	}
	recv(t, h.tr.unpublishes) // b's handle dropped at the SFU
	if req := recv(t, h.tr.publishes); req.Name != "e" {
		t.Fatalf("next request %q, want e", req.Name)
	}
	none(t, h.tr.publishes)
	_ = ta
	if got := h.m.gate.waiting(); got != 0 {
		t.Fatalf("%d still waiting", got)
	}
	h.closeNow()
}

// Reset fails the waiting publishes too, and none of them goes out after.
func TestResetFailsWaitingPublishes(t *testing.T) {
	h := newHarness(t, Options{MaxRequestsInFlight: 1})
	a, _ := h.m.StartPublish(PublishOptions{Name: "a"})
	b, _ := h.m.StartPublish(PublishOptions{Name: "b"})
	recv(t, h.tr.publishes)
	h.m.Reset(errBoom)
	for _, p := range []*PendingPublish{a, b} {
		if _, err := p.Wait(context.Background()); !errors.Is(err, ErrDisconnected) {
			t.Fatalf("%s: %v", p.Name(), err)
		}
	}
	none(t, h.tr.publishes)
	// The window is whole again.
	c, _ := h.m.StartPublish(PublishOptions{Name: "c"})
	if req := recv(t, h.tr.publishes); req.Handle != c.Handle() {
		t.Fatalf("after reset: %+v", req)
	}
	h.closeNow()
}

// Unpublish requests share the window: one out at a time here, the next
// sent when the SFU confirms the first.
func TestUnpublishRequestsWaitForASlot(t *testing.T) {
	h := newHarness(t, Options{MaxRequestsInFlight: 1})
	tracks := []*LocalTrack{h.publish("a", "DTR_a"), h.publish("b", "DTR_b"), h.publish("c", "DTR_c")}
	errs := make(chan error, len(tracks))
	for _, tr := range tracks {
		go func() { errs <- tr.Unpublish(context.Background()) }()
	}
	got := map[uint16]bool{}
	for range tracks {
		hd := recv(t, h.tr.unpublishes)
		none(t, h.tr.unpublishes)
		got[hd] = true
		h.m.HandleUnpublishResponse(hd)
		if err := recv(t, errs); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 3 {
		t.Fatalf("unpublished %v", got)
	}
	h.closeNow()
}

// Republishing after a full reconnect goes through the window too.
func TestRepublishRequestsWaitForASlot(t *testing.T) {
	h := newHarness(t, Options{MaxRequestsInFlight: 2})
	var tracks []*LocalTrack
	for _, n := range []string{"a", "b", "c", "d"} {
		tracks = append(tracks, h.publish(n, "DTR_"+n))
	}
	h.m.BeginRepublish()
	h.m.Republish()
	r1, r2 := recv(t, h.tr.publishes), recv(t, h.tr.publishes)
	none(t, h.tr.publishes)
	h.m.HandlePublishResponse(Info{Handle: r1.Handle, SID: "DTR_new1", Name: r1.Name})
	r3 := recv(t, h.tr.publishes)
	h.m.HandlePublishResponse(Info{Handle: r2.Handle, SID: "DTR_new2", Name: r2.Name})
	r4 := recv(t, h.tr.publishes)
	seen := map[uint16]bool{r1.Handle: true, r2.Handle: true, r3.Handle: true, r4.Handle: true}
	if len(seen) != 4 {
		t.Fatalf("republished %v", seen)
	}
	for _, r := range []PublishRequest{r3, r4} {
		h.m.HandlePublishResponse(Info{Handle: r.Handle, SID: "DTR_new", Name: r.Name})
	}
	for _, tr := range tracks {
		if tr.State() != StatePublished {
			t.Fatalf("%s: %s", tr.Name(), tr.State())
		}
	}
	h.closeNow()
}
