// Package source turns the user's own data into frames: the lines of a
// file or of standard input (NDJSON, say), length-prefixed records, fixed
// size chunks, or whole files of a directory, pushed at their own pace or
// at a set rate. Each frame carries the user timestamp, so a subscriber
// measures latency without dttui's probe payload.
package source

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/session/probe"
)

// Framing says how a byte stream is cut into frames.
type Framing int

const (
	// Lines: one frame per line, without its line ending; empty lines are
	// skipped (NDJSON, CSV, logs).
	Lines Framing = iota
	// LengthPrefixed: each frame is a big-endian uint32 length, then that
	// many bytes.
	LengthPrefixed
	// Chunks: fixed-size chunks (the last one may be shorter).
	Chunks
	// Files: every regular file of a directory is one frame, in name order.
	Files
)

var framingNames = [...]string{"lines", "length-prefixed", "chunks", "files"}

func (f Framing) String() string {
	if f >= 0 && int(f) < len(framingNames) {
		return framingNames[f]
	}
	return fmt.Sprintf("framing(%d)", int(f))
}

// ParseFraming reads a framing by name ("lines", "length-prefixed",
// "chunks:SIZE" is parsed by the caller for its size).
func ParseFraming(s string) (Framing, error) {
	for i, n := range framingNames {
		if s == n {
			return Framing(i), nil
		}
	}
	return 0, fmt.Errorf("framing %q: want one of %s", s, strings.Join(framingNames[:], ", "))
}

// DefaultMaxFrame is the largest frame a source pushes unless told
// otherwise: dttui's largest frame, probe.MaxSize (LiveKit's JS and Rust
// subscribers reassemble at most about 2 MB).
const DefaultMaxFrame = probe.MaxSize

// Spec describes a source.
type Spec struct {
	Path    string  // a file, a directory (Files), or "-" for standard input
	Framing Framing // default Lines
	// ChunkSize is the frame size for Chunks.
	ChunkSize int
	// MaxFrame refuses frames larger than this (the track's limit).
	MaxFrame int
	// ValidateJSON refuses a frame that is not valid UTF-8 JSON (a track
	// declared JSON).
	ValidateJSON bool
	// Recording: Path is an MCAP recording and the frames are the
	// messages of its channel Topic ("": its only one), played at the
	// recorded timing (package record); Framing is not used.
	Recording bool
	Topic     string
}

// Sentinels for errors.Is on a *FrameError.
var (
	// ErrTooLarge: a frame is larger than Spec.MaxFrame.
	ErrTooLarge = errors.New("frame larger than the limit")
	// ErrNotJSON: a frame of a JSON track is not valid JSON.
	ErrNotJSON = errors.New("frame is not valid JSON")
	// ErrNotUTF8: a frame of a JSON track is not valid UTF-8.
	ErrNotUTF8 = errors.New("frame is not valid UTF-8")
	// ErrTruncated: the stream ended inside a length-prefixed record.
	ErrTruncated = errors.New("the stream ended inside a frame")
)

// FrameError says which frame of the source is bad and why. Every frame
// before it was handed on.
type FrameError struct {
	Frame int    // 1-based index of the bad frame
	Where string // "line 12", "offset 4096", a file name
	Kind  error  // one of the sentinels
	Size  int
	Max   int
	// AtLeast: the frame is Size bytes or more; it was not read to its end.
	AtLeast bool
}

func (e *FrameError) Error() string {
	msg := fmt.Sprintf("frame %d (%s): %v", e.Frame, e.Where, e.Kind)
	if errors.Is(e.Kind, ErrTooLarge) {
		size := fmt.Sprintf("%d bytes", e.Size)
		if e.AtLeast {
			size = "more than " + size
		}
		msg += fmt.Sprintf(": %s, the limit is %d", size, e.Max)
	}
	return msg
}

func (e *FrameError) Is(target error) bool { return e.Kind == target }

// Reader yields frames. Next returns io.EOF at the end, a *FrameError for a
// bad frame, or the underlying I/O error. A frame is valid until the next
// call.
type Reader interface {
	Next() ([]byte, error)
	Close() error
}

