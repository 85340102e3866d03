package incoming

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/packetizer"
	"github.com/pion/transport/v4/test"
)

func TestAnnounceAutoSubscribes(t *testing.T) {
	e := newEnv(t, Options{})
	e.m.HandleJoin("me", []Participant{
		part("alice", "PA_1", 1, info("DTR_a", 1, "pose"), info("DTR_b", 2, "chat")),
		part("me", "PA_me", 1, info("DTR_mine", 1, "ours")), // our own: not remote
	})
	e.wantSent(sub("DTR_a"), sub("DTR_b"))
	s := e.wantState("DTR_a", StateSubscribing)
	if s.PublisherIdentity != "alice" || s.PublisherSID != "PA_1" || s.Name != "pose" || s.PubHandle != 1 {
		t.Fatalf("info %+v", s.Info)
	}
	if _, ok := e.m.Track("DTR_mine"); ok {
		t.Fatal("own track announced")
	}
	// A new track later is announced and subscribed too.
	e.m.HandleParticipantUpdate([]Participant{part("alice", "PA_1", 2, info("DTR_a", 1, "pose"), info("DTR_b", 2, "chat"), info("DTR_c", 3, "map"))})
	e.wantSent(sub("DTR_c"))
}

func TestFilterAndManualSubscribe(t *testing.T) {
	e := newEnv(t, Options{Filter: func(i Info) bool { return i.PublisherIdentity == "bob" }})
	e.m.HandleJoin("me", []Participant{part("alice", "PA_1", 1, info("DTR_a", 1, "x")), part("bob", "PA_2", 1, info("DTR_b", 1, "x"))})
	e.wantSent(sub("DTR_b"))
	e.wantState("DTR_a", StateAnnounced)

	e = newEnv(t, Options{ManualSubscribe: true})
	e.m.HandleJoin("me", []Participant{part("alice", "PA_1", 1, info("DTR_a", 1, "x"))})
	e.wantSent()
	if err := e.m.Subscribe("DTR_a"); err != nil {
		t.Fatal(err)
	}
	e.wantSent(sub("DTR_a"))
	if err := e.m.Subscribe("DTR_a"); err != nil { // already subscribing: nothing
		t.Fatal(err)
	}
	e.wantSent()
	var serr *SubscribeError
	if err := e.m.Subscribe("DTR_nope"); !errors.Is(err, ErrUnknownTrack) || !errors.As(err, &serr) || serr.SID != "DTR_nope" {
		t.Fatalf("unknown track: %v", err)
	}
}

// The SFU's map is complete each time: a track it names is subscribed, one
// it drops lost that subscription; a new handle starts a new one; the
// counters go on.
func TestHandleMapInstallAndReplace(t *testing.T) {
	e := newEnv(t, Options{})
	e.subscribed("alice", "PA_1", 1, info("DTR_a", 7, "a"), info("DTR_b", 8, "b"))
	sa := newStream()
	e.feed(sa.packets(t, 1, []byte("one"), packetizer.Extensions{})...)
	e.feed(sa.packets(t, 1, []byte("two"), packetizer.Extensions{})...)
	if s := e.wantState("DTR_a", StateSubscribed); s.Handle != 1 || s.FramesCompleted != 2 || s.Subscriptions != 1 {
		t.Fatalf("%+v", s)
	}
	// The SFU drops a's handle (the publisher revoked us, say) while a is
	// still published: a waits to be subscribed again.
	e.m.HandleSubscriberHandles(map[uint16]string{2: "DTR_b"})
	e.wantState("DTR_a", StateSubscribing)
	e.wantState("DTR_b", StateSubscribed)
	e.feed(sa.packets(t, 1, []byte("stray"), packetizer.Extensions{})...)
	// Back under a new handle: a new subscription, counters cumulative.
	e.m.HandleSubscriberHandles(map[uint16]string{2: "DTR_b", 3: "DTR_a"})
	e.feed(sa.packets(t, 3, []byte("three"), packetizer.Extensions{})...)
	s := e.wantState("DTR_a", StateSubscribed)
	if s.Handle != 3 || s.Subscriptions != 2 || s.FramesCompleted != 3 || s.PacketsIgnored != 1 || s.Packets != 3 {
		t.Fatalf("%+v", s)
	}
	// The frame skipped while unsubscribed is not a loss: each
	// subscription counts from its first packet.
	if s.FramesLost != 0 || s.PacketsLost != 0 {
		t.Fatalf("gap between subscriptions counted: %+v", s)
	}
	if got := e.takeFrames(); len(got) != 3 || string(got[2].f.Payload) != "three" || got[2].sid != "DTR_a" {
		t.Fatalf("frames %+v", got)
	}
	if st := e.m.Stats(); st.HandleMaps != 3 {
		t.Fatalf("%+v", st)
	}
}

