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

func TestHistoryBounded(t *testing.T) {
	h := NewHistory(3)
	for i := range 5 {
		h.Add(float64(i))
	}
	if v := h.Values(); len(v) != 3 || v[0] != 2 || v[2] != 4 {
		t.Fatalf("%v", v)
	}
}
