package session

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/logging"
	"github.com/redis/go-redis/v9"

	"github.com/dttui/dttui/logorigin"
	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/session/localsfu/sfulog"
)

// The LiveKit libraries (server-sdk-go, and livekit-server when embedded)
// log through process-wide loggers; pion logs through the LoggerFactory of
// each SettingEngine. Both default to stderr, which would corrupt the TUI,
// so everything goes to the caller's slog.Logger, tagged with its origin
// (package logorigin), through a handler that redacts secrets (package
// redact): livekit-server answers a bad token with "invalid token: <the
// token>", and both it and server-sdk-go log that answer.

var (
	routeMu sync.Mutex
	routed  bool
	// libraryRoute is what the libraries' process-wide loggers write to.
	// They are set once; later calls to RouteLibraryLogs only switch its
	// target, atomically: the libraries read their globals unsynchronised,
	// from goroutines an embedded server leaves running.
	libraryRoute = &switchHandler{state: &switchState{}}
)

// RouteLibraryLogs sends the LiveKit libraries' process-wide logs to l (a
// nil l discards them): protocol/logger's, which an embedded livekit-server
// uses, server-sdk-go's package logger, which defaults to the standard
// library's log (stderr), and go-redis's, which an embedded server that is
// a node of a multi-node deployment uses (stderr too). Tokens and the given secrets are redacted. Call
// it at start-up, before an embedded server runs; calling it again (a
// test running dttui twice in one process) switches the target safely.
func RouteLibraryLogs(l *slog.Logger, secrets ...string) {
	routeMu.Lock()
	defer routeMu.Unlock()
	libraryRoute.state.set(redact.Logger(l, secrets...).Handler())
	if !routed {
		route := slog.New(libraryRoute)
		// The embedded SFU's account of each data track is read from its
		// records on the way (package sfulog).
		observed := slog.New(teeHandler{libraryRoute, sfulog.Observed.Handler()})
		logger.SetLogger(logrLogger(observed, logorigin.SFU), "livekit")
		lksdk.SetLogger(protocolLogger(route))
		redis.SetLogger(redisLogger{logorigin.With(route, logorigin.SFU)})
		routed = true
	}
}

// switchHandler writes to the current target of its state, replaying the
// WithAttrs and WithGroup calls made on it (cached per target).
type switchHandler struct {
	state *switchState
	ops   []func(slog.Handler) slog.Handler
	cache atomic.Pointer[switchCache]
}

type switchState struct{ cur atomic.Pointer[switchCache] }

type switchCache struct{ base, h slog.Handler }

func (s *switchState) set(h slog.Handler) { s.cur.Store(&switchCache{base: h, h: h}) }

func (h *switchHandler) target() slog.Handler {
	cur := h.state.cur.Load()
	if cur == nil {
		return slog.DiscardHandler
	}
	if c := h.cache.Load(); c != nil && c.base == cur.base {
		return c.h
	}
	t := cur.base
	for _, op := range h.ops {
		t = op(t)
	}
	h.cache.Store(&switchCache{base: cur.base, h: t})
	return t
}

func (h *switchHandler) Enabled(ctx context.Context, lv slog.Level) bool {
	return h.target().Enabled(ctx, lv)
}

func (h *switchHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.target().Handle(ctx, r)
}

func (h *switchHandler) with(op func(slog.Handler) slog.Handler) slog.Handler {
	return &switchHandler{state: h.state, ops: append(slices.Clip(h.ops), op)}
}

func (h *switchHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.with(func(x slog.Handler) slog.Handler { return x.WithAttrs(as) })
}

func (h *switchHandler) WithGroup(name string) slog.Handler {
	return h.with(func(x slog.Handler) slog.Handler { return x.WithGroup(name) })
}

// redisLogger is go-redis's package logger, writing to l. go-redis logs
// only what went wrong (a connection it could not close, a failed
// re-authentication), so its lines are warnings.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.Log(ctx, slog.LevelWarn, fmt.Sprintf(format, v...))
}

// protocolLogger is the SDK's logger for our connections.
func protocolLogger(l *slog.Logger) logger.Logger { return logrLogger(l, logorigin.SDK) }

func logrLogger(l *slog.Logger, o logorigin.Origin) logger.Logger {
	if l == nil {
		return logger.GetDiscardLogger()
	}
	return logger.LogRLogger(logr.FromSlogHandler(logorigin.With(l, o).Handler()))
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

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// teeHandler writes each record to both handlers that want it.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if t.a.Enabled(ctx, r.Level) {
		err = t.a.Handle(ctx, r.Clone())
	}
	if t.b.Enabled(ctx, r.Level) {
		if e := t.b.Handle(ctx, r); err == nil {
			err = e
		}
	}
	return err
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t.a.WithGroup(name), t.b.WithGroup(name)}
}
