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
	"time"

	"github.com/dttui/dttui/packetizer"
)

// Transport is what the session provides.
type Transport interface {
	// SendPublishRequest and SendUnpublishRequest queue a signal message;
	// they must not block for long.
	SendPublishRequest(req PublishRequest) error
	SendUnpublishRequest(handle uint16) error
	// WritePacket sends one serialized packet as one binary data-channel
	// message, blocking while the channel's buffer is above its high
	// watermark, until ctx ends. pkt is only valid during the call.
	WritePacket(ctx context.Context, pkt []byte) error
}

// PublishRequest is what the SFU is asked for.
type PublishRequest struct {
	Handle uint16
	Name   string
	E2EE   bool
}

// Info is what the SFU says about a published track.
type Info struct {
	Handle uint16
	SID    string
	Name   string
	E2EE   bool
}

// Options tune a Manager. Zero values take the defaults.
type Options struct {
	PublishTimeout time.Duration // default 10 s, as both clients
	QueueCapacity  int           // frames per track, default 16
	MTU            int           // default packetizer.MTU
	E2EE           *E2EEKey      // nil: publishing with E2EE fails clearly
	Now            func() time.Time
	// After makes the publish timeout's timer; tests inject their own.
	After  func(time.Duration) <-chan time.Time
	Logger *slog.Logger
}

// MaxNameBytes is the SFU's limit on a track name.
const MaxNameBytes = 256

type publishResult struct {
	track *LocalTrack
	err   error
}

type pending struct {
	req    PublishRequest
	since  time.Time
	result chan publishResult // buffered: the answer never waits for the caller
}

// Manager publishes and tracks this participant's data tracks.
type Manager struct {
	t     Transport
	opts  Options
	clock *packetizer.Clock
	log   *slog.Logger

	mu         sync.Mutex
	nextHandle uint32
	pending    map[uint16]*pending
	active     map[uint16]*LocalTrack // published or republishing
	known      []*LocalTrack          // every track ever published, for Snapshot
	closed     bool
}

// NewManager returns a manager sending through t.
func NewManager(t Transport, opts Options) *Manager {
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = 10 * time.Second
	}
	if opts.QueueCapacity <= 0 {
		opts.QueueCapacity = 16
	}
	if opts.MTU <= 0 {
		opts.MTU = packetizer.MTU
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
		pending:    map[uint16]*pending{},
		active:     map[uint16]*LocalTrack{},
	}
}

// PublishOptions describe a track to publish.
type PublishOptions struct {
	Name string
	E2EE bool
}

// Publish asks the SFU to publish a track and waits for its answer, ctx
// (ErrCancelled) or the publish timeout (ErrTimeout). A bad name fails at
// once without asking the SFU.
func (m *Manager) Publish(ctx context.Context, o PublishOptions) (*LocalTrack, error) {
	if len(o.Name) == 0 || len(o.Name) > MaxNameBytes {
		return nil, &PublishError{Reason: ReasonInvalidName, Name: o.Name}
	}
	if o.E2EE && m.opts.E2EE == nil {
		return nil, &PublishError{Reason: ReasonE2EENotConfigured, Name: o.Name}
	}
	if err := ctx.Err(); err != nil {
		return nil, &PublishError{Reason: ReasonCancelled, Name: o.Name, Err: err}
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
		return nil, &PublishError{Reason: ReasonLimitReached, Name: o.Name}
	}
	h := uint16(m.nextHandle)
	m.nextHandle++
	p := &pending{req: PublishRequest{Handle: h, Name: o.Name, E2EE: o.E2EE}, since: m.opts.Now(), result: make(chan publishResult, 1)}
	m.pending[h] = p
	m.mu.Unlock()

	if err := m.t.SendPublishRequest(p.req); err != nil {
		if !m.removePending(h) {
			r := <-p.result // Reset or Republish already failed it
			return r.track, r.err
		}
		return nil, &PublishError{Reason: ReasonDisconnected, Name: o.Name, Handle: h, Err: err}
	}
	timeout := m.opts.After(m.opts.PublishTimeout)
	select {
	case r := <-p.result:
		return r.track, r.err
	case <-ctx.Done():
		return m.abandon(p, &PublishError{Reason: ReasonCancelled, Name: o.Name, Handle: h, Err: ctx.Err()})
	case <-timeout:
		return m.abandon(p, &PublishError{Reason: ReasonTimeout, Name: o.Name, Handle: h, Timeout: m.opts.PublishTimeout})
	}
}

