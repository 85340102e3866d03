package session

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dttui/dttui/internal/logtest"
	"github.com/dttui/dttui/logorigin"
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
	rtc.LogrLogger(l, logorigin.SFU).Infow("sfu line")
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
