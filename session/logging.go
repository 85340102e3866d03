package session

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dttui/dttui/logorigin"
	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/session/localsfu/sfulog"
	"github.com/dttui/dttui/session/rtc"
)

// The LiveKit libraries (server-sdk-go, and livekit-server when embedded)
// log through process-wide loggers, routed here; pion logs through the
// LoggerFactory of each SettingEngine (package rtc's). Both default to stderr, which would corrupt the TUI,
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
		observed := slog.New(teeHandler{perPacketAtDebug{libraryRoute}, sfulog.Observed.Handler()})
		logger.SetLogger(rtc.LiveKitLogger(observed, logorigin.SFU), "livekit")
		lksdk.SetLogger(rtc.ProtocolLogger(route))
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

// perPacketAtDebug passes on the SFU's line for each packet it did not
// forward at Debug, not Warn: the report counts them per track (what the
// SFU shed), and a line per packet, hundreds a second while it sheds,
// would bury every other warning in the log pane.
type perPacketAtDebug struct{ slog.Handler }

func (h perPacketAtDebug) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.Handler.Enabled(ctx, l)
}

func (h perPacketAtDebug) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == sfulog.NotSent {
		r.Level = slog.LevelDebug
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h perPacketAtDebug) WithAttrs(as []slog.Attr) slog.Handler {
	return perPacketAtDebug{h.Handler.WithAttrs(as)}
}

func (h perPacketAtDebug) WithGroup(name string) slog.Handler {
	return perPacketAtDebug{h.Handler.WithGroup(name)}
}

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