// The SFU forwards as soon as it subscribes us and sends the handle map on
// the signal connection: packets can come first. They are held, then
// measured with their own arrival times; packets whose handle never comes
// are dropped after HoldTime, and the hold is bounded.
func TestPacketsBeforeTheMap(t *testing.T) {
	e := newEnv(t, Options{HoldPackets: 4})
	e.m.HandleJoin("me", []Participant{part("alice", "PA_1", 1, info("DTR_a", 1, "a"))})
	e.wantSent(sub("DTR_a"))
	s := newStream()
	first := e.clk.Now().Add(time.Millisecond)
	e.feed(s.packets(t, 5, []byte("early"), packetizer.Extensions{})...)
	e.feed(s.packets(t, 5, []byte("also early"), packetizer.Extensions{})...)
	if st := e.m.Stats(); st.Held != 2 {
		t.Fatalf("%+v", st)
	}
	e.m.HandleSubscriberHandles(map[uint16]string{5: "DTR_a"})
	ts := e.wantState("DTR_a", StateSubscribed)
	if ts.FramesCompleted != 2 || !ts.FirstPacketAt.Equal(first) {
		t.Fatalf("%+v", ts)
	}
	if got := e.takeFrames(); len(got) != 2 || string(got[0].f.Payload) != "early" || !got[0].f.Arrival.Equal(first) {
		t.Fatalf("frames %+v", got)
	}
	// A handle nobody maps: held, bounded, then dropped.
	for range 6 {
		e.feed(s.packets(t, 9, []byte("x"), packetizer.Extensions{})...)
	}
	if st := e.m.Stats(); st.Held != 4 || st.UnknownHandle != 2 || st.HeldDelivered != 2 {
		t.Fatalf("%+v", st)
	}
	e.clk.advance(DefaultHoldTime)
	e.m.Tick()
	if st := e.m.Stats(); st.Held != 0 || st.UnknownHandle != 6 {
		t.Fatalf("after hold time %+v", st)
	}
}

// Unpublish: the track ends for good, what was missing is counted, no
// unsubscribe is sent (the SFU ends the subscription), late packets are
// ignored, and its stats stay until Remove.
func TestPublisherUnpublish(t *testing.T) {
	e := newEnv(t, Options{})
	e.subscribed("alice", "PA_1", 1, info("DTR_a", 1, "a"), info("DTR_b", 2, "b"))
	s := newStream()
	s.mtu = 100
	e.feed(s.packets(t, 1, make([]byte, 50), packetizer.Extensions{})...)
	e.feed(s.packets(t, 1, make([]byte, 50), packetizer.Extensions{})[0:0]...) // frame 1: lost whole
	e.feed(s.packets(t, 1, make([]byte, 50), packetizer.Extensions{})...)
	tail := s.packets(t, 1, make([]byte, 250), packetizer.Extensions{})
	e.feed(tail[0], tail[2]) // the middle never comes
	e.m.HandleParticipantUpdate([]Participant{part("alice", "PA_1", 2, info("DTR_b", 2, "b"))})
	e.wantSent()
	st := e.wantState("DTR_a", StateUnpublished)
	if st.FramesCompleted != 2 || st.FramesLost != 1 || st.FramesIncomplete != 1 ||
		st.IncompleteBy[packetizer.IncompleteFlushed] != 1 || st.PacketsLost != 2 {
		t.Fatalf("%+v", st)
	}
	e.feed(tail[1])
	if st := e.stats("DTR_a"); st.PacketsIgnored != 1 || st.Packets != 4 {
		t.Fatalf("late packet: %+v", st)
	}
	if err := e.m.Subscribe("DTR_a"); !errors.Is(err, ErrUnpublished) {
		t.Fatalf("subscribe unpublished: %v", err)
	}
	if err := e.m.Remove("DTR_b"); !errors.Is(err, ErrStillPublished) {
		t.Fatalf("remove published: %v", err)
	}
	if err := e.m.Remove("DTR_a"); err != nil {
		t.Fatal(err)
	}
	if snap := e.m.Snapshot(); len(snap) != 1 || snap[0].SID != "DTR_b" {
		t.Fatalf("snapshot %+v", snap)
	}
	if st := e.m.Stats(); st.Held != 0 {
		t.Fatalf("packet of a removed track: %+v", st)
	}
}

func TestPublisherLeaves(t *testing.T) {
	e := newEnv(t, Options{})
	e.subscribed("alice", "PA_1", 1, info("DTR_a", 1, "a"), info("DTR_b", 2, "b"))
	left := part("alice", "PA_1", 3, info("DTR_a", 1, "a"), info("DTR_b", 2, "b"))
	left.Disconnected = true
	e.m.HandleParticipantUpdate([]Participant{left})
	for _, sid := range []string{"DTR_a", "DTR_b"} {
		if st := e.wantState(sid, StateUnpublished); st.Timeline[len(st.Timeline)-1].Reason != "publisher left" {
			t.Fatalf("%+v", st.Timeline)
		}
	}
	// An older update arriving late does not bring them back.
	e.m.HandleParticipantUpdate([]Participant{part("alice", "PA_1", 2, info("DTR_a", 1, "a"), info("DTR_c", 3, "c"))})
	e.wantState("DTR_a", StateUnpublished)
	if _, ok := e.m.Track("DTR_c"); ok {
		t.Fatal("stale update applied")
	}
	e.wantSent()
}

