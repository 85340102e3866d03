package record

import (
	"context"
	"testing"
	"time"
)

// fakeClock advances only when a wait is asked of it, by the wait.
type fakeClock struct {
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// Messages go at the recorded offsets divided by the speed; time already
// spent (a slow push) is not waited again; a message logged before the
// first goes at once; Restart begins a new pass; a cancelled wait says so.
func TestPacer(t *testing.T) {
	ms := uint64(time.Millisecond)
	c := &fakeClock{now: time.Unix(100, 0)}
	p := &Pacer{Speed: 2, Now: c.Now, After: c.After}
	ctx := context.Background()
	base := uint64(5_000) * ms
	for _, at := range []uint64{0, 10, 30} {
		if err := p.Wait(ctx, base+at*ms); err != nil {
			t.Fatal(err)
		}
	}
	c.now = c.now.Add(12 * time.Millisecond)        // the push took 12 ms
	if err := p.Wait(ctx, base+50*ms); err != nil { // due at 25 ms, now 27
		t.Fatal(err)
	}
	if late := p.Late(base + 50*ms); late != 2*time.Millisecond {
		t.Errorf("late %s", late)
	}
	if err := p.Wait(ctx, base-1*ms); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{5 * time.Millisecond, 10 * time.Millisecond}
	if len(c.waits) != len(want) || c.waits[0] != want[0] || c.waits[1] != want[1] {
		t.Fatalf("waits %v, want %v", c.waits, want)
	}
	p.Restart()
	if err := p.Wait(ctx, base+1000*ms); err != nil || len(c.waits) != 2 {
		t.Fatalf("the first of a pass waited: %v %v", c.waits, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	blocked := &Pacer{Speed: 1, Now: c.Now, After: func(time.Duration) <-chan time.Time { return nil }}
	_ = blocked.Wait(cctx, 0)
	if err := blocked.Wait(cctx, 10*ms); err != context.Canceled {
		t.Fatalf("cancelled wait: %v", err)
	}
}

// With Spin, a wait sleeps to Spin before the due time and then checks
// the clock until it is reached, never returning early; a wait shorter
// than Spin does not sleep at all.
func TestPacerSpin(t *testing.T) {
	ms := uint64(time.Millisecond)
	c := &fakeClock{now: time.Unix(100, 0)}
	checks := 0
	now := func() time.Time { // each look at the clock finds it 100 µs on
		checks++
		c.now = c.now.Add(100 * time.Microsecond)
		return c.now
	}
	p := &Pacer{Speed: 1, Now: now, After: c.After, Spin: 500 * time.Microsecond}
	ctx := context.Background()
	if err := p.Wait(ctx, 0); err != nil {
		t.Fatal(err)
	}
	start := c.now
	if err := p.Wait(ctx, 10*ms); err != nil {
		t.Fatal(err)
	}
	if len(c.waits) != 1 || c.waits[0] != 10*time.Millisecond-100*time.Microsecond-500*time.Microsecond {
		t.Fatalf("slept %v", c.waits)
	}
	if late := c.now.Sub(start.Add(10 * time.Millisecond)); late < 0 || late > 100*time.Microsecond {
		t.Fatalf("returned %s after its due time", late)
	}
	checks = 0
	if err := p.Wait(ctx, 10*ms+300*uint64(time.Microsecond)); err != nil || len(c.waits) != 1 || checks < 2 {
		t.Fatalf("a 300 µs wait: slept %v, %d clock checks, %v", c.waits, checks, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Wait(cctx, 20*ms); err != context.Canceled {
		t.Fatalf("cancelled: %v", err)
	}
}

// With Fine, the stretch after the timer is slept in Fine steps of at
// most fineStep, ending fineTail before the due time; the rest is checked
// on the clock, and the wait never returns early.
func TestPacerFine(t *testing.T) {
	c := &fakeClock{now: time.Unix(100, 0)}
	now := func() time.Time { // each look at the clock finds it 10 µs on
		c.now = c.now.Add(10 * time.Microsecond)
		return c.now
	}
	var fine []time.Duration
	p := &Pacer{Speed: 1, Now: now, After: c.After, Spin: DefaultSpin, Fine: func(d time.Duration) {
		fine = append(fine, d)
		c.now = c.now.Add(d)
	}}
	ctx := context.Background()
	if err := p.Wait(ctx, 0); err != nil {
		t.Fatal(err)
	}
	due := c.now.Add(10 * time.Millisecond)
	if err := p.Wait(ctx, uint64(10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if len(c.waits) != 1 || c.waits[0] != 10*time.Millisecond-10*time.Microsecond-DefaultSpin {
		t.Fatalf("slept on the timer %v", c.waits)
	}
	var total time.Duration
	for _, d := range fine {
		if d <= 0 || d > fineStep {
			t.Fatalf("fine steps %v", fine)
		}
		total += d
	}
	// 2 ms less the tail, less the clock's 10 µs a look, in steps of at
	// most fineStep.
	if steps := int((DefaultSpin - fineTail + fineStep - 1) / fineStep); len(fine) != steps || total < DefaultSpin-fineTail-50*time.Microsecond || total > DefaultSpin-fineTail {
		t.Fatalf("fine steps %v (%s in all)", fine, total)
	}
	if late := c.now.Sub(due); late < 0 || late > 10*time.Microsecond {
		t.Fatalf("returned %s after its due time", late)
	}
}
