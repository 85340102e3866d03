package jsclient

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const terminate = syscall.SIGTERM

// driverProcAttr: if the test binary dies, node gets SIGTERM, and its
// handler closes Chromium (a SIGKILL would orphan it).
func driverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// proc identifies a process across pid reuse: its pid and start time.
type proc struct {
	pid   int
	start string
}

// descendants lists every process below pid (Chromium and its helpers),
// read from /proc.
func descendants(pid int) []proc {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]proc{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, start, _, ok := stat(p); ok {
			children[ppid] = append(children[ppid], proc{p, start})
		}
	}
	var out []proc
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out
}

// stat reads a process's parent, start time and state from /proc/<pid>/stat.
func stat(pid int) (ppid int, start, state string, ok bool) {
	f, ok := statFields(pid)
	if !ok {
		return 0, "", "", false
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[19], f[0], true
}

// statFields returns the fields of /proc/<pid>/stat after the command
// name: f[0] is field 3 (state) of proc(5).
func statFields(pid int) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	// The command name (field 2) may hold spaces; fields after its ')' are plain.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f, len(f) >= 20
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every
// Linux architecture Go supports (the kernel ABI fixes it).
const clockTicks = 100

// treeCPU sums utime and stime (proc(5) fields 14 and 15) of pid and its
// descendants.
func treeCPU(pid int) (time.Duration, error) {
	var ticks uint64
	for _, p := range append([]proc{{pid: pid}}, descendants(pid)...) {
		f, ok := statFields(p.pid)
		if !ok {
			if p.pid == pid {
				return 0, fmt.Errorf("jsclient: no /proc/%d/stat", pid)
			}
			continue // exited meanwhile
		}
		u, _ := strconv.ParseUint(f[11], 10, 64)
		s, _ := strconv.ParseUint(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// killAll SIGKILLs those of procs that still run (the same process, not a
// reused pid; zombies are only waiting for their parent) and returns their
// pids.
func killAll(procs []proc) []int {
	var killed []int
	for _, p := range procs {
		if _, start, state, ok := stat(p.pid); ok && start == p.start && state != "Z" {
			if syscall.Kill(p.pid, syscall.SIGKILL) == nil {
				killed = append(killed, p.pid)
			}
		}
	}
	return killed
}
