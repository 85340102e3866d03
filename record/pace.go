package record

import (
	"context"
	"runtime"
	"time"
)

// DefaultSpin is how much of a wait NewPacer's pacer spends in its fine
// stretch rather than on a runtime timer. The runtime's timers wake a
// goroutine to the millisecond only (an idle scheduler waits in epoll for
// whole milliseconds, rounded down, so a timer fires up to 1 ms late),
// which is a 1 kHz replay's whole budget: the stretch must be longer than
// that, with room for a wake-up on a loaded machine.
const DefaultSpin = 2 * time.Millisecond

// fineStep is the longest single Fine sleep: how long a cancel or a
// control change may go unseen in the fine stretch.
const fineStep = 500 * time.Microsecond

// fineTail is the end of a wait yielded through even with Fine: a
// nanosleep overshoots by the kernel's timer slack (50 µs) and a thread's
// wake-up, and the goroutine then waits for a P, so the last of it is
// spent checking the clock. 150 µs left the end-to-end p99 of a 1 kHz
// replay at 0.43–1.47 ms on a quiet machine, 500 µs at 0.003–0.93 ms:
// the former pacer's yielding share, after a nanosleep instead of a timer.
const fineTail = 500 * time.Microsecond

// Pacer holds a replay to the recorded timing: the first message goes at
// once, and one logged d after it goes d/Speed after the first went.
// Time is injected (Now, After) so its tests run without sleeping.
type Pacer struct {
	Speed float64 // > 0; 2 plays twice as fast
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Spin is the end of each wait spent in Fine steps (or, with Fine
	// nil, yielding with runtime.Gosched) until Now reaches the due time,
	// rather than on After; 0 sleeps on After throughout.
	Spin time.Duration
	// Fine sleeps d precisely, blocking its goroutine (a thread, at most
	// Spin long): NewPacer's is the kernel's high-resolution nanosleep
	// where there is one (Linux), so the fine stretch costs no CPU.
	Fine func(d time.Duration)

	start   time.Time
	first   uint64
	started bool
}

// NewPacer paces by the wall clock, sleeping on a runtime timer to
// within DefaultSpin of each due time and then on fineSleep.
func NewPacer(speed float64) *Pacer {
	return &Pacer{Speed: speed, Now: time.Now, After: time.After, Spin: DefaultSpin, Fine: fineSleep}
}

// Restart makes the next message the first again (a loop's next pass).
func (p *Pacer) Restart() { p.started = false }

// Due is when the message logged at logTime (ns) is to go.
func (p *Pacer) due(logTime uint64) time.Time {
	var off time.Duration
	if logTime > p.first {
		off = time.Duration(float64(logTime-p.first) / p.Speed)
	}
	return p.start.Add(off)
}

// Wait returns when the message logged at logTime (ns) is due, or with
// ctx's error if ctx ends first. A message logged before the first (a
// file read in file order) is due at once.
func (p *Pacer) Wait(ctx context.Context, logTime uint64) error {
	_, err := p.WaitOr(ctx, logTime, nil)
	return err
}

// WaitOr is Wait that also returns, woken true, once wake is closed (a
// replay's control changed).
func (p *Pacer) WaitOr(ctx context.Context, logTime uint64, wake <-chan struct{}) (woken bool, err error) {
	if !p.started {
		p.start, p.first, p.started = p.Now(), logTime, true
		return false, ctx.Err()
	}
	due := p.due(logTime)
	if d := due.Sub(p.Now()) - p.Spin; d > 0 {
		select {
		case <-p.After(d):
		case <-wake:
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	for p.Spin > 0 {
		left := due.Sub(p.Now())
		if left <= 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		select {
		case <-wake:
			return true, nil
		default:
		}
		if p.Fine != nil && left > fineTail {
			// In steps, so a cancel or a control change is seen within one.
			p.Fine(min(left-fineTail, fineStep))
		} else {
			runtime.Gosched()
		}
	}
	return false, ctx.Err()
}

// Late is how far behind its due time the message logged at logTime was
// sent when it is sent now: the replay's timing error.
func (p *Pacer) Late(logTime uint64) time.Duration {
	return p.Now().Sub(p.due(logTime))
}
