// Package procstat reads a process's CPU time and memory as Linux's /proc
// shows them, for tests that measure another process (the binary, a
// monitor in a child process) from outside: what the kernel counted, not
// what the process says of itself.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CPU is process pid's CPU time so far: user plus system (proc(5)'s
// utime and stime, in clock ticks of 1/100 s on Linux).
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("procstat: /proc/%d/stat has %d fields after the name", pid, len(f))
	}
	u, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, err
	}
	st, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(u+st) * time.Second / 100, nil
}

// StatusKB is one "kB" field of /proc/PID/status (VmRSS, VmHWM, ...) in
// bytes; 0 once the process is gone or when it has no such field.
func StatusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// RSS is process pid's resident memory in bytes (0: gone).
func RSS(pid int) int64 { return StatusKB(pid, "VmRSS") }

// PeakRSS samples process pid's resident memory every interval until
// the returned stop is called; stop returns the highest sample, in bytes
// (the kernel's VmHWM is the other observer: StatusKB(pid, "VmHWM")).
func PeakRSS(pid int, every time.Duration) (stop func() int64) {
	done, result := make(chan struct{}), make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
				peak = max(peak, RSS(pid))
			}
		}
	}()
	var once sync.Once
	var peak int64
	return func() int64 {
		once.Do(func() { close(done); peak = <-result })
		return peak
	}
}
