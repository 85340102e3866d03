package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dttui/dttui/session/rtc"
	"github.com/livekit/protocol/livekit"
)

// Reconnect policy: quick first retries, then steady, within a bound after
// which the session gives up with the last error.
const (
	reconnectFirstDelay = 200 * time.Millisecond
	reconnectMaxDelay   = 2 * time.Second
	// resumeWindow bounds trying to resume before rejoining in full; the
	// SFU keeps a participant whose signal dropped for about this long.
	resumeWindow = 10 * time.Second
)

// supervise owns the connection. When the signal socket drops or ICE
// fails it resumes the same participant (with an ICE restart for the
// latter); when that fails, the SFU asks for a full reconnect, or the peer
// dies, it rejoins in full (fresh PCs, tracks republished with their
// handles and new SIDs), or gives up after Config.ReconnectTimeout with the
// last error.
func (s *Session) supervise(p *rtc.Conn) {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return // Close leaves p
		case <-p.SignalLost():
			if s.ctx.Err() != nil {
				return
			}
			err := s.resume(p)
			if err == nil {
				continue
			}
			p.Close(err) // the SFU would not take us back: start over in full
		case <-p.Done():
		}
		p.Wait()
		if s.ctx.Err() != nil {
			return // Close is tearing down; not a connection failure
		}
		cause := p.Err()
		if isFinalLeave(cause) {
			s.end(cause)
			return
		}
		s.mu.Lock()
		s.p = nil
		s.mu.Unlock()
		s.setStatus(StateReconnecting, cause)
		// The SFU forgets our tracks with the old participant: from now
		// on pushes are dropped as "republishing" rather than written to
		// a connection that is gone or to a new one that does not know
		// their handles yet, and pending publishes fail.
		s.mgr.BeginRepublish()
		if s.monitor != nil {
			s.monitor.attach(nil)
			s.monitor.mgr.Reset(errRejoin)
		}
		np, err := s.reconnect()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.end(fmt.Errorf("could not reconnect within %s: %w (after: %v)", s.cfg.ReconnectTimeout, err, cause))
			return
		}
		s.mu.Lock()
		s.p = np
		s.mu.Unlock()
		s.setConnected(np, true)
		s.mgr.Republish()
		p = np
	}
}

// resume tries to resume p's session after its signal socket dropped or
// its ICE failed: the PeerConnections and the tracks stay, the SIDs do not
// change.
func (s *Session) resume(p *rtc.Conn) error {
	s.setStatus(StateReconnecting, p.LostReason())
	ctx, cancel := context.WithTimeout(s.ctx, resumeWindow)
	defer cancel()
	return withBackoff(ctx, p.Done(), func(ctx context.Context) error {
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
		if err := p.Resume(rctx, token, tracks); err != nil {
			var le *LeaveError
			if errors.As(err, &le) || errors.As(p.Err(), &le) {
				return permanent(err) // the SFU said no: rejoin instead
			}
			s.log.Info("resume attempt failed", "err", err)
			return err
		}
		s.log.Info("session resumed", "tracks", len(tracks))
		s.setConnected(p, true)
		if s.monitor != nil {
			s.monitor.resumed()
		}
		return nil
	})
}

// reconnect rejoins as a fresh participant, retrying within
// Config.ReconnectTimeout.
func (s *Session) reconnect() (*rtc.Conn, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ReconnectTimeout)
	defer cancel()
	var p *rtc.Conn
	err := withBackoff(ctx, nil, func(ctx context.Context) error {
		var err error
		if p, err = s.connect(ctx); err != nil {
			s.log.Info("reconnect attempt failed", "err", err)
		}
		return err
	})
	return p, err
}

// isFinalLeave says whether the SFU told us to go away for good. A server
// shutting down says DISCONNECT too, but for a test tool the likely next
// event is the server coming back (a restart, a deploy), so we retry then.
func isFinalLeave(err error) bool {
	var le *LeaveError
	return errors.As(err, &le) && le.Action == livekit.LeaveRequest_DISCONNECT &&
		le.Reason != livekit.DisconnectReason_SERVER_SHUTDOWN
}

// end gives up: every track is unpublished and every waiter returns.
func (s *Session) end(cause error) {
	s.mu.Lock()
	s.p = nil
	s.mu.Unlock()
	// Tracks first: whoever sees the status disconnected must find every
	// push refused (a test pushed between the two and was accepted).
	s.mgr.Reset(cause)
	s.setStatus(StateDisconnected, cause)
	// The loopback follows: it stops rejoining a room we gave up on
	// (it retried every 2 s, logging each, until Close).
	if s.loop != nil {
		s.loop.cancel()
	}
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
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			if last == nil {
				last = ctx.Err()
			}
			return last
		case <-abort:
			t.Stop()
			return errors.New("connection closed while retrying")
		case <-t.C:
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
