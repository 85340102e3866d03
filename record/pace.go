package record

import (
	"context"
	"time"
)

// Pacer holds a replay to the recorded timing: the first message goes at
// once, and one logged d after it goes d/Speed after the first went.
// Time is injected (Now, After) so its tests run without sleeping.
type Pacer struct {
	Speed float64 // > 0; 2 plays twice as fast
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time

	start   time.Time
	first   uint64
	started bool
}

// NewPacer paces by the wall clock.
func NewPacer(speed float64) *Pacer {
	return &Pacer{Speed: speed, Now: time.Now, After: time.After}
}

// Restart makes the next message the first again (a loop's next pass).
func (p *Pacer) Restart() { p.started = false }

// Wait returns when the message logged at logTime (ns) is due, or with
// ctx's error if ctx ends first. A message logged before the first (a
// file read in file order) is due at once.
func (p *Pacer) Wait(ctx context.Context, logTime uint64) error {
	if !p.started {
		p.start, p.first, p.started = p.Now(), logTime, true
		return ctx.Err()
	}
	var off time.Duration
	if logTime > p.first {
		off = time.Duration(float64(logTime-p.first) / p.Speed)
	}
	d := p.start.Add(off).Sub(p.Now())
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-p.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Late is how far behind its due time the message logged at logTime was
// sent when it is sent now: the replay's timing error.
func (p *Pacer) Late(logTime uint64) time.Duration {
	var off time.Duration
	if logTime > p.first {
		off = time.Duration(float64(logTime-p.first) / p.Speed)
	}
	return p.Now().Sub(p.start.Add(off))
}
