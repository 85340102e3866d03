package session

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dttui/dttui/logorigin"
)

func TestIsLoopbackURL(t *testing.T) {
	for in, want := range map[string]bool{
		"ws://127.0.0.1:7880":         true,
		"ws://localhost:7880":         true,
		"ws://[::1]:7880":             true,
		"wss://example.livekit.cloud": false,
		"ws://10.0.0.2:7880":          false,
		"::not a url":                 false,
	} {
		if got := isLoopbackURL(in); got != want {
			t.Errorf("isLoopbackURL(%q) = %v", in, got)
		}
	}
}

// Library records say who wrote them, as a value a reader can filter on:
// pion's, the SDK's and the process-wide (embedded SFU's) logger each tag
// their records; dttui's own carry no origin.
func TestLibraryLogsCarryOrigin(t *testing.T) {
	var got []slog.Record
	l := slog.New(recordHandler{&got})
	pionLoggerFactory(l, nil).NewLogger("ice").Warn("pion line")
	protocolLogger(l).Infow("sdk line")
	logrLogger(l, logorigin.SFU).Infow("sfu line")
	redisLogger{logorigin.With(l, logorigin.SFU)}.Printf(context.Background(), "redis %s", "line")
	l.Info("own line")
	want := []struct {
		msg string
		o   logorigin.Origin
	}{{"pion line", logorigin.Pion}, {"sdk line", logorigin.SDK}, {"sfu line", logorigin.SFU}, {"redis line", logorigin.SFU}, {"own line", ""}}
	if len(got) != len(want) {
		t.Fatalf("%d records", len(got))
	}
	for i, w := range want {
		var o logorigin.Origin
		got[i].Attrs(func(a slog.Attr) bool {
			if a.Key == logorigin.Key {
				o, _ = logorigin.Of(a.Value)
			}
			return true
		})
		if got[i].Message != w.msg || o != w.o {
			t.Errorf("record %d: %q origin %q, want %q %q", i, got[i].Message, o, w.msg, w.o)
		}
	}
}

// recordHandler keeps records, with the attributes given to With folded in.
type recordHandler struct{ out *[]slog.Record }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	*h.out = append(*h.out, r.Clone())
	return nil
}
func (h recordHandler) WithAttrs(as []slog.Attr) slog.Handler { return withAttrs{h, as} }
func (h recordHandler) WithGroup(string) slog.Handler         { return h }

type withAttrs struct {
	recordHandler
	as []slog.Attr
}

func (h withAttrs) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.as...)
	return h.recordHandler.Handle(ctx, r)
}
func (h withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return withAttrs{h.recordHandler, append(append([]slog.Attr(nil), h.as...), as...)}
}

// go-redis's package logger (stderr by default) goes where the other
// libraries' do: a duration it must round is one of the lines it writes,
// before it even dials.
func TestRedisLogsAreRouted(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	tapLibraryLogs(t, slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rc.Close()
	_ = rc.Set(context.Background(), "k", "v", time.Microsecond).Err()
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "truncating to 1ms") || !strings.Contains(logs.String(), "origin=sfu") {
		t.Fatalf("library logs: %q", logs.String())
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
	f := pionLoggerFactory(slog.New(recordHandler{&got}), &drops)
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
	pionLoggerFactory(slog.New(recordHandler{&got}), nil).NewLogger("mux").Info(pionMuxDropped)
	if len(got) != 1 || got[0].Message != pionMuxDropped {
		t.Fatalf("uncounted: %d records", len(got))
	}
}