// After the publisher's full reconnect its tracks come back with new
// SIDs: new tracks, linked to the old ones, subscribed again because the
// old ones were — even without auto-subscription, as both clients do.
func TestRepublishIsANewTrack(t *testing.T) {
	e := newEnv(t, Options{ManualSubscribe: true})
	e.m.HandleJoin("me", []Participant{part("alice", "PA_1", 1, info("DTR_a", 1, "a"), info("DTR_b", 2, "b"))})
	if err := e.m.Subscribe("DTR_a"); err != nil {
		t.Fatal(err)
	}
	e.wantSent(sub("DTR_a"))
	e.m.HandleSubscriberHandles(map[uint16]string{1: "DTR_a"})
	e.feed(newStream().packets(t, 1, []byte("before"), packetizer.Extensions{})...)
	// The new participant session (same identity) republishes with the
	// same handles; the old one's departure may come before or after.
	e.m.HandleParticipantUpdate([]Participant{part("alice", "PA_2", 1, info("DTR_a2", 1, "a"), info("DTR_b2", 2, "b"))})
	e.wantSent(sub("DTR_a2"))
	old := e.wantState("DTR_a", StateUnpublished)
	nw := e.wantState("DTR_a2", StateSubscribing)
	if old.ReplacedBy != "DTR_a2" || nw.Replaces != "DTR_a" || old.FramesCompleted != 1 || nw.PublisherSID != "PA_2" {
		t.Fatalf("old %+v new %+v", old, nw)
	}
	if e.wantState("DTR_b2", StateAnnounced).Replaces != "DTR_b" {
		t.Fatal("b not linked")
	}
	gone := part("alice", "PA_1", 2)
	gone.Disconnected = true
	e.m.HandleParticipantUpdate([]Participant{gone})
	e.wantState("DTR_a2", StateSubscribing)
	e.wantState("DTR_b", StateUnpublished)
	// A different name is a different track.
	e.m.HandleParticipantUpdate([]Participant{part("alice", "PA_2", 2, info("DTR_a2", 1, "a"), info("DTR_b2", 2, "b"), info("DTR_x", 1, "other"))})
	if e.wantState("DTR_x", StateAnnounced).Replaces != "" {
		t.Fatal("linked by handle alone")
	}
}

// Our own reconnect: subscriptions end (and count what was missing), wait
// without timing out, and are asked for again on the next join; the new
// participant's handles start over.
func TestSubscriberReconnect(t *testing.T) {
	e := newEnv(t, Options{})
	e.subscribed("alice", "PA_1", 1, info("DTR_a", 1, "a"))
	e.m.HandleParticipantUpdate([]Participant{part("bob", "PA_2", 1, info("DTR_b", 1, "b"))})
	e.wantSent(sub("DTR_b"))
	s := newStream()
	e.feed(s.packets(t, 1, []byte("1"), packetizer.Extensions{})...)
	s.packets(t, 1, []byte("lost"), packetizer.Extensions{})
	e.feed(s.packets(t, 1, []byte("3"), packetizer.Extensions{})...)

	e.m.Reset(errors.New("signal closed"))
	st := e.wantState("DTR_a", StateSubscribing)
	if st.FramesLost != 1 || st.FramesCompleted != 2 || st.Handle != 0 {
		t.Fatalf("%+v", st)
	}
	e.wantState("DTR_b", StateSubscribing)
	e.feed(s.packets(t, 1, []byte("dead"), packetizer.Extensions{})...) // old handle: unknown now
	e.clk.advance(time.Minute)
	e.m.Tick()
	e.wantState("DTR_a", StateSubscribing) // no timeout while waiting
	e.wantSent()

	// Rejoined: alice is still there, bob is gone.
	e.m.HandleJoin("me", []Participant{part("alice", "PA_1", 4, info("DTR_a", 1, "a"))})
	e.wantSent(sub("DTR_a"))
	e.wantState("DTR_b", StateUnpublished)
	e.m.HandleSubscriberHandles(map[uint16]string{1: "DTR_a"})
	e.feed(s.packets(t, 1, []byte("5"), packetizer.Extensions{})...)
	st = e.wantState("DTR_a", StateSubscribed)
	if st.Subscriptions != 2 || st.FramesCompleted != 3 || st.FramesLost != 1 {
		t.Fatalf("%+v", st)
	}
}

