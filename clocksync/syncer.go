package clocksync

import (
	"errors"
	"sync"
	"time"
)

// Defaults of Options.
const (
	// DefaultBurst requests go to a participant when it is first seen,
	// one every DefaultBurstGap: the first answer syncs, the rest find a
	// quiet round trip.
	DefaultBurst    = 8
	DefaultBurstGap = 50 * time.Millisecond
	// DefaultInterval is the gap between requests after the burst: the
	// bound stays fresh as the drift allowance grows.
	DefaultInterval = 2 * time.Second
	// DefaultAnswerTimeout is how long a request waits for its answer, and
	// how long a participant has to answer its first before it is taken
	// for a publisher that is not dttui (TwoClocks, for good).
	DefaultAnswerTimeout = 3 * time.Second
	// DefaultWindow is how many recent exchanges the best is chosen among.
	DefaultWindow = 16
	// DefaultDrift allows two clocks each within ±50 ppm (a plain
	// crystal) to drift apart since the exchange used.
	DefaultDrift = 100e-6
)

// Options tune a Syncer; zero fields take the defaults above.
type Options struct {
	Burst         int
	BurstGap      time.Duration
	Interval      time.Duration
	AnswerTimeout time.Duration
	Window        int
	Drift         float64
}

// ErrUnsolicited means a response answers no request of ours that is
// still waiting: a late or duplicated answer, or one from someone else.
var ErrUnsolicited = errors.New("clocksync: response to no pending request")

// ErrBadSample means a response's times give a negative round trip.
var ErrBadSample = errors.New("clocksync: response with a negative round trip")

// Outgoing is a request to send now.
type Outgoing struct {
	To      string // participant identity
	Payload []byte
}

// Syncer runs the exchange with every participant it is told to Watch.
// The caller sends what Due returns, feeds answers to Observe and asks
// Estimate; every time comes from the caller's clock, the one its
// timestamps go on the wire with. Safe for concurrent use.
type Syncer struct {
	o Options

	mu      sync.Mutex
	peers   map[string]*peerClock
	pending map[uint32]pendingReq
	nextID  uint32
}

type peerClock struct {
	est   *Estimator
	sent  int       // requests sent
	first time.Time // the first request
	next  time.Time // when the next is due
	state State
	sid   string // the participant last seen under the identity
	gone  bool   // it left the room: not asked until seen again
}

type pendingReq struct {
	to string
	t1 int64
	at time.Time
}

// New returns a Syncer watching no one.
func New(o Options) *Syncer {
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.BurstGap <= 0 {
		o.BurstGap = DefaultBurstGap
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.AnswerTimeout <= 0 {
		o.AnswerTimeout = DefaultAnswerTimeout
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Drift <= 0 {
		o.Drift = DefaultDrift
	}
	return &Syncer{o: o, peers: map[string]*peerClock{}, pending: map[uint32]pendingReq{}}
}

// TickEvery is how often the caller should call Due.
func (s *Syncer) TickEvery() time.Duration { return s.o.BurstGap }

// Watch starts the exchange with identity, joined as participant sid, or
// resumes it after Gone (an estimate outlives the participant's rejoins:
// the clocks do not change with them).
func (s *Syncer) Watch(identity, sid string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.peers[identity]
	switch {
	case !ok:
		s.peers[identity] = &peerClock{est: NewEstimator(s.o.Window, s.o.Drift), next: now, sid: sid}
	case p.gone:
		p.gone, p.sid, p.next = false, sid, now
	default:
		p.sid = sid
	}
}

// Gone stops asking identity when participant sid, the one last seen
// under it, left the room (a rejoin's old participant leaving after the
// new one joined changes nothing); what is known of its clock stays.
func (s *Syncer) Gone(identity, sid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.peers[identity]; p != nil && p.sid == sid {
		p.gone = true
	}
}

// Due returns the requests to send at now, appended to dst, and settles
// the participants that never answered (TwoClocks) and the requests that
// waited too long.
func (s *Syncer) Due(now time.Time, dst []Outgoing) []Outgoing {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, p := range s.pending {
		if now.Sub(p.at) >= s.o.AnswerTimeout {
			delete(s.pending, id)
		}
	}
	for to, p := range s.peers {
		if p.state == Unknown && p.sent > 0 && now.Sub(p.first) >= s.o.AnswerTimeout {
			p.state = TwoClocks
		}
		if p.state == TwoClocks || p.gone || now.Before(p.next) {
			continue
		}
		s.nextID++
		m := Message{Kind: Request, ID: s.nextID, T1: now.UnixNano()}
		s.pending[m.ID] = pendingReq{to: to, t1: m.T1, at: now}
		if p.sent == 0 {
			p.first = now
		}
		p.sent++
		gap := s.o.Interval
		if p.sent < s.o.Burst {
			gap = s.o.BurstGap
		}
		p.next = now.Add(gap)
		dst = append(dst, Outgoing{To: to, Payload: m.Append(nil)})
	}
	return dst
}

// Observe takes a response from identity, arrived at t4.
func (s *Syncer) Observe(from string, m Message, t4 time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.pending[m.ID]
	if m.Kind != Response || !ok || req.to != from || req.t1 != m.T1 {
		return ErrUnsolicited
	}
	delete(s.pending, m.ID)
	p := s.peers[from]
	if p == nil || p.state == TwoClocks {
		return ErrUnsolicited
	}
	sample, ok := SampleOf(m, t4)
	if !ok {
		return ErrBadSample
	}
	p.est.Add(sample)
	p.state = Synced
	return nil
}

// Estimate is what is known of identity's clock at now.
func (s *Syncer) Estimate(identity string, now time.Time) Estimate {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[identity]
	switch {
	case p == nil:
		return Estimate{}
	case p.state == Synced:
		return p.est.Estimate(now)
	}
	return Estimate{State: p.state}
}
