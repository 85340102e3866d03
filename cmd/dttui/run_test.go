package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/dttui/dttui/internal/silent"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"go.uber.org/goleak"

	"github.com/dttui/dttui/headless"
	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/localsfu"
	"github.com/dttui/dttui/source"
)

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// jsonLines parses headless output; the last line is returned too.
func jsonLines(t *testing.T, out string) (n int, last map[string]any) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		last = nil
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("line %d not JSON: %q", n, sc.Text())
		}
		n++
	}
	return n, last
}

// The whole wiring, headless: flags → embedded SFU → session → JSON
// lines. stderr carries dttui's own lines only (on main: pion's "Failed to
// ping without candidate pairs" ×4 and more), the credentials file is
// private and gone after the run, and a one-character passphrase leaves
// the log file readable and the secret out of it.
func TestRunHeadlessAgainstEmbeddedSFU(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded SFU")
	}
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	logFile := t.TempDir() + "/dttui.log"
	var out bytes.Buffer
	var errOut lockedBuffer // pion goroutines may still log while the test reads
	code := run(context.Background(), []string{"--headless", "--local-port", "0", "--duration", "3s", "--track", "wired:100:512",
		"--e2ee-passphrase", "e", "--log-file", logFile}, env(nil), stdio{out: &out, err: &errOut})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	m := regexp.MustCompile(`embedded SFU at ws://127\.0\.0\.1:\d+ \(API key \w+\); another client: set -a; \. '([^']+)'; set \+a`).FindStringSubmatch(errOut.String())
	if m == nil {
		t.Fatalf("no connect hint on stderr: %q", errOut.String())
	}
	if !strings.HasPrefix(m[1], cache+"/dttui/local-sfu-") {
		t.Fatalf("credentials file at %s, not under the cache directory", m[1])
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Fatalf("credentials file left behind: %v", err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n") {
		if !strings.HasPrefix(l, "dttui: embedded SFU at ") {
			t.Errorf("stderr has a line that is not dttui's: %q", l)
		}
	}
	n, last := jsonLines(t, out.String())
	if n < 2 || last["final"] != true {
		t.Fatalf("%d lines, last %v", n, last)
	}
	tr := last["tracks"].([]any)[0].(map[string]any)
	// Every frame pushed was sent or dropped with a reason (under -race on
	// a loaded machine, a few E2EE frames can meet a full queue).
	if tr["name"] != "wired" || tr["sent"].(float64) < 100 || tr["pushed"].(float64) != tr["sent"].(float64)+tr["dropped"].(float64) {
		t.Fatalf("track %v", tr)
	}
	if rx, ok := tr["rx"].(map[string]any); !ok || rx["frames"].(float64) == 0 {
		t.Fatalf("loopback saw nothing (E2EE with passphrase \"e\"): %v", tr["rx"])
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"logger=livekit", "pion.", "connect"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("log file lacks %q", want)
		}
	}
	if bytes.Contains(log, []byte("<redacted>")) {
		t.Errorf("a one-character passphrase garbled the log:\n%s", grep(string(log), "<redacted>"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// sharedSFU is one embedded SFU for the tests that only join it.
var sharedSFU = sync.OnceValues(func() (*localsfu.Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return localsfu.Start(ctx, localsfu.Options{})
})

func sfu(t *testing.T) *localsfu.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the embedded SFU")
	}
	s, err := sharedSFU()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	if s, err := sharedSFU(); err == nil && s != nil {
		_ = s.Close()
	}
	removeBinary()
	os.Exit(code)
}

// Headless exits non-zero, with one line on stderr saying why, when a
// requested track does not stay published (on main: exit 0).
func TestHeadlessExitsNonZeroWhenTracksFail(t *testing.T) {
	srv := sfu(t)
	noData := false
	token, err := auth.NewAccessToken(srv.APIKey, srv.APISecret).SetIdentity("reader").SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: "exit-codes", CanPublishData: &noData}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	noTracks, err := localsfu.Start(ctx, localsfu.Options{DisableDataTracks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer noTracks.Close()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"server without data tracks", []string{"--url", noTracks.URL, "--api-key", noTracks.APIKey, "--api-secret", noTracks.APISecret,
			"--loopback=false", "--track", "a", "--track", "b"}, `2 of 2 tracks did not stay published: "a" failed: `},
		{"no canPublishData", []string{"--url", srv.URL, "--token", token, "--track", "denied"}, `1 of 1 tracks did not stay published: "denied" failed: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			var errOut lockedBuffer
			code := run(context.Background(), append([]string{"--headless", "--duration", "3s"}, tc.args...), env(nil), stdio{out: &out, err: &errOut})
			lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
			last := lines[len(lines)-1]
			if code != exitTracks || !strings.HasPrefix(last, "dttui: "+tc.want) {
				t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
			}
			t.Logf("%s", last)
			// Quiet by default: no library chatter (main: pion's "Failed
			// to ping without candidate pairs" and more).
			for _, l := range lines {
				if !strings.HasPrefix(l, "dttui: ") || strings.Contains(l, "level=") {
					t.Errorf("stderr line not dttui's: %q", l)
				}
			}
			if _, final := jsonLines(t, out.String()); final["final"] != true {
				t.Fatalf("no final line: %v", final)
			}
		})
	}
}

// When the session gives up reconnecting, headless ends with exit 1 and
// says why (on main it printed dead lines until a signal, then exit 0).
func TestHeadlessEndsWhenSessionGivesUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded SFU")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := localsfu.Start(ctx, localsfu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, ReconnectTimeout: time.Second}
	o := options{Headless: true, Tracks: []trackSpec{{Name: "a", Rate: 10, Size: 64}}}
	var out, errOut lockedBuffer
	var stopped time.Time
	stopper := make(chan struct{})
	go func() {
		// Once the run is up (its first line says connected), the server goes.
		defer close(stopper)
		for !strings.Contains(out.String(), `"state":"connected"`) {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		stopped = time.Now()
		_ = srv.Close()
	}()
	code := runHeadless(ctx, o, cfg, stdio{out: &out}, &errOut, outputs{})
	<-stopper
	if code != exitFailure || !strings.HasPrefix(errOut.String(), "dttui: the session ended disconnected: ") || ctx.Err() != nil {
		t.Fatalf("exit %d: %q", code, errOut.String())
	}
	_, last := jsonLines(t, out.String())
	if last["final"] != true || last["connection"].(map[string]any)["state"] != "disconnected" {
		t.Fatalf("last line %v", last)
	}
	t.Logf("ended %v after the server stopped: %s", time.Since(stopped).Round(100*time.Millisecond), strings.TrimSpace(errOut.String()))
}

// hostile answers every request (the websocket upgrade and the SDK's
// validate call) with a 401 whose body drives the terminal.
const hostileBody = "\x1b]2;PWNED\x07\x1b[2J\x1b[H\x1b[31mFAKE: all frames delivered OK\n<more>"

func hostileServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, hostileBody)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A hostile server's error body reaches stderr, stdout's JSON and the log
// file only as visible escapes, cut to its first line.
func TestHeadlessHostileServerBody(t *testing.T) {
	checkLeaks(t)
	url := hostileServer(t)
	logFile := t.TempDir() + "/dttui.log"
	var out, errOut lockedBuffer
	code := run(context.Background(), []string{"--headless", "--url", url, "--api-key", "k", "--api-secret", "s", "--log-file", logFile},
		env(nil), stdio{out: &out, err: &errOut})
	want := `: server refused the join (HTTP 401 Unauthorized): \x1b]2;PWNED\x07\x1b[2J\x1b[H\x1b[31mFAKE: all frames delivered OK` + "\n"
	if code != exitFailure || !strings.HasPrefix(errOut.String(), "dttui: connect to ") || !strings.HasSuffix(errOut.String(), want) {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	_, last := jsonLines(t, out.String())
	if last["final"] != true || !strings.Contains(last["connection"].(map[string]any)["error"].(string), `\x1b]2;PWNED`) {
		t.Fatalf("final line %v", last)
	}
	log, _ := os.ReadFile(logFile)
	for what, b := range map[string]string{"stderr": errOut.String(), "stdout": out.String(), "log file": string(log)} {
		if strings.ContainsAny(b, "\x1b\x07") {
			t.Errorf("%s carries the raw body: %q", what, b)
		}
		if what != "log file" && strings.Contains(b, "<more>") {
			t.Errorf("%s shows more than the body's first line: %q", what, b)
		}
	}
	if !strings.Contains(string(log), "PWNED") {
		t.Errorf("the log file does not show the refusal:\n%s", log)
	}
}

// An interrupt during a connect that hangs ends the run within half a
// second (main: 10 s), with the final JSON line saying why; --duration
// bounds the connect too (main: --duration 5s ran 13 s).
func TestHeadlessInterruptAndDurationEndAHungConnect(t *testing.T) {
	checkLeaks(t)
	url := silent.Server(t)
	args := []string{"--headless", "--url", url, "--api-key", "k", "--api-secret", "s"}
	for _, tc := range []struct {
		name   string
		extra  []string
		cancel time.Duration // 0: never
		within time.Duration
		want   string // in the final line's error, and on stderr unless the code is 0
		code   int
	}{
		// Ctrl+C stops as asked, connecting or not (as in the UI): 0,
		// nothing on stderr, the final line says why.
		{"interrupt", nil, 300 * time.Millisecond, 800 * time.Millisecond, "(interrupted)", exitOK},
		{"duration", []string{"--duration", "700ms"}, 0, 1200 * time.Millisecond, "not connected within --duration 700ms: ", exitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel > 0 {
				time.AfterFunc(tc.cancel, cancel)
			}
			var out, errOut lockedBuffer
			start := time.Now()
			code := run(ctx, append(args, tc.extra...), env(nil), stdio{out: &out, err: &errOut})
			took := time.Since(start)
			if code != tc.code || took > tc.within || (code != exitOK) != strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d after %v: %q", code, took, errOut.String())
			}
			_, last := jsonLines(t, out.String())
			if conn, _ := last["connection"].(map[string]any); last["final"] != true || !strings.Contains(fmt.Sprint(conn["error"]), tc.want) {
				t.Fatalf("no final line with the error: %q", out.String())
			}
			t.Logf("ended after %v: %s", took.Round(time.Millisecond), strings.TrimSpace(errOut.String()))
		})
	}
}

// A busy --local-port fails at once when given, and the default port
// falls back to a free one, saying so (main: 10 s stall either way).
func TestBusyLocalPort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded SFU")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	var out, errOut lockedBuffer
	start := time.Now()
	code := run(context.Background(), []string{"--headless", "--local-port", fmt.Sprint(port)}, env(nil), stdio{out: &out, err: &errOut})
	if want := fmt.Sprintf("dttui: --local-port %d is in use (another dttui or LiveKit server?); pick another, or 0 for any free port\n", port); code != exitFailure || errOut.String() != want || time.Since(start) > time.Second {
		t.Fatalf("exit %d after %v: %q", code, time.Since(start), errOut.String())
	}

	// The default port, busy: a free one instead, said on stderr.
	errOut = lockedBuffer{}
	start = time.Now()
	o := options{Headless: true, LocalPort: port}
	srv, envf, err := startLocalSFU(context.Background(), o, redact.Logger(nil), &errOut)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	defer envf.Remove()
	if !strings.HasPrefix(errOut.String(), fmt.Sprintf("dttui: port %d is in use; the embedded SFU listens on %d instead\n", port, srv.Port)) || time.Since(start) > 2*time.Second {
		t.Fatalf("after %v: %q", time.Since(start), errOut.String())
	}
}

// The exit-code policy: the connection first, then the tracks; a closed
// stdout is the reader saying stop.
func TestExitStatus(t *testing.T) {
	connected := report.Status{State: report.Connected}
	for _, tc := range []struct {
		res  headless.Result
		err  error
		code int
		why  string
	}{
		{headless.Result{Connection: connected}, nil, exitOK, ""},
		{headless.Result{Connection: connected}, syscall.EPIPE, exitOK, ""},
		{headless.Result{Connection: connected}, syscall.ENOSPC, exitFailure, "writing stdout: no space left on device"},
		{headless.Result{Unpublished: []headless.TrackError{{Name: "a", Error: "unpublished: connection lost"}},
			Connection: report.Status{State: report.Disconnected, Err: errors.New("could not reconnect within 30s")}},
			nil, exitFailure, "the session ended disconnected: could not reconnect within 30s"},
		{headless.Result{Failed: []headless.TrackError{{Name: "a", Error: "timeout"}},
			Unpublished: []headless.TrackError{{Name: "b", Error: "unpublished by the SFU"}}, Connection: connected},
			nil, exitTracks, `2 of 3 tracks did not stay published: "a" failed: timeout; "b" unpublished by the SFU`},
		{headless.Result{Sources: []headless.SourceResult{{Track: "a"}, {Track: "b", Result: source.Result{Frames: 1}, Err: errors.New("frame 2 (line 2): frame is not valid JSON")}},
			Connection: connected}, nil, exitTracks, `data not all sent: "b" after 1 frames: frame 2 (line 2): frame is not valid JSON`},
	} {
		if code, why := exitStatus(tc.res, tc.err, 3); code != tc.code || why != tc.why {
			t.Errorf("%+v %v: (%d, %q), want (%d, %q)", tc.res, tc.err, code, why, tc.code, tc.why)
		}
	}
}

// checkLeaks fails t if goroutines started during it outlive it and its
// cleanups. Only for tests that start no embedded SFU: livekit-server
// leaves process-wide goroutines behind by design.
func checkLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}
