// Package outgoing is the publisher side of LiveKit data tracks: the
// manager that publishes tracks through the SFU, the local tracks that
// queue, encrypt, packetize and send frames, and the errors and counters
// that say what happened to every frame. It is a Go port of the behaviour
// of livekit-client's OutgoingDataTrackManager and the Rust
// livekit-datatrack crate's local::Manager. It has no network code: the
// session supplies a Transport and feeds the SFU's answers back in.
package outgoing

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/e2ee"
	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/schema"
)

// Transport is what the session provides.
//
// Contract: no method may call back into the Manager or a LocalTrack on
// the calling goroutine, nor wait for something that does. The manager
// calls SendPublishRequest and SendUnpublishRequest from inside its own
// methods (HandlePublishResponse undoes a late answer, Unpublish, Publish,
// Republish), and ending a track waits for its sender goroutine, which may
// be inside WritePacket: a WritePacket that unpublished, reset or closed
// the manager would wait for itself. The manager holds none of its locks
// during these calls.
type Transport interface {
	// SendPublishRequest and SendUnpublishRequest queue a signal message;
	// they must not block for long. An error means the message was not
	// sent (for example, no connection).
	SendPublishRequest(req PublishRequest) error
	SendUnpublishRequest(handle uint16) error
	// WritePacket sends one serialized packet as one binary data-channel
	// message, blocking while the channel holds its flow window, until
	// ctx ends (it must return soon after: ending a track
	// cancels ctx and waits). pkt is only valid during the call.
	WritePacket(ctx context.Context, pkt []byte) error
}

// A CongestionTransport also says how long a frame may wait in its
// track's queue now: while the path is congested, a frame that waited
// longer, with a fresher one queued behind it, is dropped as
// DropCongested rather than sent late (real-time data: the subscriber
// wants the freshest). 0: not congested, Options.MaxFrameAge alone
// applies. It is asked once per frame the sender takes.
type CongestionTransport interface {
	QueueDelay() time.Duration
}

// PublishRequest is what the SFU is asked for.
type PublishRequest struct {
	Handle uint16
	Name   string
	E2EE   bool
	Type   schema.Decl // frame encoding and schema (fields 4 and 5); zero: untyped
}

// Info is what the SFU says about a published track.
type Info struct {
	Handle uint16
	SID    string
	Name   string
	E2EE   bool
	Type   schema.Decl
}

// Options tune a Manager. Zero values take the defaults.
type Options struct {
	PublishTimeout time.Duration // default DefaultPublishTimeout
	QueueCapacity  int           // frames per track, default DefaultQueueCapacity
	// MaxQueuedBytes caps the payload bytes queued for sending over all
	// tracks (default DefaultMaxQueuedBytes); a push past it is dropped
	// with DropMemoryCap.
	MaxQueuedBytes int64
	// MaxFrameAge drops a frame the sender reaches later than this after
	// its push, with DropStale (default DefaultMaxFrameAge; < 0: never).
	MaxFrameAge time.Duration
	// MaxRequestsInFlight bounds the publish, republish and unpublish
	// requests awaiting the SFU's answer (default
	// DefaultMaxRequestsInFlight); more wait here, in order, still pending.
	MaxRequestsInFlight int
	MTU                 int // default packetizer.MTU
	// PaceShare spreads a multi-packet frame over this share of the time
	// between the track's frames (see pacer.go). Zero takes
	// DefaultPaceShare; a negative share turns pacing off.
	PaceShare float64
	// PaceRate (bytes/s) is the rate a multi-packet frame's packets go out
	// at most, as far as the track's own rate allows (see pacer.go). Zero
	// takes DefaultPaceRate; negative turns this bound off.
	PaceRate int
	E2EE     *e2ee.Key // nil: publishing with E2EE fails clearly
	Now      func() time.Time
	// After makes the publish timeout's timer and pacing's waits; tests
	// inject their own.
	After  func(time.Duration) <-chan time.Time
	Logger *slog.Logger
}

// MaxNameBytes is the SFU's limit on a track name.
const MaxNameBytes = 256

