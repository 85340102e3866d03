package session

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/session/rtc"
	"github.com/livekit/protocol/livekit"
)

// subscriber feeds one participant's view of the room into an
// incoming.Manager: the SFU's participant infos, subscriber handles and
// permission updates, and the packets of that participant's subscriber
// `_data_track` channel. The room monitor (on our own participant) and
// the loopback (on its hidden one) are each one.
type subscriber struct {
	mgr *incoming.Manager
	in  inbox

	mu sync.Mutex
	// send writes on the connection subscription requests go on; nil
	// between connections.
	send func(*livekit.SignalRequest) error

	// held is the set of SIDs the SFU forwards to us now: the latest
	// handle map's, once our `_data_track` channel is open. It is read
	// on publishers' send paths, so it is replaced whole, never changed.
	held   atomic.Pointer[map[string]bool]
	handle map[uint16]string
	dcOpen bool

	// Subscription updates are batched (see SubscriptionUpdateInterval):
	// lastSent is when the latest message went, pending what waits for
	// the next (one entry per track SID, its latest wish, at pendingAt),
	// flushAt the timer that sends it (nil: none armed; the subscriber
	// owns it and stops it when detached).
	now       func() time.Time
	afterFunc func(time.Duration, func()) *time.Timer
	// arrival stamps packets (incoming.Options.Now: the session's clock).
	arrival   func() time.Time
	lastSent  time.Time
	pending   []incoming.SubscriptionUpdate
	pendingAt map[string]int
	flushAt   *time.Timer
	// inFlight is each update sent and not yet seen in a handle map (a
	// subscribe named in one, an unsubscribe missing from one), with
	// when it went: at most MaxSubscriptionUpdatesInFlight.
	inFlight map[string]sentUpdate
	// sendMu orders the messages: a flush and a direct send never cross.
	sendMu sync.Mutex
}

// SubscriptionUpdateInterval is the least time between two
// UpdateDataSubscription messages a subscriber sends: the updates asked
// for meanwhile go together in the next one, the latest wish per track.
// A participant publishing hundreds of tracks one by one (a
// ParticipantUpdate each) then costs a few messages, not one each: the
// SFU queues 200 signal messages toward each participant and drops what
// comes past that.
const SubscriptionUpdateInterval = 100 * time.Millisecond

// MaxSubscriptionUpdatesInFlight bounds the subscription updates sent
// and not yet answered. The SFU answers each with a permission update
// and a handle map of all our subscriptions, and drops what it cannot
// queue once 200 messages wait to be written to us (livekit-server's
// routing.MessageChannel): a monitor that joined a room of 500 tracks
// and asked for all at once lost its pongs and handle maps a second
// later, and resumed (issue 20 item 10). The rest wait their turn, sent
// as handle maps answer these.
const MaxSubscriptionUpdatesInFlight = 40

// inFlightTimeout is how long an update counts as in flight when no
// handle map answers it (a subscription the SFU refuses, an unsubscribe
// of a track it had not subscribed).
const inFlightTimeout = 3 * time.Second

// sentUpdate is an update in flight.
type sentUpdate struct {
	subscribe bool
	at        time.Time
}

func newSubscriber(opts incoming.Options) *subscriber {
	s := &subscriber{now: time.Now, afterFunc: time.AfterFunc, arrival: opts.Now}
	if s.arrival == nil {
		s.arrival = time.Now
	}
	s.mgr = incoming.NewManager(s, opts)
	return s
}

// SendUpdateSubscription implements incoming.Transport: the first
// updates after a quiet SubscriptionUpdateInterval go at once, later
// ones wait for the rest of the interval, merged, and for room among
// the updates in flight.
func (s *subscriber) SendUpdateSubscription(updates []incoming.SubscriptionUpdate) error {
	s.mu.Lock()
	send := s.send
	if send == nil {
		s.mu.Unlock()
		return errNotConnected
	}
	now := s.now()
	direct := s.flushAt == nil && len(s.pending) == 0 && now.Sub(s.lastSent) >= SubscriptionUpdateInterval
	s.queueLocked(updates)
	if direct {
		if batch := s.takeLocked(now); len(batch) > 0 {
			s.lastSent = now
			if len(s.pending) > 0 {
				s.flushAt = s.afterFunc(SubscriptionUpdateInterval, s.flush)
			}
			s.sendMu.Lock() // before s.mu is released: messages keep the order of the calls
			s.mu.Unlock()
			err := send(subscriptionRequest(batch))
			s.sendMu.Unlock()
			if err != nil {
				// The signal connection is down (a resume may bring it back):
				// the batch waits for it like a failed flush, and the manager
				// keeps waiting rather than giving the tracks up until a full
				// rejoin (issue 20: after a resume they stayed unsubscribed).
				s.requeue(batch)
			}
			return nil
		}
	}
	defer s.mu.Unlock()
	if s.flushAt == nil {
		s.flushAt = s.afterFunc(max(SubscriptionUpdateInterval-now.Sub(s.lastSent), time.Millisecond), s.flush)
	}
	return nil
}

