package session

import (
	"context"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session/rtc"
)

// CloseDrainTimeout bounds how long Close waits for the packets already
// handed to the data channel to reach the SFU before it unpublishes.
const CloseDrainTimeout = 2 * time.Second

// CloseUnpublishTimeout bounds how long Close waits for the SFU to confirm
// the unpublishes.
const CloseUnpublishTimeout = time.Second

// goodbye is Close's part toward the SFU, in an order that loses nothing
// counted sent:
//
//  1. The manager stops every track: nothing more is written, frames still
//     queued are dropped as closed before sent (the caller's flush decides
//     how long to wait for them), pending publishes fail.
//  2. The data channel drains: pion counts a message until the SFU's SCTP
//     stack has acknowledged every chunk of it. The unpublish travels on
//     the signal socket and would overtake packets still buffered, and the
//     SFU drops packets for a handle it has forgotten.
//  3. Each track is unpublished and Close waits for the SFU's answer, so
//     the SFU closes them on our word (other participants see them go),
//     not on the leave, which it may never read if the connection fails
//     meanwhile (it would keep them until the PeerConnection timed out).
func (s *Session) goodbye() {
	published := s.mgr.ActiveInfos()
	s.mgr.Close()
	p, err := s.current()
	if err != nil {
		return // reconnecting or gone: the SFU has forgotten the tracks
	}
	s.drainChannel(p)
	if len(published) == 0 {
		return
	}
	s.mu.Lock()
	s.unpubAcks = make(map[uint16]chan struct{}, len(published))
	acks := make([]chan struct{}, 0, len(published))
	for _, info := range published {
		ch := make(chan struct{})
		s.unpubAcks[info.Handle] = ch
		acks = append(acks, ch)
	}
	s.mu.Unlock()
	// At most outgoing.DefaultMaxRequestsInFlight unanswered at once: more
	// would overflow the SFU's queue of signal requests, which ends the
	// signal connection, and the leave with it.
	t := time.NewTimer(CloseUnpublishTimeout)
	defer t.Stop()
	window := outgoing.DefaultMaxRequestsInFlight
	for i, info := range published {
		if i >= window {
			select {
			case <-acks[i-window]:
			case <-p.Done():
				return
			case <-t.C:
				s.log.Info("leaving before the SFU confirmed every unpublish")
				return
			}
		}
		_ = s.SendUnpublishRequest(info.Handle)
	}
	for _, ch := range acks {
		select {
		case <-ch:
		case <-p.Done():
			return
		case <-t.C:
			s.log.Info("leaving before the SFU confirmed every unpublish")
			return
		}
	}
}

// drainChannel waits until the SFU has acknowledged everything written to
// p's data channel, up to CloseDrainTimeout.
func (s *Session) drainChannel(p *rtc.Conn) {
	dc := p.Channel()
	if dc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), CloseDrainTimeout)
	defer cancel()
	if err := dc.Drained(ctx, p.Done()); err != nil {
		s.log.Info("unpublishing before the SFU acknowledged every packet", "err", err)
	}
}

// unpublishAnswered records the SFU's answer (a confirmation or an error)
// to an unpublish Close sent.
func (s *Session) unpublishAnswered(h uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.unpubAcks[h]; ok {
		close(ch)
		delete(s.unpubAcks, h)
	}
}
