// Package session connects dttui to a real LiveKit room: the signal
// websocket (server-sdk-go's signalling package), a pion publisher
// PeerConnection with the `_data_track` channel, reconnects, and the
// outgoing manager wired to both. An optional loopback subscriber joins as
// a second participant to show what really arrives.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/livekit/protocol/livekit"
)

// Session is a live connection with its outgoing data-track manager.
type Session struct {
	cfg  Config
	log  *slog.Logger
	mgr  *outgoing.Manager
	e2ee *outgoing.E2EEKey // nil without a passphrase

	mu     sync.Mutex
	p      *peer // nil while reconnecting
	status Status
	loop   *loopback

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
}

// Reconnect policy: quick first retries, then steady, within a bound after
// which the session gives up with the last error.
const (
	reconnectFirstDelay     = 200 * time.Millisecond
	reconnectMaxDelay       = 2 * time.Second
	defaultReconnectTimeout = 30 * time.Second
	// resumeWindow bounds trying to resume before rejoining in full; the
	// SFU keeps a participant whose signal dropped for about this long.
	resumeWindow = 10 * time.Second
)

// Connect joins the room and returns once the data channel is open.
func Connect(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.URL == "" {
		return nil, errors.New("session: no server URL")
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.ReconnectTimeout <= 0 {
		cfg.ReconnectTimeout = defaultReconnectTimeout
	}
	if cfg.Token == "" {
		if cfg.APIKey == "" || cfg.APISecret == "" {
			return nil, errors.New("session: need a token, or an API key and secret")
		}
		if cfg.Room == "" {
			cfg.Room = "dttui-" + randomSuffix()
		}
		if cfg.Identity == "" {
			cfg.Identity = "dttui-" + randomSuffix()
		}
	} else if cfg.Identity == "" {
		cfg.Identity = identityFromToken(cfg.Token)
	}
	var key *outgoing.E2EEKey
	if cfg.E2EEPassphrase != "" {
		var err error
		if key, err = outgoing.NewE2EEKey(cfg.E2EEPassphrase); err != nil {
			return nil, err
		}
	}

	s := &Session{cfg: cfg, log: cfg.Logger, e2ee: key}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mgr = outgoing.NewManager(s, outgoing.Options{
		PublishTimeout: cfg.PublishTimeout,
		E2EE:           key,
		Logger:         cfg.Logger.With("component", "outgoing"),
	})
	s.setStatus(StateConnecting, nil)

	p, err := s.connect(ctx)
	if err != nil {
		s.setStatus(StateDisconnected, err)
		s.mgr.Close()
		s.cancel()
		return nil, err
	}
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
	s.setConnected(p, false)
	s.wg.Add(1)
	go s.supervise(p)

	if cfg.Loopback {
		lb, err := startLoopback(s.ctx, s)
		if err != nil {
			// The publisher works without it; say why the receive columns are empty.
			s.log.Warn("loopback subscriber unavailable", "err", err)
		} else {
			s.loop = lb
		}
	}
	return s, nil
}

// connect joins as the publisher: a fresh participant, fresh PeerConnections.
func (s *Session) connect(ctx context.Context) (*peer, error) {
	token, err := s.token()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	return dialPeer(ctx, peerConfig{
		url: s.cfg.URL, token: token, log: s.cfg.Logger.With("participant", "publisher"),
		publisher: true, onSignal: s.onSignal, resumable: true,
	})
}

// Manager is the session's outgoing data-track manager.
func (s *Session) Manager() *outgoing.Manager { return s.mgr }

// Publish publishes a data track and waits for the SFU's answer.
func (s *Session) Publish(ctx context.Context, name string, e2ee bool) (*outgoing.LocalTrack, error) {
	return s.mgr.Publish(ctx, outgoing.PublishOptions{Name: name, E2EE: e2ee})
}

// Status is the connection's current health.
func (s *Session) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	if s.p != nil {
		st.RTT = s.p.rtt()
	}
	return st
}

// Received returns the loopback subscriber's stats by track name.
func (s *Session) Received() map[string]ReceiveStats {
	if s.loop == nil {
		return map[string]ReceiveStats{}
	}
	return s.loop.stats()
}

