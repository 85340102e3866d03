package session

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/session/localsfu"
)

// stderrChildEnv makes the test binary run TestStderrChild for real, with
// the process-wide loggers left at their defaults (TestMain skips its own
// routing): exactly what a dttui process looks like before Connect.
const stderrChildEnv = "DTTUI_STDERR_CHILD"

// Nothing may reach stderr (it would corrupt the TUI): a child process
// runs an embedded SFU, a session with the loopback, a publish, frames and
// a close, logging only through Config.Logger; its stderr must stay empty
// while its log got lines from pion, the SDK and the server.
func TestNothingOnStderr(t *testing.T) {
	if os.Getenv(stderrChildEnv) != "" {
		t.Skip("in the child")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStderrChild$", "-test.count=1", "-test.v")
	cmd.Env = []string{stderrChildEnv + "=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DTTUI_TEST_LOG=") { // the child must not truncate the parent's log
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("child hung\nstdout:\n%s", stdout.String())
	}
	if stderr.Len() != 0 {
		t.Fatalf("stderr not empty:\n%s", stderr.String())
	}
	m := regexp.MustCompile(`routed-log-lines=(\d+) libs=(\d+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("child did not report its log:\n%s", stdout.String())
	}
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		t.Fatal("child logged nothing: the routing would not be tested")
	}
	t.Logf("child: %s", m[0])
	if n, _ := strconv.Atoi(m[2]); n == 0 {
		t.Fatal("no library (livekit/pion) lines reached Config.Logger")
	}
}

func TestStderrChild(t *testing.T) {
	if os.Getenv(stderrChildEnv) == "" {
		t.Skip("only runs as TestNothingOnStderr's child")
	}
	var mu sync.Mutex
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := localsfu.Start(bounded(t, 30*time.Second), localsfu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s, err := Connect(bounded(t, 20*time.Second), Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Loopback: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := s.Publish(bounded(t, 15*time.Second), "quiet", false)
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, tr)
	src := tr.Probe()
	eventually(t, 15*time.Second, "frames", func() bool {
		_ = src.Push(40000)
		return rx(s, tr).Frames > 0
	})
	_ = s.Close()
	mu.Lock()
	defer mu.Unlock()
	text := buf.String()
	lines := bytes.Count(buf.Bytes(), []byte("\n"))
	libs := len(regexp.MustCompile(`(?m)logger=(livekit|pion)`).FindAllStringIndex(text, -1))
	fmt.Printf("routed-log-lines=%d libs=%d\n", lines, libs)
}
