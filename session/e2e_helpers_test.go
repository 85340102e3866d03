package session

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/report"
)

// acrossSFUs runs test once per SFU build, as subtests "embedded" and
// "released" (skipped, or failed under DTTUI_REQUIRE_RELEASED_SFU=1, when
// the released binary cannot be had). Inside, sfu and startSFU give that
// build's server.
func acrossSFUs(t *testing.T, test func(t *testing.T)) {
	t.Helper()
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		sfuKinds.Store(t, kind)
		t.Cleanup(func() { sfuKinds.Delete(t) })
		test(t)
	})
}

// sfuKinds maps each running acrossSFUs subtest to its build; a test not
// run through acrossSFUs gets the embedded one.
var sfuKinds sync.Map // *testing.T → testsfu.Kind

func sfuKind(t *testing.T) testsfu.Kind {
	if k, ok := sfuKinds.Load(t); ok {
		return k.(testsfu.Kind)
	}
	return testsfu.Embedded
}

// One SFU per build serves the tests that don't stop it; tests that do
// start their own with startSFU.
var shared = map[testsfu.Kind]*sharedSFU{testsfu.Embedded: {}, testsfu.Released: {}}

type sharedSFU struct {
	once sync.Once
	srv  *testsfu.Server
	err  error
}

// start starts the server on first use, for the whole test binary.
func (sh *sharedSFU) start(kind testsfu.Kind, opts testsfu.Options) (*testsfu.Server, error) {
	sh.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		sh.srv, sh.err = testsfu.Start(ctx, kind, opts)
	})
	return sh.srv, sh.err
}

func sfu(t *testing.T) *testsfu.Server {
	t.Helper()
	kind := sfuKind(t)
	// A generous queueing target toward subscribers: the tests check
	// what dttui sends, not how the SFU sheds load on a busy CI box.
	srv, err := shared[kind].start(kind, testsfu.Options{DataTrackTargetLatency: 5 * time.Second})
	if err != nil {
		t.Fatalf("%s SFU: %v", kind, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			srv.LogTail(t, 40)
		}
	})
	return srv
}

// startSFU starts a server of the test's build for it alone (for tests
// that stop or reconfigure it); it is closed when the test ends.
func startSFU(t *testing.T, opts testsfu.Options) *testsfu.Server {
	t.Helper()
	return testsfu.StartT(t, sfuKind(t), opts)
}

func TestMain(m *testing.M) {
	// Library logs go to a file (DTTUI_TEST_LOG) or nowhere: never stderr.
	// Nowhere means a disabled handler, so pion's and the SFU's debug lines
	// are not even formatted (that cost ~12% of the CPU in benchmarks).
	testLog = slog.New(slog.DiscardHandler)
	if path := os.Getenv("DTTUI_TEST_LOG"); path != "" {
		if f, err := os.Create(path); err == nil {
			testLog = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	if os.Getenv(stderrChildEnv) == "" {
		// Once, before any server runs: the libraries' globals are not
		// synchronised. Tests that need to see these lines tap libLogs.
		libLogs.base = testLog.Handler()
		RouteLibraryLogs(slog.New(libLogs))
	}
	code := m.Run()
	for _, sh := range []map[testsfu.Kind]*sharedSFU{shared, benchSrv} {
		for _, s := range sh {
			if s.srv != nil {
				_ = s.srv.Close()
			}
		}
	}
	os.Exit(code)
}

var testLog *slog.Logger

// bounded gives every e2e step a deadline, so no test can hang.
func bounded(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, srv *testsfu.Server, cfg Config) *Session {
	t.Helper()
	cfg.URL = srv.URL
	if cfg.Token == "" {
		cfg.APIKey, cfg.APISecret = srv.APIKey, srv.APISecret
	}
	if cfg.Logger == nil {
		cfg.Logger = testLog
	}
	s, err := Connect(bounded(t, 20*time.Second), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitSubscribed waits until the loopback subscriber can receive tr.
func waitSubscribed(t *testing.T, s *Session, tr *Track) {
	t.Helper()
	eventually(t, 15*time.Second, "loopback subscription to "+tr.Name(), func() bool { return rx(s, tr).Subscribed })
}

// row is the report's entry for tr.
func row(s *Session, tr *Track) report.Local {
	for _, l := range s.Report(nil).Local {
		if l.Handle == tr.Handle() {
			return l
		}
	}
	return report.Local{}
}

// rx is what the loopback subscriber received of tr.
func rx(s *Session, tr *Track) report.Receive {
	if r := row(s, tr).Rx; r != nil {
		return *r
	}
	return report.Receive{}
}

// libLogs receives the libraries' process-wide logs (the embedded SFU's,
// the SDK's package logger) for the whole test binary.
var libLogs = &tapHandler{shared: &tapState{}}

// tapHandler writes to base and, while a test taps it, to that test's
// handler too.
type tapHandler struct {
	base   slog.Handler
	shared *tapState
	ops    []func(slog.Handler) slog.Handler // WithAttrs/WithGroup to replay on the tap
}

type tapState struct {
	mu  sync.Mutex
	tap slog.Handler
}

// tapLibraryLogs also sends library log lines to h until the test ends.
func tapLibraryLogs(t testing.TB, h slog.Handler) {
	libLogs.shared.mu.Lock()
	libLogs.shared.tap = h
	libLogs.shared.mu.Unlock()
	t.Cleanup(func() {
		libLogs.shared.mu.Lock()
		libLogs.shared.tap = nil
		libLogs.shared.mu.Unlock()
	})
}

func (h *tapHandler) current() slog.Handler {
	h.shared.mu.Lock()
	defer h.shared.mu.Unlock()
	return h.shared.tap
}

func (h *tapHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.base.Enabled(ctx, l) || h.current() != nil
}

func (h *tapHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.base.Enabled(ctx, r.Level) {
		_ = h.base.Handle(ctx, r.Clone())
	}
	if tap := h.current(); tap != nil {
		for _, op := range h.ops {
			tap = op(tap)
		}
		if tap.Enabled(ctx, r.Level) {
			return tap.Handle(ctx, r)
		}
	}
	return nil
}

func (h *tapHandler) with(op func(slog.Handler) slog.Handler) *tapHandler {
	return &tapHandler{base: op(h.base), shared: h.shared, ops: append(slices.Clip(h.ops), op)}
}

func (h *tapHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.with(func(x slog.Handler) slog.Handler { return x.WithAttrs(as) })
}

func (h *tapHandler) WithGroup(name string) slog.Handler {
	return h.with(func(x slog.Handler) slog.Handler { return x.WithGroup(name) })
}

// testLogs keeps, for a test, the last n lines of its sessions' logs (at
// Info) and the libraries' last 10n lines at Warn and above (the embedded
// SFU's Info lines, one per track, would crowd out the sessions' own; a
// teardown's warnings, a few per track, pushed out what came before it in
// n), with the SFU's lines on signal connections at any level, and logs
// both if the test fails: for flakes whose cause is only in the logs.
type testLogs struct {
	*slog.Logger // for the sessions
	srv          *testsfu.Server
	libs         *lineRing
}

func logOnFailure(t *testing.T, srv *testsfu.Server, n int) *testLogs {
	t.Helper()
	ours, libs := &lineRing{max: n}, &lineRing{max: 10 * n}
	tapLibraryLogs(t, signalLines{slog.NewTextHandler(libs, &slog.HandlerOptions{Level: slog.LevelDebug})})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the sessions' last %d log lines (Info and above):\n%s", n, ours.String())
			t.Logf("the libraries' last %d log lines (Warn and above, and the SFU's on signal connections):\n%s", libs.max, libs.String())
		}
	})
	return &testLogs{Logger: slog.New(slog.NewTextHandler(ours, &slog.HandlerOptions{Level: slog.LevelInfo})), srv: srv, libs: libs}
}

// sfuSaid is the SFU's lines with message msg about participant identity:
// the embedded SFU's from the ring, a released server's from its log file
// (tab-separated, its fields as JSON).
func (l *testLogs) sfuSaid(msg, identity string) []string {
	var lines []string
	if path := l.srv.LogPath(); path != "" {
		b, _ := os.ReadFile(path)
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.Contains(line, "\t"+msg+"\t") && strings.Contains(line, `"participant": "`+identity+`"`) {
				lines = append(lines, line)
			}
		}
		return lines
	}
	for line := range strings.SplitSeq(l.libs.String(), "\n") {
		if strings.Contains(line, "msg=\""+msg+"\"") && strings.Contains(line, " participant="+identity+" ") {
			lines = append(lines, line)
		}
	}
	return lines
}