func TestSubscribeTimeout(t *testing.T) {
	e := newEnv(t, Options{})
	e.m.HandleJoin("me", []Participant{part("alice", "PA_1", 1, info("DTR_a", 1, "a"))})
	e.wantSent(sub("DTR_a"))
	e.clk.advance(DefaultSubscribeTimeout - time.Millisecond)
	e.m.Tick()
	e.wantState("DTR_a", StateSubscribing)
	e.clk.advance(time.Millisecond)
	e.m.Tick()
	e.wantSent(unsub("DTR_a"))
	st := e.wantState("DTR_a", StateUnsubscribed)
	var serr *SubscribeError
	if !errors.Is(st.LastErr, ErrTimeout) || !errors.As(st.LastErr, &serr) || serr.Timeout != DefaultSubscribeTimeout || serr.Name != "a" {
		t.Fatalf("LastErr %v", st.LastErr)
	}
	// Still wanted: asked for again one timeout later, then after twice
	// the last wait, and so on up to MaxSubscribeRetryWait (the SFU drops
	// the signal messages it cannot queue, handle maps included).
	wait := DefaultSubscribeTimeout
	for i := range 5 {
		e.clk.advance(wait - time.Millisecond)
		e.m.Tick()
		e.wantSent()
		e.clk.advance(time.Millisecond)
		e.m.Tick()
		e.wantSent(sub("DTR_a"))
		e.wantState("DTR_a", StateSubscribing)
		e.clk.advance(DefaultSubscribeTimeout)
		e.m.Tick()
		e.wantSent(unsub("DTR_a"))
		if st := e.wantState("DTR_a", StateUnsubscribed); st.SubscribeTimeouts != uint64(i+2) {
			t.Fatalf("%d timeouts counted after %d", st.SubscribeTimeouts, i+2)
		}
		wait = min(2*wait, MaxSubscribeRetryWait)
	}
	if wait != MaxSubscribeRetryWait {
		t.Fatalf("the retries wait %v at most", wait)
	}
	// Answered at last: subscribed.
	e.clk.advance(wait)
	e.m.Tick()
	e.wantSent(sub("DTR_a"))
	e.m.HandleSubscriberHandles(map[uint16]string{1: "DTR_a"})
	e.wantState("DTR_a", StateSubscribed)
	// Unsubscribing by hand ends the retries.
	e.m.HandleSubscriberHandles(map[uint16]string{})
	if err := e.m.Unsubscribe("DTR_a"); err != nil {
		t.Fatal(err)
	}
	e.wantSent(unsub("DTR_a"))
	e.clk.advance(time.Hour)
	e.m.Tick()
	e.wantSent()
	if err := e.m.Subscribe("DTR_a"); err != nil {
		t.Fatal(err)
	}
	e.wantSent(sub("DTR_a"))
	// The back-off started over with the subscription the SFU answered:
	// the next timeout waits one timeout again, not the longest wait.
	e.clk.advance(DefaultSubscribeTimeout)
	e.m.Tick()
	e.wantSent(unsub("DTR_a"))
	e.clk.advance(DefaultSubscribeTimeout - time.Millisecond)
	e.m.Tick()
	e.wantSent()
	e.clk.advance(time.Millisecond)
	e.m.Tick()
	e.wantSent(sub("DTR_a"))
}

// A timed-out subscription the user unsubscribes while it waits for its
// retry stays unsubscribed.
func TestUnsubscribeStopsTheRetry(t *testing.T) {
	e := newEnv(t, Options{})
	e.m.HandleJoin("me", []Participant{part("alice", "PA_1", 1, info("DTR_a", 1, "a"))})
	e.wantSent(sub("DTR_a"))
	e.clk.advance(DefaultSubscribeTimeout)
	e.m.Tick()
	e.wantSent(unsub("DTR_a"))
	if err := e.m.Unsubscribe("DTR_a"); err != nil {
		t.Fatal(err)
	}
	e.wantSent()
	e.clk.advance(time.Hour)
	e.m.Tick()
	e.wantSent()
	e.wantState("DTR_a", StateUnsubscribed)
}

// The manager runs its own timers every TickInterval (its After): a
// subscription times out with no one calling Tick.
func TestManagerRunsItsTimers(t *testing.T) {
	fire, asked := make(chan time.Time), make(chan time.Duration, 1)
	e := newEnv(t, Options{After: func(d time.Duration) <-chan time.Time { asked <- d; return fire }})
	if d := <-asked; d != TickInterval {
		t.Fatalf("timer armed for %v", d)
	}
	e.m.HandleJoin("me", []Participant{part("alice", "PA_1", 1, info("DTR_a", 1, "a"))})
	e.wantSent(sub("DTR_a"))
	e.clk.advance(DefaultSubscribeTimeout)
	fire <- e.clk.Now()
	<-asked // armed again: the tick ran
	e.wantSent(unsub("DTR_a"))
	e.wantState("DTR_a", StateUnsubscribed)
}

// What the SFU really sends when the publisher's permissions exclude us:
// SubscriptionPermissionUpdate{allowed: false}, and it keeps retrying. The
// manager withdraws the subscription with ErrNotAllowed.
func TestSubscriptionNotAllowed(t *testing.T) {
	e := newEnv(t, Options{})
	e.m.HandleJoin("me", []Participant{part("alice", "PA_1", 1, info("DTR_a", 1, "a"))})
	e.wantSent(sub("DTR_a"))
	e.m.HandlePermission("PA_1", "DTR_a", true) // sent on the first resolution: nothing to do
	e.wantState("DTR_a", StateSubscribing)
	e.m.HandlePermission("PA_1", "DTR_a", false)
	e.wantSent(unsub("DTR_a"))
	st := e.wantState("DTR_a", StateUnsubscribed)
	var serr *SubscribeError
	if !errors.Is(st.LastErr, ErrNotAllowed) || !errors.As(st.LastErr, &serr) || serr.PublisherSID != "PA_1" || len(st.Errors) != 1 {
		t.Fatalf("LastErr %v", st.LastErr)
	}
}

