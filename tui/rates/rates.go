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

// History keeps the last n samples of a rate for a sparkline.
type History struct {
	buf []float64
	n   int
}

// NewHistory keeps n samples.
func NewHistory(n int) *History { return &History{n: n} }

// Add appends a sample, dropping the oldest beyond n.
func (h *History) Add(v float64) {
	h.buf = append(h.buf, v)
	if len(h.buf) > h.n {
		h.buf = h.buf[len(h.buf)-h.n:]
	}
}

// Values returns the samples, oldest first.
func (h *History) Values() []float64 { return h.buf }
