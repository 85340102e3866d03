package report

import (
	"time"

	"github.com/dttui/dttui/impair"
)

// ConnSecond is the connection over one second.
type ConnSecond struct {
	Start time.Time
	// RTT is the largest signal round-trip time sampled in the second (0:
	// none measured).
	RTT time.Duration
	// State is the worst state sampled in the second (disconnected,
	// reconnecting, stalled, connecting, connected: worst first).
	State ConnState
	// Reconnects counts the reconnects completed in the second.
	Reconnects int
	// Impaired: an impairment was in force on our connection at some
	// sample in the second (Status.Impair), and Impair the last such one.
	Impaired bool
	Impair   impair.Spec
}

// ConnEvent is the connection entering a state.
type ConnEvent struct {
	At    time.Time // when the state began (Status.Since)
	State ConnState
	// Reconnected: the event completes a reconnect (resume or full rejoin).
	Reconnected bool
	Err         error // why, for reconnecting and disconnected
}

// MaxConnEvents bounds the connection events a Recorder keeps.
const MaxConnEvents = 64

// severity orders states from healthy to lost, for a second's worst.
func (s ConnState) severity() int {
	switch s {
	case Connected:
		return 0
	case Connecting:
		return 1
	case Stalled:
		return 2
	case Reconnecting:
		return 3
	}
	return 4
}

// connRec is the connection's per-second history and its state changes.
type connRec struct {
	sampled bool
	last    Status // the previous sample

	secStart time.Time
	cur      ConnSecond // the second being filled
	history  []ConnSecond
	hn       int

	events []ConnEvent // ring of MaxConnEvents
	en     int
	stalls int // entries into Stalled
}

// SampleConn records the connection's status at now (the session's
// sampler calls it with every track sample). A state change becomes an
// event at the time the state began; reconnects are counted from the
// status's own counter, so one completed between two samples is not lost.
func (r *Recorder) SampleConn(now time.Time, st Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &r.conn
	if c.history == nil {
		c.history = make([]ConnSecond, r.history)
		c.events = make([]ConnEvent, MaxConnEvents)
	}
	reconnects := 0
	if c.sampled {
		reconnects = max(st.Reconnects-c.last.Reconnects, 0)
	}
	if !c.sampled || st.State != c.last.State || !st.Since.Equal(c.last.Since) || reconnects > 0 {
		at := st.Since
		if at.IsZero() || at.After(now) {
			at = now
		}
		c.events[c.en%MaxConnEvents] = ConnEvent{At: at, State: st.State, Reconnected: reconnects > 0, Err: st.Err}
		c.en++
		if st.State == Stalled && (!c.sampled || c.last.State != Stalled || !st.Since.Equal(c.last.Since)) {
			c.stalls++
		}
	}
	sec := now.Truncate(time.Second)
	switch {
	case c.secStart.IsZero():
		c.secStart, c.cur = sec, ConnSecond{Start: sec, State: st.State}
	case sec.After(c.secStart):
		c.closeSecond()
		for s := c.secStart.Add(time.Second); s.Before(sec); s = s.Add(time.Second) {
			// Seconds with no sample (the sampler stalled) keep the last state.
			c.cur = ConnSecond{Start: s, State: c.last.State}
			c.closeSecond()
		}
		c.secStart, c.cur = sec, ConnSecond{Start: sec, State: st.State}
	}
	if st.State.severity() > c.cur.State.severity() {
		c.cur.State = st.State
	}
	c.cur.RTT = max(c.cur.RTT, st.RTT)
	c.cur.Reconnects += reconnects
	if !st.Impair.Spec.IsZero() {
		c.cur.Impaired, c.cur.Impair = true, st.Impair.Spec
	}
	c.last, c.sampled = st, true
}

func (c *connRec) closeSecond() {
	c.history[c.hn%len(c.history)] = c.cur
	c.hn++
}

// Stalls counts the times the connection became Stalled, over the whole
// session: what FillConn puts in Snapshot.Stalls, without the rest of a
// snapshot (a load run reads it of every participant at its end).
func (r *Recorder) Stalls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conn.stalls
}

// FillConn sets s.ConnHistory and s.ConnEvents from the records, counting
// only what happened at or after since (a display reset); a zero since
// counts everything kept.
func (r *Recorder) FillConn(s *Snapshot, since time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &r.conn
	s.ConnHistory, s.ConnEvents, s.Stalls = nil, nil, c.stalls
	from := since.Truncate(time.Second)
	for k := min(c.hn, len(c.history)); k >= 1; k-- {
		sec := c.history[(c.hn-k)%len(c.history)]
		if since.IsZero() || !sec.Start.Before(from) {
			s.ConnHistory = append(s.ConnHistory, sec)
		}
	}
	for k := min(c.en, MaxConnEvents); k >= 1; k-- {
		ev := c.events[(c.en-k)%MaxConnEvents]
		if since.IsZero() || !ev.At.Before(since) {
			s.ConnEvents = append(s.ConnEvents, ev)
		}
	}
}