func TestUnsubscribeResubscribe(t *testing.T) {
	e := newEnv(t, Options{})
	e.subscribed("alice", "PA_1", 1, info("DTR_a", 1, "a"))
	s := newStream()
	e.feed(s.packets(t, 1, []byte("1"), packetizer.Extensions{})...)
	if err := e.m.Unsubscribe("DTR_a"); err != nil {
		t.Fatal(err)
	}
	e.wantSent(unsub("DTR_a"))
	e.wantState("DTR_a", StateUnsubscribed)
	e.feed(s.packets(t, 1, []byte("in flight"), packetizer.Extensions{})...)
	e.m.HandleSubscriberHandles(map[uint16]string{})
	e.wantState("DTR_a", StateUnsubscribed)
	if err := e.m.Unsubscribe("DTR_a"); err != nil { // again: nothing
		t.Fatal(err)
	}
	e.wantSent()
	if err := e.m.Subscribe("DTR_a"); err != nil {
		t.Fatal(err)
	}
	e.wantSent(sub("DTR_a"))
	e.m.HandleSubscriberHandles(map[uint16]string{2: "DTR_a"})
	e.feed(s.packets(t, 2, []byte("3"), packetizer.Extensions{})...)
	st := e.wantState("DTR_a", StateSubscribed)
	if st.Packets != 2 || st.PacketsIgnored != 1 || st.FramesCompleted != 2 || st.FramesLost != 0 || st.Subscriptions != 2 {
		t.Fatalf("%+v", st)
	}
}

// Ending a subscription ourselves (Unsubscribe, Close) in the middle of
// a frame is not loss: the frame's packets after the last one received
// were on their way, or not sent yet. That frame counts as cut, never
// incomplete. A packet missing below the last one received is lost as
// ever, with its frame incomplete.
func TestOwnEndMidFrameIsNotLoss(t *testing.T) {
	for _, c := range []struct {
		end                                string
		deliver                            []int // of the second frame's 3 packets
		cut, incomplete, packetsLost, late uint64
	}{
		{"unsubscribe", []int{0, 1}, 1, 0, 0, 1},
		{"close", []int{0, 1}, 1, 0, 0, 0},
		{"unsubscribe", []int{0, 2}, 0, 1, 1, 1},
		{"close", []int{0, 2}, 0, 1, 1, 0},
	} {
		t.Run(fmt.Sprint(c.end, c.deliver), func(t *testing.T) {
			e := newEnv(t, Options{})
			e.subscribed("alice", "PA_1", 1, info("DTR_a", 1, "a"))
			s := newStream()
			s.mtu = 100
			e.feed(s.packets(t, 1, []byte("whole"), packetizer.Extensions{})...)
			p := s.packets(t, 1, bytes.Repeat([]byte{7}, 250), packetizer.Extensions{}) // 3 packets
			for _, i := range c.deliver {
				e.feed(p[i])
			}
			switch c.end {
			case "unsubscribe":
				if err := e.m.Unsubscribe("DTR_a"); err != nil {
					t.Fatal(err)
				}
			case "close":
				e.m.Close()
			}
			e.feed(p[3-c.deliver[1]]) // the missing one, after the end: ignored (or nothing, closed)
			st := e.wantState("DTR_a", StateUnsubscribed)
			if st.FramesCompleted != 1 || st.FramesCut != c.cut || st.FramesIncomplete != c.incomplete || st.FramesLost != 0 ||
				st.PacketsLost != c.packetsLost || st.PacketsIgnored != c.late {
				t.Fatalf("%+v", st)
			}
		})
	}
}

// A subscription that begins in the middle of a frame (the SFU forwards
// from the packet it is at) did not lose that frame's first packets: they
// were sent before it. The frame counts as cut, not incomplete.
func TestSubscriptionStartsMidFrame(t *testing.T) {
	e := newEnv(t, Options{})
	e.subscribed("alice", "PA_1", 1, info("DTR_a", 1, "a"))
	s := newStream()
	s.mtu = 100
	p := s.packets(t, 1, bytes.Repeat([]byte{7}, 250), packetizer.Extensions{}) // 3 packets
	e.feed(p[1:]...)
	e.feed(s.packets(t, 1, []byte("whole"), packetizer.Extensions{})...)
	e.clk.advance(time.Minute)
	e.m.Tick()
	st := e.wantState("DTR_a", StateSubscribed)
	if st.FramesCompleted != 1 || st.FramesIncomplete != 0 || st.FramesLost != 0 || st.PacketsLost != 0 || st.FramesCut != 1 {
		t.Fatalf("a subscription begun mid-frame: %+v", st)
	}
	// Once the stream is under way, a frame missing its first packet is
	// incomplete as ever.
	p = s.packets(t, 1, bytes.Repeat([]byte{8}, 250), packetizer.Extensions{})
	e.feed(p[1:]...)
	e.feed(s.packets(t, 1, []byte("whole"), packetizer.Extensions{})...)
	e.clk.advance(time.Minute)
	e.m.Tick()
	st = e.stats("DTR_a")
	if st.FramesCompleted != 2 || st.FramesIncomplete != 1 || st.PacketsLost != 1 || st.FramesCut != 1 {
		t.Fatalf("a frame missing its START: %+v", st)
	}
}

