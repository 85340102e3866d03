package session

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// manyTracks is how many tracks one participant publishes in
// TestE2EManyTracks: as many as the Rust SDK's end-to-end test.
const manyTracks = 256

// One participant publishes 256 tracks, streams on every one, and
// unpublishes them all: every track is published with its own handle,
// every frame of every track reaches the loopback subscriber, and every
// track ends unpublished. The 256 publishes are started at once: sent at
// once, they would overflow the SFU's queue of signal requests and lose
// the connection (outgoing.DefaultMaxRequestsInFlight).
func TestE2EManyTracks(t *testing.T) { acrossSFUs(t, testE2EManyTracks) }

func testE2EManyTracks(t *testing.T) {
	s := connect(t, sfu(t), Config{Loopback: true})
	ctx := bounded(t, 90*time.Second)
	tracks := make([]*Track, manyTracks)
	pending := make([]*Pending, manyTracks)
	for i := range pending {
		// Started together, as an application publishing at start-up would.
		p, err := s.StartPublish(PublishOptions{Name: fmt.Sprintf("t%03d", i)})
		if err != nil {
			t.Fatalf("track %d: %v", i, err)
		}
		pending[i] = p
	}
	handles := map[uint16]bool{}
	began := time.Now()
	for i, p := range pending {
		tr, err := p.Wait(ctx)
		if err != nil {
			t.Fatalf("track %d: %v", i, err)
		}
		tracks[i] = tr
		handles[tr.Handle()] = true
	}
	t.Logf("%d tracks published in %s", manyTracks, time.Since(began))
	if len(handles) != manyTracks {
		t.Fatalf("%d distinct handles for %d tracks", len(handles), manyTracks)
	}
	for _, tr := range tracks {
		if err := s.WaitFollowed(ctx, tr); err != nil {
			t.Fatalf("%s: loopback never subscribed: %v", tr.Name(), err)
		}
	}
	const perTrack = 4
	for round := range perTrack {
		for _, tr := range tracks {
			if err := tr.Probe().Push(200 + round); err != nil {
				t.Fatalf("%s: push: %v", tr.Name(), err)
			}
		}
	}
	for _, tr := range tracks {
		if err := tr.Flush(ctx); err != nil {
			t.Fatalf("%s: flush: %v", tr.Name(), err)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	s.Settle(sctx)
	cancel()
	var lost, got uint64
	for _, l := range s.Report(nil).Local {
		if l.Out.FramesSent != perTrack || l.Rx == nil {
			t.Errorf("%s: sent %d, rx %v", l.Name, l.Out.FramesSent, l.Rx)
			continue
		}
		got += l.Rx.Frames
		lost += l.Rx.Lost
	}
	t.Logf("%d tracks: %d frames received, %d lost", manyTracks, got, lost)
	if got+lost != manyTracks*perTrack || got < manyTracks*perTrack*99/100 {
		t.Errorf("received %d and lost %d of %d", got, lost, manyTracks*perTrack)
	}
	for _, tr := range tracks {
		if err := tr.Unpublish(ctx); err != nil {
			t.Fatalf("%s: unpublish: %v", tr.Name(), err)
		}
	}
	for _, l := range s.Report(nil).Local {
		if l.State != outgoing.StateUnpublished {
			t.Errorf("%s: %s after unpublish", l.Name, l.State)
		}
	}
}

// Forget drops an unpublished track from the report and its records;
// a published one is refused.
func TestE2EForget(t *testing.T) {
	s := connect(t, sfu(t), Config{Loopback: true})
	ctx := bounded(t, 20*time.Second)
	tr, err := s.Publish(ctx, "forget-me", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(tr.Handle()); !errors.Is(err, outgoing.ErrStillPublished) {
		t.Fatalf("forget while published: %v", err)
	}
	if err := tr.Unpublish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(tr.Handle()); err != nil {
		t.Fatal(err)
	}
	if l := s.Report(nil).Local; len(l) != 0 {
		t.Fatalf("forgotten track still reported: %+v", l)
	}
}

// Closing a session with 256 tracks still published unpublishes them a
// window at a time: all at once, the requests would overflow the SFU's
// queue of signal requests, which ends the signal connection before the
// leave, and the SFU would keep the participant until it timed out.
func TestE2ECloseWithManyTracks(t *testing.T) { acrossSFUs(t, testE2ECloseWithManyTracks) }

func testE2ECloseWithManyTracks(t *testing.T) {
	srv := sfu(t)
	s := connect(t, srv, Config{})
	ctx := bounded(t, 60*time.Second)
	for i := range manyTracks {
		if _, err := s.Publish(ctx, fmt.Sprintf("c%03d", i), false); err != nil {
			t.Fatalf("track %d: %v", i, err)
		}
	}
	st := s.Status()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rc := lksdk.NewRoomServiceClient(srv.HTTPURL(), srv.APIKey, srv.APISecret)
	eventually(t, 10*time.Second, "the SFU to see the participant leave", func() bool {
		res, err := rc.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: st.Room})
		if err != nil {
			return true // the room is gone with its last participant
		}
		for _, p := range res.Participants {
			if p.Identity == st.Identity {
				return false
			}
		}
		return true
	})
}