// abandon gives up a pending publish. If the answer raced in, it wins.
// Otherwise we tell the SFU to drop the handle at once (as the JS client
// does), so a track it did create does not linger.
func (m *Manager) abandon(p *pending, err error) (*LocalTrack, error) {
	if !m.removePending(p.req.Handle) {
		r := <-p.result // answered concurrently: the result is already there
		return r.track, r.err
	}
	if uerr := m.t.SendUnpublishRequest(p.req.Handle); uerr != nil {
		m.log.Debug("unpublish after abandoned publish", "handle", p.req.Handle, "err", uerr)
	}
	return nil, err
}

func (m *Manager) removePending(h uint16) bool {
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
		t := newLocalTrack(m, info)
		t.c.attempts.Add(1)
		m.active[info.Handle] = t
		m.known = append(m.known, t)
		m.mu.Unlock()
		go t.run() // owned by t: stop() ends it
		p.result <- publishResult{track: t}
		return
	}
	t, ok := m.active[info.Handle]
	m.mu.Unlock()
	switch {
	case ok && t.State() == StateRepublishing:
		t.sid.Store(&info.SID)
		t.setState(StatePublished, info.SID, "republished after reconnect")
	case ok:
		m.log.Debug("publish response for a track already published", "handle", info.Handle)
	default:
		// Nobody waits for it (timed out or cancelled): keep the SFU's
		// state consistent with ours, as the Rust SDK does.
		m.log.Debug("late publish response; unpublishing", "handle", info.Handle, "sid", info.SID)
		_ = m.t.SendUnpublishRequest(info.Handle)
	}
}

// HandleRequestError feeds in a RequestResponse that echoes a publish
// (isPublish) or unpublish request for handle. sfuReason is the
// RequestResponse.Reason number.
func (m *Manager) HandleRequestError(handle uint16, isPublish bool, sfuReason int32, message string) {
	m.mu.Lock()
	p, isPending := m.pending[handle]
	if isPending && isPublish {
		delete(m.pending, handle)
	}
	t := m.active[handle]
	m.mu.Unlock()
	switch {
	case isPublish && isPending:
		p.result <- publishResult{err: &PublishError{Reason: reasonFromSFU(sfuReason), Name: p.req.Name, Handle: handle,
			SFUReason: sfuReason, RawMessage: message}}
	case isPublish && t != nil && t.State() == StateRepublishing:
		err := &PublishError{Reason: reasonFromSFU(sfuReason), Name: t.name, Handle: handle, SFUReason: sfuReason, RawMessage: message}
		t.recordError(err)
		m.finishUnpublish(t, "republish rejected: "+err.Error())
	case !isPublish && t != nil:
		// NOT_FOUND for our unpublish: the SFU has no such track, which is
		// what we wanted.
		m.finishUnpublish(t, "unpublished (SFU: "+sfuReasonName(sfuReason)+")")
	default:
		m.log.Debug("request error for unknown handle", "handle", handle, "reason", sfuReasonName(sfuReason), "message", message)
	}
}

// HandleUnpublishResponse feeds in an UnpublishDataTrackResponse: the
// answer to our request, or the SFU removing the track on its own.
func (m *Manager) HandleUnpublishResponse(handle uint16) {
	m.mu.Lock()
	t := m.active[handle]
	m.mu.Unlock()
	if t == nil {
		return
	}
	t.mu.Lock()
	requested := t.unpublishAck != nil
	t.mu.Unlock()
	if requested {
		m.finishUnpublish(t, "unpublished")
	} else {
		m.finishUnpublish(t, "unpublished by the SFU")
	}
}