// A send that fails ends the attempt with ErrDisconnected; the track is
// still wanted, so the next join asks again.
func TestSendFailure(t *testing.T) {
	e := newEnv(t, Options{})
	e.tr.setErr(errors.New("no connection"))
	e.m.HandleJoin("me", []Participant{part("alice", "PA_1", 1, info("DTR_a", 1, "a"))})
	st := e.wantState("DTR_a", StateUnsubscribed)
	if !errors.Is(st.LastErr, ErrDisconnected) || errors.Unwrap(st.LastErr) == nil {
		t.Fatalf("LastErr %v", st.LastErr)
	}
	e.tr.setErr(nil)
	e.m.HandleJoin("me", []Participant{part("alice", "PA_1", 2, info("DTR_a", 1, "a"))})
	e.wantSent(sub("DTR_a"))
}

func TestCloseAndRemove(t *testing.T) {
	e := newEnv(t, Options{})
	e.subscribed("alice", "PA_1", 1, info("DTR_a", 1, "a"))
	e.m.Close()
	e.wantState("DTR_a", StateUnsubscribed)
	if err := e.m.Subscribe("DTR_a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	e.feed(newStream().packets(t, 1, []byte("x"), packetizer.Extensions{})...)
	if st := e.stats("DTR_a"); st.Packets != 0 {
		t.Fatalf("%+v", st)
	}
	if err := e.m.Remove("DTR_a"); err != nil {
		t.Fatal(err)
	}
	e.wantSent()
}

// Frames across the 16-bit wrap of sequence and frame numbers: nothing
// lost, every frame intact.
func TestWraparound(t *testing.T) {
	e := newEnv(t, Options{})
	e.subscribed("alice", "PA_1", 1, info("DTR_a", 1, "a"))
	s := newStream()
	s.mtu = 64
	s.seq, s.frame = 65530, 65533
	var want [][]byte
	for i := range 8 {
		p := bytes.Repeat([]byte{byte(i)}, 100+i)
		want = append(want, p)
		e.feed(s.packets(t, 1, p, packetizer.Extensions{})...)
	}
	got := e.takeFrames()
	if len(got) != len(want) {
		t.Fatalf("%d frames", len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i].f.Payload, want[i]) || got[i].f.Number != 65533+uint16(i) {
			t.Fatalf("frame %d: %+v", i, got[i].f)
		}
	}
	if err := e.m.Unsubscribe("DTR_a"); err != nil {
		t.Fatal(err)
	}
	if st := e.stats("DTR_a"); st.PacketsLost != 0 || st.FramesLost != 0 || st.FramesCompleted != 8 || st.FramesIncomplete != 0 {
		t.Fatalf("%+v", st)
	}
}

// Loss settles by time when packets stop (Tick), counts once, and neither
// a late copy nor duplicates take it back; reordering is counted apart.
func TestLossDuplicatesReordering(t *testing.T) {
	e := newEnv(t, Options{})
	e.subscribed("alice", "PA_1", 1, info("DTR_a", 1, "a"))
	s := newStream()
	s.mtu = 100
	f0 := s.packets(t, 1, make([]byte, 250), packetizer.Extensions{})
	f1 := s.packets(t, 1, make([]byte, 250), packetizer.Extensions{})
	f2 := s.packets(t, 1, make([]byte, 10), packetizer.Extensions{})
	e.feed(f0[0], f0[2], f0[1]) // reordered
	e.feed(f1[0], f1[2])        // f1[1] is late…
	e.feed(f2...)
	e.feed(f2...) // a duplicate
	st := e.stats("DTR_a")
	if st.PacketsReordered != 1 || st.PacketsDuplicate != 1 || st.PacketsLost != 0 || st.FramesCompleted != 2 {
		t.Fatalf("before settling: %+v", st)
	}
	e.clk.advance(packetizer.DefaultReorderDelay)
	e.m.Tick()
	st = e.stats("DTR_a")
	if st.PacketsLost != 1 || st.FramesIncomplete != 1 || st.IncompleteBy[packetizer.IncompleteMissing] != 1 {
		t.Fatalf("after the reorder delay: %+v", st)
	}
	e.feed(f1[1], f1[1], f2[0]) // …too late, twice, and one more duplicate
	st = e.stats("DTR_a")
	if st.PacketsLost != 1 || st.PacketsLate != 2 || st.PacketsDuplicate != 2 || st.FramesCompleted != 2 {
		t.Fatalf("late copies: %+v", st)
	}
}

