package textsafe

import (
	"io"
	"sync"
)

// Writer passes whole lines to w with Lines applied, so outside text inside
// a message (an error body, a server's reason) cannot act on the terminal.
// It is for stderr: dttui's own messages, written a line at a time.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter returns a Writer writing to w. It is safe for concurrent use.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write escapes p and writes it. Each call is escaped on its own: a
// multi-byte character split across two calls shows as escaped bytes.
func (s *Writer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := io.WriteString(s.w, Lines(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
