package session

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/livekit/protocol/livekit"
)

// batchRig is a subscriber whose clock and flush timer the test moves,
// sending into a list of messages.
type batchRig struct {
	s     *subscriber
	mu    sync.Mutex
	now   time.Time
	fire  func() // the armed flush, nil when none
	msgs  [][]incoming.SubscriptionUpdate
	fails bool
}

func newBatchRig(t *testing.T) *batchRig {
	r := &batchRig{now: time.Unix(1000, 0)}
	r.s = newSubscriber(incoming.Options{})
	t.Cleanup(r.s.mgr.Close)
	r.s.now = func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }
	r.s.afterFunc = func(d time.Duration, f func()) *time.Timer {
		if d <= 0 || d > SubscriptionUpdateInterval {
			t.Errorf("flush armed in %v", d)
		}
		r.fire = f
		tm := time.NewTimer(time.Hour) // never fires: the test calls f
		tm.Stop()
		return tm
	}
	r.s.send = r.send
	return r
}

func (r *batchRig) send(req *livekit.SignalRequest) error {
	if r.fails {
		return errors.New("test: the connection is gone")
	}
	var got []incoming.SubscriptionUpdate
	for _, u := range req.GetUpdateDataSubscription().GetUpdates() {
		got = append(got, incoming.SubscriptionUpdate{SID: u.GetTrackSid(), Subscribe: u.GetSubscribe()})
	}
	r.msgs = append(r.msgs, got)
	return nil
}

func (r *batchRig) flush() {
	f := r.fire
	r.fire = nil
	if f != nil {
		f()
	}
}