// Measurement: frame sizes, latency from the user timestamp, first and
// last arrival, the preview, frames over the clients' packet limit.
func TestMeasurement(t *testing.T) {
	e := newEnv(t, Options{})
	e.subscribed("alice", "PA_1", 1, info("DTR_a", 1, "a"))
	s := newStream()
	sent := e.clk.Now()
	ext := packetizer.Extensions{HasUserTimestamp: true, UserTimestamp: uint64(sent.UnixMilli())}
	big := make([]byte, 129*(packetizer.MTU-packetizer.BaseHeaderLen-12))
	e.feed(s.packets(t, 1, []byte("hello"), ext)...)
	e.feed(s.packets(t, 1, big, ext)...)
	ahead := packetizer.Extensions{HasUserTimestamp: true, UserTimestamp: uint64(sent.Add(time.Hour).UnixMilli())}
	e.feed(s.packets(t, 1, bytes.Repeat([]byte("z"), 5000), ahead)...)
	st := e.stats("DTR_a")
	if st.FrameBytes != uint64(5+len(big)+5000) || st.FrameSizes.Count() != 3 || st.FramesOverClientLimit != 1 {
		t.Fatalf("%+v", st)
	}
	if st.UserTimestamps != 3 || st.LatencyNegative != 1 || st.Latency.Count() != 3 {
		t.Fatalf("latency %+v", st)
	}
	// The median frame arrived 1 ms after it was sent (the fake clock's
	// step), within the histogram's 1/32.
	if q := time.Duration(st.Latency.Quantile(0.5)); q < 968*time.Microsecond || q > 1032*time.Microsecond {
		t.Fatalf("median latency %v", q)
	}
	if !st.FirstPacketAt.Equal(sent.Add(time.Millisecond)) || !st.LastPacketAt.Equal(e.clk.Now()) {
		t.Fatalf("first %v last %v", st.FirstPacketAt, st.LastPacketAt)
	}
	// The preview is the first frame after the last snapshot.
	if st.LastFrame.Number != 0 || string(st.LastFrame.Head) != "hello" {
		t.Fatalf("preview %+v", st.LastFrame.Number)
	}
	e.feed(s.packets(t, 1, bytes.Repeat([]byte("y"), 5000), packetizer.Extensions{})...)
	st = e.stats("DTR_a")
	if st.LastFrame.Number != 3 || st.LastFrame.Size != 5000 || len(st.LastFrame.Head) != PreviewBytes {
		t.Fatalf("preview %d %d %d", st.LastFrame.Number, st.LastFrame.Size, len(st.LastFrame.Head))
	}
}

// latency agrees with time.Time arithmetic wherever a timestamp is a
// time, and calls every timestamp past 2262 (as an unsigned count of
// milliseconds) ahead of the clock.
func TestLatencyEdges(t *testing.T) {
	arrival := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	ms := uint64(arrival.UnixMilli())
	for _, c := range []struct {
		ts   uint64
		want int64
		ok   bool
	}{
		{ms, 456789, true}, // the sub-millisecond part of arrival
		{ms - 1500, int64(1500*time.Millisecond + 456789), true},
		{0, arrival.UnixNano(), true},
		{ms + 1, 0, false},
		{uint64(maxUserTimestamp), 0, false},
		{uint64(maxUserTimestamp) + 1, 0, false},
		{1 << 63, 0, false},
		{math.MaxUint64, 0, false},
	} {
		got, ok := latency(arrival, c.ts)
		if got != c.want || ok != c.ok {
			t.Errorf("latency(%d) = %d, %v; want %d, %v", c.ts, got, ok, c.want, c.ok)
		}
		if c.ts <= uint64(maxUserTimestamp) {
			if d := arrival.Sub(time.UnixMilli(int64(c.ts))); (d >= 0) != ok || ok && int64(d) != got {
				t.Errorf("latency(%d) = %d, %v; time.Time says %v", c.ts, got, ok, d)
			}
		}
	}
}

