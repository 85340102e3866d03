package session

import (
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// The clock exchange (package clocksync) runs over LiveKit user packets
// on the reliable data channel: every session answers requests, and a
// session with the room monitor asks every participant that publishes
// data tracks, so the latency of their timestamped frames is one-way on
// our clock rather than the difference of two clocks.

// onUserPacket takes a DataPacket from the subscriber's `_reliable`:
// answers a clock request, or gives the monitor's syncer an answer.
// Everything else on the channel is another application's.
func (s *Session) onUserPacket(b []byte) {
	at := s.now() // t2 of a request, t4 of a response: before anything else
	var dp livekit.DataPacket
	if proto.Unmarshal(b, &dp) != nil {
		return
	}
	u := dp.GetUser()
	if u.GetTopic() != clocksync.Topic {
		return
	}
	from := dp.GetParticipantIdentity()
	if from == "" {
		from = u.GetParticipantIdentity()
	}
	m, err := clocksync.Parse(u.GetPayload())
	if err != nil {
		s.log.Debug("clock exchange: malformed message", "from", from, "err", err)
		return
	}
	switch m.Kind {
	case clocksync.Request:
		p, err := s.current()
		if err == nil {
			err = p.SendUserPacket(from, clocksync.Topic, clocksync.Answer(m, at, s.now()).Append(nil))
		}
		if err != nil {
			s.log.Debug("clock exchange: cannot answer", "to", from, "err", err)
		}
	case clocksync.Response:
		if s.clocks == nil {
			return
		}
		if err := s.clocks.Observe(from, m, at); err != nil {
			s.log.Debug("clock exchange: answer not used", "from", from, "err", err)
		}
	}
}

// watchClocks starts the exchange with the participants in infos that
// may publish data (not us, not our loopback): from their join, so the
// clock is known by the time their first frames arrive. It runs on the
// signal reader.
func (s *Session) watchClocks(infos []*livekit.ParticipantInfo) {
	if s.clocks == nil {
		return
	}
	now := s.now()
	for _, pi := range infos {
		id := pi.GetIdentity()
		switch {
		case id == s.cfg.Identity || id == s.loopIdentity:
		case pi.GetState() == livekit.ParticipantInfo_DISCONNECTED:
			s.clocks.Gone(id, pi.GetSid())
		case pi.GetPermission() == nil || pi.GetPermission().GetCanPublishData():
			s.clocks.Watch(id, pi.GetSid(), now)
		}
	}
}

// clockOf is what is known of a publisher's clock now (incoming's
// Options.Clock).
func (s *Session) clockOf(identity string) clocksync.Estimate {
	if s.clocks == nil {
		return clocksync.Estimate{State: clocksync.TwoClocks}
	}
	return s.clocks.Estimate(identity, s.now())
}

// runClockSync sends the exchange's requests when they are due; the
// session owns it.
func (s *Session) runClockSync() {
	defer s.wg.Done()
	t := time.NewTicker(s.clocks.TickEvery())
	defer t.Stop()
	var out []clocksync.Outgoing
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		p, err := s.current()
		if err != nil {
			continue // asked again when due after the reconnect
		}
		out = s.clocks.Due(s.now(), out[:0])
		for _, o := range out {
			if err := p.SendUserPacket(o.To, clocksync.Topic, o.Payload); err != nil {
				s.log.Debug("clock exchange: cannot ask", "to", o.To, "err", err)
			}
		}
	}
}
