package rtc

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/logger/zaputil"
	"github.com/pion/logging"

	"github.com/dttui/dttui/logorigin"
)

// The libraries under a connection log through loggers made here: the
// SDK's (its signalling) and pion's (each SettingEngine's factory), to the
// caller's slog.Logger, tagged with their origin.

// ProtocolLogger is the SDK's logger for our connections.
func ProtocolLogger(l *slog.Logger) logger.Logger { return LiveKitLogger(l, logorigin.SDK) }

// LiveKitLogger is a LiveKit logger writing to l, tagged with origin o.
func LiveKitLogger(l *slog.Logger, o logorigin.Origin) logger.Logger {
	if l == nil {
		return logger.GetDiscardLogger()
	}
	return lkLogger{l: logorigin.With(l, o)}
}

// lkLogger is LiveKit's logger interface over slog at slog's own levels.
// LiveKit's logr adapter (logger.LogRLogger) writes its warnings at Info,
// where a reader filtering on Warn never sees them: the SFU's "could not
// send signal message" among them.
type lkLogger struct {
	l    *slog.Logger
	name string // LiveKit's logger name, as logr's slog adapter puts it: "a/b"
}

func (k lkLogger) log(level slog.Level, msg string, kv []any) {
	if !k.l.Enabled(context.Background(), level) {
		return
	}
	kv = opaqueStructs(kv)
	if k.name != "" {
		kv = append(slices.Clip(kv), "logger", k.name)
	}
	k.l.Log(context.Background(), level, msg, kv...)
}

// opaqueStructs replaces each value in kv that points to a struct with
// nothing to say of itself (no String, Error or LogValue method) by its
// type. fmt would print every field, unexported ones included, without
// the lock that guards them: the SFU logs its *telemetry.StatsWorker while
// its flush writes to it, a data race in our process. LiveKit's own zap
// logger encodes exported fields only. The caller's kv is never written
// to (appends here clip it first).
func opaqueStructs(kv []any) []any {
	out := kv
	for i := 1; i < len(kv); i += 2 {
		switch kv[i].(type) {
		case fmt.Stringer, error, slog.LogValuer:
			continue
		}
		if v := reflect.ValueOf(kv[i]); v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() == reflect.Struct {
			if &out[0] == &kv[0] {
				out = slices.Clone(kv)
			}
			out[i] = fmt.Sprintf("%T", kv[i])
		}
	}
	return out
}

func (k lkLogger) Debugw(msg string, kv ...any) { k.log(slog.LevelDebug, msg, kv) }
func (k lkLogger) Infow(msg string, kv ...any)  { k.log(slog.LevelInfo, msg, kv) }

func (k lkLogger) Warnw(msg string, err error, kv ...any) {
	if err != nil {
		kv = append(slices.Clip(kv), "error", err)
	}
	k.log(slog.LevelWarn, msg, kv)
}

func (k lkLogger) Errorw(msg string, err error, kv ...any) {
	if err != nil {
		kv = append(slices.Clip(kv), "err", err)
	}
	k.log(slog.LevelError, msg, kv)
}

// WithValues' values are formatted at each line, as the line's own are.
func (k lkLogger) WithValues(kv ...any) logger.Logger {
	return lkLogger{k.l.With(opaqueStructs(kv)...), k.name}
}

func (k lkLogger) WithUnlikelyValues(kv ...any) logger.UnlikelyLogger {
	return logger.NewUnlikelyLogger(k, kv...)
}

func (k lkLogger) WithName(name string) logger.Logger {
	if k.name != "" {
		name = k.name + "/" + name
	}
	return lkLogger{k.l, name}
}

func (k lkLogger) WithComponent(component string) logger.Logger { return k.WithName(component) }
func (k lkLogger) WithCallDepth(int) logger.Logger              { return k }
func (k lkLogger) WithItemSampler() logger.Logger               { return k }
func (k lkLogger) WithoutSampler() logger.Logger                { return k }

func (k lkLogger) WithDeferredValues() (logger.Logger, logger.DeferredFieldResolver) {
	return k, zaputil.NoOpDeferrer{} // as LiveKit's logr adapter: deferred values are dropped
}

// pionLoggerFactory routes a PeerConnection's logs to l. Unlike
// protocol's pionlogger, it checks the level before formatting: SCTP
// formats a trace line per chunk, which cost ~4% of the CPU at full rate
// with the lines then thrown away.
// Datagrams pion's demultiplexer drops are counted in drops.
func pionLoggerFactory(l *slog.Logger, drops *atomic.Uint64) logging.LoggerFactory {
	return pionFactory{l, drops}
}