// Queued implements incoming.QueueingTransport: an update for sid waits
// for its turn. It takes s.mu under the manager's lock (the subscriber
// never calls the manager with s.mu held).
func (s *subscriber) Queued(sid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.pendingAt[sid]
	return ok
}

// queueLocked merges updates into pending: a track's latest wish wins.
func (s *subscriber) queueLocked(updates []incoming.SubscriptionUpdate) {
	if s.pendingAt == nil {
		s.pendingAt = map[string]int{}
	}
	for _, u := range updates {
		if i, ok := s.pendingAt[u.SID]; ok {
			s.pending[i] = u
			continue
		}
		s.pendingAt[u.SID] = len(s.pending)
		s.pending = append(s.pending, u)
	}
}

// takeLocked takes from pending what fits among the updates in flight
// (those unanswered for inFlightTimeout no longer count) and counts them
// in flight, sent at now.
func (s *subscriber) takeLocked(now time.Time) []incoming.SubscriptionUpdate {
	for sid, u := range s.inFlight {
		if now.Sub(u.at) >= inFlightTimeout {
			delete(s.inFlight, sid)
		}
	}
	n := min(len(s.pending), MaxSubscriptionUpdatesInFlight-len(s.inFlight))
	if n <= 0 {
		return nil
	}
	batch := s.pending[:n:n]
	s.pending = s.pending[n:]
	if s.inFlight == nil {
		s.inFlight = map[string]sentUpdate{}
	}
	for _, u := range batch {
		s.inFlight[u.SID] = sentUpdate{subscribe: u.Subscribe, at: now}
		delete(s.pendingAt, u.SID)
	}
	for i, u := range s.pending {
		s.pendingAt[u.SID] = i
	}
	return batch
}

// answeredLocked takes the updates a handle map answers out of flight.
func (s *subscriber) answeredLocked(handles map[uint16]string) {
	if len(s.inFlight) == 0 {
		return
	}
	named := make(map[string]bool, len(handles))
	for _, sid := range handles {
		named[sid] = true
	}
	for sid, u := range s.inFlight {
		if u.subscribe == named[sid] {
			delete(s.inFlight, sid)
		}
	}
}

// flush sends what is pending and fits in flight in one message, and
// comes back an interval later while anything is left. Sent or not, the
// manager has been told these were: a failed send keeps them pending,
// for the connection attach brings next (a full rejoin asks for
// everything again, so a Join drops them).
func (s *subscriber) flush() {
	s.mu.Lock()
	s.flushAt = nil
	send := s.send
	if send == nil || len(s.pending) == 0 {
		s.mu.Unlock()
		return
	}
	now := s.now()
	updates := s.takeLocked(now)
	if len(s.pending) > 0 {
		s.flushAt = s.afterFunc(SubscriptionUpdateInterval, s.flush)
	}
	if len(updates) == 0 {
		s.mu.Unlock()
		return
	}
	s.lastSent = now
	s.sendMu.Lock()
	s.mu.Unlock()
	err := send(subscriptionRequest(updates))
	s.sendMu.Unlock()
	if err != nil {
		s.requeue(updates)
	}
}

// requeue puts updates that could not be sent back in front of what is
// pending (a later wish for the same track still wins), out of flight.
func (s *subscriber) requeue(updates []incoming.SubscriptionUpdate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requeueLocked(updates)
}

func (s *subscriber) requeueLocked(updates []incoming.SubscriptionUpdate) {
	for _, u := range updates {
		delete(s.inFlight, u.SID)
	}
	later := s.pending
	s.pending, s.pendingAt = nil, nil
	s.queueLocked(updates)
	s.queueLocked(later)
}

// resumed runs once the signal connection is back for the same
// participant: the SFU kept its subscriptions, but an update in flight
// when the connection dropped may never have reached it, so those are
// asked for again (asking twice changes nothing), with what is pending,
// at once.
func (s *subscriber) resumed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.send == nil {
		return
	}
	var again []incoming.SubscriptionUpdate
	for sid, u := range s.inFlight {
		again = append(again, incoming.SubscriptionUpdate{SID: sid, Subscribe: u.subscribe})
	}
	slices.SortFunc(again, func(a, b incoming.SubscriptionUpdate) int { return strings.Compare(a.SID, b.SID) })
	s.requeueLocked(again)
	if len(s.pending) > 0 {
		if s.flushAt != nil {
			s.flushAt.Stop()
		}
		s.flushAt = s.afterFunc(time.Millisecond, s.flush)
	}
}

