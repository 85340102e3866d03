package session

import (
	"slices"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// The room picker's listing: rooms other sessions made appear with their
// visible participants and each one's data tracks, as both builds of the
// SFU report them through RoomService; the loopback subscriber is hidden
// and left out; an empty room is listed with nobody in it.
func TestE2EListRooms(t *testing.T) { acrossSFUs(t, testE2EListRooms) }

func testE2EListRooms(t *testing.T) {
	srv := sfu(t)
	room := "picker-" + randomSuffix()
	a := connect(t, srv, Config{Room: room, Identity: "alice", Loopback: true})
	b := connect(t, srv, Config{Room: room, Identity: "bob"})
	for _, name := range []string{"pose", "imu"} {
		if _, err := a.Publish(bounded(t, 15*time.Second), name, false); err != nil {
			t.Fatal(err)
		}
	}
	_ = b
	empty := "picker-empty-" + randomSuffix()
	rc := lksdk.NewRoomServiceClient(httpURL(srv.URL), srv.APIKey, srv.APISecret)
	if _, err := rc.CreateRoom(bounded(t, 10*time.Second), &livekit.CreateRoomRequest{Name: empty, EmptyTimeout: 60}); err != nil {
		t.Fatal(err)
	}
	var got, gotEmpty RoomListing
	eventually(t, 10*time.Second, "both rooms listed, alice with her two data tracks", func() bool {
		rooms, err := ListRooms(bounded(t, 10*time.Second), srv.URL, srv.APIKey, srv.APISecret)
		if err != nil {
			t.Fatal(err)
		}
		got, gotEmpty = RoomListing{}, RoomListing{}
		for _, r := range rooms {
			switch r.Name {
			case room:
				got = r
			case empty:
				gotEmpty = r
			}
		}
		return got.Listed && len(got.Participants) == 2 && len(got.Participants[0].DataTracks) == 2 && gotEmpty.Name == empty
	})
	want := []ParticipantListing{{Identity: "alice", DataTracks: []string{"imu", "pose"}}, {Identity: "bob"}}
	if !slices.EqualFunc(got.Participants, want, func(x, y ParticipantListing) bool {
		return x.Identity == y.Identity && slices.Equal(x.DataTracks, y.DataTracks)
	}) || got.NumParticipants != 2 || got.DataTracks() != 2 {
		t.Fatalf("room %+v, want participants %+v (the loopback hidden)", got, want)
	}
	if !gotEmpty.Listed || gotEmpty.NumParticipants != 0 || len(gotEmpty.Participants) != 0 {
		t.Fatalf("empty room %+v", gotEmpty)
	}
	if _, err := ListRooms(bounded(t, 10*time.Second), srv.URL, srv.APIKey, "wrong-secret-wrong-secret-wrong-secret"); err == nil {
		t.Fatal("listed with a wrong secret")
	}
}
