package impair

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Fate is why a datagram was dropped (or Delivered).
type Fate int

const (
	Delivered    Fate = iota // sent, perhaps late
	DropLoss                 // random loss
	DropBurst                // the Gilbert–Elliott model's bad state
	DropQueue                // the rate cap's queue was full
	DropBlackout             // a blackout
	numFates
)

var fateNames = [numFates]string{"delivered", "loss", "burst", "queue", "blackout"}

func (f Fate) String() string {
	if f >= 0 && f < numFates {
		return fateNames[f]
	}
	return "unknown"
}

// Counts is what a Shaper did to the datagrams it saw.
type Counts struct {
	Datagrams  uint64 // offered to the shaper
	Dropped    [numFates]uint64
	Duplicated uint64 // sent twice
	Reordered  uint64 // let past earlier delayed datagrams
	Bytes      uint64 // offered
}

// DroppedTotal is every datagram dropped, for any reason.
func (c Counts) DroppedTotal() uint64 {
	var n uint64
	for _, d := range c.Dropped[DropLoss:] {
		n += d
	}
	return n
}

// Shaper decides each datagram's fate under a Spec that may change while
// it runs. It is safe for concurrent use.
type Shaper struct {
	mu         sync.Mutex
	spec       Spec
	since      time.Time // when spec was applied
	rnd        *rand.Rand
	lanes      [2]lane // Up, Down
	blackoutTo time.Time
}

// lane is one direction's state: its own link, bursts, order and counts.
type lane struct {
	bad      bool      // Gilbert–Elliott state
	linkFree time.Time // when the rate-capped link has sent all it holds
	lastOut  time.Time // the latest delivery so far (order keeping)
	counts   Counts
}

func laneOf(d Direction) int {
	if d == Down {
		return 1
	}
	return 0
}

// NewShaper returns a shaper applying nothing, with its own random source
// seeded by seed (tests pass a fixed seed).
func NewShaper(seed uint64) *Shaper {
	return &Shaper{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Set applies spec from now on; a blackout starts now.
func (s *Shaper) Set(now time.Time, spec Spec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spec, s.since = spec, now
	s.blackoutTo = time.Time{}
	if spec.Blackout > 0 {
		s.blackoutTo = now.Add(spec.Blackout)
	}
	for i := range s.lanes {
		l := &s.lanes[i]
		l.bad = false
		if spec.Rate == 0 {
			l.linkFree = time.Time{}
		}
	}
}

// Spec is the impairment in force and since when.
func (s *Shaper) Spec() (Spec, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spec, s.since
}

// Counts is what the shaper did so far, both ways together.
func (s *Shaper) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lanes[0].counts
	d := s.lanes[1].counts
	c.Datagrams += d.Datagrams
	c.Bytes += d.Bytes
	c.Duplicated += d.Duplicated
	c.Reordered += d.Reordered
	for i := range c.Dropped {
		c.Dropped[i] += d.Dropped[i]
	}
	return c
}

// CountsOf is what the shaper did to the datagrams going way d (Up or
// Down).
func (s *Shaper) CountsOf(d Direction) Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lanes[laneOf(d)].counts
}

// Shapes says whether the spec in force touches datagrams going way d: a
// receiver skips the shaper's work (and copies) while it does not.
func (s *Shaper) Shapes(d Direction) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.spec.IsZero() && s.spec.Ways().Has(d)
}

// Plan decides the fate of a datagram of size bytes we send at now; see
// PlanWay.
func (s *Shaper) Plan(now time.Time, size int) (out [2]time.Time, n int, fate Fate) {
	return s.PlanWay(Up, now, size)
}

// PlanWay decides the fate of a datagram of size bytes going way d (Up or
// Down) at now. It returns when each copy goes out (none when dropped, two
// when duplicated); a time not after now means at once. A spec that does
// not apply to d delivers at once.
func (s *Shaper) PlanWay(d Direction, now time.Time, size int) (out [2]time.Time, n int, fate Fate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := &s.spec
	l := &s.lanes[laneOf(d)]
	l.counts.Datagrams++
	l.counts.Bytes += uint64(size)
	if sp.IsZero() || !sp.Ways().Has(d) {
		return [2]time.Time{now}, 1, Delivered
	}
	drop := func(f Fate) ([2]time.Time, int, Fate) {
		l.counts.Dropped[f]++
		return out, 0, f
	}
	if now.Before(s.blackoutTo) {
		return drop(DropBlackout)
	}
	if sp.BurstEnter > 0 {
		if l.bad {
			l.bad = s.rnd.Float64() >= sp.BurstLeave
		} else {
			l.bad = s.rnd.Float64() < sp.BurstEnter
		}
		if l.bad {
			return drop(DropBurst)
		}
	}
	if sp.Loss > 0 && s.rnd.Float64() < sp.Loss {
		return drop(DropLoss)
	}
	at := now
	if sp.Rate > 0 {
		// A serial link: the datagram leaves once everything before it has,
		// and takes size×8/Rate to go; what would wait more than the queue
		// holds is dropped at the tail.
		start := maxTime(now, l.linkFree)
		backlog := float64(start.Sub(now).Seconds()) * float64(sp.Rate) / 8
		if backlog+float64(size) > float64(sp.Queue) {
			return drop(DropQueue)
		}
		l.linkFree = start.Add(time.Duration(float64(size) * 8 / float64(sp.Rate) * float64(time.Second)))
		at = l.linkFree
	}
	if sp.Reorder > 0 && s.rnd.Float64() < sp.Reorder {
		// As netem's reorder: this one skips the delay, so it overtakes
		// the delayed datagrams before it.
		if at.Before(l.lastOut) {
			l.counts.Reordered++
		}
	} else {
		delay := sp.Delay
		if sp.Jitter > 0 {
			delay += time.Duration((s.rnd.Float64()*2 - 1) * float64(sp.Jitter))
			delay = max(delay, 0)
		}
		at = maxTime(at.Add(delay), l.lastOut) // a path keeps order
		l.lastOut = at
	}
	out[0], n = at, 1
	if sp.Duplicate > 0 && s.rnd.Float64() < sp.Duplicate {
		l.counts.Duplicated++
		out[1], n = at, 2
	}
	return out, n, Delivered
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
