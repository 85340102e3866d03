// Package probe defines dttui's test-frame payload and the generators that
// push it. Each payload carries a sequence number and its send time, so a
// subscriber can count lost frames and measure end-to-end latency without
// any side channel.
package probe

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/schema"
)

// Payload layout, big-endian:
//
//	magic "DT" (2) | stream u32 (4) | seq u48 (6) | send time, UNIX nanoseconds u64 (8) | filler
//
// The stream is random per Source: it says which publication a frame
// belongs to, so frames of another run, another publisher or an earlier
// publication of the same name are told apart from ours (counted foreign)
// and can never fill a gap in our sequence. 48 bits of sequence last nine
// years at 1 000 000 frames/s.
const HeaderLen = 20

var magic = [2]byte{'D', 'T'}

const maxSeq = 1<<48 - 1

// MinSize is the smallest probe frame: its header. MaxSize (4 MiB, 263
// packets) is the largest the generators push. dttui's own subscriber
// reassembles it, but LiveKit's JS and Rust subscribers drop every frame of
// more than packetizer.SubscriberMaxPackets packets, i.e. larger than
// SubscriberMaxSize (2 044 928 bytes). The SFU forwards such frames anyway.
const (
	MinSize = HeaderLen
	MaxSize = 4 << 20
)

// DefaultRate (frames/s) and DefaultSize (bytes) are a generator's when
// nobody says otherwise (--track NAME, g on a new track, the demo track):
// visible on a sparkline, light on a laptop.
const (
	DefaultRate = 50
	DefaultSize = 1024
)

// probeExtensions are the extensions a probe frame carries on the wire:
// always the user timestamp, and the E2EE extension on an encrypted track.
func probeExtensions(e2ee bool) packetizer.Extensions {
	return packetizer.Extensions{HasUserTimestamp: true, HasE2EE: e2ee}
}

// Packets is how many packets a probe frame of size bytes takes on the
// wire (an encrypted one also carries the AES-GCM tag).
func Packets(size int, e2ee bool) int {
	if e2ee {
		size += packetizer.E2EETagLen
	}
	n, _ := packetizer.PacketCount(size, probeExtensions(e2ee), packetizer.MTU)
	return n
}

// SubscriberMaxSize is the largest probe frame LiveKit's JS and Rust
// subscribers reassemble: 2 044 928 bytes, or 2 042 864 encrypted.
func SubscriberMaxSize(e2ee bool) int {
	n := packetizer.MaxPayload(probeExtensions(e2ee), packetizer.MTU, packetizer.SubscriberMaxPackets)
	if e2ee {
		n -= packetizer.E2EETagLen
	}
	return n
}

// Header is what a probe payload says about itself.
type Header struct {
	Stream uint32    // the Source's random stream ID
	Seq    uint64    // 0, 1, 2, … per accepted frame of the stream (48 bits)
	Sent   time.Time // when the frame was pushed, to the nanosecond
	// Dropped is the publisher's count of the stream's frames it numbered
	// and then did not send (stale, or lost with the connection), when the
	// frame was pushed: frames numbered below Seq. HasDropped says the
	// frame carries it (version 2 of the format; see Format).
	Dropped    uint64
	HasDropped bool
}

// Encode writes a probe payload of size bytes (at least HeaderLen) in the
// binary layout into dst, growing it when needed, and returns it. The
// filler is recognisable and cheap: compressible links would otherwise
// make zero-filled frames look faster than real data.
func Encode(dst []byte, h Header, size int) []byte { return EncodeFormat(Binary, dst, h, size) }

const fillPeriod = 256

func putHeader(dst []byte, h Header, m [2]byte) {
	copy(dst, m[:])
	binary.BigEndian.PutUint32(dst[2:], h.Stream)
	seq := h.Seq & maxSeq
	binary.BigEndian.PutUint16(dst[6:], uint16(seq>>32))
	binary.BigEndian.PutUint32(dst[8:], uint32(seq))
	binary.BigEndian.PutUint64(dst[12:], uint64(h.Sent.UnixNano()))
}