// startUnpublish sends the request and returns the channel closed on the
// SFU's confirmation.
func (m *Manager) startUnpublish(t *LocalTrack) (<-chan struct{}, error) {
	m.mu.Lock()
	_, active := m.active[t.handle]
	m.mu.Unlock()
	t.mu.Lock()
	if !active {
		t.mu.Unlock()
		return nil, &PushError{Track: t.name, Drop: DropUnpublished}
	}
	if t.unpublishAck == nil {
		t.unpublishAck = make(chan struct{})
	}
	ack := t.unpublishAck
	t.mu.Unlock()
	if err := m.t.SendUnpublishRequest(t.handle); err != nil {
		m.finishUnpublish(t, "unpublished locally: "+err.Error())
		return nil, fmt.Errorf("unpublish %q: %w", t.name, err)
	}
	return ack, nil
}

// finishUnpublish removes t, stops its sender and wakes Unpublish waiters.
func (m *Manager) finishUnpublish(t *LocalTrack, reason string) {
	m.mu.Lock()
	if m.active[t.handle] != t {
		m.mu.Unlock()
		return
	}
	delete(m.active, t.handle)
	m.mu.Unlock()
	t.setState(StateUnpublished, *t.sid.Load(), reason)
	t.stop(DropUnpublished)
	t.mu.Lock()
	if t.unpublishAck != nil {
		close(t.unpublishAck)
	}
	t.unpublishAck = closedChan
	t.mu.Unlock()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Republish is called after a full reconnect: the SFU forgot every track.
// Pending publishes fail with ErrDisconnected; published tracks are asked
// for again with the same handle and name, and drop pushes until the SFU
// answers with a new SID.
func (m *Manager) Republish() {
	pend, tracks := m.takePendingListActive()
	failPending(pend, "full reconnect")
	for _, t := range tracks {
		t.setState(StateRepublishing, *t.sid.Load(), "reconnected; republishing")
		t.c.attempts.Add(1)
		if err := m.t.SendPublishRequest(PublishRequest{Handle: t.handle, Name: t.name, E2EE: t.e2ee}); err != nil {
			t.recordError(err)
			m.finishUnpublish(t, "republish failed: "+err.Error())
		}
	}
}

// takePendingListActive removes every pending publish (the caller fails
// them) and lists the active tracks, in one critical section.
func (m *Manager) takePendingListActive() ([]*pending, []*LocalTrack) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var pend []*pending
	for h, p := range m.pending {
		pend = append(pend, p)
		delete(m.pending, h)
	}
	var tracks []*LocalTrack
	for _, t := range m.active {
		tracks = append(tracks, t)
	}
	return pend, tracks
}

func failPending(ps []*pending, why string) {
	for _, p := range ps {
		p.result <- publishResult{err: &PublishError{Reason: ReasonDisconnected, Name: p.req.Name, Handle: p.req.Handle, RawMessage: why}}
	}
}

// Reset is called when the connection is gone for good: pending publishes
// fail with ErrDisconnected, tracks become unpublished (their queued frames
// counted as dropped) and every waiter returns.
func (m *Manager) Reset(cause error) {
	pend, tracks := m.takePendingListActive()
	why := "disconnected"
	if cause != nil {
		why += ": " + cause.Error()
	}
	failPending(pend, why)
	for _, t := range tracks {
		m.finishUnpublish(t, why)
	}
}

// Close resets the manager and refuses new publishes; every goroutine it
// started has stopped when Close returns.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.Reset(ErrClosed)
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

// Snapshot returns stats for every pending publish and every track
// published so far, in handle order.
func (m *Manager) Snapshot() []TrackStats {
	m.mu.Lock()
	out := make([]TrackStats, 0, len(m.pending)+len(m.known))
	for _, p := range m.pending {
		out = append(out, TrackStats{Handle: p.req.Handle, Name: p.req.Name, E2EE: p.req.E2EE, State: StatePending, Since: p.since, PublishAttempts: 1})
	}
	known := append([]*LocalTrack(nil), m.known...)
	m.mu.Unlock()
	for _, t := range known {
		out = append(out, t.Stats())
	}
	slices.SortFunc(out, func(a, b TrackStats) int { return cmp.Compare(a.Handle, b.Handle) })
	return out
}
