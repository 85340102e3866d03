package session

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/logging"
)

// The LiveKit libraries (server-sdk-go, and livekit-server when embedded)
// log through process-wide loggers; pion logs through the LoggerFactory of
// each SettingEngine. Both default to stderr, which would corrupt the TUI,
// so everything goes to the caller's slog.Logger, through a handler that
// redacts tokens: livekit-server answers a bad token with "invalid token:
// <the token>", and both it and server-sdk-go log that answer.

var routeMu sync.Mutex

// RouteLibraryLogs sends the LiveKit libraries' process-wide logs to l (a
// nil l discards them): protocol/logger's, which an embedded livekit-server
// uses, and server-sdk-go's package logger, which defaults to the standard
// library's log (stderr). Tokens and the given secrets are redacted. Call
// it once at start-up, before an embedded server runs: the libraries do
// not synchronise these globals.
func RouteLibraryLogs(l *slog.Logger, secrets ...string) {
	routeMu.Lock()
	defer routeMu.Unlock()
	red := Redacting(l, secrets...)
	logger.SetLogger(logrLogger(red, OriginSFU), "livekit")
	lksdk.SetLogger(protocolLogger(red))
}

// protocolLogger is the SDK's logger for our connections.
func protocolLogger(l *slog.Logger) logger.Logger { return logrLogger(l, OriginSDK) }

func logrLogger(l *slog.Logger, o LogOrigin) logger.Logger {
	if l == nil {
		return logger.GetDiscardLogger()
	}
	return logger.LogRLogger(logr.FromSlogHandler(withOrigin(l, o).Handler()))
}

// pionLoggerFactory routes a PeerConnection's logs to l. Unlike
// protocol's pionlogger, it checks the level before formatting: SCTP
// formats a trace line per chunk, which cost ~4% of the CPU at full rate
// with the lines then thrown away.
func pionLoggerFactory(l *slog.Logger) logging.LoggerFactory { return pionFactory{l} }

type pionFactory struct{ l *slog.Logger }

func (f pionFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{withOrigin(f.l, OriginPion).With("logger", "pion."+scope)}
}

// levelTrace sits below Debug: pion's trace lines only show when a
// handler asks for that much.
const levelTrace = slog.LevelDebug - 4

type pionLogger struct{ l *slog.Logger }

func (p pionLogger) log(lv slog.Level, msg string) {
	p.l.Log(context.Background(), lv, msg)
}

func (p pionLogger) logf(lv slog.Level, format string, args ...any) {
	if p.l.Enabled(context.Background(), lv) {
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

// jwtPattern matches a JSON Web Token: LiveKit access tokens are JWTs whose
// header, base64url of `{"`, starts with "eyJ".
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)

// RedactSecrets replaces every JWT and every non-empty secret in s.
func RedactSecrets(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "<redacted>")
		}
	}
	if strings.Contains(s, "eyJ") {
		s = jwtPattern.ReplaceAllString(s, "<redacted token>")
	}
	return s
}

// Redacting returns a logger that writes to l with every JWT and the given
// secrets removed from messages and attribute values. A nil l discards.
func Redacting(l *slog.Logger, secrets ...string) *slog.Logger {
	if l == nil {
		return discardLogger()
	}
	var keep []string
	for _, s := range secrets {
		if s != "" {
			keep = append(keep, s)
		}
	}
	return slog.New(&redactHandler{h: l.Handler(), secrets: keep})
}

type redactHandler struct {
	h       slog.Handler
	secrets []string
}

func (r *redactHandler) Enabled(ctx context.Context, lv slog.Level) bool { return r.h.Enabled(ctx, lv) }

func (r *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, RedactSecrets(rec.Message, r.secrets...), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(r.attr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = r.attr(a)
	}
	return &redactHandler{h: r.h.WithAttrs(red), secrets: r.secrets}
}

func (r *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{h: r.h.WithGroup(name), secrets: r.secrets}
}

func (r *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); r.suspect(s) {
			return slog.String(a.Key, RedactSecrets(s, r.secrets...))
		}
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = r.attr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		// Errors, byte slices, structs: check their printed form, and
		// replace the value only when it carries a secret.
		var s string
		if b, ok := v.Any().([]byte); ok {
			s = string(b) // handlers print bytes as text
		} else {
			s = fmt.Sprint(v.Any())
		}
		if r.suspect(s) {
			return slog.String(a.Key, RedactSecrets(s, r.secrets...))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (r *redactHandler) suspect(s string) bool {
	if strings.Contains(s, "eyJ") {
		return true
	}
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			return true
		}
	}
	return false
}
