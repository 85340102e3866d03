package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/dttui/dttui/logorigin"
	"github.com/dttui/dttui/textsafe"
	"github.com/dttui/dttui/tui/logbuf"
)

// logSink collects every log line: into the log pane's ring buffer (the
// UI), into --log-file when given, and, in headless runs, dttui's own
// warnings onto stderr. Library chatter (LiveKit's, pion's) stays off
// stderr unless --verbose. Every record passes textsafe.Handler first, so
// the pane, the file and stderr all get text a terminal cannot act on.
type logSink struct {
	buf  *logbuf.Buffer // nil in headless runs
	file *os.File
	log  *slog.Logger
}

// logPaneLines is how many lines the log pane keeps.
const logPaneLines = 2000

func newLogSink(o options, stderr io.Writer) (*logSink, error) {
	s := &logSink{}
	var extra io.Writer
	if o.LogFile != "" {
		f, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--log-file: %w", err)
		}
		s.file, extra = f, f
	}
	level := slog.LevelInfo
	if o.Verbose && !o.Headless {
		level = slog.LevelDebug
	}
	var hs tee
	switch {
	case !o.Headless:
		s.buf = logbuf.New(logPaneLines)
		hs = append(hs, s.buf.Logger(level, extra).Handler())
	case s.file != nil:
		hs = append(hs, slog.NewTextHandler(s.file, &slog.HandlerOptions{Level: level}))
	}
	if o.Headless {
		hs = append(hs, newStderrHandler(stderr, o.Verbose))
	}
	s.log = slog.New(textsafe.Handler(hs))
	return s, nil
}

func (s *logSink) Logger() *slog.Logger { return s.log }

func (s *logSink) Close() {
	if s.file != nil {
		_ = s.file.Close()
	}
}

// tee hands each record to every handler that wants it.
type tee []slog.Handler

func (t tee) Enabled(ctx context.Context, lv slog.Level) bool {
	return slices.ContainsFunc(t, func(h slog.Handler) bool { return h.Enabled(ctx, lv) })
}

func (t tee) Handle(ctx context.Context, r slog.Record) error {
	var first error
	for _, h := range t {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

func (t tee) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(tee, len(t))
	for i, h := range t {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (t tee) WithGroup(name string) slog.Handler {
	out := make(tee, len(t))
	for i, h := range t {
		out[i] = h.WithGroup(name)
	}
	return out
}

// stderrHandler writes dttui's own warnings and errors to stderr as
// "dttui: warning: message key=value", one line each; with verbose, every
// line at Info and above, the libraries' included. A record is a
// library's when it carries a logorigin.Key attribute other than
// dttui's (the session tags pion's, the SDK's and the SFU's loggers).
type stderrHandler struct {
	w       io.Writer
	verbose bool
	prefix  string // attributes from WithAttrs, formatted
	group   string // "g." for WithGroup("g")
	library bool   // WithAttrs gave a library origin
}

func newStderrHandler(w io.Writer, verbose bool) slog.Handler {
	return &stderrHandler{w: w, verbose: verbose}
}

func (h *stderrHandler) Enabled(_ context.Context, lv slog.Level) bool {
	if h.verbose {
		return lv >= slog.LevelInfo
	}
	return lv >= slog.LevelWarn && !h.library
}

func (h *stderrHandler) Handle(_ context.Context, r slog.Record) error {
	if !h.verbose && (h.library || fromLibrary(r)) {
		return nil
	}
	var b strings.Builder
	b.WriteString("dttui: ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	b.WriteString(h.prefix)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, h.group, a)
		return true
	})
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *stderrHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	c := *h
	for _, a := range as {
		c.library = c.library || libraryOrigin(a)
		writeAttr(&b, h.group, a)
	}
	c.prefix += b.String()
	return &c
}

func (h *stderrHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group += name + "."
	return &c
}

// fromLibrary says whether the record's own attributes name a library.
func fromLibrary(r slog.Record) bool {
	lib := false
	r.Attrs(func(a slog.Attr) bool {
		lib = libraryOrigin(a)
		return !lib
	})
	return lib
}

func libraryOrigin(a slog.Attr) bool {
	if a.Key != logorigin.Key {
		return false
	}
	o, ok := logorigin.Of(a.Value)
	return ok && o != logorigin.DTTUI
}

func writeAttr(b *strings.Builder, group string, a slog.Attr) {
	v := a.Value.Resolve()
	if a.Key == "" && v.Kind() != slog.KindGroup {
		return
	}
	if v.Kind() == slog.KindGroup {
		g := group
		if a.Key != "" {
			g += a.Key + "."
		}
		for _, ga := range v.Group() {
			writeAttr(b, g, ga)
		}
		return
	}
	s := v.String()
	if s == "" || strings.ContainsAny(s, " \"=") {
		s = strconv.Quote(s)
	}
	b.WriteString(" " + group + a.Key + "=" + s)
}
