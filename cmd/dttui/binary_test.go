package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/dttui/dttui/internal/silent"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The real binary, built once for the tests that need a process of its
// own (signals, pipes, terminals).
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "dttui-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "dttui")
		// -buildvcs=auto: stamped with the revision where git can say it
		// (CI sets GOFLAGS=-buildvcs=false for everything else).
		out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func removeBinary() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// waitExit waits up to d for cmd to end, killing it after.
func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s still running after %v", cmd.Path, d)
		return nil
	}
}

// `dttui --headless | head -2`: the closed pipe is a request to stop
// cleanly: exit 0, tracks unpublished, room left (main: killed by SIGPIPE,
// rc 141, nothing closed).
func TestBinaryClosedStdoutStopsCleanly(t *testing.T) {
	bin := buildBinary(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash")
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "dttui.log")
	script := fmt.Sprintf(`%s --headless --local-port 0 --track piped:20 --log-file %s | head -2 >/dev/null; echo "rc=${PIPESTATUS[0]}"`, bin, logFile)
	cmd := exec.Command("bash", "-c", script)
	// A HOME of its own: a LiveKit CLI default project would replace the
	// embedded SFU.
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "HOME="+dir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, cmd, 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if got := strings.TrimSpace(out.String()); got != "rc=0" {
		t.Fatalf("dttui's exit status: %s (stderr %q)", got, errOut.String())
	}
	log, _ := os.ReadFile(logFile)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`msg="headless: session closed, room left"`),
		regexp.MustCompile(`msg="participant closing" origin=sfu room=\S+ roomID=\S+ participant=dttui-\w+ .*reason=CLIENT_REQUEST_LEAVE`),
	} {
		if !want.Match(log) {
			t.Errorf("log file lacks %s; tail:\n%s", want, tail(string(log), 30))
		}
	}
}

// A hangup (the terminal or tmux window closed) stops as cleanly as
// Ctrl+C: exit 0, the room left, the embedded SFU's credentials file
// removed (it was killed, leaving the file and the room behind).
func TestBinarySIGHUPStopsCleanly(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "dttui.log")
	cmd := exec.Command(bin, "--headless", "--local-port", "0", "--track", "hup:20", "--log-file", logFile)
	// A HOME of its own: a LiveKit CLI default project would replace the
	// embedded SFU.
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "HOME="+dir)
	var errOut lockedBuffer // written by the process while the test reads it
	cmd.Stdout, cmd.Stderr = io.Discard, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	envFiles := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, "cache", "dttui", "local-sfu-*.env"))
		return m
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if log, _ := os.ReadFile(logFile); len(envFiles()) == 1 && bytes.Contains(log, []byte(`msg="connection connected"`)) {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("not running with its credentials file; stderr:\n%s", errOut.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, cmd, 30*time.Second); err != nil {
		t.Fatalf("after SIGHUP: %v\n%s", err, errOut.String())
	}
	if m := envFiles(); len(m) != 0 {
		t.Fatalf("credentials file left behind: %v", m)
	}
	if log, _ := os.ReadFile(logFile); !regexp.MustCompile(`msg="participant closing" .*reason=CLIENT_REQUEST_LEAVE`).Match(log) {
		t.Fatalf("the room was not left; log tail:\n%s", tail(string(log), 20))
	}
}

// A real SIGINT ends a connect that hangs within half a second (main:
// 10 s, even with a second SIGINT), with exit 0 as in the UI.
func TestBinarySIGINTDuringHungConnect(t *testing.T) {
	bin := buildBinary(t)
	url := silent.Server(t)
	cmd := exec.Command(bin, "--headless", "--url", url, "--api-key", "k", "--api-secret", "s")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the websocket dial is waiting for the upgrade answer
	sent := time.Now()
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := waitExit(t, cmd, 10*time.Second)
	took := time.Since(sent)
	if took > 500*time.Millisecond {
		t.Fatalf("exited %v after SIGINT (%v): %s", took, err, errOut.String())
	}
	// Stopped as asked (exit 0, as the UI does): the final line says the
	// connect was cut.
	if err != nil || !strings.Contains(out.String(), "(interrupted)") || !strings.Contains(out.String(), `"final":true`) {
		t.Fatalf("exit %v, stderr %q stdout %q", err, errOut.String(), out.String())
	}
	t.Logf("exited %v after SIGINT: %s", took.Round(time.Millisecond), strings.TrimSpace(errOut.String()))
}

