package incoming

import (
	"fmt"
	"testing"
	"time"

	"github.com/dttui/dttui/packetizer"
)

// budgetRoom is a manager subscribed to the tracks of several
// participants: tracks[i] is participant parts[i]'s, on subscriber handle
// i+1, with its own packet stream.
type budgetRoom struct {
	*env
	sids    []string
	streams []*stream
}

func newBudgetRoom(t *testing.T, opts Options, tracksPer ...int) *budgetRoom {
	t.Helper()
	r := &budgetRoom{env: newEnv(t, opts)}
	var parts []Participant
	handles := map[uint16]string{}
	for p, n := range tracksPer {
		pt := part(fmt.Sprintf("p%d", p), fmt.Sprintf("PA_%d", p), 1)
		for range n {
			sid := fmt.Sprintf("DTR_%d", len(r.sids))
			pt.Tracks = append(pt.Tracks, info(sid, uint16(len(pt.Tracks)+1), sid))
			r.sids = append(r.sids, sid)
			st := newStream()
			st.mtu = (&packetizer.Header{}).Len() + 1200 // 1200-byte payloads
			r.streams = append(r.streams, st)
			handles[uint16(len(r.sids))] = sid
		}
		parts = append(parts, pt)
	}
	r.m.HandleJoin("me", parts)
	r.tr.take()
	r.m.HandleSubscriberHandles(handles)
	return r
}

// frame sends track i's next frame of size bytes, only its first keep
// packets when keep ≥ 0 (a frame left partial).
func (r *budgetRoom) frame(i, size, keep int) {
	pkts := r.streams[i].packets(r.t, uint16(i+1), make([]byte, size), packetizer.Extensions{})
	if keep >= 0 {
		pkts = pkts[:keep]
	}
	r.feed(pkts...)
}

// checkHeld checks the room's account against the tracks' and the bounds.
func (r *budgetRoom) checkHeld() Held {
	r.t.Helper()
	mem := r.m.Stats().Memory
	sum := 0
	r.m.mu.Lock()
	for _, t := range r.m.order { // not Snapshot: the fuzz target runs this after every frame
		sum += t.held
	}
	r.m.mu.Unlock()
	if sum != mem.Bytes || mem.Bytes > mem.Budget || mem.Peak > mem.Budget {
		r.t.Fatalf("held %d (peak %d, tracks %d) against a budget of %d", mem.Bytes, mem.Peak, sum, mem.Budget)
	}
	return mem
}

// Issue 20 item 1, in miniature: one participant's 20 tracks each leave a
// frame partial (about 120 kB each, 2.4 MB together) beside an honest
// participant's track. The hostile one is held to its share, its oldest
// partials evicted and counted; the honest track loses nothing.
func TestBudgetHoldsAHostileParticipantToItsShare(t *testing.T) {
	r := newBudgetRoom(t, Options{MaxHeldBytes: 1 << 20, MaxHeldPerParticipant: 512 << 10}, 1, 20)
	for round := range 3 {
		for i := 1; i <= 20; i++ {
			r.frame(i, 200*1200, 100)
			r.frame(0, 30_000, -1)
			r.checkHeld()
		}
		if round == 0 && r.m.Stats().Memory.Evicted[EvictParticipantShare] == 0 {
			t.Fatal("no partial frame evicted over the share")
		}
	}
	mem := r.checkHeld()
	if mem.Evicted[EvictParticipantShare] < 40 || mem.Evicted[EvictRoomBudget] != 0 || mem.EvictedBytes[EvictParticipantShare] < 40*100*1200 {
		t.Fatalf("evicted %v (%v bytes)", mem.Evicted, mem.EvictedBytes)
	}
	honest := r.stats("DTR_0")
	if honest.FramesCompleted != 60 || honest.FramesIncomplete != 0 || honest.Evicted != [NumEvictReasons]uint64{} {
		t.Fatalf("honest track: %d completed, %d incomplete, evicted %v", honest.FramesCompleted, honest.FramesIncomplete, honest.Evicted)
	}
	var evicted uint64
	for _, sid := range r.sids[1:] {
		st := r.stats(sid)
		evicted += st.Evicted[EvictParticipantShare]
		if st.IncompleteBy[packetizer.IncompleteReclaimed] != st.Evicted[EvictParticipantShare] {
			t.Fatalf("%s: %d reclaimed, %d evicted", sid, st.IncompleteBy[packetizer.IncompleteReclaimed], st.Evicted[EvictParticipantShare])
		}
	}
	if evicted != mem.Evicted[EvictParticipantShare] {
		t.Fatalf("tracks evicted %d, room %d", evicted, mem.Evicted[EvictParticipantShare])
	}
}