func (s *Session) setStatus(st State, err error) {
	s.mu.Lock()
	s.status.State, s.status.Err, s.status.Since = st, err, time.Now()
	s.status.URL = RedactURL(s.cfg.URL)
	if s.status.Identity == "" {
		s.status.Identity = s.cfg.Identity
	}
	if s.status.Room == "" {
		s.status.Room = s.cfg.Room
	}
	s.mu.Unlock()
	if err != nil {
		s.log.Info("connection "+st.String(), "err", err)
	} else {
		s.log.Info("connection " + st.String())
	}
}

func (s *Session) setConnected(p *peer, reconnected bool) {
	j := p.joinResponse()
	s.mu.Lock()
	s.status.ParticipantSID = j.GetParticipant().GetSid()
	s.status.Identity = j.GetParticipant().GetIdentity()
	s.status.Room = j.GetRoom().GetName()
	if reconnected {
		s.status.Reconnects++
	}
	s.mu.Unlock()
	s.setStatus(StateConnected, nil)
}

// supervise owns the connection. When only the signal socket drops it
// resumes the same participant; when that fails or the peer dies it
// rejoins in full (fresh PCs, tracks republished with their handles and new
// SIDs), or gives up after Config.ReconnectTimeout with the last error.
func (s *Session) supervise(p *peer) {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-p.signalLost():
			if s.ctx.Err() != nil {
				return
			}
			err := s.resume(p)
			if err == nil {
				continue
			}
			p.close(err) // the SFU would not take us back: start over in full
		case <-p.done():
		}
		if s.ctx.Err() != nil {
			return // Close is tearing down; not a connection failure
		}
		cause := p.err()
		if isFinalLeave(cause) {
			s.end(cause)
			return
		}
		s.mu.Lock()
		s.p = nil
		s.mu.Unlock()
		s.setStatus(StateReconnecting, cause)
		np, err := s.reconnect()
		if err != nil {
			s.end(fmt.Errorf("could not reconnect within %s: %w (after: %v)", s.cfg.ReconnectTimeout, err, cause))
			return
		}
		s.mu.Lock()
		s.p = np
		s.mu.Unlock()
		s.setConnected(np, true)
		// The SFU lost our tracks with the old connection.
		s.mgr.Republish()
		p = np
	}
}

// resume tries to resume p's session after its signal socket dropped: the
// PeerConnections and the tracks stay, the SIDs do not change.
func (s *Session) resume(p *peer) error {
	s.setStatus(StateReconnecting, errSignalLost)
	ctx, cancel := context.WithTimeout(s.ctx, resumeWindow)
	defer cancel()
	return withBackoff(ctx, p.done(), func(ctx context.Context) error {
		token, err := s.token()
		if err != nil {
			return permanent(err)
		}
		var tracks []*livekit.PublishDataTrackResponse
		for _, info := range s.mgr.ActiveInfos() {
			tracks = append(tracks, &livekit.PublishDataTrackResponse{Info: infoToProto(info)})
		}
		rctx, rcancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
		defer rcancel()
		if err := p.resume(rctx, token, tracks); err != nil {
			var le *LeaveError
			if errors.As(err, &le) || isFinalLeave(p.err()) {
				return permanent(err)
			}
			s.log.Info("resume attempt failed", "err", err)
			return err
		}
		s.log.Info("session resumed", "tracks", len(tracks))
		s.setConnected(p, true)
		return nil
	})
}

func (s *Session) token() (string, error) {
	if s.cfg.Token != "" {
		return s.cfg.Token, nil
	}
	return mintToken(s.cfg.APIKey, s.cfg.APISecret, s.cfg.Room, s.cfg.Identity, true, false)
}

func infoToProto(i outgoing.Info) *livekit.DataTrackInfo {
	enc := livekit.Encryption_NONE
	if i.E2EE {
		enc = livekit.Encryption_GCM
	}
	return &livekit.DataTrackInfo{PubHandle: uint32(i.Handle), Sid: i.SID, Name: i.Name, Encryption: enc}
}

// isFinalLeave says whether the SFU told us to go away for good. A server
// shutting down says DISCONNECT too, but for a test tool the likely next
// event is the server coming back (a restart, a deploy), so we retry then.
func isFinalLeave(err error) bool {
	var le *LeaveError
	return errors.As(err, &le) && le.Action == livekit.LeaveRequest_DISCONNECT &&
		le.Reason != livekit.DisconnectReason_SERVER_SHUTDOWN
}