// No terminal at all (setsid, stdin /dev/null, stdout a pipe): the UI
// says so within a second (main: 5 s, "closing took longer than 5s").
func TestBinaryWithoutTerminal(t *testing.T) {
	bin := buildBinary(t)
	setsid, err := exec.LookPath("setsid")
	if err != nil {
		t.Skip("needs setsid")
	}
	cmd := exec.Command(setsid, "--wait", bin, "--local-port", "0")
	cmd.Stdin = nil // /dev/null
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err = waitExit(t, cmd, 10*time.Second)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitUsage || time.Since(start) > time.Second {
		t.Fatalf("%v after %v: %q", err, time.Since(start), errOut.String())
	}
	if want := "dttui: the UI needs a terminal: stdout is not one; use --headless for JSON lines on stdout\n"; errOut.String() != want {
		t.Fatalf("stderr %q", errOut.String())
	}
}

// --version names the revision the binary was built from, as the Go
// toolchain recorded it (none when built with -buildvcs=false, as CI does).
func TestBinaryVersionHasRevision(t *testing.T) {
	bin := buildBinary(t)
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "revision unknown"
	if m := regexp.MustCompile(`\tbuild\tvcs\.revision=(\w+)`).FindSubmatch(info); m != nil {
		want = "revision " + string(m[1])
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if first := strings.SplitN(string(out), "\n", 2)[0]; !strings.Contains(first, want) {
		t.Fatalf("--version says %q, want %q", first, want)
	}
	t.Logf("%s", out)
}

// The real binary as the README shows it: NDJSON piped into a JSON track,
// every line a frame that reaches the loopback subscriber, and the same
// figures scraped from --metrics-addr while it runs.
func TestBinaryStdinSourceAndMetrics(t *testing.T) {
	bin := buildBinary(t)
	var in strings.Builder
	for i := range 200 {
		fmt.Fprintf(&in, "{\"seq\":%d}\n", i)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd, out, errOut := startWithStdin(t, bin, in.String(), "--headless", "--duration", "6s", "--local-port", "0", "--track", "telemetry:stdin",
		"--encoding", "telemetry=json", "--metrics-addr", addr)
	var scraped string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if s := string(b); strings.Contains(s, `dttui_frames_sent_total{handle="1",track="telemetry"} 200`) {
			scraped = s
			break
		}
	}
	if err := waitExit(t, cmd, 30*time.Second); err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, errOut.String())
	}
	if scraped == "" {
		t.Fatalf("the metrics never showed 200 frames sent; stderr:\n%s", errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var final struct {
		Tracks []struct {
			Sent    uint64 `json:"sent"`
			Dropped uint64 `json:"dropped"`
			Rx      struct {
				Data uint64 `json:"data"`
			} `json:"rx"`
		} `json:"tracks"`
		Final bool `json:"final"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &final); err != nil || !final.Final || len(final.Tracks) != 1 {
		t.Fatalf("final line %q: %v", lines[len(lines)-1], err)
	}
	if tr := final.Tracks[0]; tr.Sent != 200 || tr.Dropped != 0 || tr.Rx.Data != 200 {
		t.Fatalf("final %+v", tr)
	}
}

// `cat telemetry.ndjson | dttui --headless --track telemetry:stdin`, with
// no --duration, ends when its input does, as any program in a pipe:
// every line sent and counted, exit 0 (it ran until interrupted before).
func TestBinaryStdinEndsTheRun(t *testing.T) {
	bin := buildBinary(t)
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, "{\"seq\":%d}\n", i)
	}
	cmd, out, errOut := startWithStdin(t, bin, in.String(), "--headless", "--local-port", "0", "--track", "telemetry:stdin", "--encoding", "telemetry=json")
	if err := waitExit(t, cmd, 30*time.Second); err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var final struct {
		Tracks []struct {
			Sent  uint64 `json:"sent"`
			State string `json:"state"`
		} `json:"tracks"`
		Final bool `json:"final"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &final); err != nil || !final.Final || len(final.Tracks) != 1 {
		t.Fatalf("final line %q: %v", lines[len(lines)-1], err)
	}
	if tr := final.Tracks[0]; tr.Sent != 50 {
		t.Fatalf("final %+v", tr)
	}
}

// startWithStdin starts the binary with in on its standard input and its
// own HOME (for the embedded SFU's env file).
func startWithStdin(t *testing.T, bin, in string, args ...string) (cmd *exec.Cmd, out, errOut *bytes.Buffer) {
	t.Helper()
	cmd = exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(in)
	out, errOut = &bytes.Buffer{}, &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, errOut
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out, errOut
}
