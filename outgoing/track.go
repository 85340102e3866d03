package outgoing

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/e2ee"
	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/schema"
)

// frame is one queued push.
type frame struct {
	payload []byte
	ts      uint64 // user timestamp; 0 means none
	at      int64  // when it was queued, UNIX ns (for MaxFrameAge)
}

// LocalTrack is a data track this participant publishes.
//
// Queue and drop policy: each track has a bounded FIFO of Options.QueueCapacity
// frames (default 16, as the Rust SDK's per-track channel) drained by one
// sender goroutine that packetizes and writes to the transport, which blocks
// while the data channel holds its flow window. When the queue is full
// the *new* frame is dropped (drop-newest) and TryPush says so at once. We
// chose that over Rust's drop-oldest because a test tool must attribute
// every drop to the push that caused it, synchronously, and because the
// frames already queued are the ones whose sequence numbers a subscriber is
// about to see: dropping them would turn local backpressure into apparent
// network loss. Frames still queued when the track stops are dropped and
// counted (reason "unpublished"), so pushed = sent + dropped + queued, always.
type LocalTrack struct {
	m      *Manager
	handle uint16
	name   string
	e2ee   bool
	typ    schema.Decl
	onSent func(sid string, payload []byte, userTimestamp uint64) // PublishOptions.OnSent; may be nil
	check  FrameCheck                                             // PublishOptions.Check
	// mismatching says the last frame checked did not match: the first of
	// a run of mismatches is recorded in the history, not each.
	mismatching atomic.Bool

	sid   atomic.Pointer[string]
	state atomic.Int32 // PublishState
	// unpublishSlot is the unpublish request's place among the requests in
	// flight; freed when the track is finished.
	unpublishSlot requestSlot

	c     counters
	queue chan frame
	// pushErrs and their messages are built once: dropping at full speed,
	// or alternating sends and drops, must not allocate.
	pushErrs [NumDropReasons]*PushError
	pushMsgs [NumDropReasons]string
	// lastDrop is the reason of the last drop since a frame was sent (-1:
	// none), so a run of identical drops is recorded in the history once.
	lastDrop atomic.Int32
	// pushers counts TryPush calls between their state check and their
	// enqueue. stop waits for it to reach zero after the state says
	// unpublished: any later push sees that state, so no frame can slip into
	// a queue nobody drains, and the push path takes no lock.
	pushers atomic.Int32

	stopOnce sync.Once
	stopCh   chan struct{}
	// room is signalled (without blocking) each time the sender takes a
	// frame off the queue, for Push waiting for room.
	room       chan struct{}
	stopReason atomic.Int32 // DropReason for frames still queued at stop
	senderDone chan struct{}
	sendCtx    context.Context
	cancelSend context.CancelFunc

	// Flush waiters. The push path only touches the in-flight counter; a
	// channel exists only while some Flush waits (see Flush).
	flushWaiters atomic.Int32
	flushMu      sync.Mutex
	flushCh      chan struct{} // closed when in flight reaches 0

	// Guarded by m.mu, with the track's place in the manager's maps.
	unpublishAck  chan struct{} // set while Unpublish waits; closedChan once finished
	republishDone chan struct{} // closed when the current republish attempt ends; nil if none

	mu       sync.Mutex // guards the history below; taken after m.mu, never before
	since    time.Time
	timeline []StateChange
	errs     []ErrorEvent // the last one is LastErr
}

func newLocalTrack(m *Manager, info Info, onSent func(string, []byte, uint64), check FrameCheck) *LocalTrack {
	t := &LocalTrack{
		m: m, handle: info.Handle, name: info.Name, e2ee: info.E2EE, typ: info.Type, onSent: onSent, check: check,
		queue:      make(chan frame, m.opts.QueueCapacity),
		stopCh:     make(chan struct{}),
		room:       make(chan struct{}, 1),
		senderDone: make(chan struct{}),
	}
	for r := range t.pushErrs {
		t.pushErrs[r] = &PushError{Track: info.Name, Drop: DropReason(r)}
		t.pushMsgs[r] = t.pushErrs[r].Error()
	}
	t.lastDrop.Store(-1)
	t.sid.Store(&info.SID)
	t.sendCtx, t.cancelSend = context.WithCancel(context.Background())
	t.setState(StatePublished, "published")
	return t
}