type pionFactory struct {
	l     *slog.Logger
	drops *atomic.Uint64
}

func (f pionFactory) NewLogger(scope string) logging.LeveledLogger {
	pl := pionLogger{l: logorigin.With(f.l, logorigin.Pion).With("logger", "pion."+scope), min: pionMinLevel(scope, os.Getenv)}
	if scope == "mux" && f.drops != nil {
		return &muxLogger{pionLogger: pl, drops: f.drops}
	}
	return pl
}

// pionMuxDropped is the line pion's demultiplexer logs, and its only
// trace, for each datagram it drops because DTLS has not read the ones
// before it (pion/webrtc internal/mux: a 1 MB buffer, not configurable).
const pionMuxDropped = "mux: endpoint buffer is full, dropping packet"

// muxLogger turns pion's per-datagram drop line into a count (the
// report's LocalDrops) and one warning per connection, instead of a log
// line per datagram at the packet rate.
type muxLogger struct {
	pionLogger
	drops  *atomic.Uint64
	warned atomic.Bool
}

func (m *muxLogger) dropped(msg string) bool {
	if msg != pionMuxDropped {
		return false
	}
	m.drops.Add(1)
	if !m.warned.Swap(true) {
		m.pionLogger.log(slog.LevelWarn, "pion dropped a datagram it received: its 1 MB buffer before DTLS was full, "+
			"so dttui did not read fast enough; whatever the datagram carried is lost here, not on the path "+
			"(counted in the connection's local drops; further drops are not logged)")
	}
	return true
}

func (m *muxLogger) Info(msg string) {
	if !m.dropped(msg) {
		m.pionLogger.Info(msg)
	}
}

func (m *muxLogger) Infof(format string, args ...any) {
	if len(args) > 0 || !m.dropped(format) {
		m.pionLogger.Infof(format, args...)
	}
}

// pionPerPacketScopes are pion's loggers that write at Debug for every
// packet: SCTP writes three lines per packet received, which filled
// --verbose --log-file at the packet rate. They log from Info up unless
// PION_LOG_DEBUG or PION_LOG_TRACE names them (or "all"), the variables
// pion's own logger factory reads.
var pionPerPacketScopes = []string{"sctp"}

// pionMinLevel is the least level scope logs at, given the environment.
func pionMinLevel(scope string, getenv func(string) string) slog.Level {
	if !slices.Contains(pionPerPacketScopes, scope) {
		return levelTrace
	}
	names := func(v string) bool {
		for _, s := range strings.Split(strings.ToLower(getenv(v)), ",") {
			if s = strings.TrimSpace(s); s == scope || s == "all" {
				return true
			}
		}
		return false
	}
	switch {
	case names("PION_LOG_TRACE"):
		return levelTrace
	case names("PION_LOG_DEBUG"):
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// levelTrace sits below Debug: pion's trace lines only show when a
// handler asks for that much.
const levelTrace = slog.LevelDebug - 4

type pionLogger struct {
	l   *slog.Logger
	min slog.Level // below it, nothing (pionMinLevel)
}

func (p pionLogger) log(lv slog.Level, msg string) {
	if lv >= p.min {
		p.l.Log(context.Background(), lv, msg)
	}
}

func (p pionLogger) logf(lv slog.Level, format string, args ...any) {
	if lv >= p.min && p.l.Enabled(context.Background(), lv) {
		p.l.Log(context.Background(), lv, fmt.Sprintf(format, args...))
	}
}

func (p pionLogger) Trace(msg string)                  { p.log(levelTrace, msg) }
func (p pionLogger) Tracef(format string, args ...any) { p.logf(levelTrace, format, args...) }
func (p pionLogger) Debug(msg string)                  { p.log(slog.LevelDebug, msg) }
func (p pionLogger) Debugf(format string, args ...any) { p.logf(slog.LevelDebug, format, args...) }
func (p pionLogger) Info(msg string)                   { p.log(slog.LevelInfo, msg) }
func (p pionLogger) Infof(format string, args ...any)  { p.logf(slog.LevelInfo, format, args...) }
func (p pionLogger) Warn(msg string)                   { p.log(slog.LevelWarn, msg) }
func (p pionLogger) Warnf(format string, args ...any)  { p.logf(slog.LevelWarn, format, args...) }
func (p pionLogger) Error(msg string)                  { p.log(slog.LevelError, msg) }
func (p pionLogger) Errorf(format string, args ...any) { p.logf(slog.LevelError, format, args...) }
