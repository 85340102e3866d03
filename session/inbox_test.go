package session

import (
	"fmt"
	"testing"

	"github.com/dttui/dttui/incoming"
	"github.com/livekit/protocol/livekit"
)

// Issue 20 item 10: what piles up while the drain is busy is applied as
// one batch: each participant's latest info (an older version filed
// later loses), every permission update, the latest handle map; a Join
// drops what came before it.
func TestInboxMergesWhatPilesUp(t *testing.T) {
	var in inbox
	update := func(sid string, version uint32, tracks int) *livekit.SignalResponse {
		pi := &livekit.ParticipantInfo{Sid: sid, Identity: "id-" + sid, Version: version}
		for i := range tracks {
			pi.DataTracks = append(pi.DataTracks, &livekit.DataTrackInfo{Sid: fmt.Sprintf("DTR_%s_%d", sid, i)})
		}
		return &livekit.SignalResponse{Message: &livekit.SignalResponse_Update{Update: &livekit.ParticipantUpdate{Participants: []*livekit.ParticipantInfo{pi}}}}
	}
	handles := func(n int) *livekit.SignalResponse {
		m := map[uint32]*livekit.DataTrackSubscriberHandles_PublishedDataTrack{}
		for i := range n {
			m[uint32(i+1)] = &livekit.DataTrackSubscriberHandles_PublishedDataTrack{TrackSid: fmt.Sprintf("DTR_PA_h_%d", i)}
		}
		return &livekit.SignalResponse{Message: &livekit.SignalResponse_DataTrackSubscriberHandles{
			DataTrackSubscriberHandles: &livekit.DataTrackSubscriberHandles{SubHandles: m}}}
	}
	perm := &livekit.SignalResponse{Message: &livekit.SignalResponse_SubscriptionPermissionUpdate{
		SubscriptionPermissionUpdate: &livekit.SubscriptionPermissionUpdate{TrackSid: "DTR_x", Allowed: true}}}

	if !in.file("me", update("PA_old", 1, 1)) {
		t.Fatal("the first message must start a drain")
	}
	in.file("me", &livekit.SignalResponse{Message: &livekit.SignalResponse_Join{Join: &livekit.JoinResponse{}}})
	for v := range 500 {
		if in.file("me", update("PA_h", uint32(v+1), v+1)) || in.file("me", perm) || in.file("me", handles(v+1)) {
			t.Fatal("a second drain started")
		}
	}
	in.file("me", update("PA_h", 7, 7)) // late, out of order
	in.file("me", update("PA_b", 1, 2))
	if in.file("me", &livekit.SignalResponse{Message: &livekit.SignalResponse_Offer{}}) {
		t.Fatal("an offer is not the subscriber's")
	}
	b, ok := in.take()
	if !ok || b.join == nil || b.local != "me" {
		t.Fatalf("batch %v: join %v", ok, b.join)
	}
	if len(b.parts) != 2 || b.parts[0].GetSid() != "PA_h" || len(b.parts[0].GetDataTracks()) != 500 || b.parts[1].GetSid() != "PA_b" {
		t.Fatalf("participants %d, the first %s with %d tracks", len(b.parts), b.parts[0].GetSid(), len(b.parts[0].GetDataTracks()))
	}
	if len(b.perms) != 500 || !b.hasHandles || len(b.handles) != 500 {
		t.Fatalf("%d permission updates, handle map %v of %d", len(b.perms), b.hasHandles, len(b.handles))
	}
	if _, ok := in.take(); ok || in.draining {
		t.Fatal("an empty inbox ends the drain")
	}
	in.wg.Done() // as the drain goroutine would, ending
	in.close()
	if in.file("me", perm) {
		t.Fatal("a closed inbox starts no drain")
	}
}

// The drain goroutine the subscriber starts for filed messages ends with
// them, and close waits for it.
func TestSubscriberDrainEnds(t *testing.T) {
	checkLeaks(t)
	s := newSubscriber(incoming.Options{})
	s.attach(nil)
	for v := range 100 {
		s.onSignal("me", &livekit.SignalResponse{Message: &livekit.SignalResponse_Update{Update: &livekit.ParticipantUpdate{
			Participants: []*livekit.ParticipantInfo{{Sid: "PA_p", Identity: "p", Version: uint32(v + 1),
				DataTracks: []*livekit.DataTrackInfo{{Sid: fmt.Sprintf("DTR_%d", v)}}}}}}})
	}
	s.close()
	if n := len(s.mgr.Snapshot()); n == 0 {
		t.Fatal("nothing applied")
	}
}