// Malformed packets are counted by reason and go nowhere.
func TestMalformedPackets(t *testing.T) {
	e := newEnv(t, Options{})
	e.m.HandlePacket([]byte{1, 2, 3}, e.clk.Now())
	e.m.HandlePacket([]byte{0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, e.clk.Now())
	st := e.m.Stats()
	if st.Packets != 2 || st.Malformed != 2 || st.MalformedBy[packetizer.ReasonTooShort] != 1 ||
		st.MalformedBy[packetizer.ReasonUnsupportedVersion] != 1 || st.Held != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestNames(t *testing.T) {
	for s := StateAnnounced; s <= StateUnpublished; s++ {
		if s.String() == "unknown" {
			t.Fatalf("state %d", s)
		}
	}
	for r := ReasonTimeout; r <= ReasonClosed; r++ {
		err := &SubscribeError{Reason: r, SID: "DTR_x", Name: "n\x1b"}
		if !errors.Is(err, reasonErrs[r]) || err.Error() == "" || bytes.ContainsRune([]byte(err.Error()), 0x1b) {
			t.Fatalf("reason %v: %q", r, err.Error())
		}
	}
	for r := range NumDecryptReasons {
		if r.String() == DecryptReason(99).String() {
			t.Fatalf("decrypt reason %d", r)
		}
	}
	if EncryptionGCM.String() != "AES-GCM" {
		t.Fatal("encryption names")
	}
}

// Packets, signalling, the UI's calls and Tick from their own goroutines
// (run with -race): nothing is lost track of, and Close stops the one
// goroutine the manager starts (its timers).
func TestConcurrentUse(t *testing.T) {
	defer test.CheckRoutines(t)()
	e := newEnv(t, Options{})
	defer e.m.Close() // before CheckRoutines looks
	e.subscribed("alice", "PA_1", 1, info("DTR_a", 1, "a"), info("DTR_b", 2, "b"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// loop runs fn(0), fn(1)… on its own goroutine until stop.
	loop := func(fn func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				fn(i)
			}
		}()
	}
	loop(func(i int) { // the signal reader
		if i%2 == 0 {
			e.m.HandleSubscriberHandles(map[uint16]string{1: "DTR_a", 2: "DTR_b"})
		} else {
			e.m.HandleSubscriberHandles(map[uint16]string{1: "DTR_a", 3: "DTR_b"})
		}
	})
	loop(func(i int) { // the UI
		_ = e.m.Snapshot()
		_ = e.m.Stats()
		if i%10 == 0 {
			_ = e.m.Unsubscribe("DTR_a")
			_ = e.m.Subscribe("DTR_a")
			e.m.Tick()
		}
	})
	sa, sb := newStream(), newStream()
	for i := range 2000 { // the data channel
		e.m.HandlePacket(sa.packets(t, 1, []byte{byte(i)}, packetizer.Extensions{})[0], e.clk.Now())
		e.m.HandlePacket(sb.packets(t, uint16(2+i%2), []byte{byte(i)}, packetizer.Extensions{})[0], e.clk.Now())
	}
	close(stop)
	wg.Wait()
	st := e.m.Stats()
	sum := st.Malformed + uint64(st.Held) + st.UnknownHandle
	for _, ts := range e.m.Snapshot() {
		sum += ts.Packets + ts.PacketsIgnored
	}
	if st.Packets != 4000 || sum != st.Packets {
		t.Fatalf("%d packets, %d accounted for", st.Packets, sum)
	}
}

// A publisher whose clock is being asked: its frames wait, then all are
// recorded corrected by the offset once synced; another publisher that
// never answers is recorded on two clocks.
func TestLatencyOnThePublishersClock(t *testing.T) {
	clocks := map[string]clocksync.Estimate{}
	e := newEnv(t, Options{Clock: func(id string) clocksync.Estimate { return clocks[id] }})
	e.subscribed("alice", "PA_1", 1, info("DTR_a", 1, "a"))
	s := newStream()
	// alice's clock is 1050 ms ahead of ours: her timestamps say the frame
	// was sent 1049 ms after it arrived.
	const offset = 1050 * time.Millisecond
	stamp := func() packetizer.Extensions {
		return packetizer.Extensions{HasUserTimestamp: true, UserTimestamp: uint64(e.clk.Now().Add(offset).UnixMilli())}
	}
	for range 3 {
		e.feed(s.packets(t, 1, []byte("x"), stamp())...)
	}
	st := e.stats("DTR_a")
	if st.UserTimestamps != 3 || st.Latency.Count() != 0 || st.LatencyUnsynced != 3 || st.Clock.State != clocksync.Unknown {
		t.Fatalf("while syncing: %d timestamps, %d recorded, %d waiting, %v", st.UserTimestamps, st.Latency.Count(), st.LatencyUnsynced, st.Clock)
	}
	clocks["alice"] = clocksync.Estimate{State: clocksync.Synced, Offset: offset, Uncertainty: 300 * time.Microsecond}
	e.feed(s.packets(t, 1, []byte("x"), stamp())...)
	st = e.stats("DTR_a")
	if st.Latency.Count() != 4 || st.LatencyUnsynced != 0 || st.LatencyNegative != 0 || st.Clock != clocks["alice"] {
		t.Fatalf("synced: %d recorded, %d waiting, %d negative, %v", st.Latency.Count(), st.LatencyUnsynced, st.LatencyNegative, st.Clock)
	}
	// One-way: 1 ms (the fake clock's step), within the histogram's 1/32.
	if q := time.Duration(st.Latency.Quantile(0.5)); q < 968*time.Microsecond || q > 1032*time.Microsecond {
		t.Fatalf("corrected median %v", q)
	}

	// A frame that waited is flushed by a snapshot too, not only by the next frame.
	e.subscribed("bob", "PA_2", 2, info("DTR_b", 2, "b"))
	sb := newStream()
	e.feed(sb.packets(t, 2, []byte("x"), stamp())...)
	clocks["bob"] = clocksync.Estimate{State: clocksync.TwoClocks}
	st = e.stats("DTR_b")
	if st.Latency.Count() != 1 || st.LatencyNegative != 1 || st.Clock.State != clocksync.TwoClocks {
		t.Fatalf("two clocks: %d recorded, %d negative, %v", st.Latency.Count(), st.LatencyNegative, st.Clock)
	}
}