// Info returns what the SFU told us about the track (the SID changes after a republish).
func (t *LocalTrack) Info() Info {
	return Info{Handle: t.handle, SID: *t.sid.Load(), Name: t.name, E2EE: t.e2ee, Type: t.typ}
}

// Handle is the track's publisher handle.
func (t *LocalTrack) Handle() uint16 { return t.handle }

// Name is the track's name.
func (t *LocalTrack) Name() string { return t.name }

// State returns the current publish state.
func (t *LocalTrack) State() PublishState { return PublishState(t.state.Load()) }

// setState moves the track to s and reports whether it did. Unpublished
// is final: its sender has stopped, so a track that left it would accept
// pushes that nobody sends and Flush would hang. Every state write holds
// t.mu, so the check and the store cannot interleave with another write.
func (t *LocalTrack) setState(s PublishState, reason string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if PublishState(t.state.Load()) == StateUnpublished {
		return false
	}
	t.state.Store(int32(s))
	t.noteStateLocked(s, *t.sid.Load(), reason)
	return true
}

// casState moves the track from `from` (never StateUnpublished) to `to`,
// with a new SID, only if it is still in `from`.
func (t *LocalTrack) casState(from, to PublishState, sid, reason string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if from == StateUnpublished || !t.state.CompareAndSwap(int32(from), int32(to)) {
		return false
	}
	t.sid.Store(&sid)
	t.noteStateLocked(to, sid, reason)
	return true
}

func (t *LocalTrack) noteStateLocked(s PublishState, sid, reason string) {
	t.since = t.m.opts.Now()
	t.timeline = appendBounded(t.timeline, StateChange{At: t.since, State: s, SID: sid, Reason: reason})
}

// recordError adds err to the history and makes it LastErr.
func (t *LocalTrack) recordError(err error) { t.recordErrorMsg(err, err.Error()) }

// recordErrorMsg is recordError with err's message already known. Once
// the history is full it appends in place: no allocation.
func (t *LocalTrack) recordErrorMsg(err error, msg string) {
	ev := ErrorEvent{At: t.m.opts.Now(), Err: msg, Cause: err}
	t.mu.Lock()
	t.errs = appendBounded(t.errs, ev)
	t.mu.Unlock()
}

// LastErr returns the track's latest error (nil if none) for errors.Is and
// errors.As: a *PushError for a refused push, an *e2ee.EncryptError, the
// transport's error, or a *PublishError when a republish failed.
func (t *LocalTrack) LastErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.errs); n > 0 {
		return t.errs[n-1].Cause
	}
	return nil
}

// TryPush queues one frame for sending and never blocks. It takes
// ownership of payload when it accepts the frame; a refused payload is not
// kept, so the caller may reuse its buffer. userTimestamp (UNIX ms by convention) is sent in
// the user-timestamp extension unless it is 0. A frame it does not accept
// is counted as dropped with the reason, and the error says which:
// ErrTrackUnpublished, or ErrQueueFull (queue full, or republishing).
func (t *LocalTrack) TryPush(payload []byte, userTimestamp uint64) error {
	t.c.pushed.Add(1)
	t.pushers.Add(1)
	switch PublishState(t.state.Load()) {
	case StateUnpublished:
		t.pushers.Add(-1)
		t.c.unpublishedErrs.Add(1)
		return t.drop(DropUnpublished, false)
	case StateRepublishing:
		t.pushers.Add(-1)
		return t.drop(DropRepublishing, false)
	}
	if t.check.Check != nil && !t.checkFrame(payload) {
		t.pushers.Add(-1)
		return t.drop(DropSchemaMismatch, false)
	}
	// The session's cap on queued bytes: checked before the queue, so a
	// frame over it never takes a slot.
	size := int64(len(payload))
	if t.m.queuedBytes.Add(size) > t.m.opts.MaxQueuedBytes {
		t.m.queuedBytes.Add(-size)
		t.pushers.Add(-1)
		return t.drop(DropMemoryCap, false)
	}
	t.c.inflight.Add(1)
	select {
	case t.queue <- frame{payload: payload, ts: userTimestamp, at: t.m.opts.Now().UnixNano()}:
		t.pushers.Add(-1)
		return nil
	default:
		t.m.queuedBytes.Add(-size)
		t.pushers.Add(-1)
		return t.drop(DropQueueFull, true)
	}
}

