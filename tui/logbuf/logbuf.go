// Package logbuf keeps the newest log records in memory for the TUI's log
// pane: a bounded ring of structured records (time, level, origin,
// message, attributes) that any number of goroutines log into and the UI
// reads, filters and searches. Nothing is formatted here: the pane does
// that, for what it shows.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/dttui/dttui/logorigin"
)

// Record is one log record as the pane needs it.
type Record struct {
	Seq     uint64 // 1, 2, … in arrival order; never reused
	Time    time.Time
	Level   slog.Level
	Origin  logorigin.Origin // logorigin.DTTUI when the record names none
	Message string
	// Attrs are resolved, groups flattened to dotted keys, the origin
	// attribute left out (it is Origin). Never modified once stored.
	Attrs []slog.Attr
}

// Buffer holds the newest records logged to it.
type Buffer struct {
	mu    sync.Mutex
	recs  []Record
	next  int
	full  bool
	total uint64
}

// New returns a buffer keeping capacity records.
func New(capacity int) *Buffer {
	return &Buffer{recs: make([]Record, max(capacity, 1))}
}

func (b *Buffer) add(r Record) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total++
	r.Seq = b.total
	b.recs[b.next] = r
	b.next = (b.next + 1) % len(b.recs)
	b.full = b.full || b.next == 0
}

// Append appends the records held, oldest first, to dst: the pane reuses
// one slice frame after frame.
func (b *Buffer) Append(dst []Record) []Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.full {
		dst = append(dst, b.recs[b.next:]...)
	}
	return append(dst, b.recs[:b.next]...)
}

// Total counts every record ever logged: the last record's Seq, and how
// many the ring has let go (Total minus what Append returns).
func (b *Buffer) Total() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// Handler returns a slog handler that stores records at level and above.
func (b *Buffer) Handler(level slog.Leveler) slog.Handler {
	return &handler{b: b, level: level, origin: logorigin.DTTUI}
}

// Logger returns a logger storing records in the buffer and, if extra is
// not nil, writing them as text lines to extra as well (a --log-file).
func (b *Buffer) Logger(level slog.Leveler, extra io.Writer) *slog.Logger {
	h := b.Handler(level)
	if extra != nil {
		h = slog.NewMultiHandler(h, slog.NewTextHandler(extra, &slog.HandlerOptions{Level: level}))
	}
	return slog.New(h)
}

type handler struct {
	b      *Buffer
	level  slog.Leveler
	origin logorigin.Origin
	attrs  []slog.Attr // from WithAttrs, flattened
	prefix string      // the open groups, "a.b."
}

func (h *handler) Enabled(_ context.Context, lv slog.Level) bool { return lv >= h.level.Level() }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Time: r.Time, Level: r.Level, Origin: h.origin, Message: r.Message}
	attrs := slices.Clip(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		if h.prefix == "" && a.Key == logorigin.Key {
			if o, ok := logorigin.Of(a.Value); ok {
				rec.Origin = o
				return true
			}
		}
		attrs = flatten(attrs, h.prefix, a)
		return true
	})
	rec.Attrs = attrs
	h.b.add(rec)
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = slices.Clip(h.attrs)
	for _, a := range as {
		if h.prefix == "" && a.Key == logorigin.Key {
			if o, ok := logorigin.Of(a.Value); ok {
				c.origin = o
				continue
			}
		}
		c.attrs = flatten(c.attrs, h.prefix, a)
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix += name + "."
	return &c
}

// flatten appends a, resolved, with groups spelled out as dotted keys; as
// slog's handlers do, empty attributes and empty groups are left out.
func flatten(dst []slog.Attr, prefix string, a slog.Attr) []slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			dst = flatten(dst, p, g)
		}
		return dst
	}
	if a.Key == "" && v.Any() == nil {
		return dst
	}
	return append(dst, slog.Attr{Key: prefix + a.Key, Value: v})
}