// Decode reads a probe payload's header, in any Format. ok is false when
// b is not one (a frame of another application, say).
func Decode(b []byte) (h Header, ok bool) {
	l, ok := layoutOf(b)
	if !ok {
		return Header{}, false
	}
	raw, ok := rawHeader(l, b)
	if !ok || [2]byte(raw[:2]) != l.magic() {
		return Header{}, false
	}
	h.Stream = binary.BigEndian.Uint32(raw[2:])
	h.Seq = uint64(binary.BigEndian.Uint16(raw[6:]))<<32 | uint64(binary.BigEndian.Uint32(raw[8:]))
	h.Sent = time.Unix(0, int64(binary.BigEndian.Uint64(raw[12:])))
	if l.v2 {
		if h.Dropped, ok = dropCount(l, b); !ok {
			return Header{}, false
		}
		h.HasDropped = true
	}
	return h, true
}

// Intact reports whether a decoded probe payload still carries the filler
// Encode wrote, byte for byte: a frame reassembled wrongly fails it.
func Intact(b []byte) bool {
	l, ok := layoutOf(b)
	return ok && intactFormat(l, b)
}

// NewStream returns a random, non-zero stream ID.
func NewStream() uint32 {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:])
		if s := binary.BigEndian.Uint32(b[:]); s != 0 {
			return s
		}
	}
}

// PushFunc hands one frame to a track without blocking. It takes ownership
// of payload when it accepts it. userTimestamp is UNIX milliseconds, the
// convention of the user-timestamp extension. A non-nil error means the
// frame was not accepted and payload was not kept (outgoing's TryPush
// counts the drop and forgets the frame), so the Source reuses it.
type PushFunc func(payload []byte, userTimestamp uint64) error

// WaitFunc hands one frame to a track, waiting for room in its queue until
// ctx ends (outgoing.LocalTrack.Push). It owns payload as a PushFunc does.
// When ctx ends first, it returns ctx's error and the frame was neither
// taken nor counted: it was never pushed.
type WaitFunc func(ctx context.Context, payload []byte, userTimestamp uint64) error

// ErrCannotWait is returned by PushWait and Deliver on a Source that was
// given no WaitFunc.
var ErrCannotWait = errors.New("probe: this source cannot wait for queue room")

// Source numbers the probe frames of one track under its own stream ID.
// Sequence numbers are only consumed by accepted frames, so a gap at the
// subscriber means a frame was lost after the publisher accepted it, not
// that the local queue was full.
type Source struct {
	push   PushFunc
	wait   WaitFunc // nil: PushWait and Deliver are refused
	now    func() time.Time
	stream uint32
	format Format
	// formatErr, when set, refuses every frame: the track declares an
	// encoding the generator cannot write (ErrNoFormat).
	formatErr error
	// fit, when set, makes frames match the track's JSON Schema (WithSchema).
	fit *Fit
	// dropped, when set, is the publisher's count of this stream's frames
	// numbered and not sent (Drops.Dropped): each frame carries it.
	dropped func() uint64

	mu  sync.Mutex
	seq uint64
	// spare is a payload the track refused: still ours, filler intact, so
	// the next frame of the same size only rewrites its header. A burst into
	// a full queue then costs almost nothing per dropped frame.
	spare []byte
}

// NewSource returns a Source of the given stream (0: a fresh random one)
// pushing through push. now may be nil.
func NewSource(stream uint32, push PushFunc, now func() time.Time) *Source {
	if now == nil {
		now = time.Now
	}
	if stream == 0 {
		stream = NewStream()
	}
	return &Source{push: push, now: now, stream: stream}
}

// WithWait gives the Source the track's waiting push, for PushWait and
// Deliver, and returns it. Call it before the Source is shared.
func (s *Source) WithWait(w WaitFunc) *Source {
	s.wait = w
	return s
}

// WithFormat makes the Source write frames of the track's declared frame
// encoding (FormatFor), or refuse them when it cannot, and returns it.
// Call it before the Source is shared.
func (s *Source) WithFormat(enc schema.FrameEncoding) *Source {
	s.format, s.formatErr = FormatFor(enc)
	return s
}

// WithDropped makes every frame carry the publisher's count of the
// stream's frames it numbered and then did not send (Header.Dropped),
// from dropped (Drops.Dropped), and returns the Source. Call it before
// the Source is shared.
func (s *Source) WithDropped(dropped func() uint64) *Source {
	s.dropped = dropped
	return s
}

