package session

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/livekit/protocol/livekit"
)

// subscriber feeds one participant's view of the room into an
// incoming.Manager: the SFU's participant infos, subscriber handles and
// permission updates, and the packets of that participant's subscriber
// `_data_track` channel. The room monitor (on our own participant) and
// the loopback (on its hidden one) are each one.
type subscriber struct {
	mgr *incoming.Manager

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
	// sendMu orders the messages: a flush and a direct send never cross.
	sendMu sync.Mutex
}

// SubscriptionUpdateInterval is the least time between two
// UpdateDataSubscription messages a subscriber sends: the updates asked
// for meanwhile go together in the next one, the latest wish per track.
// A participant publishing hundreds of tracks one by one (a
// ParticipantUpdate each) then costs a few messages, not one each: the
// SFU queues 200 signal requests per participant and drops the
// connection past that.
const SubscriptionUpdateInterval = 100 * time.Millisecond

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
// ones wait for the rest of the interval, merged.
func (s *subscriber) SendUpdateSubscription(updates []incoming.SubscriptionUpdate) error {
	s.mu.Lock()
	send := s.send
	if send == nil {
		s.mu.Unlock()
		return errNotConnected
	}
	now := s.now()
	if s.flushAt == nil && len(s.pending) == 0 && now.Sub(s.lastSent) >= SubscriptionUpdateInterval {
		s.lastSent = now
		s.sendMu.Lock() // before s.mu is released: messages keep the order of the calls
		s.mu.Unlock()
		defer s.sendMu.Unlock()
		return send(subscriptionRequest(updates))
	}
	defer s.mu.Unlock()
	s.queueLocked(updates)
	if s.flushAt == nil {
		s.flushAt = s.afterFunc(SubscriptionUpdateInterval-now.Sub(s.lastSent), s.flush)
	}
	return nil
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

// flush sends what is pending in one message. Sent or not, the manager
// has been told these were: a failed send keeps them pending, for the
// connection attach brings next (a full rejoin asks for everything
// again, so a Join drops them).
func (s *subscriber) flush() {
	s.mu.Lock()
	s.flushAt = nil
	send, updates := s.send, s.pending
	if send == nil || len(updates) == 0 {
		s.mu.Unlock()
		return
	}
	s.pending, s.pendingAt = nil, nil
	s.lastSent = s.now()
	s.sendMu.Lock()
	s.mu.Unlock()
	err := send(subscriptionRequest(updates))
	s.sendMu.Unlock()
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		later := s.pending
		s.pending, s.pendingAt = nil, nil
		s.queueLocked(updates)
		s.queueLocked(later)
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
func (s *subscriber) attach(p *peer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.send = nil
	if s.flushAt != nil {
		s.flushAt.Stop()
		s.flushAt = nil
	}
	if p != nil {
		s.send = p.send
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
// runs on the peer's signal reader.
func (s *subscriber) onSignal(local string, res *livekit.SignalResponse) {
	switch msg := res.Message.(type) {
	case *livekit.SignalResponse_Join:
		// A fresh participant: no subscriptions, no handles, a new channel.
		s.mu.Lock()
		s.handle, s.dcOpen = nil, false
		s.updateHeldLocked()
		s.pending, s.pendingAt = nil, nil // the new participant holds no subscription: HandleJoin asks again
		s.mu.Unlock()
		s.mgr.HandleJoin(local, participants(msg.Join.GetOtherParticipants()))
	case *livekit.SignalResponse_Update:
		s.mgr.HandleParticipantUpdate(participants(msg.Update.GetParticipants()))
	case *livekit.SignalResponse_DataTrackSubscriberHandles:
		m := map[uint16]string{}
		for h, t := range msg.DataTrackSubscriberHandles.GetSubHandles() {
			m[uint16(h)] = t.GetTrackSid()
		}
		s.mu.Lock()
		s.handle = m
		s.updateHeldLocked()
		s.mu.Unlock()
		s.mgr.HandleSubscriberHandles(m)
	case *livekit.SignalResponse_SubscriptionPermissionUpdate:
		u := msg.SubscriptionPermissionUpdate
		s.mgr.HandlePermission(u.GetParticipantSid(), u.GetTrackSid(), u.GetAllowed())
	}
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
