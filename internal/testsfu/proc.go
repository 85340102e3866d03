package testsfu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// proc is a server run as a child process for a test: its output goes to
// a log file (never our terminal), the kernel kills it if the test binary
// dies, and a reaper goroutine waits for it.
type proc struct {
	name string // what messages call it: "released server", "redis-server"
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed once the process has exited and been reaped
}

// startProc starts cmd with its output appended to logPath, after a line
// that says what starts (what, which must hold no secret).
func startProc(name string, cmd *exec.Cmd, logPath, what string) (*proc, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("testsfu: %w", err)
	}
	fmt.Fprintf(log, "=== testsfu: starting %s\n", what)
	cmd.Stdout, cmd.Stderr = log, log // a file: the child writes it directly
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("testsfu: start %s: %w", cmd.Path, err)
	}
	p := &proc{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	// The reaper; stop (or the process's own exit) ends it.
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls ready (which gets a context bounded by timeout) until
// it holds. It fails at once if the process exits (with errAddrInUse when
// its log says a port was taken), or when the time is up; addr says where
// it was expected to answer.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration, addr string, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !ready(ctx) {
		select {
		case <-p.done:
			tail := p.tail(20)
			// livekit-server prints its start-up error and exits 0.
			if strings.Contains(strings.ToLower(tail), "address already in use") {
				return fmt.Errorf("testsfu: %s could not bind: %w:\n%s", p.name, errAddrInUse, tail)
			}
			return fmt.Errorf("testsfu: %s exited during start-up (%v):\n%s", p.name, p.cmd.ProcessState, tail)
		case <-ctx.Done():
			return fmt.Errorf("testsfu: %s not ready on %s: %w\n%s", p.name, addr, ctx.Err(), p.tail(20))
		case <-time.After(25 * time.Millisecond):
		}
	}
	return nil
}

// stop ends the process as the embedded server's Close does: a forced
// stop (livekit-server stops at once, without waiting for participants to
// leave, on a second SIGTERM; the first only starts a drain). SIGTERM is
// repeated because the server's signal channel holds one signal at a time.
// SIGKILL if it has not exited within stopGrace.
func (p *proc) stop() error {
	defer p.log.Close()
	deadline := time.After(stopGrace)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
signalling:
	for p.cmd.Process.Signal(syscall.SIGTERM) == nil { // else it has exited: reap it below
		select {
		case <-p.done:
			return nil
		case <-tick.C:
		case <-deadline:
			fmt.Fprintf(p.log, "=== testsfu: no exit %s after SIGTERM: SIGKILL\n", stopGrace)
			_ = p.cmd.Process.Kill()
			break signalling
		}
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("testsfu: %s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

func (p *proc) tail(n int) string {
	b, _ := os.ReadFile(p.log.Name())
	return lastLines(string(b), n)
}
