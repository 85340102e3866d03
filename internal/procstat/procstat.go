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
