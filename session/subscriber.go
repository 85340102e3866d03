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
}

func newSubscriber(opts incoming.Options) *subscriber {
	s := &subscriber{}
	s.mgr = incoming.NewManager(s, opts)
	return s
}

// SendUpdateSubscription implements incoming.Transport.
func (s *subscriber) SendUpdateSubscription(updates []incoming.SubscriptionUpdate) error {
	s.mu.Lock()
	send := s.send
	s.mu.Unlock()
	if send == nil {
		return errNotConnected
	}
	msg := &livekit.UpdateDataSubscription{}
	for _, u := range updates {
		msg.Updates = append(msg.Updates, &livekit.UpdateDataSubscription_Update{TrackSid: u.SID, Subscribe: u.Subscribe})
	}
	return send(&livekit.SignalRequest{Message: &livekit.SignalRequest_UpdateDataSubscription{UpdateDataSubscription: msg}})
}

// attach makes p the connection requests go on (nil: none).
func (s *subscriber) attach(p *peer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.send = nil
	if p != nil {
		s.send = p.send
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
func (s *subscriber) onPacket(b []byte) { s.mgr.HandlePacket(b, time.Now()) }

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
