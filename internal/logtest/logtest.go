// Package logtest holds what tests use to see the records a logger wrote.
package logtest

import (
	"context"
	"log/slog"
)

// Recorder is a slog.Handler that appends every record, with the
// attributes added by WithAttrs, to *Out.
type Recorder struct{ Out *[]slog.Record }

func (h Recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h Recorder) Handle(_ context.Context, r slog.Record) error {
	*h.Out = append(*h.Out, r.Clone())
	return nil
}
func (h Recorder) WithAttrs(as []slog.Attr) slog.Handler { return withAttrs{h, as} }
func (h Recorder) WithGroup(string) slog.Handler         { return h }

type withAttrs struct {
	Recorder
	as []slog.Attr
}

func (h withAttrs) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.as...)
	return h.Recorder.Handle(ctx, r)
}
func (h withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return withAttrs{h.Recorder, append(append([]slog.Attr(nil), h.as...), as...)}
}