type publishResult struct {
	track *LocalTrack
	err   error
}

// PendingPublish is a publish the SFU has not answered yet: its handle is
// known at once, so a caller can show it and cancel exactly this one.
type PendingPublish struct {
	m     *Manager
	req   PublishRequest
	opts  PublishOptions
	since time.Time
	done  chan struct{} // closed once res is set
	res   publishResult
	slot  requestSlot // its request's place among those in flight
}

// Handle is the handle the request was sent with.
func (p *PendingPublish) Handle() uint16 { return p.req.Handle }

// Name is the track's name.
func (p *PendingPublish) Name() string { return p.req.Name }

// Done is closed once the publish has an outcome (see Result).
func (p *PendingPublish) Done() <-chan struct{} { return p.done }

// Result is the outcome once Done is closed: the published track, or a
// *PublishError. Before that it returns (nil, nil).
func (p *PendingPublish) Result() (*LocalTrack, error) {
	select {
	case <-p.done:
		return p.res.track, p.res.err
	default:
		return nil, nil
	}
}

// Wait waits for the outcome. A ctx that ends only stops the waiting (its
// error is returned); the publish goes on: Cancel gives it up.
func (p *PendingPublish) Wait(ctx context.Context) (*LocalTrack, error) {
	select {
	case <-p.done:
		return p.res.track, p.res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Cancel gives the publish up with ErrCancelled, unless its outcome is
// already known, and tells the SFU to drop the handle. It does not wait.
func (p *PendingPublish) Cancel() {
	p.m.abandon(p, &PublishError{Reason: ReasonCancelled, Name: p.req.Name, Handle: p.req.Handle})
}

// settle records the outcome; the caller has taken p out of m.pending under
// m.mu, which makes it the only one to settle p. It frees p's request slot
// and reports whether the request had gone out. m.mu must not be held.
func (p *PendingPublish) settle(r publishResult) (sent bool) {
	if p.end(r) {
		p.m.gate.release()
		return true
	}
	return false
}

// end is settle without freeing the slot: it reports whether p held one,
// for the caller to release.
func (p *PendingPublish) end(r publishResult) (held bool) {
	p.res = r
	close(p.done)
	return p.slot.end()
}

// Manager publishes and tracks this participant's data tracks. Its
// methods are safe for concurrent use. The session feeds in the SFU's
// answers (HandlePublishResponse, HandleRequestError,
// HandleUnpublishResponse) and the connection's life: BeginRepublish when
// a full rejoin starts, Republish once it is up, ActiveInfos for a
// resume's sync state, Reset when it gives up, Close at the end.
type Manager struct {
	t     Transport
	opts  Options
	clock *packetizer.Clock
	log   *slog.Logger

	mu         sync.Mutex
	nextHandle uint32
	pending    map[uint16]*PendingPublish
	active     map[uint16]*LocalTrack // published or republishing
	known      []*LocalTrack          // every track ever published, for Snapshot
	closed     bool
	restarting bool // BeginRepublish ran; Republish has not yet

	// watchers counts the publish- and republish-timeout goroutines; Close
	// waits for them.
	watchers sync.WaitGroup
	// gate bounds the requests awaiting the SFU's answer.
	gate requestGate

	// queuedBytes is the payload bytes of every track's frames accepted and
	// not yet finished with (Options.MaxQueuedBytes bounds it).
	queuedBytes atomic.Int64
}

// DefaultPublishTimeout is how long a publish waits for the SFU's answer,
// as in both LiveKit clients.
const DefaultPublishTimeout = 10 * time.Second

// DefaultQueueCapacity is the frames each track queues, the Rust SDK's size.
const DefaultQueueCapacity = 16

// DefaultMaxQueuedBytes bounds the memory frames waiting to be sent hold,
// whatever the number of tracks: sixteen 4 MiB frames on each of eight
// tracks would otherwise hold half a gigabyte.
const DefaultMaxQueuedBytes = 128 << 20

// DefaultMaxFrameAge: data tracks are real-time, so a frame that waited
// this long to be sent (a stalled connection, a queue behind a slow
// path) is dropped as stale rather than delivered late.
const DefaultMaxFrameAge = 2 * time.Second

// NewManager returns a manager sending through t.
func NewManager(t Transport, opts Options) *Manager {
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = DefaultPublishTimeout
	}
	if opts.QueueCapacity <= 0 {
		opts.QueueCapacity = DefaultQueueCapacity
	}
	if opts.MaxQueuedBytes <= 0 {
		opts.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if opts.MaxFrameAge == 0 {
		opts.MaxFrameAge = DefaultMaxFrameAge
	}
	if opts.PaceShare == 0 {
		opts.PaceShare = DefaultPaceShare
	}
	if opts.PaceRate == 0 {
		opts.PaceRate = DefaultPaceRate
	}
	if opts.MTU <= 0 {
		opts.MTU = packetizer.MTU
	}
	if opts.MaxRequestsInFlight <= 0 {
		opts.MaxRequestsInFlight = DefaultMaxRequestsInFlight
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.After == nil {
		opts.After = time.After
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{
		t: t, opts: opts, log: log,
		clock:      packetizer.NewClock(opts.Now),
		nextHandle: 1,
		pending:    map[uint16]*PendingPublish{},
		active:     map[uint16]*LocalTrack{},
		gate:       requestGate{max: opts.MaxRequestsInFlight},
	}
}

// PublishOptions describe a track to publish.
type PublishOptions struct {
	Name string
	E2EE bool
	// Type declares the frames' encoding and schema; checked against the
	// compatibility rules before anything is sent (ReasonInvalidType).
	// A schema's definition must be stored in the room first (the
	// session's StoreSchema).
	Type schema.Decl
	// OnSent, when set, sees every frame of the track once all its packets
	// were handed to the transport: the SID they went out under and the
	// payload as pushed (before encryption), valid only during the call,
	// and its user timestamp (0: none). It runs on the track's sender
	// goroutine and must be quick (the session records the probe frames
	// it sent, to know which ones a subscriber should see).
	OnSent func(sid string, payload []byte, userTimestamp uint64)
	// Check, when its Check is set, checks every pushed frame against the
	// schema the track declares before the frame is queued.
	Check FrameCheck
}

// FrameCheck checks a track's frames before they are queued.
type FrameCheck struct {
	// Check returns why a frame does not match the track's schema (nil when
	// it does, or cannot be checked). It runs on the pushing goroutine and
	// must bound its own cost.
	Check func(payload []byte) error
	// Refuse drops a frame that does not match (DropSchemaMismatch); else
	// it is sent. Either way it is counted in SchemaMismatches.
	Refuse bool
}

// Publish asks the SFU to publish a track and waits for its answer, ctx
// (ErrCancelled) or the publish timeout (ErrTimeout). A bad name fails at
// once without asking the SFU.
func (m *Manager) Publish(ctx context.Context, o PublishOptions) (*LocalTrack, error) {
	if err := ctx.Err(); err != nil {
		return nil, &PublishError{Reason: ReasonCancelled, Name: o.Name, Err: err}
	}
	p, err := m.StartPublish(o)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		m.abandon(p, &PublishError{Reason: ReasonCancelled, Name: o.Name, Handle: p.req.Handle, Err: ctx.Err()})
		<-p.done // the answer may have won the race
	}
	return p.res.track, p.res.err
}

// StartPublish sends the publish request and returns at once with the
// pending publish; its outcome comes with the SFU's answer, Cancel, the
// publish timeout (ErrTimeout, counted from when the request went out) or
// the connection's end. With Options.MaxRequestsInFlight requests out
// already, the request waits for a slot, pending. A bad name, a closed
// manager or a request that cannot be sent at once fail at once.
func (m *Manager) StartPublish(o PublishOptions) (*PendingPublish, error) {
	if len(o.Name) == 0 || len(o.Name) > MaxNameBytes {
		return nil, &PublishError{Reason: ReasonInvalidName, Name: o.Name}
	}
	if o.E2EE && m.opts.E2EE == nil {
		return nil, &PublishError{Reason: ReasonE2EENotConfigured, Name: o.Name}
	}
	if err := o.Type.Check(); err != nil {
		return nil, &PublishError{Reason: ReasonInvalidType, Name: o.Name, Err: err}
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, &PublishError{Reason: ReasonDisconnected, Name: o.Name, Err: ErrClosed}
	}
	// Handles are never reused in a manager's life: a late answer for an
	// old handle can then never be mistaken for a new track.
	if m.nextHandle > 0xFFFF {
		m.mu.Unlock()
		return nil, &PublishError{Reason: ReasonLimitReached, Name: o.Name, Detail: "all 65535 handles of this session are used"}
	}
	h := uint16(m.nextHandle)
	m.nextHandle++
	p := &PendingPublish{m: m, req: PublishRequest{Handle: h, Name: o.Name, E2EE: o.E2EE, Type: o.Type}, opts: o,
		since: m.opts.Now(), done: make(chan struct{})}
	m.pending[h] = p
	// Added under m.mu while not closed, so Close's Wait never races an Add.
	m.watchers.Add(1)
	m.mu.Unlock()

	var sendErr error
	if ran := m.gate.do(func() (kept bool) { kept, sendErr = m.sendPublish(p); return kept }); ran && sendErr != nil {
		<-p.done
		return nil, p.res.err
	}
	return p, nil
}

// sendPublish sends p's request once it has a slot, and starts its
// timeout watcher, which owns the watchers count StartPublish added. A p
// settled while it waited (Cancel, Reset) is not sent, and hands the slot
// on (kept false). Else the slot is freed when p settles.
func (m *Manager) sendPublish(p *PendingPublish) (kept bool, err error) {
	if !p.slot.take() {
		m.watchers.Done()
		return false, nil
	}
	if err := m.t.SendPublishRequest(p.req); err != nil {
		m.watchers.Done()
		if m.takePending(p.req.Handle) {
			p.settle(publishResult{err: &PublishError{Reason: ReasonDisconnected, Name: p.req.Name, Handle: p.req.Handle,
				Detail: "could not send the request", Err: err}})
		}
		// Else Reset or BeginRepublish failed it meanwhile: that outcome stands.
		return true, err
	}
	go m.watchPublish(p, m.opts.After(m.opts.PublishTimeout))
	return true, nil
}

// watchPublish gives up p when timeout fires first. It is owned by the
// manager: Close waits for it, and it ends with p's outcome.
func (m *Manager) watchPublish(p *PendingPublish, timeout <-chan time.Time) {
	defer m.watchers.Done()
	select {
	case <-p.done:
	case <-timeout:
		m.abandon(p, &PublishError{Reason: ReasonTimeout, Name: p.req.Name, Handle: p.req.Handle, Timeout: m.opts.PublishTimeout})
	}
}

// abandon gives up a pending publish with err, unless its outcome is
// already known. We tell the SFU to drop the handle at once (as the JS
// client does), so a track it did create does not linger; a late answer
// is undone too (as the Rust client does).
func (m *Manager) abandon(p *PendingPublish, err error) {
	if !m.takePending(p.req.Handle) {
		return
	}
	if !p.settle(publishResult{err: err}) {
		return // its request never went out
	}
	if uerr := m.t.SendUnpublishRequest(p.req.Handle); uerr != nil {
		m.log.Debug("unpublish after abandoned publish", "handle", p.req.Handle, "err", uerr)
	}
}

// takePending removes h from the pending publishes and reports whether it
// was there: the caller then settles it.
func (m *Manager) takePending(h uint16) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.pending[h]; !ok {
		return false
	}
	delete(m.pending, h)
	return true
}

// HandlePublishResponse feeds in a PublishDataTrackResponse.
func (m *Manager) HandlePublishResponse(info Info) {
	m.mu.Lock()
	if p, ok := m.pending[info.Handle]; ok {
		delete(m.pending, info.Handle)
		if info.Name == "" {
			info.Name = p.req.Name
		}
		t := newLocalTrack(m, info, p.opts.OnSent, p.opts.Check)
		t.c.attempts.Add(1)
		m.active[info.Handle] = t
		m.known = append(m.known, t)
		m.mu.Unlock()
		go t.run() // owned by t: stop() ends it
		p.settle(publishResult{track: t})
		return
	}
	t := m.active[info.Handle]
	// The check and the change are under m.mu, as is every end of a track,
	// so a republish answer cannot revive a track ended meanwhile; the CAS
	// (and setState's refusal to leave unpublished) guard the state itself.
	republished := t != nil && t.republishDone != nil &&
		t.casState(StateRepublishing, StatePublished, info.SID, "republished after reconnect")
	if republished {
		t.endRepublishAttemptLocked()
	}
	m.mu.Unlock()
	switch {
	case republished:
	case t != nil:
		m.log.Debug("unexpected publish response for an active track", "handle", info.Handle, "state", t.State())
	default:
		// Nobody waits for it (timed out or cancelled): keep the SFU's
		// state consistent with ours, as the Rust SDK does.
		m.log.Debug("late publish response; unpublishing", "handle", info.Handle, "sid", info.SID)
		if err := m.t.SendUnpublishRequest(info.Handle); err != nil {
			m.log.Debug("unpublish after late publish response", "handle", info.Handle, "err", err)
		}
	}
}

// RequestKind says which of our requests an SFU error answers.
type RequestKind int

const (
	RequestPublish   RequestKind = iota + 1 // a PublishDataTrackRequest (or a republish)
	RequestUnpublish                        // an UnpublishDataTrackRequest
)

// RequestError is an SFU RequestResponse that echoes one of our requests.
type RequestError struct {
	Handle  uint16
	Request RequestKind
	Reason  int32  // RequestResponse.Reason, as the SFU sent it
	Message string // RequestResponse.Message, the SFU's words
}

// HandleRequestError feeds in a RequestResponse that echoes a publish or
// unpublish request.
func (m *Manager) HandleRequestError(e RequestError) {
	isPublish := e.Request == RequestPublish
	m.mu.Lock()
	p, isPending := m.pending[e.Handle]
	if isPending && isPublish {
		delete(m.pending, e.Handle)
	}
	t := m.active[e.Handle]
	var ack chan struct{}
	rejected := false
	if isPublish && !isPending && t != nil && t.republishDone != nil {
		err := &PublishError{Reason: reasonFromSFU(e.Reason), Name: t.name, Handle: e.Handle, Republish: true,
			SFUReason: e.Reason, RawMessage: e.Message}
		ack, rejected = m.detachLocked(t, "republish rejected: "+err.Problem(), err)
	}
	m.mu.Unlock()
	switch {
	case isPublish && isPending:
		p.settle(publishResult{err: &PublishError{Reason: reasonFromSFU(e.Reason), Name: p.req.Name, Handle: e.Handle,
			SFUReason: e.Reason, RawMessage: e.Message}})
	case rejected:
		t.finish(ack, DropUnpublished)
	case !isPublish && t != nil:
		// NOT_FOUND for our unpublish: the SFU has no such track, which is
		// what we wanted.
		m.finishUnpublish(t, "unpublished (SFU: "+SFUReasonName(e.Reason)+")", nil, DropUnpublished)
	default:
		m.log.Debug("request error for unknown handle", "handle", e.Handle, "reason", SFUReasonName(e.Reason), "message", e.Message)
	}
}

// HandleUnpublishResponse feeds in an UnpublishDataTrackResponse: the
// answer to our request, or the SFU removing the track on its own.
func (m *Manager) HandleUnpublishResponse(handle uint16) {
	m.mu.Lock()
	t := m.active[handle]
	requested := t != nil && t.unpublishAck != nil
	m.mu.Unlock()
	switch {
	case t == nil:
	case requested:
		m.finishUnpublish(t, "unpublished", nil, DropUnpublished)
	default:
		m.finishUnpublish(t, "unpublished by the SFU", nil, DropUnpublished)
	}
}

// startUnpublish sends the request and returns the channel closed once the
// track is finished (normally on the SFU's confirmation).
func (m *Manager) startUnpublish(t *LocalTrack) (<-chan struct{}, error) {
	m.mu.Lock()
	if m.active[t.handle] != t {
		m.mu.Unlock()
		return nil, fmt.Errorf("unpublish %q: %w", t.name, ErrTrackUnpublished)
	}
	first := t.unpublishAck == nil
	if first {
		t.unpublishAck = make(chan struct{})
	}
	ack := t.unpublishAck
	m.mu.Unlock()
	if !first {
		return ack, nil // asked already: the request is out or waits for a slot
	}
	var sendErr error
	ran := m.gate.do(func() bool {
		if !t.unpublishSlot.take() {
			return false // the track ended while the request waited
		}
		if err := m.t.SendUnpublishRequest(t.handle); err != nil {
			sendErr = err
			m.finishUnpublish(t, "unpublished locally: could not tell the SFU: "+err.Error(), nil, DropUnpublished)
		}
		return true // freed when the track is finished
	})
	if ran && sendErr != nil {
		return nil, fmt.Errorf("unpublish %q: could not send the request, unpublished locally: %w", t.name, sendErr)
	}
	return ack, nil
}

// finishUnpublish ends t for good if it is still active, recording cause
// (if any) as its last error; frames still queued are dropped with drop.
// It reports whether this call ended it.
func (m *Manager) finishUnpublish(t *LocalTrack, reason string, cause error, drop DropReason) bool {
	m.mu.Lock()
	ack, ok := m.detachLocked(t, reason, cause)
	m.mu.Unlock()
	if ok {
		t.finish(ack, drop)
	}
	return ok
}

// detachLocked takes t out of the manager and marks it unpublished, which
// is final. m.mu is held. If it returns true, the caller must call
// t.finish once it has released m.mu.
func (m *Manager) detachLocked(t *LocalTrack, reason string, cause error) (ack chan struct{}, ok bool) {
	if m.active[t.handle] != t {
		return nil, false
	}
	delete(m.active, t.handle)
	if cause != nil {
		t.recordError(cause)
	}
	t.setState(StateUnpublished, reason)
	t.endRepublishAttemptLocked()
	ack = t.unpublishAck
	t.unpublishAck = closedChan
	return ack, true
}

// finish stops the sender of a detached track (queued frames are counted
// as dropped with reason r) and then wakes Unpublish waiters, so an
// Unpublish that returns finds the counters final.
func (t *LocalTrack) finish(ack chan struct{}, r DropReason) {
	if t.unpublishSlot.end() {
		t.m.gate.release()
	}
	t.stop(r)
	if ack != nil && ack != closedChan {
		close(ack)
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// endRepublishAttemptLocked stops the current republish attempt's timeout
// watcher, if any. m.mu is held.
func (t *LocalTrack) endRepublishAttemptLocked() {
	if t.republishDone != nil {
		close(t.republishDone)
		t.republishDone = nil
	}
}

// BeginRepublish is called the moment a full rejoin starts: the SFU is
// about to forget every track. Pending publishes fail with
// ErrDisconnected, tracks whose Unpublish waits for the SFU are finished
// (the rejoin unpublishes them), and the other tracks turn republishing:
// pushes are dropped with DropRepublishing, and so are the frames already
// queued, as the sender reaches them. Nothing is sent: call Republish once
// the new connection is up.
func (m *Manager) BeginRepublish() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	pend, ended := m.beginRepublishLocked()
	m.mu.Unlock()
	failPending(pend, "full reconnect", nil)
	finishAll(ended)
}

// beginRepublishLocked is BeginRepublish under m.mu. The caller fails the
// returned publishes and finishes the returned tracks after unlocking.
func (m *Manager) beginRepublishLocked() ([]*PendingPublish, []detached) {
	m.restarting = true
	pend := m.takePendingLocked()
	var ended []detached
	for _, t := range m.activeLocked() {
		if t.unpublishAck != nil {
			if ack, ok := m.detachLocked(t, "unpublished: connection restarted", nil); ok {
				ended = append(ended, detached{t, ack})
			}
			continue
		}
		// A new rejoin supersedes a republish still waiting for its answer.
		t.endRepublishAttemptLocked()
		t.setState(StateRepublishing, "reconnecting; will republish")
	}
	return pend, ended
}

type detached struct {
	t   *LocalTrack
	ack chan struct{}
}

func finishAll(ds []detached) {
	for _, d := range ds {
		d.t.finish(d.ack, DropUnpublished)
	}
}

// Republish is called once the new connection after a full reconnect is
// up: every republishing track is asked for again with the same handle,
// name and E2EE, and drops pushes until the SFU answers with a new SID. If
// BeginRepublish was not called first, Republish does its work first.
//
// Each request gets the publish timeout (Options.PublishTimeout): without
// an answer by then the track is unpublished (the SFU is told to drop the
// handle, and a late answer is undone) with a *PublishError of
// ReasonTimeout as its last error.
func (m *Manager) Republish() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	var pend []*PendingPublish
	var ended []detached
	if !m.restarting {
		pend, ended = m.beginRepublishLocked()
	}
	m.restarting = false
	type attempt struct {
		t    *LocalTrack
		done chan struct{}
	}
	var attempts []attempt
	for _, t := range m.activeLocked() {
		if t.State() != StateRepublishing {
			continue
		}
		t.endRepublishAttemptLocked()
		t.republishDone = make(chan struct{})
		attempts = append(attempts, attempt{t, t.republishDone})
		// Added under m.mu while not closed, so Close's Wait never races an Add.
		m.watchers.Add(1)
	}
	m.mu.Unlock()
	failPending(pend, "full reconnect", nil)
	finishAll(ended)

	for _, a := range attempts {
		m.gate.do(func() bool { return m.sendRepublish(a.t, a.done) })
	}
}

// sendRepublish sends one republish request once it has a slot and
// starts its timeout watcher, which owns the watchers count Republish
// added for it and frees the slot when the attempt ends. It reports
// whether it kept the slot.
func (m *Manager) sendRepublish(t *LocalTrack, done chan struct{}) bool {
	select {
	case <-done: // already over (Reset, a newer rejoin): do not ask again
		m.watchers.Done()
		return false
	default:
	}
	t.c.attempts.Add(1)
	var timeout <-chan time.Time
	if err := m.t.SendPublishRequest(PublishRequest{Handle: t.handle, Name: t.name, E2EE: t.e2ee, Type: t.typ}); err != nil {
		perr := &PublishError{Reason: ReasonDisconnected, Name: t.name, Handle: t.handle, Republish: true,
			Detail: "could not send the request", Err: err}
		m.finishUnpublish(t, "republish failed: "+perr.Problem(), perr, DropUnpublished)
	} else {
		timeout = m.opts.After(m.opts.PublishTimeout)
	}
	// Owned by the manager (Close waits for it); it ends with the attempt:
	// answer, rejection, unpublish, a newer rejoin, Reset or timeout.
	go m.watchRepublish(t, done, timeout)
	return true
}

// watchRepublish gives up a republish attempt (done) that gets no answer
// before timeout fires.
func (m *Manager) watchRepublish(t *LocalTrack, done <-chan struct{}, timeout <-chan time.Time) {
	defer m.watchers.Done()
	defer m.gate.release()
	select {
	case <-done:
		return
	case <-timeout:
	}
	err := &PublishError{Reason: ReasonTimeout, Name: t.name, Handle: t.handle, Republish: true, Timeout: m.opts.PublishTimeout}
	m.mu.Lock()
	if t.republishDone != done { // answered or superseded as the timer fired
		m.mu.Unlock()
		return
	}
	ack, ok := m.detachLocked(t, "republish: "+err.Problem(), err)
	m.mu.Unlock()
	if !ok {
		return
	}
	// The SFU may still create the track: tell it to drop the handle; a
	// later answer is undone by HandlePublishResponse.
	if uerr := m.t.SendUnpublishRequest(t.handle); uerr != nil {
		m.log.Debug("unpublish after republish timeout", "handle", t.handle, "err", uerr)
	}
	t.finish(ack, DropUnpublished)
}

// takePendingLocked removes and returns every pending publish; the
// caller fails them after unlocking m.mu.
func (m *Manager) takePendingLocked() []*PendingPublish {
	var pend []*PendingPublish
	for h, p := range m.pending {
		pend = append(pend, p)
		delete(m.pending, h)
	}
	return pend
}

// activeLocked lists the active tracks in handle order.
func (m *Manager) activeLocked() []*LocalTrack {
	tracks := make([]*LocalTrack, 0, len(m.active))
	for _, t := range m.active {
		tracks = append(tracks, t)
	}
	slices.SortFunc(tracks, func(a, b *LocalTrack) int { return cmp.Compare(a.handle, b.handle) })
	return tracks
}

// failPending fails publishes taken from the pending map as disconnected,
// with local detail and the underlying cause (either may be empty).
// Every one ends before any slot is freed: a freed slot must not send one
// of them.
func failPending(ps []*PendingPublish, detail string, cause error) {
	var held []*PendingPublish
	for _, p := range ps {
		if p.end(publishResult{err: &PublishError{Reason: ReasonDisconnected, Name: p.req.Name, Handle: p.req.Handle,
			Detail: detail, Err: cause}}) {
			held = append(held, p)
		}
	}
	for _, p := range held {
		p.m.gate.release()
	}
}

// Reset is called when the connection is gone for good: pending publishes
// fail with ErrDisconnected (wrapping cause), tracks become unpublished
// (their queued frames dropped as DropDisconnected) and every waiter
// returns.
func (m *Manager) Reset(cause error) { m.reset(cause, DropDisconnected) }

func (m *Manager) reset(cause error, drop DropReason) {
	m.mu.Lock()
	m.restarting = false
	pend := m.takePendingLocked()
	tracks := m.activeLocked()
	m.mu.Unlock()
	why := "disconnected"
	if cause != nil {
		why += ": " + cause.Error()
	}
	failPending(pend, "", cause)
	for _, t := range tracks {
		m.finishUnpublish(t, why, nil, drop)
	}
}

// Close resets the manager and refuses new publishes; frames still queued
// are dropped as DropClosed (the owner's flush did not get them out in
// time). Every goroutine the manager started has stopped when Close
// returns.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.reset(ErrClosed, DropClosed)
	m.watchers.Wait()
}

// ActiveInfos lists published tracks, for the SyncState sent on resume.
func (m *Manager) ActiveInfos() []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Info
	for _, t := range m.active {
		if t.State() == StatePublished {
			out = append(out, t.Info())
		}
	}
	return out
}

