// Package rates turns cumulative counters into smoothed per-second rates.
package rates

import (
	"math"
	"time"
)

// halfLife sets the smoothing: after one half-life a step change is half
// visible. 1 s follows a generator change quickly without flicker at 10 Hz.
const halfLife = time.Second

// EWMA is an exponentially weighted rate of a cumulative counter, correct
// for any sampling interval.
type EWMA struct {
	last    uint64
	at      time.Time
	rate    float64
	started bool
}

// Observe records the counter's value at t and returns the smoothed rate.
// A counter that goes down (a reset) restarts the estimate.
func (e *EWMA) Observe(value uint64, t time.Time) float64 {
	if !e.started || value < e.last {
		e.last, e.at, e.started, e.rate = value, t, true, 0
		return 0
	}
	dt := t.Sub(e.at).Seconds()
	if dt <= 0 {
		return e.rate
	}
	inst := float64(value-e.last) / dt
	alpha := 1 - math.Exp2(-dt/halfLife.Seconds())
	e.rate += alpha * (inst - e.rate)
	e.last, e.at = value, t
	return e.rate
}

// Rate is the last smoothed rate.
func (e *EWMA) Rate() float64 { return e.rate }

// Series keeps one value per period (the mean of the samples taken in
// it) for the last n periods: a sparkline of one column per second over
// the last minute, whatever the UI's refresh rate.
type Series struct {
	period time.Duration
	n      int
	closed []float64 // finished periods, oldest first
	start  time.Time // start of the open period; zero before the first sample
	sum    float64
	count  int
}

// NewSeries keeps n periods of the given length.
func NewSeries(n int, period time.Duration) *Series { return &Series{n: n, period: period} }

// Add records a sample taken at t. A period without samples (the display
// was paused) reads as zero.
func (s *Series) Add(v float64, t time.Time) {
	p := t.Truncate(s.period)
	switch {
	case s.start.IsZero():
		s.start = p
	case p.After(s.start):
		s.push(s.sum / float64(max(s.count, 1)))
		for range min(int(p.Sub(s.start)/s.period)-1, s.n) {
			s.push(0)
		}
		s.start, s.sum, s.count = p, 0, 0
	}
	s.sum += v
	s.count++
}

func (s *Series) push(v float64) {
	s.closed = append(s.closed, v)
	if len(s.closed) > s.n {
		s.closed = append(s.closed[:0], s.closed[len(s.closed)-s.n:]...)
	}
}

// Values returns the finished periods, oldest first, then the open
// period's mean so far; at most n values.
func (s *Series) Values() []float64 {
	if s.count == 0 {
		return append([]float64(nil), s.closed...)
	}
	out := append(append([]float64(nil), s.closed...), s.sum/float64(s.count))
	return out[max(len(out)-s.n, 0):]
}

// Window says how much a cumulative counter grew over the last span: the
// drops of the last few seconds, say, rather than since the start.
type Window struct {
	span    time.Duration
	samples []sample // oldest first, the oldest at or before now-span
}

type sample struct {
	at time.Time
	v  uint64
}

// NewWindow looks back over span.
func NewWindow(span time.Duration) *Window { return &Window{span: span} }

// Observe records the counter's value at t and returns its growth over the
// last span (since the first sample, while fewer than span have passed).
// A counter that goes down (a reset) restarts the window.
func (w *Window) Observe(v uint64, t time.Time) uint64 {
	if n := len(w.samples); n > 0 && v < w.samples[n-1].v {
		w.samples = w.samples[:0]
	}
	w.samples = append(w.samples, sample{t, v})
	// Keep one sample at or before the window's start as the baseline.
	cut := 0
	for cut+1 < len(w.samples) && !w.samples[cut+1].at.After(t.Add(-w.span)) {
		cut++
	}
	w.samples = append(w.samples[:0], w.samples[cut:]...)
	return v - w.samples[0].v
}
