// Package probe defines dttui's test-frame payload and the generators that
// push it. Each payload carries a sequence number and its send time, so a
// subscriber can count lost frames and measure end-to-end latency without
// any side channel.
package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Payload layout, big-endian:
//
//	magic "DTT1" (4) | seq u64 (8) | send time, UNIX nanoseconds u64 (8) | filler
const HeaderLen = 20

var magic = [4]byte{'D', 'T', 'T', '1'}

// MinSize and MaxSize bound a probe frame. MaxSize keeps one frame well under
// what a subscriber's depacketizer is willing to buffer.
const (
	MinSize = HeaderLen
	MaxSize = 4 << 20
)

// Encode writes a probe payload of size bytes (at least HeaderLen) into dst,
// growing it when needed, and returns it.
func Encode(dst []byte, seq uint64, sent time.Time, size int) []byte {
	size = max(size, HeaderLen)
	if cap(dst) < size {
		dst = make([]byte, size)
	}
	dst = dst[:size]
	copy(dst, magic[:])
	binary.BigEndian.PutUint64(dst[4:], seq)
	binary.BigEndian.PutUint64(dst[12:], uint64(sent.UnixNano()))
	// A recognisable, cheap filler: compressible links would otherwise make
	// zero-filled frames look faster than real data.
	for i := HeaderLen; i < size; i++ {
		dst[i] = byte(i)
	}
	return dst
}

// Decode reads a probe payload. ok is false when b is not one (a frame from
// another publisher, say), which callers count as "not a probe".
func Decode(b []byte) (seq uint64, sent time.Time, ok bool) {
	if len(b) < HeaderLen || [4]byte(b[:4]) != magic {
		return 0, time.Time{}, false
	}
	seq = binary.BigEndian.Uint64(b[4:])
	sent = time.Unix(0, int64(binary.BigEndian.Uint64(b[12:])))
	return seq, sent, true
}

// Intact reports whether a decoded probe payload still carries the filler
// Encode wrote, byte for byte: a frame reassembled wrongly fails it.
func Intact(b []byte) bool {
	if len(b) < HeaderLen {
		return false
	}
	for i := HeaderLen; i < len(b); i++ {
		if b[i] != byte(i) {
			return false
		}
	}
	return true
}

// PushFunc hands one frame to a track without blocking. It takes ownership
// of payload. userTimestamp is UNIX milliseconds, the convention of the
// user-timestamp extension. A non-nil error means the frame was not accepted.
type PushFunc func(payload []byte, userTimestamp uint64) error

// Source numbers the probe frames of one track. Sequence numbers are only
// consumed by accepted frames, so a gap at the subscriber means a frame was
// lost after the publisher accepted it, not that the local queue was full.
type Source struct {
	push PushFunc
	now  func() time.Time

	mu  sync.Mutex
	seq uint64
}

// NewSource returns a Source pushing through push. now may be nil.
func NewSource(push PushFunc, now func() time.Time) *Source {
	if now == nil {
		now = time.Now
	}
	return &Source{push: push, now: now}
}

// Push sends one probe frame of size bytes.
func (s *Source) Push(size int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.now()
	payload := Encode(nil, s.seq, t, size)
	if err := s.push(payload, uint64(t.UnixMilli())); err != nil {
		return err
	}
	s.seq++
	return nil
}

// Burst pushes n frames back to back and returns how many were accepted and
// the first error seen (the rest are counted by the track as dropped).
func (s *Source) Burst(n, size int) (accepted int, firstErr error) {
	for range n {
		if err := s.Push(size); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		accepted++
	}
	return accepted, firstErr
}

// Generator pushes probe frames at a steady rate. Rate and size may change
// while it runs; Run's caller owns its goroutine and stops it with ctx.
type Generator struct {
	src  *Source
	rate atomic.Uint64 // math.Float64bits of frames per second
	size atomic.Int64

	// OnError, when set, sees every rejected push (for a status line).
	OnError func(error)
}

// ErrBadRate reports a rate or size outside what a generator accepts.
var ErrBadRate = errors.New("probe: rate must be > 0 and size within [MinSize, MaxSize]")

// MaxRate caps a generator; beyond it a single goroutine's pacing is not
// meaningful on a laptop anyway.
const MaxRate = 100_000

// NewGenerator returns a generator for src at rate frames/s of size bytes.
func NewGenerator(src *Source, rate float64, size int) (*Generator, error) {
	g := &Generator{src: src}
	if err := g.SetRate(rate); err != nil {
		return nil, err
	}
	if err := g.SetSize(size); err != nil {
		return nil, err
	}
	return g, nil
}

// SetRate changes the rate (frames per second) from the next tick on.
func (g *Generator) SetRate(rate float64) error {
	if !(rate > 0) || rate > MaxRate {
		return ErrBadRate
	}
	g.rate.Store(math.Float64bits(rate))
	return nil
}

// SetSize changes the frame size in bytes.
func (g *Generator) SetSize(size int) error {
	if size < MinSize || size > MaxSize {
		return ErrBadRate
	}
	g.size.Store(int64(size))
	return nil
}

// Rate returns the current rate in frames per second.
func (g *Generator) Rate() float64 { return math.Float64frombits(g.rate.Load()) }

// Size returns the current frame size in bytes.
func (g *Generator) Size() int { return int(g.size.Load()) }

// tick is the pacing granularity. Frames due within one tick go out together,
// which keeps high rates cheap (no timer per frame) and the mean rate exact.
const tick = 5 * time.Millisecond

// Run pushes frames until ctx is done. It never blocks on the track:
// frames the track cannot take are counted by the track as dropped.
func (g *Generator) Run(ctx context.Context) {
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	var due float64 // fractional frames carried between ticks
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			due += now.Sub(last).Seconds() * g.Rate()
			last = now
			// After a stall (laptop sleep, GC), don't unleash a flood: cap
			// the catch-up at one second's worth.
			due = min(due, max(g.Rate(), 1))
			n := int(due)
			due -= float64(n)
			size := g.Size()
			for range n {
				if err := g.src.Push(size); err != nil && g.OnError != nil {
					g.OnError(err)
				}
			}
		}
	}
}