// Open opens a source; stdin is used for Path "-". ctx bounds the source's
// life: the open of a FIFO that has no writer yet, and every Next, which
// returns ctx's error once it ends, also while it waits on an idle pipe,
// FIFO or terminal (where the platform can interrupt a read: Linux does,
// for standard input too; elsewhere an idle FIFO or stdin is waited out).
// Every read is bounded before it allocates: no frame, line, length
// prefix or chunk beyond the frame limit (Spec.MaxFrame, DefaultMaxFrame
// when 0) is held.
func Open(ctx context.Context, spec Spec, stdin io.Reader) (Reader, error) {
	if spec.MaxFrame <= 0 {
		spec.MaxFrame = DefaultMaxFrame
	}
	if spec.Recording {
		return record.OpenTopic(ctx, spec.Path, spec.Topic)
	}
	if spec.Framing == Files {
		return openDir(ctx, spec)
	}
	if spec.Framing == Chunks && spec.ChunkSize <= 0 {
		return nil, fmt.Errorf("chunks need a size > 0")
	}
	if spec.Framing == Chunks && spec.ChunkSize > spec.MaxFrame {
		return nil, &FrameError{Frame: 1, Where: "offset 0", Kind: ErrTooLarge, Size: spec.ChunkSize, Max: spec.MaxFrame}
	}
	var rc io.ReadCloser
	if spec.Path == "-" {
		rc = openStdin(stdin)
	} else {
		f, err := openFile(ctx, spec.Path)
		if err != nil {
			return nil, err
		}
		if st, err := f.Stat(); err == nil && st.IsDir() {
			f.Close()
			return nil, fmt.Errorf("%s is a directory: use the files framing for one frame per file", spec.Path)
		}
		rc = f
	}
	// A read never asks for much more than a frame: a small limit
	// bounds the memory of a small buffer too.
	r := &streamReader{ctx: ctx, spec: spec, rc: rc, br: bufio.NewReaderSize(rc, min(readBuffer, spec.MaxFrame+len("\r\n")))}
	if f, ok := rc.(*os.File); ok && f.SetReadDeadline(time.Time{}) == nil {
		// A pollable file: the end of ctx interrupts a read in progress.
		r.stopWake = context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	}
	return r, nil
}

// readBuffer is the most one read asks of the input: lines longer than
// it are gathered, up to the frame limit.
const readBuffer = 64 << 10

type streamReader struct {
	ctx      context.Context
	spec     Spec
	rc       io.ReadCloser
	br       *bufio.Reader
	stopWake func() bool // stops the ctx watch of a pollable file; nil if none
	n        int         // frames returned
	line     int         // lines read
	offset   int64       // bytes read
	buf      []byte
}

func (r *streamReader) Close() error {
	if r.stopWake != nil {
		r.stopWake()
	}
	return r.rc.Close()
}

func (r *streamReader) Next() ([]byte, error) {
	for {
		if err := r.ctx.Err(); err != nil {
			return nil, err
		}
		frame, where, err := r.read()
		if err != nil {
			if r.ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, r.ctx.Err()
			}
			return nil, err
		}
		if frame == nil {
			continue // an empty line
		}
		r.n++
		if err := r.check(frame, where); err != nil {
			return nil, err
		}
		return frame, nil
	}
}

func (r *streamReader) check(frame []byte, where string) error {
	fe := &FrameError{Frame: r.n, Where: where, Size: len(frame), Max: r.spec.MaxFrame}
	switch {
	case len(frame) > r.spec.MaxFrame:
		fe.Kind = ErrTooLarge
	case r.spec.ValidateJSON && !utf8.Valid(frame):
		fe.Kind = ErrNotUTF8
	case r.spec.ValidateJSON && !json.Valid(frame):
		fe.Kind = ErrNotJSON
	default:
		return nil
	}
	return fe
}

