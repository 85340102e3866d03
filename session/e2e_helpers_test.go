package session

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session/localsfu"
)

// One embedded SFU serves the tests that don't stop it; tests that do
// start their own.
var (
	sharedOnce sync.Once
	shared     *localsfu.Server
	sharedErr  error
)

func sfu(t *testing.T) *localsfu.Server {
	t.Helper()
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// A generous queueing target toward subscribers: the tests check
		// what dttui sends, not how the SFU sheds load on a busy CI box.
		shared, sharedErr = localsfu.Start(ctx, localsfu.Options{DataTrackTargetLatency: 5 * time.Second})
	})
	if sharedErr != nil {
		t.Fatalf("embedded SFU: %v", sharedErr)
	}
	return shared
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
	for _, s := range []*localsfu.Server{shared, benchSrv} {
		if s != nil {
			_ = s.Close()
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

func connect(t *testing.T, srv *localsfu.Server, cfg Config) *Session {
	t.Helper()
	cfg.URL = srv.URL
	if cfg.Token == "" {
		cfg.APIKey, cfg.APISecret = srv.APIKey, srv.APISecret
	}
	cfg.Logger = testLog
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
func tapLibraryLogs(t *testing.T, h slog.Handler) {
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
