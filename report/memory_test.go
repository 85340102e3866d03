package report

import (
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
)

// A display reset counts evictions from the base on, the room's and each
// remote track's; what is held now is a level and stays.
func TestRebaseCountsEvictionsFromTheBase(t *testing.T) {
	t0 := time.Unix(1000, 0)
	mem := func(held int, n uint64) incoming.Held {
		return incoming.Held{Bytes: held, Peak: 900, Budget: 1000, PerParticipant: 250,
			Evicted: [incoming.NumEvictReasons]uint64{n, 2 * n, 3 * n}, EvictedBytes: [incoming.NumEvictReasons]uint64{10 * n, 0, 0}}
	}
	remote := func(n uint64) Remote {
		return Remote{Stats: incoming.TrackStats{Info: incoming.Info{SID: "DTR_a"}, HeldBytes: 7, Evicted: [incoming.NumEvictReasons]uint64{0, n, 0}}}
	}
	base := Snapshot{At: t0, Memory: mem(500, 1), Remote: []Remote{remote(4)}}
	now := Snapshot{At: t0.Add(time.Second), Memory: mem(600, 5), Remote: []Remote{remote(9)}}
	got := now.Rebase(&base)
	want := mem(600, 4)
	want.EvictedBytes = [incoming.NumEvictReasons]uint64{40, 0, 0}
	if got.Memory != want {
		t.Fatalf("memory %+v, want %+v", got.Memory, want)
	}
	if r := got.Remote[0].Stats; r.Evicted[incoming.EvictParticipantShare] != 5 || r.HeldBytes != 7 {
		t.Fatalf("remote evicted %v, held %d", r.Evicted, r.HeldBytes)
	}
}