// Participants each within their share but over the room's budget
// together: the one holding the most gives up its oldest partial.
func TestBudgetEvictsTheLargestHolderOverTheRoomBudget(t *testing.T) {
	r := newBudgetRoom(t, Options{MaxHeldBytes: 400 << 10, MaxHeldPerParticipant: 300 << 10}, 1, 1, 2)
	r.frame(0, 200*1200, 50) // 60 kB
	r.frame(1, 200*1200, 80) // 96 kB
	r.frame(2, 200*1200, 90) // participant 2: 108 kB …
	r.frame(3, 200*1200, 90) // … 216 kB: 372 kB in all
	if mem := r.checkHeld(); mem.EvictedTotal() != 0 {
		t.Fatalf("evicted within the budget: %v", mem.Evicted)
	}
	r.frame(1, 200*1200, 30) // +36 kB: over 400 kiB
	mem := r.checkHeld()
	if mem.Evicted[EvictRoomBudget] != 1 || mem.EvictedTotal() != 1 {
		t.Fatalf("evicted %v", mem.Evicted)
	}
	if st := r.stats("DTR_2"); st.Evicted[EvictRoomBudget] != 1 {
		t.Fatalf("the largest holder's oldest partial kept: %v", st.Evicted)
	}
}

// A silent track's last partial frame, which no later packet settles, is
// evicted once it waited PartialTimeout; not before.
func TestBudgetEvictsASilentTracksPartialAfterTheTimeout(t *testing.T) {
	r := newBudgetRoom(t, Options{PartialTimeout: 5 * time.Second}, 1)
	r.frame(0, 10*1200, 3)
	r.clk.advance(5*time.Second - time.Millisecond) // the last packet came at the clock's time
	r.m.Tick()
	if mem := r.checkHeld(); mem.EvictedTotal() != 0 || mem.Bytes == 0 {
		t.Fatalf("before the timeout: held %d, evicted %v", mem.Bytes, mem.Evicted)
	}
	r.clk.advance(time.Millisecond)
	r.m.Tick()
	mem := r.checkHeld()
	if mem.Evicted[EvictIdle] != 1 || mem.Bytes != 0 {
		t.Fatalf("after the timeout: held %d, evicted %v", mem.Bytes, mem.Evicted)
	}
	if st := r.stats("DTR_0"); st.FramesIncomplete != 1 || st.IncompleteBy[packetizer.IncompleteReclaimed] != 1 || st.HeldBytes != 0 {
		t.Fatalf("track: %+v", st)
	}
}

// FuzzBudget: whatever frames participants leave partial or complete, the
// room's account equals its tracks', never ends a packet over the budget
// nor a participant over its share.
func FuzzBudget(f *testing.F) {
	f.Add([]byte{0, 50, 3, 1, 200, 100, 2, 255, 0, 5, 10, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newBudgetRoom(t, Options{MaxHeldBytes: 48 << 10, MaxHeldPerParticipant: 24 << 10}, 1, 3, 2)
		b = b[:min(len(b), 3*32)] // 32 frames at most: an execution stays cheap
		for ; len(b) >= 3; b = b[3:] {
			i := int(b[0]) % len(r.sids)
			size := (int(b[1]) + 1) * 100
			keep := int(b[2]) - 128 // negative: the whole frame
			r.frame(i, size, min(keep, (size+1199)/1200))
			if b[0]&0x80 != 0 {
				r.clk.advance(time.Second)
				r.m.Tick()
			}
			mem := r.checkHeld()
			for p, h := range r.m.holders {
				if h.held > mem.PerParticipant {
					t.Fatalf("%s holds %d over its share %d", p, h.held, mem.PerParticipant)
				}
			}
		}
	})
}

