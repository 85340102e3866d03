package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session/rtc"
	"github.com/livekit/protocol/livekit"
)

// The Session is the manager's outgoing.Transport: publish and unpublish
// requests become signal messages, packets become data-channel messages,
// and the SFU's answers go back to the manager matched by handle.
var _ outgoing.Transport = (*Session)(nil)

var _ outgoing.CongestionTransport = (*Session)(nil)

// current is the connected peer, or why there is none.
func (s *Session) current() (*rtc.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		if s.status.State == StateDisconnected && s.status.Err != nil {
			return nil, fmt.Errorf("not connected: %w", s.status.Err)
		}
		return nil, errors.New("not connected (reconnecting)")
	}
	return s.p, nil
}

// SendPublishRequest implements outgoing.Transport.
func (s *Session) SendPublishRequest(r outgoing.PublishRequest) error {
	p, err := s.current()
	if err != nil {
		return err
	}
	req := &livekit.PublishDataTrackRequest{PubHandle: uint32(r.Handle), Name: r.Name, Encryption: encryption(r.E2EE),
		FrameEncoding: frameToProto(r.Type.Frame), Schema: schemaToProto(r.Type.Schema)}
	return p.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_PublishDataTrackRequest{PublishDataTrackRequest: req}})
}

// SendUnpublishRequest implements outgoing.Transport.
func (s *Session) SendUnpublishRequest(handle uint16) error {
	p, err := s.current()
	if err != nil {
		return err
	}
	return p.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_UnpublishDataTrackRequest{
		UnpublishDataTrackRequest: &livekit.UnpublishDataTrackRequest{PubHandle: uint32(handle)}}})
}

// WritePacket implements outgoing.Transport: one packet, one binary
// message on `_data_track`, waiting while the channel's buffer is full.
func (s *Session) WritePacket(ctx context.Context, pkt []byte) error {
	p, err := s.current()
	if err != nil {
		return err
	}
	return p.WritePacket(ctx, pkt)
}

// QueueDelay implements outgoing.CongestionTransport: while the
// congestion limit holds our writes, frames queued longer than
// limitQueueDelay (at least the path's round trip) make way for fresher
// ones instead of reaching subscribers late.
func (s *Session) QueueDelay() time.Duration {
	// Called per frame: read the peer directly rather than through
	// current, which builds an error while reconnecting.
	s.mu.Lock()
	p := s.p
	s.mu.Unlock()
	if p == nil {
		return 0
	}
	dc := p.Channel()
	if dc == nil {
		return 0
	}
	return dc.QueueDelay()
}

// onSignal routes the SFU's data-track answers to the manager, matched by
// handle (the protocol has no request IDs for these). It runs on the
// signal reader; the manager's handlers do not block.
func (s *Session) onSignal(p *rtc.Conn, res *livekit.SignalResponse) {
	if s.onBlobSignal(res) {
		return
	}
	if s.monitor != nil {
		if _, ok := res.Message.(*livekit.SignalResponse_Join); ok {
			s.monitor.attach(p)
		}
		s.monitor.onSignal(s.cfg.Identity, res)
		switch msg := res.Message.(type) {
		case *livekit.SignalResponse_Join:
			s.watchClocks(msg.Join.GetOtherParticipants())
		case *livekit.SignalResponse_Update:
			s.watchClocks(msg.Update.GetParticipants())
		}
	}
	switch msg := res.Message.(type) {
	case *livekit.SignalResponse_Update:
		s.checkPermission(p, msg.Update.GetParticipants())
	case *livekit.SignalResponse_PublishDataTrackResponse:
		s.mgr.HandlePublishResponse(infoFromProto(msg.PublishDataTrackResponse.GetInfo()))
	case *livekit.SignalResponse_UnpublishDataTrackResponse:
		// Solicited, or the SFU unpublishing on its own.
		h := uint16(msg.UnpublishDataTrackResponse.GetInfo().GetPubHandle())
		s.mgr.HandleUnpublishResponse(h)
		s.unpublishAnswered(h)
	case *livekit.SignalResponse_RequestResponse:
		rr := msg.RequestResponse
		switch req := rr.Request.(type) {
		case *livekit.RequestResponse_PublishDataTrack:
			s.mgr.HandleRequestError(outgoing.RequestError{Handle: uint16(req.PublishDataTrack.GetPubHandle()),
				Request: outgoing.RequestPublish, Reason: int32(rr.Reason), Message: rr.Message})
		case *livekit.RequestResponse_UnpublishDataTrack:
			h := uint16(req.UnpublishDataTrack.GetPubHandle())
			s.mgr.HandleRequestError(outgoing.RequestError{Handle: h,
				Request: outgoing.RequestUnpublish, Reason: int32(rr.Reason), Message: rr.Message})
			s.unpublishAnswered(h)
		}
	}
}

// checkPermission unpublishes every track locally when the SFU revokes
// canPublishData: the SFU drops the tracks then without telling the
// publisher (wire notes §1.4), and pushing into them would be lost.
func (s *Session) checkPermission(p *rtc.Conn, infos []*livekit.ParticipantInfo) {
	sid := p.ParticipantSID()
	for _, pi := range infos {
		if pi.GetSid() != sid || pi.GetPermission() == nil || pi.GetPermission().GetCanPublishData() {
			continue
		}
		active := s.mgr.ActiveInfos()
		if len(active) > 0 {
			s.log.Warn("the SFU revoked canPublishData; our data tracks are gone", "tracks", len(active))
		}
		for _, info := range active {
			s.mgr.HandleUnpublishResponse(info.Handle)
		}
	}
}

func encryption(e2ee bool) livekit.Encryption_Type {
	if e2ee {
		return livekit.Encryption_GCM
	}
	return livekit.Encryption_NONE
}

func infoToProto(i outgoing.Info) *livekit.DataTrackInfo {
	return &livekit.DataTrackInfo{PubHandle: uint32(i.Handle), Sid: i.SID, Name: i.Name, Encryption: encryption(i.E2EE),
		FrameEncoding: frameToProto(i.Type.Frame), Schema: schemaToProto(i.Type.Schema)}
}

func infoFromProto(i *livekit.DataTrackInfo) outgoing.Info {
	return outgoing.Info{Handle: uint16(i.GetPubHandle()), SID: i.GetSid(), Name: i.GetName(), E2EE: i.GetEncryption() != livekit.Encryption_NONE,
		Type: declFromProto(i.GetFrameEncoding(), i.GetSchema())}
}
