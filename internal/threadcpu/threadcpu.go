// Package threadcpu reads the CPU time of the calling OS thread, for
// benchmarks on a shared machine: a wall clock also counts the time the
// scheduler gives other processes, which on a loaded 2-core box can be
// most of it. Callers lock their goroutine to its thread
// (runtime.LockOSThread) for as long as they compare readings.
package threadcpu

import "time"

// Now returns the calling thread's CPU time so far, and whether this
// platform has such a clock (when not, it returns 0 and false: fall back
// to the wall clock). One reading is a system call, about a microsecond
// at most: time batches well above that.
func Now() (time.Duration, bool) { return now() }
