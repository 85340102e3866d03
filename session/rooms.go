package session

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// MaxListedRooms is how many rooms ListRooms lists the participants of:
// the busiest first; a project with thousands of rooms is not walked
// whole before the picker shows.
const MaxListedRooms = 100

// listConcurrency bounds the ListParticipants calls in flight at once.
const listConcurrency = 8

// RoomListing is a room on the server, as the room picker shows it.
// Names are the server's text: the renderer sanitizes them.
type RoomListing struct {
	Name string
	// Participants are the room's visible participants (hidden ones,
	// such as a dttui loopback subscriber, are left out), by identity.
	Participants []ParticipantListing
	// Listed says Participants was filled in; a room past MaxListedRooms,
	// or whose participants could not be listed, has only NumParticipants.
	Listed bool
	// NumParticipants is the server's count (hidden ones excluded when
	// Listed).
	NumParticipants int
}

// ParticipantListing is a participant and the data tracks it publishes.
type ParticipantListing struct {
	Identity   string
	DataTracks []string // names, as published
}

// DataTracks is how many data tracks the room's listed participants
// publish.
func (r RoomListing) DataTracks() int {
	n := 0
	for _, p := range r.Participants {
		n += len(p.DataTracks)
	}
	return n
}

// ListRooms lists the rooms of the server at url (ws:// or http://) with
// the RoomService API (Twirp, as livekit-server serves it), and for the
// MaxListedRooms busiest the participants and their data tracks. The
// key needs the roomList and roomAdmin grants an API key has; a token
// cannot list. Rooms come busiest first, then by name.
func ListRooms(ctx context.Context, url, apiKey, apiSecret string) ([]RoomListing, error) {
	rc := lksdk.NewRoomServiceClient(url, apiKey, apiSecret)
	res, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	rooms := make([]RoomListing, 0, len(res.GetRooms()))
	for _, r := range res.GetRooms() {
		rooms = append(rooms, RoomListing{Name: r.GetName(), NumParticipants: int(r.GetNumParticipants())})
	}
	sortRooms(rooms)
	var wg sync.WaitGroup
	sem := make(chan struct{}, listConcurrency)
	for i := range rooms[:min(len(rooms), MaxListedRooms)] {
		wg.Add(1)
		sem <- struct{}{}
		go func(r *RoomListing) { // each writes its own element; waited for below
			defer func() { <-sem; wg.Done() }()
			ps, err := rc.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: r.Name})
			if err != nil {
				return // the room may have closed meanwhile: its count stands
			}
			r.Participants, r.Listed = participantsOf(ps.GetParticipants()), true
			r.NumParticipants = len(r.Participants)
		}(&rooms[i])
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	sortRooms(rooms) // hidden participants left out may change the order
	return rooms, nil
}

// participantsOf keeps the visible participants, by identity, each with
// its data tracks by name.
func participantsOf(ps []*livekit.ParticipantInfo) []ParticipantListing {
	var out []ParticipantListing
	for _, p := range ps {
		if p.GetPermission().GetHidden() {
			continue
		}
		pl := ParticipantListing{Identity: p.GetIdentity()}
		for _, t := range p.GetDataTracks() {
			pl.DataTracks = append(pl.DataTracks, t.GetName())
		}
		slices.Sort(pl.DataTracks)
		out = append(out, pl)
	}
	slices.SortFunc(out, func(a, b ParticipantListing) int { return cmp.Compare(a.Identity, b.Identity) })
	return out
}

func sortRooms(rooms []RoomListing) {
	slices.SortStableFunc(rooms, func(a, b RoomListing) int {
		return cmp.Or(cmp.Compare(b.NumParticipants, a.NumParticipants), cmp.Compare(a.Name, b.Name))
	})
}
