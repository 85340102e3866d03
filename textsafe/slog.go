package textsafe

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler returns a slog.Handler that applies Line to every message,
// attribute key and text value before h sees them: library log lines carry
// servers' words and other participants' names. Errors and other values
// are replaced by their Line-d text only when that differs, so numbers,
// times and durations keep their kind.
func Handler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ h slog.Handler }

func (s handler) Enabled(ctx context.Context, lv slog.Level) bool { return s.h.Enabled(ctx, lv) }

func (s handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, Line(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return s.h.Handle(ctx, out)
}

func (s handler) WithAttrs(as []slog.Attr) slog.Handler {
	safe := make([]slog.Attr, len(as))
	for i, a := range as {
		safe[i] = attr(a)
	}
	return handler{s.h.WithAttrs(safe)}
}

func (s handler) WithGroup(name string) slog.Handler { return handler{s.h.WithGroup(Line(name))} }

func attr(a slog.Attr) slog.Attr {
	key := Line(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(key, Line(v.String()))
	case slog.KindGroup:
		g := v.Group()
		safe := make([]any, len(g))
		for i, ga := range g {
			safe[i] = attr(ga)
		}
		return slog.Group(key, safe...)
	case slog.KindAny:
		var s string
		if b, ok := v.Any().([]byte); ok {
			s = string(b) // text handlers print bytes as text
		} else {
			s = fmt.Sprint(v.Any())
		}
		if safe := Line(s); safe != s {
			return slog.String(key, safe)
		}
	}
	return slog.Attr{Key: key, Value: v}
}