// Err says why the Source refuses every frame (nil: it does not).
func (s *Source) Err() error { return s.formatErr }

// Stream is the stream ID every frame of this Source carries.
func (s *Source) Stream() uint32 { return s.stream }

// Push sends one probe frame of size bytes.
func (s *Source) Push(size int) error {
	return s.send(size, s.push)
}

// PushWait sends one probe frame of size bytes, waiting for room in the
// track's queue until ctx ends; then it returns ctx's error and the frame
// was not pushed. The Source is held while it waits: other pushes through
// it (a generator) wait their turn, so sequence numbers stay in the order
// the track accepts frames.
func (s *Source) PushWait(ctx context.Context, size int) error {
	if s.wait == nil {
		return ErrCannotWait
	}
	return s.send(size, func(p []byte, ts uint64) error { return s.wait(ctx, p, ts) })
}

// send builds the next frame and hands it over with push. The send time is
// taken before push, so a frame that waited for room counts the wait in
// its latency, as a producer would see it.
func (s *Source) send(size int, push PushFunc) error {
	if s.formatErr != nil {
		return s.formatErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.now()
	if s.fit != nil && s.fit.Document != nil {
		// Unnumbered: the schema allows no probe members.
		return push(append([]byte(nil), s.fit.Document...), uint64(t.UnixMilli()))
	}
	var payload []byte
	h := Header{Stream: s.stream, Seq: s.seq, Sent: t}
	if s.dropped != nil {
		h.Dropped, h.HasDropped = s.dropped(), true
	}
	if s.fit != nil {
		payload = s.fit.encode(s.format, nil, h, size)
	} else if size = max(size, MinSizeOf(s.format)); len(s.spare) == size {
		payload, s.spare = s.spare, nil
		writeHeader(s.format, payload, h)
	} else {
		payload = EncodeFormat(s.format, nil, h, size)
	}
	if err := push(payload, uint64(t.UnixMilli())); err != nil {
		// A refused frame was not taken (PushFunc owns only what it accepts).
		if s.fit == nil {
			s.spare = payload
		}
		return err
	}
	s.seq++
	return nil
}

// Drops counts the frames of a stream its publisher numbered and then
// did not send: the sender reports each probe frame it sends, in sending
// order (Sent); as the queue is first in, first out, a number skipped is
// a frame dropped after it was numbered (stale, or the connection lost).
// Its zero value is ready; it is safe for concurrent use.
type Drops struct {
	mu      sync.Mutex
	started bool
	last    uint64
	n       atomic.Uint64
}

// Sent records that frame seq was sent.
func (d *Drops) Sent(seq uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started && seq <= d.last {
		return // a numbering restarted elsewhere: not ours to count
	}
	if d.started && seq > d.last+1 {
		d.n.Add(seq - d.last - 1)
	}
	d.started, d.last = true, seq
}

// Dropped is the count so far.
func (d *Drops) Dropped() uint64 { return d.n.Load() }

// Burst pushes n frames back to back and returns how many were accepted and
// the first error seen (the rest are counted by the track as dropped).
func (s *Source) Burst(n, size int) (accepted int, firstErr error) {
	accepted, _, firstErr = s.BurstContext(context.Background(), n, size)
	return accepted, firstErr
}

// BurstContext is Burst that stops early when ctx ends: attempted says how
// many frames were pushed (accepted or refused) before it stopped. Every
// attempted frame is counted by the track; the others were never pushed.
func (s *Source) BurstContext(ctx context.Context, n, size int) (accepted, attempted int, firstErr error) {
	done := ctx.Done()
	for range n {
		select {
		case <-done:
			return accepted, attempted, firstErr
		default:
		}
		attempted++
		if err := s.Push(size); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		accepted++
	}
	return accepted, attempted, firstErr
}

// Deliver pushes n frames one after the other, each waiting for room in
// the track's queue (PushWait), so the queue paces the burst instead of
// dropping most of it. It stops when ctx ends: attempted counts the frames
// pushed (each counted by the track), accepted those the track took, and
// the frame that was waiting when ctx ended was never pushed.
func (s *Source) Deliver(ctx context.Context, n, size int) (accepted, attempted int, firstErr error) {
	if s.wait == nil {
		return 0, 0, ErrCannotWait
	}
	for range n {
		if ctx.Err() != nil {
			return accepted, attempted, firstErr
		}
		err := s.PushWait(ctx, size)
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return accepted, attempted, firstErr // not pushed
		}
		attempted++
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		accepted++
	}
	return accepted, attempted, firstErr
}