// read returns the next raw frame (nil for an empty line) and where it was.
func (r *streamReader) read() ([]byte, string, error) {
	switch r.spec.Framing {
	case LengthPrefixed:
		var hdr [4]byte
		at := r.offset
		if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, "", &FrameError{Frame: r.n + 1, Where: fmt.Sprintf("offset %d", at), Kind: ErrTruncated}
			}
			return nil, "", err
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n > r.spec.MaxFrame {
			r.n++
			return nil, "", &FrameError{Frame: r.n, Where: fmt.Sprintf("offset %d", at), Kind: ErrTooLarge, Size: n, Max: r.spec.MaxFrame}
		}
		r.buf = slices.Grow(r.buf[:0], n)[:n]
		if _, err := io.ReadFull(r.br, r.buf); err != nil {
			return nil, "", &FrameError{Frame: r.n + 1, Where: fmt.Sprintf("offset %d", at), Kind: ErrTruncated}
		}
		r.offset += int64(4 + n)
		return r.buf, fmt.Sprintf("offset %d", at), nil
	case Chunks:
		at := r.offset
		r.buf = slices.Grow(r.buf[:0], r.spec.ChunkSize)[:r.spec.ChunkSize]
		n, err := io.ReadFull(r.br, r.buf)
		if n == 0 {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return nil, "", err
		}
		r.offset += int64(n)
		return r.buf[:n], fmt.Sprintf("offset %d", at), nil
	default: // Lines
		line, err := r.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it, but never more
			// than the limit and its line ending, so an endless line
			// costs the limit, not the input.
			r.buf = append(r.buf[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(r.buf) > r.spec.MaxFrame+len("\r\n") {
					r.n++
					r.line++
					return nil, "", &FrameError{Frame: r.n, Where: fmt.Sprintf("line %d", r.line), Kind: ErrTooLarge, Size: len(r.buf), Max: r.spec.MaxFrame, AtLeast: true}
				}
				line, err = r.br.ReadSlice('\n')
				r.buf = append(r.buf, line...)
			}
			line = r.buf
		}
		if len(line) == 0 && err != nil {
			return nil, "", err
		}
		r.line++
		r.offset += int64(len(line))
		line = trimEOL(line)
		if len(line) == 0 {
			return nil, "", nil
		}
		return line, fmt.Sprintf("line %d", r.line), nil
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

type dirReader struct {
	ctx   context.Context
	spec  Spec
	files []string
	i     int
}

func openDir(ctx context.Context, spec Spec) (Reader, error) {
	entries, err := os.ReadDir(spec.Path)
	if err != nil {
		return nil, err
	}
	d := &dirReader{ctx: ctx, spec: spec}
	for _, e := range entries {
		if e.Type().IsRegular() {
			d.files = append(d.files, filepath.Join(spec.Path, e.Name()))
		}
	}
	if len(d.files) == 0 {
		return nil, fmt.Errorf("%s has no regular files", spec.Path)
	}
	return d, nil
}

func (d *dirReader) Close() error { return nil }

func (d *dirReader) Next() ([]byte, error) {
	if err := d.ctx.Err(); err != nil {
		return nil, err
	}
	if d.i >= len(d.files) {
		return nil, io.EOF
	}
	name := d.files[d.i]
	d.i++
	fe := &FrameError{Frame: d.i, Where: filepath.Base(name), Max: d.spec.MaxFrame}
	if st, err := os.Stat(name); err == nil && st.Size() > int64(d.spec.MaxFrame) {
		fe.Kind, fe.Size = ErrTooLarge, int(st.Size())
		return nil, fe
	}
	b, err := readAtMost(name, d.spec.MaxFrame)
	if err != nil {
		return nil, err
	}
	fe.Size = len(b)
	if len(b) > d.spec.MaxFrame { // it grew since the Stat
		fe.Kind, fe.AtLeast = ErrTooLarge, true
		return nil, fe
	}
	switch {
	case d.spec.ValidateJSON && !utf8.Valid(b):
		fe.Kind = ErrNotUTF8
	case d.spec.ValidateJSON && !json.Valid(b):
		fe.Kind = ErrNotJSON
	default:
		return b, nil
	}
	return nil, fe
}

// readAtMost reads a file, at most limit+1 of its bytes.
func readAtMost(name string, limit int) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(limit)+1))
}

// PushFunc hands one frame to a track, waiting for room in its queue
// until ctx ends (outgoing's LocalTrack.Push); it owns payload when it
// returns nil. userTimestamp is UNIX ms.
type PushFunc func(ctx context.Context, payload []byte, userTimestamp uint64) error

// Result is what a Run did.
type Result struct {
	Frames int   // frames handed to the track
	Bytes  int64 // their bytes
}

// timed is a Reader whose frames have their own timing: a recording's
// (record.TopicReader).
type timed interface {
	LogTime() uint64 // of the frame Next returned last, in ns
}

// Run reads frames from r and pushes them until the source ends (nil),
// ctx ends (ctx's error), a frame is bad (a *FrameError) or a push fails.
// At rate 0 frames go as fast as the track takes them (a full queue is
// waited out, never dropped), or, from a recording, at its timing; at a
// rate > 0 they are paced. Every frame Run read before an error was
// pushed.
func Run(ctx context.Context, r Reader, push PushFunc, rate float64) (Result, error) {
	var res Result
	var next time.Time
	tr, isTimed := r.(timed)
	var pace *record.Pacer
	if isTimed && rate == 0 {
		pace = record.NewPacer(1)
	}
	for {
		frame, err := r.Next()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, err
		}
		if pace != nil {
			if err := pace.Wait(ctx, tr.LogTime()); err != nil {
				return res, err
			}
		}
		if rate > 0 {
			if next.IsZero() {
				next = time.Now()
			}
			if d := time.Until(next); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return res, ctx.Err()
				}
			}
			next = next.Add(time.Duration(float64(time.Second) / rate))
		}
		// The track owns what it accepts: give it its own copy.
		payload := slices.Clone(frame)
		if err := push(ctx, payload, uint64(time.Now().UnixMilli())); err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			return res, fmt.Errorf("frame %d: %w", res.Frames+1, err)
		}
		res.Frames++
		res.Bytes += int64(len(payload))
	}
}
