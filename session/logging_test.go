package session

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/logger"
	"github.com/redis/go-redis/v9"

	"github.com/dttui/dttui/internal/logtest"
	"github.com/dttui/dttui/logorigin"
	"github.com/dttui/dttui/session/localsfu/sfulog"
	"github.com/dttui/dttui/session/rtc"
)

// Library records say who wrote them, as a value a reader can filter on:
// the SDK's and the process-wide (embedded SFU's) logger each tag their
// records (pion's: rtc's TestPionLogsCarryOrigin); dttui's own carry no
// origin.
func TestLibraryLogsCarryOrigin(t *testing.T) {
	var got []slog.Record
	l := slog.New(logtest.Recorder{Out: &got})
	rtc.ProtocolLogger(l).Infow("sdk line")
	rtc.LiveKitLogger(l, logorigin.SFU).Infow("sfu line")
	redisLogger{logorigin.With(l, logorigin.SFU)}.Printf(context.Background(), "redis %s", "line")
	l.Info("own line")
	want := []struct {
		msg string
		o   logorigin.Origin
	}{{"sdk line", logorigin.SDK}, {"sfu line", logorigin.SFU}, {"redis line", logorigin.SFU}, {"own line", ""}}
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

// The SFU's and the SDK's lines keep their levels: LiveKit's logr adapter
// writes warnings at Info and debug lines at V(1), so a Warn filter never
// saw the SFU's warnings. Names and values carry through.
func TestLiveKitLinesKeepTheirLevels(t *testing.T) {
	var got []slog.Record
	l := slog.New(logtest.Recorder{Out: &got})
	lk := rtc.LiveKitLogger(l, logorigin.SFU).WithName("livekit").WithValues("participant", "p")
	lk.Debugw("d")
	lk.Infow("i")
	lk.Warnw("w", errors.New("boom"))
	lk.WithComponent("sfu").Errorw("e", errors.New("bang"))
	lk.WithUnlikelyValues("k", 1).Warnw("u", nil)
	want := []struct {
		msg, logger, err string
		level            slog.Level
	}{{"d", "livekit", "", slog.LevelDebug}, {"i", "livekit", "", slog.LevelInfo}, {"w", "livekit", "boom", slog.LevelWarn},
		{"e", "livekit/sfu", "bang", slog.LevelError}, {"u", "livekit", "", slog.LevelWarn}}
	if len(got) != len(want) {
		t.Fatalf("%d records", len(got))
	}
	for i, w := range want {
		attrs := map[string]string{}
		got[i].Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		errText := attrs["error"] + attrs["err"]
		if got[i].Message != w.msg || got[i].Level != w.level || attrs["logger"] != w.logger || attrs["participant"] != "p" || errText != w.err {
			t.Errorf("record %d: %q at %v, attrs %v; want %q at %v, logger %q, error %q", i, got[i].Message, got[i].Level, attrs, w.msg, w.level, w.logger, w.err)
		}
	}
	unlikely := ""
	got[4].Attrs(func(a slog.Attr) bool {
		if a.Key == "k" {
			unlikely = a.Value.String()
		}
		return true
	})
	if unlikely != "1" {
		t.Errorf("the unlikely value: %q", unlikely)
	}
}

// The embedded SFU's line per packet it did not forward reaches the log
// pane at Debug (the report counts those); its other warnings stay
// warnings.
func TestSFUPerPacketLinesAreQuiet(t *testing.T) {
	var got []slog.Record
	var mu sync.Mutex
	tapLibraryLogs(t, lockedRecorder{&mu, &got})
	logger.Warnw(sfulog.NotSent, errors.New(sfulog.ShedError))
	logger.Warnw("could not send signal message", errors.New("request timed out"))
	mu.Lock()
	defer mu.Unlock()
	levels := map[string]slog.Level{}
	for _, r := range got {
		levels[r.Message] = r.Level
	}
	if l, ok := levels[sfulog.NotSent]; !ok || l != slog.LevelDebug {
		t.Errorf("per packet: %v (seen %v)", l, ok)
	}
	if l, ok := levels["could not send signal message"]; !ok || l != slog.LevelWarn {
		t.Errorf("a warning: %v (seen %v)", l, ok)
	}
}

type lockedRecorder struct {
	mu  *sync.Mutex
	out *[]slog.Record
}

func (h lockedRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h lockedRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.out = append(*h.out, r.Clone())
	return nil
}
func (h lockedRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h lockedRecorder) WithGroup(string) slog.Handler      { return h }

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