// QueuedBytes is the payload bytes queued for sending over all tracks.
func (m *Manager) QueuedBytes() int64 { return m.queuedBytes.Load() }

// Tracks lists every track published so far (unpublished ones included),
// in the order they were published.
func (m *Manager) Tracks() []*LocalTrack {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.known)
}

// Remove drops an unpublished track from Tracks and Snapshot, and with it
// its counters and history: a row the user removed. A track still active
// is refused with ErrStillPublished, an unknown handle with ErrUnknownTrack.
func (m *Manager) Remove(handle uint16) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.active[handle] != nil {
		return ErrStillPublished
	}
	i := slices.IndexFunc(m.known, func(t *LocalTrack) bool { return t.handle == handle })
	if i < 0 {
		return ErrUnknownTrack
	}
	m.known = slices.Delete(m.known, i, i+1)
	return nil
}

// Snapshot returns stats for every pending publish and every track
// published so far, in handle order.
func (m *Manager) Snapshot() []TrackStats {
	m.mu.Lock()
	out := make([]TrackStats, 0, len(m.pending)+len(m.known))
	for _, p := range m.pending {
		st := TrackStats{Handle: p.req.Handle, Name: p.req.Name, E2EE: p.req.E2EE, Type: p.req.Type, State: StatePending, Since: p.since}
		st.PublishAttempts = 1
		out = append(out, st)
	}
	known := append([]*LocalTrack(nil), m.known...)
	m.mu.Unlock()
	for _, t := range known {
		out = append(out, t.Stats())
	}
	slices.SortFunc(out, func(a, b TrackStats) int { return cmp.Compare(a.Handle, b.Handle) })
	return out
}