func subscriptionRequest(updates []incoming.SubscriptionUpdate) *livekit.SignalRequest {
	msg := &livekit.UpdateDataSubscription{Updates: make([]*livekit.UpdateDataSubscription_Update, 0, len(updates))}
	for _, u := range updates {
		msg.Updates = append(msg.Updates, &livekit.UpdateDataSubscription_Update{TrackSid: u.SID, Subscribe: u.Subscribe})
	}
	return &livekit.SignalRequest{Message: &livekit.SignalRequest_UpdateDataSubscription{UpdateDataSubscription: msg}}
}

// attach makes p the connection requests go on (nil: none, and the flush
// timer stops; what is pending waits for the next connection).
func (s *subscriber) attach(p *rtc.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.send, s.inFlight = nil, nil // a new connection has nothing in flight
	if s.flushAt != nil {
		s.flushAt.Stop()
		s.flushAt = nil
	}
	if p != nil {
		s.send = p.Send
		if len(s.pending) > 0 {
			s.flushAt = s.afterFunc(SubscriptionUpdateInterval, s.flush)
		}
	}
}

// holds says whether frames sent now under sid are forwarded to us.
func (s *subscriber) holds(sid string) bool {
	m := s.held.Load()
	return m != nil && (*m)[sid]
}

func (s *subscriber) updateHeldLocked() {
	m := make(map[string]bool, len(s.handle))
	if s.dcOpen {
		for _, sid := range s.handle {
			m[sid] = true
		}
	}
	s.held.Store(&m)
}

// onDataChannelOpen runs when the subscriber `_data_track` channel opens.
func (s *subscriber) onDataChannelOpen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dcOpen = true
	s.updateHeldLocked()
}

// onPacket runs on the subscriber data channel's goroutine.
func (s *subscriber) onPacket(b []byte) { s.mgr.HandlePacket(b, s.arrival()) }

// onSignal feeds the SFU's messages in; local is the identity of the
// participant this subscriber is (its own tracks are not remote). It
// runs on the peer's signal reader, so it only files the messages (see
// inbox); a drain goroutine the subscriber owns applies them.
func (s *subscriber) onSignal(local string, res *livekit.SignalResponse) {
	if _, ok := res.Message.(*livekit.SignalResponse_Join); ok {
		// A fresh participant: no handles, a new channel. Now, before its
		// channel can open; the manager learns it in the drain.
		s.mu.Lock()
		s.handle, s.dcOpen = nil, false
		s.updateHeldLocked()
		s.pending, s.pendingAt, s.inFlight = nil, nil, nil // the new participant holds no subscription: HandleJoin asks again
		s.mu.Unlock()
	}
	if s.in.file(local, res) {
		go s.drain()
	}
}

// drain applies what the inbox holds until it is empty.
func (s *subscriber) drain() {
	defer s.in.wg.Done()
	for {
		b, ok := s.in.take()
		if !ok {
			return
		}
		s.apply(&b)
	}
}

// apply hands one batch to the manager: the join first, then the
// participants' latest infos, the permission updates, the latest handle
// map (which names only tracks announced before it).
func (s *subscriber) apply(b *inboxBatch) {
	if b.join != nil {
		s.mgr.HandleJoin(b.local, participants(b.join.GetOtherParticipants()))
	}
	if len(b.parts) > 0 {
		s.mgr.HandleParticipantUpdate(participants(b.parts))
	}
	for _, u := range b.perms {
		s.mgr.HandlePermission(u.GetParticipantSid(), u.GetTrackSid(), u.GetAllowed())
	}
	if b.hasHandles {
		m := make(map[uint16]string, len(b.handles))
		for h, t := range b.handles {
			m[uint16(h)] = t.GetTrackSid()
		}
		s.mu.Lock()
		s.handle = m
		s.updateHeldLocked()
		s.answeredLocked(m)
		s.mu.Unlock()
		s.mgr.HandleSubscriberHandles(m)
	}
}

// close stops the subscriber: nothing more is filed or sent, the drain
// has ended, the manager is closed.
func (s *subscriber) close() {
	s.in.close()
	s.attach(nil) // stops the flush timer
	s.mgr.Close()
}

// participants converts ParticipantInfos to what incoming needs.
func participants(infos []*livekit.ParticipantInfo) []incoming.Participant {
	out := make([]incoming.Participant, 0, len(infos))
	for _, pi := range infos {
		p := incoming.Participant{Identity: pi.GetIdentity(), SID: pi.GetSid(), Version: pi.GetVersion(),
			Disconnected: pi.GetState() == livekit.ParticipantInfo_DISCONNECTED}
		for _, dt := range pi.GetDataTracks() {
			p.Tracks = append(p.Tracks, incoming.Info{SID: dt.GetSid(), PubHandle: uint16(dt.GetPubHandle()), Name: dt.GetName(),
				Encryption: incoming.Encryption(dt.GetEncryption()), Type: declFromProto(dt.GetFrameEncoding(), dt.GetSchema())})
		}
		out = append(out, p)
	}
	return out
}