// Generator pushes probe frames at a steady rate. Rate and size may change
// while it runs. Either the caller runs Run on a goroutine it owns and
// stops it with ctx, or Start runs it on the generator's own goroutine and
// Stop ends it and waits.
type Generator struct {
	src  *Source
	rate atomic.Uint64 // math.Float64bits of frames per second
	size atomic.Int64

	// OnError, when set, sees every rejected push (for a status line).
	OnError func(error)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{} // closed when the Start goroutine has returned
}

// ErrBadRate reports a rate or size outside what a generator accepts.
var ErrBadRate = errors.New("probe: rate must be > 0 and size within [MinSize, MaxSize]")

// MaxRate caps a generator; beyond it a single goroutine's pacing is not
// meaningful on a laptop anyway.
const MaxRate = 100_000

// NewGenerator returns a generator for src at rate frames/s of size bytes.
func NewGenerator(src *Source, rate float64, size int) (*Generator, error) {
	if err := src.Err(); err != nil {
		return nil, err
	}
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

// Pacing granularity. Frames due within one tick go out together, which
// keeps high rates cheap (no timer per frame) and the mean rate exact. A
// tick holds at most tickFrames frames where the clock allows: a fixed
// 5 ms tick pushed 40 frames at once at 8 000 frames/s, more than a
// track's queue (16) holds, and most were dropped as queue full although
// the track could send them all.
const (
	maxTick    = 5 * time.Millisecond
	minTick    = time.Millisecond
	tickFrames = 8
)

// tickFor is the tick for rate frames/s.
func tickFor(rate float64) time.Duration {
	return min(max(time.Duration(tickFrames/rate*float64(time.Second)), minTick), maxTick)
}

// Run pushes frames until ctx is done, checking it before every frame, so
// it returns within one frame's push of the cancel. It never blocks on the
// track: frames the track cannot take are counted by the track as dropped.
func (g *Generator) Run(ctx context.Context) {
	tick := tickFor(g.Rate())
	t := time.NewTicker(tick)
	defer t.Stop()
	done := ctx.Done()
	last := time.Now()
	var due float64 // fractional frames carried between ticks
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			rate := g.Rate()
			if d := tickFor(rate); d != tick {
				tick = d
				t.Reset(tick)
			}
			due += now.Sub(last).Seconds() * rate
			last = now
			// After a stall (laptop sleep, GC), don't unleash a flood: cap
			// the catch-up at one second's worth.
			due = min(due, max(rate, 1))
			n := int(due)
			due -= float64(n)
			size := g.Size()
			for range n {
				select {
				case <-done:
					return
				default:
				}
				if err := g.src.Push(size); err != nil && g.OnError != nil {
					g.OnError(err)
				}
			}
		}
	}
}

// ErrRunning is returned by Start on a generator that is already running.
var ErrRunning = errors.New("probe: generator already running")

// Start runs the generator on its own goroutine until Stop (or ctx ends).
func (g *Generator) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done != nil {
		return ErrRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	g.cancel, g.done = cancel, done
	go func() {
		defer close(done)
		g.Run(ctx)
	}()
	return nil
}

// Halt asks a started generator to stop without waiting; Wait or Stop then
// waits for it.
func (g *Generator) Halt() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cancel != nil {
		g.cancel()
	}
}

// Wait returns once a started generator's goroutine has returned (at once
// if it was never started). It does not stop it: see Halt and Stop.
func (g *Generator) Wait() {
	g.mu.Lock()
	done := g.done
	g.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Stop stops a started generator and waits for its goroutine: no frame is
// pushed after Stop returns. It is safe to call more than once.
func (g *Generator) Stop() {
	g.Halt()
	g.Wait()
}