// Issue 20 item 10: a participant publishing 500 tracks one by one asks
// for 500 subscriptions in 500 calls; the SFU queues 200 signal requests
// per participant. The first call goes at once, the rest merged at the
// end of the interval (before: 500 messages).
func TestSubscriptionUpdatesAreBatched(t *testing.T) {
	r := newBatchRig(t)
	for i := range 30 {
		if err := r.s.SendUpdateSubscription([]incoming.SubscriptionUpdate{{SID: fmt.Sprintf("DTR_%d", i), Subscribe: true}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.msgs) != 1 || len(r.msgs[0]) != 1 {
		t.Fatalf("before the interval: %d messages", len(r.msgs))
	}
	r.flush()
	if len(r.msgs) != 2 || len(r.msgs[1]) != 29 || r.msgs[1][0].SID != "DTR_1" || r.msgs[1][28].SID != "DTR_29" {
		t.Fatalf("%d messages, the second of %d updates", len(r.msgs), len(r.msgs[len(r.msgs)-1]))
	}
	// A quiet interval later, the next update goes at once again.
	r.now = r.now.Add(SubscriptionUpdateInterval)
	_ = r.s.SendUpdateSubscription([]incoming.SubscriptionUpdate{{SID: "DTR_x", Subscribe: true}})
	if len(r.msgs) != 3 || r.fire != nil {
		t.Fatalf("after a quiet interval: %d messages, flush armed %v", len(r.msgs), r.fire != nil)
	}
}

// Issue 20 item 10: the SFU answers each subscription with two messages,
// and a monitor joining a room of 500 tracks that asked for all at once
// had its signal connection closed for the 1 000 answers. At most
// MaxSubscriptionUpdatesInFlight updates wait for a handle map; the
// rest go as handle maps answer them, or as the unanswered time out.
func TestSubscriptionUpdatesWaitForRoomInFlight(t *testing.T) {
	r := newBatchRig(t)
	var all []incoming.SubscriptionUpdate
	for i := range 500 {
		all = append(all, incoming.SubscriptionUpdate{SID: fmt.Sprintf("DTR_%d", i), Subscribe: true})
	}
	if err := r.s.SendUpdateSubscription(all); err != nil {
		t.Fatal(err)
	}
	sent := func() int {
		n := 0
		for _, m := range r.msgs {
			n += len(m)
		}
		return n
	}
	if len(r.msgs) != 1 || sent() != MaxSubscriptionUpdatesInFlight {
		t.Fatalf("at once: %d messages, %d updates", len(r.msgs), sent())
	}
	// Unanswered, nothing more goes: the flush comes back each interval.
	for range 5 {
		r.now = r.now.Add(SubscriptionUpdateInterval)
		r.flush()
	}
	if sent() != MaxSubscriptionUpdatesInFlight || r.fire == nil {
		t.Fatalf("unanswered: %d updates sent, flush armed %v", sent(), r.fire != nil)
	}
	// A handle map naming the first 25 makes room for 25 more.
	handles := map[uint16]string{}
	for i := range 25 {
		handles[uint16(i+1)] = fmt.Sprintf("DTR_%d", i)
	}
	r.s.mu.Lock()
	r.s.answeredLocked(handles)
	r.s.mu.Unlock()
	r.flush()
	if got := len(r.msgs[len(r.msgs)-1]); got != 25 || sent() != MaxSubscriptionUpdatesInFlight+25 {
		t.Fatalf("after 25 answers: a message of %d, %d sent", got, sent())
	}
	// What no handle map answers stops counting after inFlightTimeout.
	for sent() < len(all) {
		before := sent()
		r.now = r.now.Add(inFlightTimeout)
		r.flush()
		if n := sent() - before; n == 0 || n > MaxSubscriptionUpdatesInFlight {
			t.Fatalf("%d sent after a timeout, %d in all", n, sent())
		}
	}
	seen := map[string]bool{}
	for _, m := range r.msgs {
		for _, u := range m {
			if seen[u.SID] {
				t.Fatalf("%s sent twice", u.SID)
			}
			seen[u.SID] = true
		}
	}
}

// Within one batch a track's latest wish wins; a batch that cannot be sent
// waits for the next connection; detached, nothing is sent.
func TestSubscriptionBatchMergesAndSurvivesAFailedSend(t *testing.T) {
	r := newBatchRig(t)
	sub := func(sid string, on bool) {
		if err := r.s.SendUpdateSubscription([]incoming.SubscriptionUpdate{{SID: sid, Subscribe: on}}); err != nil {
			t.Fatal(err)
		}
	}
	sub("DTR_a", true) // at once
	sub("DTR_b", true)
	sub("DTR_c", true)
	sub("DTR_b", false) // b's latest wish
	r.fails = true
	r.flush()
	if len(r.msgs) != 1 {
		t.Fatalf("%d messages", len(r.msgs))
	}
	r.fails = false
	r.s.attach(nil)
	if err := r.s.SendUpdateSubscription([]incoming.SubscriptionUpdate{{SID: "DTR_d"}}); !errors.Is(err, errNotConnected) {
		t.Fatalf("detached: %v", err)
	}
	r.s.mu.Lock()
	r.s.send = r.send // a connection again, as attach(p) would make it …
	r.s.mu.Unlock()
	r.s.flush() // … and the flush it would arm
	want := []incoming.SubscriptionUpdate{{SID: "DTR_b"}, {SID: "DTR_c", Subscribe: true}}
	if len(r.msgs) != 2 || len(r.msgs[1]) != 2 || r.msgs[1][0] != want[0] || r.msgs[1][1] != want[1] {
		t.Fatalf("messages %+v", r.msgs)
	}
}

// Property: whatever updates are asked for, and whenever the flush runs,
// at most one message goes per interval, and the SFU ends up told each
// track's latest wish.
func TestSubscriptionBatchKeepsTheLatestWish(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for run := range 200 {
		r := newBatchRig(t)
		want := map[string]bool{}
		flushes := 0
		for range rnd.IntN(60) {
			switch rnd.IntN(4) {
			case 0:
				r.flush()
				flushes++
			case 1:
				r.now = r.now.Add(time.Duration(rnd.IntN(3)) * SubscriptionUpdateInterval / 2)
			default:
				var ups []incoming.SubscriptionUpdate
				for range 1 + rnd.IntN(3) {
					u := incoming.SubscriptionUpdate{SID: fmt.Sprintf("DTR_%d", rnd.IntN(5)), Subscribe: rnd.IntN(2) == 0}
					ups = append(ups, u)
					want[u.SID] = u.Subscribe
				}
				if err := r.s.SendUpdateSubscription(ups); err != nil {
					t.Fatal(err)
				}
			}
		}
		r.flush()
		got := map[string]bool{}
		for _, m := range r.msgs {
			for _, u := range m {
				got[u.SID] = u.Subscribe
			}
		}
		if len(got) != len(want) {
			t.Fatalf("run %d: told %v, want %v", run, got, want)
		}
		for sid, on := range want {
			if got[sid] != on {
				t.Fatalf("run %d: %s told %v, want %v", run, sid, got[sid], on)
			}
		}
		// Messages: one direct per quiet interval, one per flush.
		if len(r.msgs) > flushes+1+int(r.now.Sub(time.Unix(1000, 0))/SubscriptionUpdateInterval)+1 {
			t.Fatalf("run %d: %d messages, %d flushes", run, len(r.msgs), flushes)
		}
	}
}

// applied waits until the messages filed so far have been applied: the
// test files them from one goroutine, so no drain starts meanwhile.
func (s *subscriber) applied() { s.in.wg.Wait() }

// Issue 20: a subscription asked for while the signal connection was down
// (the send failed) stayed unsubscribed after the session resumed, until
// a full rejoin. It now waits, and the resume asks for it, with every
// update that was in flight when the connection dropped (it may never
// have reached the SFU).
func TestResumeAsksAgainForWhatTheDropLost(t *testing.T) {
	r := newBatchRig(t)
	sub := func(sid string, on bool) {
		if err := r.s.SendUpdateSubscription([]incoming.SubscriptionUpdate{{SID: sid, Subscribe: on}}); err != nil {
			t.Fatalf("%s: %v", sid, err)
		}
	}
	sub("DTR_a", true) // sent, in flight when the connection drops
	r.fails = true
	r.now = r.now.Add(SubscriptionUpdateInterval)
	sub("DTR_b", true) // a direct send into the dropped connection: kept, no error
	if len(r.msgs) != 1 {
		t.Fatalf("%d messages", len(r.msgs))
	}
	if !r.s.Queued("DTR_b") {
		t.Fatal("the update that could not be sent is not queued")
	}
	r.fails = false
	r.fire = nil
	r.s.resumed()
	if r.fire == nil {
		t.Fatal("the resume armed no flush")
	}
	r.flush()
	want := []incoming.SubscriptionUpdate{{SID: "DTR_a", Subscribe: true}, {SID: "DTR_b", Subscribe: true}}
	if len(r.msgs) != 2 || !slices.Equal(r.msgs[1], want) {
		t.Fatalf("after the resume: %+v; want %+v", r.msgs, want)
	}
	if r.s.Queued("DTR_b") {
		t.Fatal("still queued after the flush")
	}
}
