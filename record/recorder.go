package record

import (
	"context"
	"sync"
)

// DefaultMaxQueued is how many bytes of frames a Recorder holds waiting
// for its writer before it drops new ones: the memory a slow disk may
// cost, and 5 s of a 64 Mbit/s room.
const DefaultMaxQueued = 40 << 20

// Resolver says which publication a track SID is; the Recorder asks once
// per SID, on its writer's goroutine (so it may block, e.g. to fetch the
// track's schema).
type Resolver func(ctx context.Context, sid string) Track

// Counts is what a Recorder did with the frames offered to it.
type Counts struct {
	Written uint64
	Dropped uint64 // the queue held DefaultMaxQueued (or Writer errors)
	// PerSID counts the frames written of each track.
	PerSID map[string]uint64
}

type item struct {
	sid string
	f   Frame
}

// Recorder writes frames offered on a receive path to a Writer on a
// goroutine of its own, so the receive path only copies a payload. It
// owns the goroutine and the Writer: Close stops both.
type Recorder struct {
	w       *Writer
	resolve Resolver
	ctx     context.Context
	cancel  context.CancelFunc

	mu     sync.Mutex
	closed bool
	queued int64
	max    int64
	counts Counts
	err    error
	q      chan item
	done   chan struct{}
}

// NewRecorder starts writing to w. maxQueued <= 0 is DefaultMaxQueued.
func NewRecorder(ctx context.Context, w *Writer, resolve Resolver, maxQueued int64) *Recorder {
	if maxQueued <= 0 {
		maxQueued = DefaultMaxQueued
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Recorder{w: w, resolve: resolve, ctx: ctx, cancel: cancel, max: maxQueued,
		q: make(chan item, 1<<16), done: make(chan struct{}), counts: Counts{PerSID: map[string]uint64{}}}
	go r.run()
	return r
}

// Offer queues a copy of f (its payload may be reused after the call)
// and never blocks: a frame that does not fit is counted as dropped.
func (r *Recorder) Offer(sid string, f Frame) {
	r.offer(sid, f, nil)
}

// OfferSealed is Offer for a frame of an E2EE track as received: it is
// kept as Seal lays it out, with keyIndex and iv before the ciphertext.
func (r *Recorder) OfferSealed(sid string, f Frame, keyIndex uint8, iv [12]byte) {
	r.offer(sid, f, &sealing{keyIndex, iv})
}

type sealing struct {
	keyIndex uint8
	iv       [12]byte
}

func (r *Recorder) offer(sid string, f Frame, s *sealing) {
	n := int64(len(f.Payload))
	if s != nil {
		n += SealedHeader
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.queued+n > r.max {
		r.counts.Dropped++
		return
	}
	if s != nil {
		f.Payload = Seal(make([]byte, 0, n), s.keyIndex, s.iv, f.Payload)
	} else {
		f.Payload = append([]byte(nil), f.Payload...)
	}
	select {
	case r.q <- item{sid, f}:
		r.queued += n
	default:
		r.counts.Dropped++
	}
}

func (r *Recorder) run() {
	defer close(r.done)
	tracks := map[string]*Track{}
	for it := range r.q {
		t := tracks[it.sid]
		if t == nil {
			tr := r.resolve(r.ctx, it.sid)
			t = &tr
			tracks[it.sid] = t
		}
		err := r.w.Write(t, it.f)
		r.mu.Lock()
		r.queued -= int64(len(it.f.Payload))
		if err != nil {
			r.counts.Dropped++
			if r.err == nil {
				r.err = err
			}
		} else {
			r.counts.Written++
			r.counts.PerSID[it.sid]++
		}
		r.mu.Unlock()
	}
}

// Counts is a snapshot of what was written and dropped.
func (r *Recorder) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.counts
	c.PerSID = make(map[string]uint64, len(r.counts.PerSID))
	for k, v := range r.counts.PerSID {
		c.PerSID[k] = v
	}
	return c
}

// Close writes what is queued, closes the file (its summary written) and
// returns the final counts and the first write error.
func (r *Recorder) Close() (Counts, error) {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.q)
	}
	r.mu.Unlock()
	<-r.done
	r.cancel()
	err := r.w.Close()
	r.mu.Lock()
	if r.err != nil {
		err = r.err
	}
	r.mu.Unlock()
	return r.Counts(), err
}
