package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// endless is an input that never ends: one byte, forever, counting what
// was read of it.
type endless struct {
	b    byte
	read int
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b
	}
	e.read += len(p)
	return len(p), nil
}

// `tr '\0' a </dev/zero | dttui --track t:stdin`: a line with no end is
// refused once it passes the limit, having read about the limit (on main
// the reader gathered it until memory ran out).
func TestEndlessLineIsRefusedAtTheLimit(t *testing.T) {
	for _, max := range []int{0, 1000} {
		in := &endless{b: 'a'}
		r, err := Open(context.Background(), Spec{Path: "-", MaxFrame: max}, in)
		if err != nil {
			t.Fatal(err)
		}
		limit := max
		if limit == 0 {
			limit = DefaultMaxFrame
		}
		_, err = r.Next()
		var fe *FrameError
		if !errors.Is(err, ErrTooLarge) || !errors.As(err, &fe) || !fe.AtLeast || fe.Max != limit || fe.Where != "line 1" {
			t.Fatalf("max %d: %v", max, err)
		}
		if in.read > limit+2*readBuffer {
			t.Fatalf("max %d: read %d bytes of one line to refuse it", max, in.read)
		}
	}
}

// A length prefix or a chunk size beyond the limit is refused before
// anything of that size is allocated, with no limit given too.
func TestPrefixAndChunkBoundedBeforeAllocating(t *testing.T) {
	r, _ := Open(context.Background(), Spec{Path: "-", Framing: LengthPrefixed}, bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff}))
	if _, err := r.Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a 4 GiB prefix: %v", err)
	}
	if _, err := Open(context.Background(), Spec{Path: "-", Framing: Chunks, ChunkSize: 1 << 30}, &endless{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("1 GiB chunks: %v", err)
	}
}

// FuzzLineReader: whatever the input (b repeated for several times the
// limit, so a line may run past it), every frame is within the limit and
// the reader never holds more than about twice the limit.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\nbb\r\n\n"), 7)
	f.Add([]byte("a"), 100)
	f.Add([]byte("\n"), 1)
	f.Add([]byte("\r"), 1000)
	f.Fuzz(func(t *testing.T, b []byte, limit int) {
		if len(b) == 0 {
			return
		}
		max := 1 + abs(limit)%(1<<10)
		in := &cycle{b: b, left: 4*(max+2) + 2*len(b)}
		r, _ := Open(context.Background(), Spec{Path: "-", MaxFrame: max}, in)
		sr := r.(*streamReader)
		// The limit and its line ending, one read past it, doubled by append.
		bound := 4 * (max + 2 + 16)
		for {
			frame, err := r.Next()
			if cap(sr.buf) > bound {
				t.Fatalf("holds %d bytes, the bound is %d", cap(sr.buf), bound)
			}
			if errors.Is(err, ErrTooLarge) || errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(frame) > max {
				t.Fatalf("a frame of %d bytes, the limit is %d", len(frame), max)
			}
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// cycle repeats b until left bytes are read.
type cycle struct {
	b    []byte
	at   int
	left int
}

func (c *cycle) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), c.left)]
	for n := 0; n < len(p); {
		k := copy(p[n:], c.b[c.at:])
		n += k
		c.at = (c.at + k) % len(c.b)
	}
	c.left -= len(p)
	return len(p), nil
}