func (s *Session) reconnect() (*peer, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ReconnectTimeout)
	defer cancel()
	var p *peer
	err := withBackoff(ctx, nil, func(ctx context.Context) error {
		var err error
		if p, err = s.connect(ctx); err != nil {
			s.log.Info("reconnect attempt failed", "err", err)
		}
		return err
	})
	return p, err
}

// permanentError stops withBackoff at once.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) error { return permanentError{err} }

// withBackoff runs attempt after a short delay, doubling up to
// reconnectMaxDelay between failures, until it succeeds, fails
// permanently, abort closes (with the peer's reason) or ctx ends (with the
// last failure, which says more than "deadline exceeded").
func withBackoff(ctx context.Context, abort <-chan struct{}, attempt func(context.Context) error) error {
	delay := reconnectFirstDelay
	var last error
	for {
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return last
		case <-abort:
			return errors.New("connection closed while retrying")
		case <-time.After(delay):
		}
		err := attempt(ctx)
		var pe permanentError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &pe):
			return pe.error
		}
		last = err
		delay = min(delay*2, reconnectMaxDelay)
	}
}

// end gives up: every track is unpublished and every waiter returns.
func (s *Session) end(cause error) {
	s.setStatus(StateDisconnected, cause)
	s.mgr.Reset(cause)
}

// Close unpublishes every track, leaves the room and stops every goroutine.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		// Tell the SFU first, so other participants see the tracks go
		// before we do; leaving would drop them too, but later.
		for _, info := range s.mgr.ActiveInfos() {
			_ = s.SendUnpublishRequest(info.Handle)
		}
		s.cancel()
		s.mgr.Close()
		if s.loop != nil {
			s.loop.close()
		}
		s.mu.Lock()
		p := s.p
		s.mu.Unlock()
		if p != nil {
			p.leave()
		}
		s.wg.Wait()
		s.setStatus(StateDisconnected, nil)
	})
	return nil
}

// --- outgoing.Transport ---

func (s *Session) current() (*peer, error) {
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
	enc := livekit.Encryption_NONE
	if r.E2EE {
		enc = livekit.Encryption_GCM
	}
	return p.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_PublishDataTrackRequest{
		PublishDataTrackRequest: &livekit.PublishDataTrackRequest{PubHandle: uint32(r.Handle), Name: r.Name, Encryption: enc}}})
}

// SendUnpublishRequest implements outgoing.Transport.
func (s *Session) SendUnpublishRequest(handle uint16) error {
	p, err := s.current()
	if err != nil {
		return err
	}
	return p.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_UnpublishDataTrackRequest{
		UnpublishDataTrackRequest: &livekit.UnpublishDataTrackRequest{PubHandle: uint32(handle)}}})
}

// WritePacket implements outgoing.Transport.
func (s *Session) WritePacket(ctx context.Context, pkt []byte) error {
	p, err := s.current()
	if err != nil {
		return err
	}
	return p.writePacket(ctx, pkt)
}

// onSignal routes the SFU's data-track answers to the manager, matched by handle.
func (s *Session) onSignal(res *livekit.SignalResponse) {
	switch msg := res.Message.(type) {
	case *livekit.SignalResponse_PublishDataTrackResponse:
		s.mgr.HandlePublishResponse(infoFromProto(msg.PublishDataTrackResponse.GetInfo()))
	case *livekit.SignalResponse_UnpublishDataTrackResponse:
		s.mgr.HandleUnpublishResponse(uint16(msg.UnpublishDataTrackResponse.GetInfo().GetPubHandle()))
	case *livekit.SignalResponse_RequestResponse:
		rr := msg.RequestResponse
		switch req := rr.Request.(type) {
		case *livekit.RequestResponse_PublishDataTrack:
			s.mgr.HandleRequestError(uint16(req.PublishDataTrack.GetPubHandle()), true, int32(rr.Reason), rr.Message)
		case *livekit.RequestResponse_UnpublishDataTrack:
			s.mgr.HandleRequestError(uint16(req.UnpublishDataTrack.GetPubHandle()), false, int32(rr.Reason), rr.Message)
		}
	}
}

func infoFromProto(i *livekit.DataTrackInfo) outgoing.Info {
	return outgoing.Info{Handle: uint16(i.GetPubHandle()), SID: i.GetSid(), Name: i.GetName(), E2EE: i.GetEncryption() != livekit.Encryption_NONE}
}
