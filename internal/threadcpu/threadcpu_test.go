package threadcpu

import (
	"runtime"
	"testing"
	"time"
)

// Spinning for a while on one thread advances its CPU clock by about as
// much, and sleeping does not.
func TestNowCountsThisThreadOnly(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, ok := Now()
	if !ok {
		t.Skip("no thread CPU clock on this platform")
	}
	time.Sleep(50 * time.Millisecond)
	t1, _ := Now()
	if slept := t1 - t0; slept > 20*time.Millisecond {
		t.Fatalf("sleeping 50 ms took %v of CPU", slept)
	}
	// Spin until the clock shows 20 ms, or give up after 10 s of wall
	// time (a clock that stands still).
	var x uint64
	deadline := time.Now().Add(10 * time.Second)
	t3 := t1
	for t3-t1 < 20*time.Millisecond && time.Now().Before(deadline) {
		for i := range 1000 {
			x += uint64(i) * x
		}
		t3, _ = Now()
	}
	if spun := t3 - t1; spun < 20*time.Millisecond {
		t.Fatalf("spinning for 10 s took %v of CPU", spun)
	}
	_ = x
}