// signalLines passes on Warn and above, and the SFU's lines at any level
// that say why a participant's signal connection went: they are at Debug,
// among thousands a test does not want.
type signalLines struct{ slog.Handler }

var signalMessages = []string{
	"closing signal connection", "swapping signal connection", // the room closed the sink (with its reason)
	"signal stream closed",                 // the relay between room and websocket ended (with its error)
	"nothing to read from response source", // so the websocket is closed
	"finishing WS connection",
}

// sfuRelayGaveUp is the SFU's warning when its relay from the room to a
// participant's websocket (livekit-server pkg/routing/signal.go) could not
// hand over its queue within its retry timeout (7.5 s), so it skipped it
// and the websocket's side closed the connection on the gap.
const sfuRelayGaveUp = "could not send signal message"

func (h signalLines) Enabled(context.Context, slog.Level) bool { return true }

func (h signalLines) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn || slices.Contains(signalMessages, r.Message) {
		return h.Handler.Handle(ctx, r)
	}
	return nil
}

func (h signalLines) WithAttrs(as []slog.Attr) slog.Handler {
	return signalLines{h.Handler.WithAttrs(as)}
}

func (h signalLines) WithGroup(g string) slog.Handler { return signalLines{h.Handler.WithGroup(g)} }

// lineRing keeps the last max lines written to it.
type lineRing struct {
	mu    sync.Mutex
	max   int
	lines []string // up to max; once full, next is the oldest
	next  int
}

func (r *lineRing) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for l := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		if len(r.lines) < r.max {
			r.lines = append(r.lines, l)
			continue
		}
		r.lines[r.next] = l
		r.next = (r.next + 1) % r.max
	}
	return len(b), nil
}

func (r *lineRing) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(append(slices.Clone(r.lines[r.next:]), r.lines[:r.next]...), "\n")
}

// The ring keeps the last max lines in order, across writes of several.
func TestLineRingKeepsTheLastLines(t *testing.T) {
	r := &lineRing{max: 3}
	_, _ = r.Write([]byte("a\nb\n"))
	if got := r.String(); got != "a\nb" {
		t.Fatalf("before full: %q", got)
	}
	_, _ = r.Write([]byte("c\nd\ne\n"))
	_, _ = r.Write([]byte("f\n"))
	if got := r.String(); got != "d\ne\nf" {
		t.Fatalf("after wrapping: %q", got)
	}
}
