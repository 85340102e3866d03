package session

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

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
	var w io.Writer = io.Discard
	if path := os.Getenv("DTTUI_TEST_LOG"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			w = f
		}
	}
	testLog = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if os.Getenv(stderrChildEnv) == "" {
		RouteLibraryLogs(testLog)
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

// waitSubscribed waits until the loopback subscriber can receive name.
func waitSubscribed(t *testing.T, s *Session, name string) {
	t.Helper()
	eventually(t, 15*time.Second, "loopback subscription to "+name, func() bool { return s.Received()[name].Subscribed })
}
