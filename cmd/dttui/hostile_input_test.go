package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/procstat"
	"github.com/dttui/dttui/session"
)

// The attacks on dttui's own inputs of issue 20, on the real binary: an
// input that never ends a line, and inputs that stay idle, against
// --duration and the first signal.

// startHeadless starts the binary with stdin and its own HOME.
func startHeadless(t *testing.T, stdin *os.File, args ...string) (cmd *exec.Cmd, out, errOut *lockedBuffer) {
	t.Helper()
	cmd = exec.Command(buildBinary(t), append([]string{"--headless", "--local-port", "0"}, args...)...)
	cmd.Stdin = stdin
	out, errOut = &lockedBuffer{}, &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, errOut
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out, errOut
}

// waitPeak waits up to d for cmd to end, sampling its RSS, and returns
// the largest sample.
func waitPeak(t *testing.T, cmd *exec.Cmd, d time.Duration) (peak int64, err error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return peak, err
		case <-tick.C:
			peak = max(peak, procstat.RSS(cmd.Process.Pid))
		case <-deadline:
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("still running after %v (peak RSS %d MB)", d, peak>>20)
			return peak, nil
		}
	}
}

// `tr '\0' a </dev/zero | dttui --headless --track t:stdin`: the endless
// line is refused at the frame limit and the run ends, in little memory
// (main: 4 GB in 12 s, and it went on).
func TestBinaryEndlessStdinLineIsRefused(t *testing.T) {
	tr := exec.Command("tr", `\0`, "a")
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Skip(err)
	}
	defer zero.Close()
	tr.Stdin = zero
	pipe, err := tr.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { _ = tr.Process.Kill(); _ = tr.Wait() }()
	cmd, out, errOut := startHeadless(t, pipe.(*os.File), "--track", "t:stdin")
	pipe.Close() // the child has its own
	peak, _ := waitPeak(t, cmd, 60*time.Second)
	if !strings.Contains(errOut.String(), "more than") || !strings.Contains(out.String(), `"final":true`) {
		t.Fatalf("stderr:\n%s\nstdout tail:\n%s", errOut.String(), tail(out.String(), 2))
	}
	if peak > 400<<20 {
		t.Fatalf("peak RSS %d MB", peak>>20)
	}
	t.Logf("refused the endless line at peak RSS %d MB", peak>>20)
}

// A pipe that stays open and idle ends at --duration (main: it ran until
// the writer went, its JSON lines stopping at --duration).
func TestBinaryIdleStdinEndsAtDuration(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	cmd, out, errOut := startHeadless(t, pr, "--duration", "3s", "--track", "t:stdin")
	pr.Close()
	start := time.Now()
	if err := waitExit(t, cmd, 40*time.Second); err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), `"final":true`) {
		t.Fatalf("no final line; stderr:\n%s", errOut.String())
	}
	t.Logf("ended %v after start with --duration 3s and an idle stdin", time.Since(start).Round(100*time.Millisecond))
}

// `--track t:file=FIFO` with no writer: the run starts (JSON lines) and
// the first SIGTERM ends it (main: nothing printed, the open blocking the
// setup, SIGTERM ignored).
func TestBinaryFIFOWithoutWriterStopsOnSIGTERM(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	cmd, out, errOut := startHeadless(t, nil, "--track", "t:file="+fifo)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), `"elapsed_s"`); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no JSON line in 30 s; stderr:\n%s", errOut.String())
		}
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, cmd, 20*time.Second); err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), `"final":true`) {
		t.Fatalf("no final line; stderr:\n%s", errOut.String())
	}
	t.Logf("ended %v after SIGTERM", time.Since(sent).Round(100*time.Millisecond))
}

// --metrics-addr on every interface says so on stderr; on loopback it
// does not (issue 20.6: main gave the URL alone).
func TestMetricsBeyondLoopbackWarns(t *testing.T) {
	for _, tc := range []struct {
		addr string
		warn bool
	}{{"127.0.0.1:0", false}, {"0.0.0.0:0", true}, {"[::1]:0", false}} {
		ln, err := net.Listen("tcp", tc.addr)
		if err != nil {
			t.Logf("%s: %v", tc.addr, err)
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		var errOut bytes.Buffer
		o := options{Headless: true, MetricsAddr: tc.addr}
		if err := serveMetrics(ctx, o, ln, func() *session.Session { return nil }, slog.New(slog.DiscardHandler), &errOut); err != nil {
			t.Fatal(err)
		}
		cancel()
		if got := strings.Contains(errOut.String(), "listens beyond this machine"); got != tc.warn {
			t.Errorf("%s: stderr %q", tc.addr, errOut.String())
		}
	}
}
