package clocksync

import (
	"fmt"
	"time"
)

// State says how far another participant's clock is known.
type State uint8

const (
	// Unknown: not asked, or asked and not answered yet (within
	// Options.AnswerTimeout); its timestamps are neither corrected nor
	// known to be uncorrectable.
	Unknown State = iota
	// Synced: the offset is estimated, within Estimate.Uncertainty.
	Synced
	// TwoClocks: it never answered (not a dttui, or one that cannot send
	// data packets): its timestamps are compared with our clock as they are.
	TwoClocks
)

var stateNames = [...]string{"syncing", "synced", "two clocks"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Estimate is what is known of another participant's clock.
type Estimate struct {
	State State
	// Offset is their clock minus ours: their timestamp t is our
	// t − Offset. The true offset is within Uncertainty of it.
	Offset      time.Duration
	Uncertainty time.Duration
	// RTT is the round trip of the exchange the estimate comes from;
	// Samples the exchanges it was chosen among.
	RTT     time.Duration
	Samples int
}

// String is the estimate as a renderer shows it: "synced ±0.4ms",
// "two clocks" or "syncing".
func (e Estimate) String() string {
	if e.State != Synced {
		return e.State.String()
	}
	return "synced ±" + FormatUncertainty(e.Uncertainty)
}

// FormatUncertainty writes d in milliseconds: one decimal below 10 ms.
func FormatUncertainty(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

// ToOurs converts a timestamp taken on their clock to ours; unchanged
// unless the estimate is Synced.
func (e Estimate) ToOurs(t time.Time) time.Time {
	if e.State != Synced {
		return t
	}
	return t.Add(-e.Offset)
}

// Sample is one completed exchange.
type Sample struct {
	At     time.Time // t4: when the answer arrived, on our clock
	Offset time.Duration
	RTT    time.Duration
}

// SampleOf computes the exchange m answered at t4; false when its round
// trip is negative (a clock stepped during it, or the times are forged).
func SampleOf(m Message, t4 time.Time) (Sample, bool) {
	t1, t2, t3, t4n := m.T1, m.T2, m.T3, t4.UnixNano()
	rtt := (t4n - t1) - (t3 - t2)
	if rtt < 0 || t3 < t2 {
		return Sample{}, false
	}
	// Halves first: the sum of two differences of UNIX nanoseconds could
	// overflow for forged times far apart.
	off := (t2-t1)/2 + (t3-t4n)/2
	return Sample{At: t4, Offset: time.Duration(off), RTT: time.Duration(rtt)}, true
}

// Estimator keeps the last Window samples and picks the one whose bound
// is tightest now: rtt/2, plus the drift allowance over its age.
type Estimator struct {
	window  int
	drift   float64
	samples []Sample // ring, next at head
	head    int
	n       int // samples ever added
}

// NewEstimator keeps window samples and allows drift (a fraction, e.g.
// 100e-6 for 100 ppm) between the two clocks.
func NewEstimator(window int, drift float64) *Estimator {
	return &Estimator{window: max(window, 1), drift: drift}
}

// Add keeps s, forgetting the oldest sample past the window.
func (e *Estimator) Add(s Sample) {
	if len(e.samples) < e.window {
		e.samples = append(e.samples, s)
	} else {
		e.samples[e.head] = s
		e.head = (e.head + 1) % e.window
	}
	e.n++
}

// Estimate is the best sample's offset and bound at now (Synced), or an
// Unknown estimate before any sample.
func (e *Estimator) Estimate(now time.Time) Estimate {
	best, bound := -1, time.Duration(0)
	for i, s := range e.samples {
		b := s.RTT/2 + e.driftOver(now.Sub(s.At))
		if best < 0 || b < bound {
			best, bound = i, b
		}
	}
	if best < 0 {
		return Estimate{}
	}
	s := e.samples[best]
	return Estimate{State: Synced, Offset: s.Offset, Uncertainty: bound, RTT: s.RTT, Samples: len(e.samples)}
}

func (e *Estimator) driftOver(age time.Duration) time.Duration {
	if age <= 0 {
		return 0
	}
	return time.Duration(float64(age) * e.drift)
}
