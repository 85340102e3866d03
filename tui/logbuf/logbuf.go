// Package logbuf keeps the last log lines in memory for the TUI's log pane:
// a bounded ring that any number of goroutines write to and the UI reads.
package logbuf

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// Buffer holds the last Cap lines written to it.
type Buffer struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
	total uint64
	part  []byte
}

// New returns a buffer keeping capacity lines.
func New(capacity int) *Buffer {
	return &Buffer{lines: make([]string, max(capacity, 1))}
}

// Write splits p into lines; a trailing partial line waits for its end.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data := append(b.part, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		b.add(string(data[:i]))
		data = data[i+1:]
	}
	b.part = append(b.part[:0], data...)
	return len(p), nil
}

func (b *Buffer) add(line string) {
	b.lines[b.next] = strings.TrimRight(line, "\r")
	b.next = (b.next + 1) % len(b.lines)
	b.full = b.full || b.next == 0
	b.total++
}

// Tail returns up to n of the newest lines, oldest first.
func (b *Buffer) Tail(n int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	size := b.next
	if b.full {
		size = len(b.lines)
	}
	n = min(n, size)
	out := make([]string, 0, n)
	for i := size - n; i < size; i++ {
		idx := i
		if b.full {
			idx = (b.next + i) % len(b.lines)
		}
		out = append(out, b.lines[idx])
	}
	return out
}

// Total counts every line ever written, to show how many scrolled away.
func (b *Buffer) Total() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// Logger returns a text logger writing to the buffer and, if extra is not
// nil, to extra as well (a --log-file).
func (b *Buffer) Logger(level slog.Leveler, extra io.Writer) *slog.Logger {
	var w io.Writer = b
	if extra != nil {
		w = io.MultiWriter(b, extra)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: shortTime}))
}

// shortTime keeps pane lines narrow: clock time only.
func shortTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.String(slog.TimeKey, a.Value.Time().Format("15:04:05.000"))
	}
	return a
}
