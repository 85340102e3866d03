package rtc

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dttui/dttui/internal/logtest"
	"github.com/dttui/dttui/logorigin"
)

// pion's records say they are pion's (logorigin), as the other libraries'
// do (session's TestLibraryLogsCarryOrigin).
func TestPionLogsCarryOrigin(t *testing.T) {
	var got []slog.Record
	pionLoggerFactory(slog.New(logtest.Recorder{Out: &got}), nil).NewLogger("ice").Warn("pion line")
	var o logorigin.Origin
	if len(got) == 1 {
		got[0].Attrs(func(a slog.Attr) bool {
			if a.Key == logorigin.Key {
				o, _ = logorigin.Of(a.Value)
			}
			return true
		})
	}
	if len(got) != 1 || got[0].Message != "pion line" || o != logorigin.Pion {
		t.Fatalf("%d records, origin %q", len(got), o)
	}
}

func TestIsLoopbackURL(t *testing.T) {
	for in, want := range map[string]bool{
		"ws://127.0.0.1:7880":         true,
		"ws://localhost:7880":         true,
		"ws://[::1]:7880":             true,
		"wss://example.livekit.cloud": false,
		"ws://10.0.0.2:7880":          false,
		"::not a url":                 false,
	} {
		if got := IsLoopbackURL(in); got != want {
			t.Errorf("IsLoopbackURL(%q) = %v", in, got)
		}
	}
}

// pion's SCTP logger writes three Debug lines per packet received: with
// --verbose --log-file that was a line per packet. It logs from Info up
// unless PION_LOG_DEBUG names it; other scopes keep their Debug lines.
func TestPionSCTPDebugIsOffUnlessAsked(t *testing.T) {
	var buf bytes.Buffer
	f := pionLoggerFactory(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: levelTrace})), nil)
	f.NewLogger("sctp").Debugf("packet %d", 1)
	f.NewLogger("sctp").Trace("chunk")
	f.NewLogger("sctp").Warn("sctp warning")
	f.NewLogger("ice").Debug("ice debug")
	out := buf.String()
	if strings.Contains(out, "packet 1") || strings.Contains(out, "chunk") || !strings.Contains(out, "sctp warning") || !strings.Contains(out, "ice debug") {
		t.Fatalf("log:\n%s", out)
	}
	t.Setenv("PION_LOG_DEBUG", "ice,SCTP")
	buf.Reset()
	f.NewLogger("sctp").Debugf("packet %d", 2)
	f.NewLogger("sctp").Trace("chunk")
	if out := buf.String(); !strings.Contains(out, "packet 2") || strings.Contains(out, "chunk") {
		t.Fatalf("with PION_LOG_DEBUG=sctp:\n%s", out)
	}
}

// pion's demultiplexer logs each datagram it drops, at Info, and nothing
// else sees it: the count is the connection's LocalDrops, with one
// warning instead of a line per datagram; its other lines pass.
func TestPionMuxDropsAreCounted(t *testing.T) {
	var got []slog.Record
	var drops atomic.Uint64
	f := pionLoggerFactory(slog.New(logtest.Recorder{Out: &got}), &drops)
	mux := f.NewLogger("mux")
	for range 3 {
		mux.Infof(pionMuxDropped)
	}
	mux.Info(pionMuxDropped)
	mux.Warnf("Warning: mux: no endpoint for packet starting with %d", 7)
	f.NewLogger("ice").Info(pionMuxDropped) // another scope: not the demultiplexer's
	if n := drops.Load(); n != 4 {
		t.Fatalf("%d drops counted, want 4", n)
	}
	var msgs []string
	for _, r := range got {
		msgs = append(msgs, r.Level.String()+" "+r.Message)
	}
	if len(got) != 3 || got[0].Level != slog.LevelWarn || !strings.Contains(got[0].Message, "not on the path") ||
		got[1].Message != "Warning: mux: no endpoint for packet starting with 7" || got[2].Message != pionMuxDropped {
		t.Fatalf("records %q", msgs)
	}
	// Without a counter (a caller that does not ask), the line is logged.
	got = nil
	pionLoggerFactory(slog.New(logtest.Recorder{Out: &got}), nil).NewLogger("mux").Info(pionMuxDropped)
	if len(got) != 1 || got[0].Message != pionMuxDropped {
		t.Fatalf("uncounted: %d records", len(got))
	}
}

// A LiveKit logger prints a pointer to a struct as its type, unless it
// says how to print itself: fmt would read every field without the lock
// that guards them (the embedded SFU logs a *telemetry.StatsWorker its
// flush goroutine writes to). The caller's values are not changed.
func TestLiveKitLoggerKeepsOutOfStructs(t *testing.T) {
	type worker struct{ n int }
	var got []slog.Record
	l := LiveKitLogger(slog.New(logtest.Recorder{Out: &got}), logorigin.SFU)
	w := &worker{n: 1}
	kv := []any{"worker", w, "err", errors.New("e"), "n", 3, "s", &stringer{}, "plain", worker{n: 2}}
	l.Infow("m", kv...)
	if kv[1] != any(w) {
		t.Fatal("the caller's values changed")
	}
	attrs := map[string]string{}
	got[0].Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	want := map[string]string{"worker": "*rtc.worker", "err": "e", "n": "3", "s": "stringer", "plain": "{2}"}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("%s = %q, want %q", k, attrs[k], v)
		}
	}
}

type stringer struct{}

func (stringer) String() string { return "stringer" }

// Values given once to a logger are kept out of structs too, and a line's
// appended error never lands in the caller's spare capacity.
func TestLiveKitLoggerWithValuesKeepsOutOfStructs(t *testing.T) {
	type worker struct{ n int }
	var got []slog.Record
	l := LiveKitLogger(slog.New(logtest.Recorder{Out: &got}), logorigin.SFU).WithValues("worker", &worker{})
	kv := make([]any, 2, 8)
	kv[0], kv[1] = "k", "v"
	l.Warnw("m", errors.New("e"), kv...)
	if spare := kv[:4]; spare[2] != nil || spare[3] != nil {
		t.Fatalf("wrote past the caller's values: %v", spare)
	}
	attrs := map[string]string{}
	got[0].Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	if attrs["worker"] != "*rtc.worker" || attrs["error"] != "e" || attrs["k"] != "v" {
		t.Fatalf("attrs %v", attrs)
	}
}