// Issue 20 (memory budget): a participant publishing thousands of tracks
// makes the manager follow its share of MaxTracks and no more, the room
// MaxTracks; the rest are counted as refused, a level that falls as
// tracks are unpublished and that frees room for others.
func TestTrackCapsBoundWhatIsFollowed(t *testing.T) {
	e := newEnv(t, Options{MaxTracks: 8})
	tracks := func(prefix string, n int) []Info {
		var out []Info
		for i := range n {
			out = append(out, info(fmt.Sprintf("DTR_%s%d", prefix, i), uint16(i+1), fmt.Sprintf("%s%d", prefix, i)))
		}
		return out
	}
	e.m.HandleJoin("me", []Participant{part("hostile", "PA_h", 1, tracks("h", 1000)...)})
	st := e.m.Stats()
	if n := len(e.m.Snapshot()); n != 4 || st.Memory.TracksRefused != 996 {
		t.Fatalf("one participant: %d followed, %d refused", n, st.Memory.TracksRefused)
	}
	e.tr.take()
	// Two more participants: the room's cap is 8.
	e.m.HandleParticipantUpdate([]Participant{part("a", "PA_a", 1, tracks("a", 3)...), part("b", "PA_b", 1, tracks("b", 3)...)})
	if n, r := len(e.m.Snapshot()), e.m.Stats().Memory.TracksRefused; n != 8 || r != 996+2 {
		t.Fatalf("three participants: %d followed, %d refused", n, r)
	}
	// A newer update of the hostile's, with fewer tracks: fewer refused.
	e.m.HandleParticipantUpdate([]Participant{part("hostile", "PA_h", 2, tracks("h", 10)...)})
	if r := e.m.Stats().Memory.TracksRefused; r != 6+2 {
		t.Fatalf("after the update: %d refused", r)
	}
	// The hostile leaves: its 4 unpublished, b's last one followed now.
	e.m.HandleParticipantUpdate([]Participant{{Identity: "hostile", SID: "PA_h", Version: 3, Disconnected: true},
		part("b", "PA_b", 2, tracks("b", 3)...)})
	if r := e.m.Stats().Memory.TracksRefused; r != 0 {
		t.Fatalf("after the hostile left: %d refused", r)
	}
	if _, ok := e.m.Track("DTR_b2"); !ok {
		t.Fatal("b's third track is not followed once there is room")
	}
}

// queueingTransport holds back the updates of the SIDs in queued.
type queueingTransport struct {
	fakeTransport
	queued map[string]bool
}

func (q *queueingTransport) Queued(sid string) bool { return q.queued[sid] }

// Issue 20 item 10: a transport pacing 500 subscriptions holds most of
// them back; their timeout runs from when their request left, so a slow
// SFU does not make the manager withdraw what it never asked for yet.
func TestSubscribeTimeoutRunsFromTheRequestLeaving(t *testing.T) {
	e := newEnv(t, Options{})
	q := &queueingTransport{queued: map[string]bool{"DTR_b": true}}
	e.m = NewManager(q, Options{Now: e.clk.Now, After: never})
	t.Cleanup(e.m.Close)
	e.m.HandleJoin("me", []Participant{part("p", "PA_p", 1, info("DTR_a", 1, "a"), info("DTR_b", 2, "b"))})
	e.clk.advance(DefaultSubscribeTimeout - time.Second)
	e.m.Tick()
	e.clk.advance(2 * time.Second)
	e.m.Tick()
	if e.wantState("DTR_a", StateUnsubscribed); e.stats("DTR_b").State != StateSubscribing {
		t.Fatalf("b, held back until now: %v", e.stats("DTR_b").State)
	}
	q.queued["DTR_b"] = false // it leaves now
	e.clk.advance(DefaultSubscribeTimeout - 2*time.Second)
	e.m.Tick()
	e.wantState("DTR_b", StateSubscribing)
	e.clk.advance(2 * time.Second)
	e.m.Tick()
	e.wantState("DTR_b", StateUnsubscribed)
}

// A participant publishing and unpublishing tracks without end: the rows
// of unpublished tracks are kept for the user, the newest keep of them;
// the oldest go, counted, and live tracks are never forgotten.
func TestForgetUnpublishedKeepsTheNewest(t *testing.T) {
	e := newEnv(t, Options{})
	version := uint32(1)
	publish := func(from, to int) {
		var infos []Info
		for i := from; i < to; i++ {
			infos = append(infos, info(fmt.Sprintf("DTR_%d", i), uint16(i%60000+1), fmt.Sprintf("t%d", i)))
		}
		e.m.HandleParticipantUpdate([]Participant{part("churn", "PA_c", version, infos...)})
		version++
	}
	e.m.HandleJoin("me", nil)
	for k := range 10 {
		publish(k*40, k*40+40) // the previous 40 unpublished, 40 new
	}
	// 360 unpublished, 40 live.
	if sids := e.m.ForgetUnpublished(100); len(sids) != 260 || sids[0] != "DTR_0" || sids[259] != "DTR_259" {
		t.Fatalf("forgot %d: %v…", len(sids), sids[:min(3, len(sids))])
	}
	if n := len(e.m.Snapshot()); n != 140 {
		t.Fatalf("%d rows kept; want 100 unpublished + 40 live", n)
	}
	if _, ok := e.m.Track("DTR_399"); !ok {
		t.Fatal("a live track was forgotten")
	}
	if got := e.m.Stats().Memory.TracksForgotten; got != 260 {
		t.Fatalf("TracksForgotten %d", got)
	}
	if sids := e.m.ForgetUnpublished(100); len(sids) != 0 {
		t.Fatalf("again: forgot %d", len(sids))
	}
}
