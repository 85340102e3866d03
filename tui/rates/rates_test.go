package rates

import (
	"math"
	"testing"
	"time"
)

func TestEWMAConvergesToSteadyRate(t *testing.T) {
	var e EWMA
	t0 := time.Unix(0, 0)
	var r float64
	for i := range 100 { // 10 s at 10 Hz, 50 per second
		r = e.Observe(uint64(i*5), t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	if math.Abs(r-50) > 0.5 {
		t.Fatalf("rate %.2f, want 50", r)
	}
}

func TestEWMAHalfLife(t *testing.T) {
	var e EWMA
	t0 := time.Unix(0, 0)
	e.Observe(0, t0)
	r := e.Observe(100, t0.Add(time.Second)) // 100/s for one half-life
	if math.Abs(r-50) > 1e-9 {
		t.Fatalf("after one half-life %.3f, want 50", r)
	}
}

func TestEWMAResetOnDecrease(t *testing.T) {
	var e EWMA
	t0 := time.Unix(0, 0)
	e.Observe(1000, t0)
	e.Observe(2000, t0.Add(time.Second))
	if r := e.Observe(10, t0.Add(2*time.Second)); r != 0 {
		t.Fatalf("after reset %.2f", r)
	}
}

func TestSeriesOneValuePerPeriod(t *testing.T) {
	s := NewSeries(3, time.Second)
	t0 := time.Unix(100, 0)
	for i := range 25 { // 2.5 s at 10 Hz: 10 samples of i per second
		s.Add(float64(i/10), t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	if v := s.Values(); len(v) != 3 || v[0] != 0 || v[1] != 1 || v[2] != 2 {
		t.Fatalf("values %v, want [0 1 2] (two full seconds and the open one)", v)
	}
	// Two seconds without samples (paused) read as zeros; only n are kept.
	s.Add(7, t0.Add(5*time.Second))
	if v := s.Values(); len(v) != 3 || v[0] != 0 || v[1] != 0 || v[2] != 7 {
		t.Fatalf("after a gap %v, want [0 0 7]", v)
	}
}

func TestWindowCountsRecentGrowthOnly(t *testing.T) {
	w := NewWindow(5 * time.Second)
	t0 := time.Unix(100, 0)
	if d := w.Observe(10, t0); d != 0 {
		t.Fatalf("first sample %d", d)
	}
	if d := w.Observe(30, t0.Add(2*time.Second)); d != 20 {
		t.Fatalf("within the window %d, want 20", d)
	}
	// No growth for more than the span: nothing recent, however many ever.
	w.Observe(30, t0.Add(4*time.Second))
	if d := w.Observe(30, t0.Add(8*time.Second)); d != 0 {
		t.Fatalf("after a quiet span %d, want 0", d)
	}
	if d := w.Observe(5, t0.Add(9*time.Second)); d != 0 {
		t.Fatalf("after a reset %d, want 0", d)
	}
}