// Push is TryPush that waits for room in the track's queue instead of
// dropping the frame when it is full: for frames that must all go (a file,
// a burst that delivers), not for a real-time producer. Waiting is not a
// push: if ctx ends first the frame was never handed over, is not counted,
// and Push returns ctx's error. Every other refusal is TryPush's, counted
// with its reason.
func (t *LocalTrack) Push(ctx context.Context, payload []byte, userTimestamp uint64) error {
	for {
		// Drain a stale signal first, so a dequeue after the attempt
		// below is not missed.
		select {
		case <-t.room:
		default:
		}
		if len(t.queue) < cap(t.queue) || PublishState(t.state.Load()) != StatePublished {
			err := t.TryPush(payload, userTimestamp)
			var pe *PushError
			if !errors.As(err, &pe) || pe.Drop != DropQueueFull {
				return err
			}
			// Another pusher took the slot: this one was counted as a
			// queue-full drop, as it was one. Wait for the next.
		}
		select {
		case <-t.room:
		case <-t.stopCh:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// checkFrame checks a pushed frame against the track's schema: false when
// it does not match and the track refuses such frames. A mismatch is
// counted; the first of a run goes into the history with its path.
func (t *LocalTrack) checkFrame(payload []byte) bool {
	err := t.check.Check(payload)
	if err == nil {
		t.mismatching.Store(false)
		return true
	}
	t.c.mismatches.Add(1)
	if !t.mismatching.Swap(true) {
		t.recordError(err)
	}
	return !t.check.Refuse
}

// drop counts a frame as dropped; inflight says it had been counted in flight.
func (t *LocalTrack) drop(r DropReason, inflight bool) error {
	t.c.dropped[r].Add(1)
	err := t.pushErrs[r]
	// A schema mismatch is in the history already, with its path
	// (checkFrame).
	if t.lastDrop.Swap(int32(r)) != int32(r) && r != DropSchemaMismatch {
		t.recordErrorMsg(err, t.pushMsgs[r])
	}
	if inflight {
		t.doneInflight()
	}
	return err
}

// doneInflight ends one frame's time in flight (sent or dropped). The
// atomics are sequentially consistent: either this sees a Flush's waiter
// count, or that Flush's second look at the in-flight counter sees this
// frame gone, so no Flush misses the last frame.
func (t *LocalTrack) doneInflight() {
	if t.c.inflight.Add(-1) == 0 && t.flushWaiters.Load() > 0 {
		t.flushMu.Lock()
		if t.flushCh != nil && t.c.inflight.Load() == 0 {
			close(t.flushCh)
			t.flushCh = nil
		}
		t.flushMu.Unlock()
	}
}

// Flush waits until nothing is queued or in flight on the track: every
// frame accepted so far has been handed to the transport (every packet)
// or dropped. Like the JS client's isFlushed, it waits for an in-flight
// counter to reach 0, not for the frames pushed before the call: with a
// producer that never pauses it may return only when ctx ends.
func (t *LocalTrack) Flush(ctx context.Context) error {
	if t.c.inflight.Load() == 0 {
		return nil
	}
	t.flushWaiters.Add(1)
	defer t.flushWaiters.Add(-1)
	t.flushMu.Lock()
	if t.flushCh == nil {
		t.flushCh = make(chan struct{})
	}
	ch := t.flushCh
	t.flushMu.Unlock()
	// Look again now that doneInflight can see us waiting: the last frame
	// may have finished before it could.
	if t.c.inflight.Load() == 0 {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush %q: %w", t.name, ctx.Err())
	}
}

// Unpublish asks the SFU to remove the track and waits for its
// confirmation (or ctx). Frames pushed meanwhile still go out, as in the JS
// client; once confirmed, the track stops and queued frames are dropped.
// If ctx ends first the track is stopped locally anyway, and the error
// says so. A full reconnect (BeginRepublish, Republish) or Reset while it
// waits also ends the track, and Unpublish returns nil: the SFU has
// forgotten it. On a track already unpublished the error matches
// ErrTrackUnpublished.
func (t *LocalTrack) Unpublish(ctx context.Context) error {
	ack, err := t.m.startUnpublish(t)
	if err != nil {
		return err
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
	}
	if !t.m.finishUnpublish(t, "unpublished locally: the SFU did not confirm in time", nil, DropUnpublished) {
		<-ack // the confirmation (or a reset) won the race and is finishing the track
		return nil
	}
	return fmt.Errorf("unpublish %q: the SFU did not confirm, unpublished locally: %w", t.name, ctx.Err())
}

// Counters reads the track's counters without its history: cheap enough
// to sample many tracks many times a second. Each counter is read
// atomically, but not all at one instant: mid-stream a frame moving from
// queued to sent may be seen in both or neither.
func (t *LocalTrack) Counters() Counters {
	c := Counters{
		FramesSent:        t.c.sent.Load(),
		PacketsSent:       t.c.packets.Load(),
		BytesSent:         t.c.bytes.Load(),
		UnpublishedErrors: t.c.unpublishedErrs.Load(),
		SchemaMismatches:  t.c.mismatches.Load(),
		PublishAttempts:   t.c.attempts.Load(),
		FramesQueued:      uint64(max(t.c.inflight.Load(), 0)),
		FramesPushed:      t.c.pushed.Load(),
	}
	for i := range c.DroppedBy {
		c.DroppedBy[i] = t.c.dropped[i].Load()
		c.FramesDropped += c.DroppedBy[i]
	}
	return c
}

// Stats returns a snapshot of the track's counters and history.
func (t *LocalTrack) Stats() TrackStats {
	s := TrackStats{Handle: t.handle, Name: t.name, SID: *t.sid.Load(), E2EE: t.e2ee, Type: t.typ, State: t.State(), Counters: t.Counters()}
	t.mu.Lock()
	s.Since = t.since
	s.Timeline = append([]StateChange(nil), t.timeline...)
	s.Errors = append([]ErrorEvent(nil), t.errs...)
	if n := len(t.errs); n > 0 {
		s.LastError, s.LastErrorAt = t.errs[n-1].Err, t.errs[n-1].At
	}
	t.mu.Unlock()
	return s
}

// stop ends the sender: frames still queued are dropped with reason r.
// The caller has already set the state to unpublished. It returns once the
// sender goroutine has exited and the queue is empty.
func (t *LocalTrack) stop(r DropReason) {
	t.stopOnce.Do(func() {
		// Pushers that checked the state before it changed finish their
		// enqueue within nanoseconds; wait them out before the final drain.
		for t.pushers.Load() != 0 {
			runtime.Gosched()
		}
		t.stopReason.Store(int32(r))
		close(t.stopCh)
		t.cancelSend()
	})
	<-t.senderDone
}

// run is the track's sender goroutine; the manager starts it and stop ends it.
func (t *LocalTrack) run() {
	defer close(t.senderDone)
	pk, err := packetizer.NewPacketizer(t.handle, t.m.opts.MTU, t.m.clock)
	var seal *e2ee.Sealer
	if t.e2ee && t.m.opts.E2EE != nil {
		seal = e2ee.NewSealer(t.m.opts.E2EE, t.m.opts.Now)
	}
	pace := pacer{share: t.m.opts.PaceShare, rate: t.m.opts.PaceRate}
	for {
		select {
		case <-t.stopCh:
			t.drainQueue()
			return
		case f := <-t.queue:
			select {
			case t.room <- struct{}{}:
			default:
			}
			switch {
			case err != nil:
				t.dropQueued(DropPacketizeError, err)
			case PublishState(t.state.Load()) == StateRepublishing:
				// Queued before the reconnect: the SFU forgot this handle.
				t.dropQueued(DropRepublishing, nil)
			case t.m.opts.MaxFrameAge > 0 && t.m.opts.Now().UnixNano()-f.at > int64(t.m.opts.MaxFrameAge):
				// Real-time data: a frame this old is of no use to a
				// subscriber, and sending it would delay the fresh ones.
				t.dropQueued(DropStale, nil)
			case t.congested(f):
				t.dropQueued(DropCongested, nil)
			default:
				t.send(pk, seal, &pace, f)
			}
			t.m.queuedBytes.Add(-int64(len(f.payload)))
		}
	}
}

// congested says whether f waited longer than the transport's congested
// path allows while a fresher frame waits behind it. The last frame
// queued always goes: a track is never starved, only kept fresh.
func (t *LocalTrack) congested(f frame) bool {
	ct, ok := t.m.t.(CongestionTransport)
	if !ok || len(t.queue) == 0 {
		return false
	}
	d := ct.QueueDelay()
	return d > 0 && t.m.opts.Now().UnixNano()-f.at > int64(d)
}

func (t *LocalTrack) dropQueued(r DropReason, cause error) {
	t.c.dropped[r].Add(1)
	if cause != nil {
		t.recordError(cause)
	}
	t.doneInflight()
}

func (t *LocalTrack) drainQueue() {
	r := DropReason(t.stopReason.Load())
	for {
		select {
		case f := <-t.queue:
			t.dropQueued(r, nil)
			t.m.queuedBytes.Add(-int64(len(f.payload)))
		default:
			return
		}
	}
}

// waitUntil holds the sender until at (pacing), or until the track stops.
func (t *LocalTrack) waitUntil(at time.Time) error {
	d := at.Sub(t.m.opts.Now())
	if d < minPaceWait {
		return nil
	}
	select {
	case <-t.m.opts.After(d):
		return nil
	case <-t.sendCtx.Done():
		return t.sendCtx.Err()
	}
}

var errNeedsE2EE = errors.New("track was published with E2EE but no key is configured")

func (t *LocalTrack) send(pk *packetizer.Packetizer, seal *e2ee.Sealer, pace *pacer, f frame) {
	fr := packetizer.Frame{Payload: f.payload}
	if f.ts != 0 {
		fr.Extensions.HasUserTimestamp, fr.Extensions.UserTimestamp = true, f.ts
	}
	if t.e2ee {
		if seal == nil {
			t.dropQueued(DropEncryptError, &e2ee.EncryptError{Err: errNeedsE2EE})
			return
		}
		ct, ext, err := seal.Seal(f.payload)
		if err != nil {
			t.dropQueued(DropEncryptError, err)
			return
		}
		fr.Payload = ct
		fr.Extensions.HasE2EE, fr.Extensions.E2EE = true, ext
	}
	// Only frames of several packets are paced (and measured for it): a
	// single-packet frame costs no clock read here.
	var start time.Time
	var spread time.Duration
	count := 1
	if len(fr.Payload) > t.m.opts.MTU-packetizer.BaseHeaderLen {
		count, _ = packetizer.PacketCount(len(fr.Payload), fr.Extensions, t.m.opts.MTU)
		start = t.m.opts.Now()
		spread = pace.begin(start, count, len(fr.Payload), len(t.queue) > 0)
	}
	var packets, bytes uint64
	err := pk.Packetize(fr, func(pkt []byte) error {
		if spread > 0 && packets > 0 {
			if len(t.queue) > 0 {
				spread = 0 // the next frame is here: we are behind, catch up
			} else if err := t.waitUntil(due(start, spread, int(packets), count)); err != nil {
				return err
			}
		}
		if err := t.m.t.WritePacket(t.sendCtx, pkt); err != nil {
			return err
		}
		packets++
		bytes += uint64(len(pkt))
		return nil
	})
	// Packets that went out count even when a later one of the frame failed.
	t.c.packets.Add(packets)
	t.c.bytes.Add(bytes)
	switch {
	case err == nil:
		if t.onSent != nil {
			t.onSent(*t.sid.Load(), f.payload, f.ts)
		}
		t.c.sent.Add(1)
		if t.lastDrop.Load() != -1 {
			t.lastDrop.Store(-1)
		}
		t.doneInflight()
	case errors.Is(err, packetizer.ErrMTUTooShort):
		t.dropQueued(DropPacketizeError, err)
	case t.sendCtx.Err() != nil:
		t.dropQueued(DropReason(t.stopReason.Load()), nil)
	default:
		t.dropQueued(DropTransportError, fmt.Errorf("send on data channel: %w", err))
	}
}
