// Package incoming is the subscriber side of LiveKit data tracks: the
// manager that learns other participants' tracks from the SFU,
// subscribes to them, maps the subscriber handles the SFU assigns,
// reassembles and (for E2EE tracks) decrypts their frames, and measures
// from the packets themselves what arrived: rates' raw counters, loss,
// duplicates, reordering, incomplete and lost frames, frame sizes and
// latency. It is the mirror of outgoing and, like it, has no network
// code: the session feeds in the SFU's messages and the packets, and
// supplies a Transport for the subscription requests.
//
// The behaviour follows livekit-client's IncomingDataTrackManager and the
// Rust livekit-datatrack crate's remote::Manager; the wire facts it
// relies on are in docs/wire.md.
package incoming

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/packetizer"
)

// Defaults of Options.
const (
	// DefaultSubscribeTimeout is how long a subscription waits for its
	// subscriber handle, as both clients do.
	DefaultSubscribeTimeout = 10 * time.Second
	// MaxSubscribeRetryWait is the longest a timed-out subscription waits
	// before it is asked for again. The first retry waits one subscribe
	// timeout, each next one twice the last: the SFU drops signal messages
	// it cannot queue toward us (a loaded server, hundreds of tracks), so
	// a handle map that never came is no refusal.
	MaxSubscribeRetryWait = time.Minute
	// DefaultHoldTime is how long a packet whose handle no map names yet is
	// kept: the SFU forwards packets as soon as it subscribes us and sends
	// the handle map on the signal connection, so the first packets can
	// arrive first.
	DefaultHoldTime = 2 * time.Second
	// DefaultHoldPackets and DefaultHoldBytes bound the packets held.
	DefaultHoldPackets = 256
	DefaultHoldBytes   = 1 << 20
)

// Transport is what the session provides. Contract: it must not call
// back into the Manager, nor wait for something that does; the manager
// calls it with none of its own state locked, in the order of the
// changes that asked for it.
type Transport interface {
	// SendUpdateSubscription sends one UpdateDataSubscription signal
	// message with these updates, in order. An error means it was not sent.
	SendUpdateSubscription(updates []SubscriptionUpdate) error
}

// QueueingTransport is a Transport that may hold updates back before
// sending them (to pace the SFU's answers): a subscription's timeout
// runs from when its request left, not while Queued says it waits.
type QueueingTransport interface {
	Transport
	// Queued says whether an update for sid waits to be sent. It is
	// called with the manager's lock held, so it must not call into the
	// manager.
	Queued(sid string) bool
}

// SubscriptionUpdate is one entry of an UpdateDataSubscription.
type SubscriptionUpdate struct {
	SID       string
	Subscribe bool
}

// Participant is what the SFU says about another participant
// (ParticipantInfo), as far as data tracks go.
type Participant struct {
	Identity string
	SID      string
	// Version orders the updates about one participant, which may
	// arrive out of order; an older one is ignored.
	Version uint32
	// Disconnected is ParticipantInfo.state == DISCONNECTED: it left.
	Disconnected bool
	Tracks       []Info // its data_tracks: every track it publishes now
}

// Options tune a Manager. Zero values take the defaults.
type Options struct {
	// ManualSubscribe turns auto-subscription off: only Subscribe
	// subscribes (and a republish of a track that was subscribed).
	// By default every announced track that Filter accepts is subscribed.
	ManualSubscribe bool
	// Filter chooses the tracks auto-subscription takes; nil takes all.
	// It runs with the manager locked: it must not call the Manager.
	Filter func(Info) bool
	// Opener decrypts E2EE tracks' frames; without one they are still
	// measured, and counted as decrypt failures (no key).
	Opener Opener
	// OnFrame sees every completed frame (decrypted, for E2EE tracks) on
	// the goroutine that called HandlePacket, with the manager locked: it
	// must be quick and must not call the Manager nor t.Stats. f and
	// f.Payload are only valid during the call: both are reused.
	OnFrame func(t *RemoteTrack, f *Frame)
	// OnSealed, when set, sees every completed frame of an E2EE track as
	// received, before it is decrypted and whether or not it can be:
	// Payload is the ciphertext with its GCM tag, IV and KeyIndex are the
	// frame's. The same rules as OnFrame hold.
	OnSealed         func(t *RemoteTrack, f *Frame)
	SubscribeTimeout time.Duration // default DefaultSubscribeTimeout
	// Reassembly bounds each subscription's depacketizer and says when a
	// missing packet counts as lost (packetizer's defaults).
	Reassembly packetizer.DepacketizerOptions
	// HoldTime, HoldPackets and HoldBytes bound the packets kept until
	// their subscriber handle is mapped.
	HoldTime    time.Duration
	HoldPackets int
	HoldBytes   int
	// MaxHeldBytes bounds the memory every track's partial frames (and
	// reassembly buffers) hold together; default DefaultMaxHeldBytes.
	// MaxHeldPerParticipant bounds one participant's tracks together;
	// default MaxHeldBytes / DefaultParticipantShare. Past either, the
	// oldest partial frames are given up (Held.Evicted), and so is a
	// partial frame that waited PartialTimeout (default
	// DefaultPartialTimeout) for its next packet.
	MaxHeldBytes          int
	MaxHeldPerParticipant int
	// MaxTracks bounds the published tracks followed at once (default
	// DefaultMaxTracks), MaxTracksPerParticipant one participant's
	// (default MaxTracks / DefaultTrackShare): each costs its own
	// state, its history and its latency histograms, and a participant may
	// publish thousands. Tracks past either are not followed, counted in
	// Held.TracksRefused.
	MaxTracks, MaxTracksPerParticipant int
	PartialTimeout                     time.Duration
	// Now is the clock arrivals are stamped with (default time.Now).
	Now func() time.Time
	// Clock says what is known of a publisher's clock, by identity, for
	// the latency of its timestamped frames (see TrackStats.Latency). It
	// runs with the manager locked: it must be quick and must not call
	// the Manager. Nil: every publisher's timestamps are on two clocks.
	Clock  func(publisherIdentity string) clocksync.Estimate
	Logger *slog.Logger
	// After makes the timer the manager runs its timers by (Tick, every
	// TickInterval), as outgoing's Options.After does its own; default
	// time.After. Tests that call Tick themselves pass one that never
	// fires.
	After func(time.Duration) <-chan time.Time
}

// TickInterval is how often a manager runs its timers (Tick) itself:
// the subscribe timeout, held packets' expiry, and loss settled by time
// on tracks whose packets stopped.
const TickInterval = time.Second

// partState is the latest update applied for a participant SID.
type partState struct {
	identity string
	version  uint32
	refused  int // its published tracks not followed, over a track cap
}

// held is a packet kept until its handle is mapped.
type held struct {
	handle uint16
	at     time.Time
	b      []byte
}

// Manager subscribes to and measures other participants' data tracks.
// Its methods are safe for concurrent use. The session feeds in the SFU's
// messages (HandleJoin for every JoinResponse, HandleParticipantUpdate,
// HandleSubscriberHandles, HandlePermission), the packets of the
// subscriber's `_data_track` channel (HandlePacket), Reset when the
// connection is lost, Tick about once a second, and Close at the end.
// The manager starts no goroutine.
type Manager struct {
	t    Transport
	opts Options
	log  *slog.Logger
	// retainLimit bounds the buffers a track keeps between frames.
	retainLimit int

	// sendMu orders the transport calls as the changes that made them:
	// taken before mu is released, released after the call.
	sendMu sync.Mutex

	// stop ends the goroutine that runs the timers (run); Close closes
	// it and waits for wg.
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	mu            sync.Mutex
	closed        bool
	localIdentity string
	parts         map[string]partState
	live          int                     // tracks announced and not unpublished
	tracks        map[string]*RemoteTrack // by SID
	order         []*RemoteTrack          // every track, in the order announced
	// routes maps the handles of the latest handle map, and handles that
	// served tracks since, to their track.
	routes map[uint16]*RemoteTrack
	// lastHandle and lastTrack cache the latest lookup in routes; every
	// change to routes clears lastTrack.
	lastHandle uint16
	lastTrack  *RemoteTrack
	pen        []held // oldest first
	penLen     int    // bytes held
	st         Stats
	// holders accounts what each participant's tracks hold, by
	// participant SID; held is the room's account.
	holders map[string]*holder
	held    Held
}

// NewManager returns a manager sending its requests through t.
func NewManager(t Transport, opts Options) *Manager {
	if opts.SubscribeTimeout <= 0 {
		opts.SubscribeTimeout = DefaultSubscribeTimeout
	}
	if opts.HoldTime <= 0 {
		opts.HoldTime = DefaultHoldTime
	}
	if opts.HoldPackets <= 0 {
		opts.HoldPackets = DefaultHoldPackets
	}
	if opts.HoldBytes <= 0 {
		opts.HoldBytes = DefaultHoldBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxHeldBytes <= 0 {
		opts.MaxHeldBytes = DefaultMaxHeldBytes
	}
	if opts.MaxHeldPerParticipant <= 0 {
		opts.MaxHeldPerParticipant = opts.MaxHeldBytes / DefaultParticipantShare
	}
	if opts.PartialTimeout <= 0 {
		opts.PartialTimeout = DefaultPartialTimeout
	}
	if opts.MaxTracks <= 0 {
		opts.MaxTracks = DefaultMaxTracks
	}
	if opts.MaxTracksPerParticipant <= 0 {
		opts.MaxTracksPerParticipant = max(opts.MaxTracks/DefaultTrackShare, 1)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxBuffered := opts.Reassembly.MaxBufferedBytes
	if maxBuffered <= 0 {
		maxBuffered = packetizer.DefaultMaxBufferedBytes
	}
	if opts.After == nil {
		opts.After = time.After
	}
	m := &Manager{
		t: t, opts: opts, log: log, retainLimit: maxBuffered / 4, stop: make(chan struct{}),
		parts: map[string]partState{}, tracks: map[string]*RemoteTrack{}, routes: map[uint16]*RemoteTrack{},
		holders: map[string]*holder{},
		held:    Held{Budget: opts.MaxHeldBytes, PerParticipant: opts.MaxHeldPerParticipant},
	}
	m.wg.Add(1)
	go m.run()
	return m
}

// run runs the timers every TickInterval until Close.
func (m *Manager) run() {
	defer m.wg.Done()
	for {
		select {
		case <-m.stop:
			return
		case <-m.opts.After(TickInterval):
			m.Tick()
		}
	}
}

// lockOpen takes m.mu and the time, unless the manager is closed (then
// it returns false, unlocked).
func (m *Manager) lockOpen() (time.Time, bool) {
	now := m.opts.Now()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return now, false
	}
	return now, true
}

// request is a subscription update to send, and the attempt it belongs
// to (for a subscribe), so a failed send fails only that attempt.
type request struct {
	SubscriptionUpdate
	track *RemoteTrack
	seq   uint64
}

// HandleJoin feeds in a JoinResponse: local is this participant's
// identity (its own tracks are not remote), others the other
// participants, complete. A JoinResponse starts a new participant
// session, so the SFU holds no subscription of ours: what was subscribed
// and still published is asked for again, and tracks of participants no
// longer listed are unpublished.
func (m *Manager) HandleJoin(local string, others []Participant) {
	now, ok := m.lockOpen()
	if !ok {
		return
	}
	m.resetLocked(now, "new connection")
	m.localIdentity = local
	m.parts = map[string]partState{}
	m.held.TracksRefused = 0
	listed := map[string]bool{}
	for _, p := range others {
		if p.Identity != local && !p.Disconnected {
			listed[p.SID] = true
		}
	}
	for _, t := range m.order {
		if t.State() != StateUnpublished && !listed[t.info.PublisherSID] {
			m.unpublishLocked(t, now, "publisher gone after reconnect")
		}
	}
	var reqs []request
	for _, p := range others {
		reqs = m.applyLocked(p, now, reqs)
	}
	// What was wanted and is still published: the subscriptions the reset
	// paused, and requests that could not be sent.
	for _, t := range m.order {
		s := t.State()
		if t.wanted && (s == StateSubscribing && t.paused || s == StateUnsubscribed || s == StateAnnounced) {
			reqs = m.subscribeLocked(t, now, "subscribing again after reconnect", reqs)
		}
	}
	m.unlockAndSend(reqs)
}

// HandleParticipantUpdate feeds in a ParticipantUpdate. Each participant
// listed carries its full list of tracks: tracks that left it are
// unpublished, new ones announced (and auto-subscribed).
func (m *Manager) HandleParticipantUpdate(ps []Participant) {
	now, ok := m.lockOpen()
	if !ok {
		return
	}
	var reqs []request
	for _, p := range ps {
		reqs = m.applyLocked(p, now, reqs)
	}
	m.unlockAndSend(reqs)
}

func (m *Manager) applyLocked(p Participant, now time.Time, reqs []request) []request {
	if p.Identity == m.localIdentity && m.localIdentity != "" {
		return reqs
	}
	if old, ok := m.parts[p.SID]; ok && p.Version < old.version {
		return reqs // updates may arrive out of order
	}
	m.held.TracksRefused -= m.parts[p.SID].refused
	ps := partState{identity: p.Identity, version: p.Version}
	defer func() {
		m.parts[p.SID] = ps
		m.held.TracksRefused += ps.refused
	}()
	current := make(map[string]bool, len(p.Tracks))
	if !p.Disconnected {
		for _, info := range p.Tracks {
			current[info.SID] = true
		}
	}
	for _, t := range m.order {
		if t.info.PublisherSID == p.SID && t.State() != StateUnpublished && !current[t.info.SID] {
			why := "unpublished by the publisher"
			if p.Disconnected {
				why = "publisher left"
			}
			m.unpublishLocked(t, now, why)
		}
	}
	if p.Disconnected {
		return reqs
	}
	live := m.holderLocked(p.SID).live()
	for _, info := range p.Tracks {
		if _, known := m.tracks[info.SID]; known || info.SID == "" {
			continue
		}
		if live >= m.opts.MaxTracksPerParticipant || m.live >= m.opts.MaxTracks {
			ps.refused++
			continue
		}
		live++
		info.PublisherIdentity, info.PublisherSID = p.Identity, p.SID
		reqs = m.announceLocked(info, now, reqs)
	}
	return reqs
}

// announceLocked adds a track. A track with the publisher identity,
// handle, name and encoding of an earlier one is its republish (after
// the publisher's full reconnect, with a new SID): linked to it, and
// subscribed if it was, as both clients do.
func (m *Manager) announceLocked(info Info, now time.Time, reqs []request) []request {
	t := &RemoteTrack{m: m, info: info}
	t.holder = m.holderLocked(info.PublisherSID)
	t.holder.tracks = append(t.holder.tracks, t)
	t.setState(StateAnnounced, now, "announced")
	for i := len(m.order) - 1; i >= 0; i-- {
		old := m.order[i]
		if old.replacedBy == "" && sameTrack(&old.info, &info) {
			t.replaces, old.replacedBy = old.info.SID, info.SID
			if old.State() != StateUnpublished {
				m.unpublishLocked(old, now, "republished as "+info.SID)
			}
			t.wanted = old.wanted
			break
		}
	}
	m.tracks[info.SID] = t
	m.order = append(m.order, t)
	m.live++
	auto := !m.opts.ManualSubscribe && (m.opts.Filter == nil || m.opts.Filter(info))
	if t.wanted || auto {
		reqs = m.subscribeLocked(t, now, "subscribe requested", reqs)
	}
	return reqs
}

func sameTrack(a, b *Info) bool {
	return a.PublisherIdentity == b.PublisherIdentity && a.PubHandle == b.PubHandle && a.Name == b.Name &&
		a.Encryption == b.Encryption && a.Type == b.Type
}

// unpublishLocked ends t for good. The SFU ends its subscription itself.
func (m *Manager) unpublishLocked(t *RemoteTrack, now time.Time, why string) {
	if t.State() != StateUnpublished {
		m.live--
	}
	m.endLocked(t, false)
	t.paused = false
	t.setState(StateUnpublished, now, why)
}

// endLocked closes t's subscription epoch; its handle stays routed to
// it, so packets still in flight count as ignored, not unknown. cut says
// this subscriber ended it (see RemoteTrack.endSubscription).
func (m *Manager) endLocked(t *RemoteTrack, cut bool) {
	t.endSubscription(cut)
	m.syncHeldLocked(t)
}

func (m *Manager) subscribeLocked(t *RemoteTrack, now time.Time, why string, reqs []request) []request {
	t.wanted, t.paused, t.retryAt = true, false, time.Time{}
	t.sendSeq++
	t.setState(StateSubscribing, now, why)
	return append(reqs, request{SubscriptionUpdate{t.info.SID, true}, t, t.sendSeq})
}

// Subscribe asks the SFU for the track's packets. It returns at once; the
// track is subscribed when the SFU's handle map names it (Stats, State).
// Subscribing a track already subscribing or subscribed does nothing.
func (m *Manager) Subscribe(sid string) error {
	t, now, err := m.lockTrack(sid)
	if err != nil {
		return err
	}
	var reqs []request
	switch t.State() {
	case StateUnpublished:
		m.mu.Unlock()
		return &SubscribeError{Reason: ReasonUnpublished, SID: sid, Name: t.info.Name}
	case StateAnnounced, StateUnsubscribed:
		reqs = m.subscribeLocked(t, now, "subscribe requested", nil)
	case StateSubscribing:
		if t.paused { // the connection is down: HandleJoin sends it
			t.wanted = true
		}
	}
	m.unlockAndSend(reqs)
	return nil
}

// Unsubscribe ends the subscription: the track keeps its stats and can be
// subscribed again (the SFU then assigns a new handle).
func (m *Manager) Unsubscribe(sid string) error {
	t, now, err := m.lockTrack(sid)
	if err != nil {
		return err
	}
	t.wanted, t.retryAt = false, time.Time{}
	var reqs []request
	if t.live() {
		reqs = m.withdrawLocked(t, now, "unsubscribed", nil, reqs)
	}
	m.unlockAndSend(reqs)
	return nil
}

// withdrawLocked ends a live subscription here and tells the SFU. We
// end it, so what was still on its way is cut, not lost.
func (m *Manager) withdrawLocked(t *RemoteTrack, now time.Time, why string, cause error, reqs []request) []request {
	paused := t.paused
	m.endLocked(t, true)
	t.paused = false
	if cause != nil {
		t.recordError(now, cause)
	}
	t.setState(StateUnsubscribed, now, why)
	if paused {
		return reqs // no connection holds the subscription
	}
	return append(reqs, request{SubscriptionUpdate: SubscriptionUpdate{t.info.SID, false}, track: t})
}

// lockTrack takes m.mu and returns the track with this SID and the time;
// on error it returns unlocked.
func (m *Manager) lockTrack(sid string) (*RemoteTrack, time.Time, error) {
	now := m.opts.Now()
	m.mu.Lock()
	t := m.tracks[sid]
	var err error
	switch {
	case m.closed:
		err = &SubscribeError{Reason: ReasonClosed, SID: sid}
	case t == nil:
		err = &SubscribeError{Reason: ReasonUnknownTrack, SID: sid}
	}
	if err != nil {
		m.mu.Unlock()
	}
	return t, now, err
}

// Remove forgets an unpublished track and its stats (the UI's history
// row). After Close any track can be removed.
func (m *Manager) Remove(sid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tracks[sid]
	if t == nil {
		return &SubscribeError{Reason: ReasonUnknownTrack, SID: sid}
	}
	if !m.closed && t.State() != StateUnpublished {
		return ErrStillPublished
	}
	m.removeLocked(t)
	return nil
}

// removeLocked forgets t and what it holds.
func (m *Manager) removeLocked(t *RemoteTrack) {
	delete(m.tracks, t.info.SID)
	for i, o := range m.order {
		if o == t {
			m.order = append(m.order[:i], m.order[i+1:]...)
			break
		}
	}
	for h, o := range m.routes {
		if o == t {
			delete(m.routes, h)
		}
	}
	m.lastTrack = nil
	t.endSubscription(true) // after Close, it may still hold a reassembly
	t.plain = nil
	m.syncHeldLocked(t)
	h := t.holder
	if i := slices.Index(h.tracks, t); i >= 0 {
		h.tracks = slices.Delete(h.tracks, i, i+1)
	}
	if len(h.tracks) == 0 {
		delete(m.holders, t.info.PublisherSID)
	}
}

// ForgetUnpublished forgets the oldest announced unpublished tracks
// past the newest keep of them, as Remove would, counts them in
// Held.TracksForgotten, and returns their SIDs (for the caller's own
// records of them).
func (m *Manager) ForgetUnpublished(keep int) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	excess := len(m.order) - m.live - max(keep, 0)
	if m.closed || excess <= 0 {
		return nil
	}
	var sids []string
	for _, t := range m.order {
		if len(sids) == excess {
			break
		}
		if t.State() == StateUnpublished {
			sids = append(sids, t.info.SID)
		}
	}
	for _, sid := range sids {
		m.removeLocked(m.tracks[sid])
	}
	m.held.TracksForgotten += uint64(len(sids))
	return sids
}

// HandleSubscriberHandles feeds in a DataTrackSubscriberHandles: the
// SFU's complete map of this participant's subscriber handles to track
// SIDs, sent whenever a subscription starts or ends. A track it names
// that we are subscribing to is subscribed; a subscribed track it no
// longer names (or names under a new handle) has lost that subscription:
// while still published, it waits for the SFU to resubscribe it.
func (m *Manager) HandleSubscriberHandles(handles map[uint16]string) {
	now, ok := m.lockOpen()
	if !ok {
		return
	}
	m.st.HandleMaps++
	bySID := make(map[string]uint16, len(handles))
	for h, sid := range handles {
		bySID[sid] = h
	}
	for _, t := range m.order {
		if t.State() != StateSubscribed {
			continue
		}
		if h, ok := bySID[t.info.SID]; !ok || h != t.handle {
			m.endLocked(t, false)
			t.setState(StateSubscribing, now, "the SFU ended the subscription") // the timeout runs from here
		}
	}
	for h, sid := range handles {
		t := m.tracks[sid]
		if t == nil {
			m.log.Debug("subscriber handle for an unknown track", "handle", h, "sid", sid)
			continue
		}
		m.routes[h] = t
		m.lastTrack = nil
		if t.State() == StateSubscribing && t.handle != h {
			t.startSubscription(h, now)
			m.syncHeldLocked(t)
		}
	}
	m.deliverHeldLocked()
	m.mu.Unlock()
}

// HandlePermission feeds in a SubscriptionPermissionUpdate. The SFU sends
// allowed=false when the publisher's permissions exclude us, for a
// subscription it will keep retrying: the manager withdraws it, with
// ErrNotAllowed, so the refusal shows. allowed=true needs nothing.
func (m *Manager) HandlePermission(publisherSID, trackSID string, allowed bool) {
	now := m.opts.Now()
	m.mu.Lock()
	t := m.tracks[trackSID]
	if m.closed || allowed || t == nil || !t.live() {
		m.mu.Unlock()
		return
	}
	t.wanted = false
	err := &SubscribeError{Reason: ReasonNotAllowed, SID: trackSID, Name: t.info.Name, PublisherSID: publisherSID}
	reqs := m.withdrawLocked(t, now, "not allowed: "+err.Problem(), err, nil)
	m.unlockAndSend(reqs)
}

// HandlePacket feeds in one message of the subscriber's `_data_track`
// channel, which arrived at arrival. b is only read during the call.
//
// It is the receive path's hot loop (BenchmarkHandlePacket): it
// allocates nothing, and unlocks without defer, which a panic in OnFrame
// would leave locked (OnFrame must not panic).
func (m *Manager) HandlePacket(b []byte, arrival time.Time) {
	var pkt packetizer.Packet
	err := pkt.Unmarshal(b)
	m.mu.Lock()
	if !m.closed {
		m.st.Packets++
		m.st.Bytes += uint64(len(b))
		if err == nil {
			m.routeLocked(b, &pkt, arrival)
		} else {
			m.malformedLocked(err)
		}
	}
	m.mu.Unlock()
}

func (m *Manager) malformedLocked(err error) {
	m.st.Malformed++
	var de *packetizer.DecodeError
	if errors.As(err, &de) && int(de.Reason) < len(m.st.MalformedBy) {
		m.st.MalformedBy[de.Reason]++
	}
}

func (m *Manager) routeLocked(b []byte, pkt *packetizer.Packet, arrival time.Time) {
	h := pkt.Header.Handle
	t := m.lastTrack // packets come in runs of one track
	if t == nil || m.lastHandle != h {
		t = m.routes[h]
		m.lastHandle, m.lastTrack = h, t
	}
	switch {
	case t == nil:
		m.holdLocked(b, pkt.Header.Handle, arrival)
	case t.State() != StateSubscribed || t.handle != pkt.Header.Handle:
		t.c.ignored++
	default:
		t.receive(b, pkt, arrival)
		m.boundHeldLocked(t)
	}
}

// holdLocked keeps a packet for a handle no map named yet, within the
// bounds, evicting the oldest.
func (m *Manager) holdLocked(b []byte, h uint16, arrival time.Time) {
	m.expireHeldLocked(arrival)
	if len(b) > m.opts.HoldBytes {
		m.st.UnknownHandle++
		return
	}
	for len(m.pen) > 0 && (len(m.pen) >= m.opts.HoldPackets || m.penLen+len(b) > m.opts.HoldBytes) {
		m.dropHeldLocked()
	}
	m.pen = append(m.pen, held{handle: h, at: arrival, b: append([]byte(nil), b...)})
	m.penLen += len(b)
}

func (m *Manager) dropHeldLocked() {
	m.penLen -= len(m.pen[0].b)
	m.pen[0] = held{}
	m.pen = m.pen[1:]
	m.st.UnknownHandle++
}

func (m *Manager) expireHeldLocked(now time.Time) {
	for len(m.pen) > 0 && now.Sub(m.pen[0].at) >= m.opts.HoldTime {
		m.dropHeldLocked()
	}
}

// deliverHeldLocked routes the held packets whose handle is now mapped,
// in arrival order, with their arrival times.
func (m *Manager) deliverHeldLocked() {
	kept := m.pen[:0]
	for _, p := range m.pen {
		if m.routes[p.handle] == nil {
			kept = append(kept, p)
			continue
		}
		m.penLen -= len(p.b)
		m.st.HeldDelivered++
		if pkt, err := packetizer.Parse(p.b); err == nil {
			m.routeLocked(p.b, &pkt, p.at)
		}
	}
	clear(m.pen[len(kept):])
	m.pen = kept
}

// Tick runs the manager's timers now: a subscription without a handle
// for SubscribeTimeout is withdrawn (ErrTimeout) and asked for again
// later (see MaxSubscribeRetryWait), held packets expire, and loss is
// settled by time on tracks whose packets stopped. The manager runs it
// itself every TickInterval.
func (m *Manager) Tick() {
	now, ok := m.lockOpen()
	if !ok {
		return
	}
	var reqs []request
	qt, _ := m.t.(QueueingTransport)
	for _, t := range m.order {
		switch t.State() {
		case StateSubscribing:
			if qt != nil && !t.paused && qt.Queued(t.info.SID) {
				t.waitFrom = now // not asked for yet: its timeout has not begun
			}
			if !t.paused && now.Sub(later(t.since, t.waitFrom)) >= m.opts.SubscribeTimeout {
				// Still wanted: withdrawn, and asked for again after a wait.
				t.c.timeouts++
				t.unanswered++
				wait := min(m.opts.SubscribeTimeout<<min(t.unanswered-1, 16), MaxSubscribeRetryWait)
				err := &SubscribeError{Reason: ReasonTimeout, SID: t.info.SID, Name: t.info.Name, Timeout: m.opts.SubscribeTimeout}
				reqs = m.withdrawLocked(t, now, fmt.Sprintf("%s; asking again in %s", err.Problem(), wait), err, reqs)
				t.retryAt = now.Add(wait)
			}
		case StateUnsubscribed:
			if t.wanted && !t.retryAt.IsZero() && !now.Before(t.retryAt) {
				reqs = m.subscribeLocked(t, now, "subscribing again after a timeout", reqs)
			}
		case StateSubscribed:
			t.expire(now)
			m.expireIdleLocked(t, now)
		}
	}
	m.expireHeldLocked(now)
	m.unlockAndSend(reqs)
}

// Reset is called when the connection is lost and its participant gone
// (a full rejoin starts, or the session gives up): subscriptions end
// (what is missing is counted), handles are forgotten, and the tracks
// that were subscribed wait, without timeout, for the next HandleJoin to
// ask for them again. Resuming the same participant needs no Reset: the
// SFU keeps its subscriptions and handles.
func (m *Manager) Reset(cause error) {
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	why := "connection lost"
	if cause != nil {
		why += ": " + cause.Error()
	}
	m.resetLocked(now, why)
}

func (m *Manager) resetLocked(now time.Time, why string) {
	for _, t := range m.order {
		if t.live() && !t.paused {
			m.endLocked(t, false)
			t.paused = true
			t.setState(StateSubscribing, now, why)
		}
	}
	clear(m.routes)
	m.lastTrack = nil
	for len(m.pen) > 0 {
		m.dropHeldLocked()
	}
}

// Close ends every subscription here (nothing is sent: the connection is
// going), stops the timers and refuses further work. Tracks keep their
// stats. A manager must be closed: its timers run on a goroutine of its
// own.
func (m *Manager) Close() {
	m.stopOnce.Do(func() { close(m.stop) })
	m.wg.Wait()
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	for _, t := range m.order {
		if t.live() {
			m.endLocked(t, true)
			t.paused = false
			t.setState(StateUnsubscribed, now, "closed")
		}
	}
	for len(m.pen) > 0 {
		m.dropHeldLocked()
	}
}

// unlockAndSend releases m.mu and sends reqs in one message, keeping the
// order of concurrent callers. A subscribe that cannot be sent ends its
// attempt with ErrDisconnected; the track stays wanted, so the next
// HandleJoin asks again.
func (m *Manager) unlockAndSend(reqs []request) {
	if len(reqs) == 0 {
		m.mu.Unlock()
		return
	}
	m.sendMu.Lock()
	m.mu.Unlock()
	updates := make([]SubscriptionUpdate, len(reqs))
	for i, r := range reqs {
		updates[i] = r.SubscriptionUpdate
	}
	err := m.t.SendUpdateSubscription(updates)
	m.sendMu.Unlock()
	if err == nil {
		return
	}
	m.log.Debug("data track subscription update not sent", "err", err)
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range reqs {
		t := r.track
		if !r.Subscribe || t.sendSeq != r.seq || t.State() != StateSubscribing {
			continue
		}
		serr := &SubscribeError{Reason: ReasonDisconnected, SID: t.info.SID, Name: t.info.Name,
			Detail: "could not send the request", Err: err}
		m.endLocked(t, false)
		t.recordError(now, serr)
		t.setState(StateUnsubscribed, now, serr.Problem()) // still wanted: the next HandleJoin asks again
	}
}

// Snapshot returns stats for every track known (until removed), in the
// order they were announced. Each track's stats are consistent; the
// tracks are read snapshotChunk at a time, m.mu released in between.
func (m *Manager) Snapshot() []TrackStats { return m.SnapshotActive(time.Time{}) }

// SnapshotActive is Snapshot of the tracks whose last packet arrived at
// or after since (every track for a zero since): what a sampler needs
// ten times a second from a room of mostly idle tracks, at the cost of
// the active ones (a TrackStats is 10 KB to fill).
func (m *Manager) SnapshotActive(since time.Time) []TrackStats {
	m.mu.Lock()
	order := slices.Clone(m.order)
	m.mu.Unlock()
	out := make([]TrackStats, 0, len(order))
	if !since.IsZero() {
		out = nil // usually few
	}
	for i := 0; i < len(order); i += snapshotChunk {
		m.mu.Lock()
		for _, t := range order[i:min(i+snapshotChunk, len(order))] {
			if since.IsZero() || !t.c.lastAt.Before(since) {
				out = append(out, TrackStats{})
				t.statsIntoLocked(&out[len(out)-1])
			}
		}
		m.mu.Unlock()
	}
	return out
}

// snapshotChunk is how many tracks Snapshot reads under one hold of m.mu.
// A room of a participant's 500 tracks took 20 ms (140 ms under the race
// detector) in one hold, 10 times a second: the signal reader, waiting
// for m.mu with every ParticipantUpdate and handle map, fell behind the
// SFU, whose outbound queue (200 messages a participant) filled, and the
// SFU closed the signal connection (issue 20 item 10). 32 tracks hold it
// about 1 ms.
const snapshotChunk = 32

// Stats returns the manager's own counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.st
	s.Held = len(m.pen)
	s.Memory = m.held
	return s
}

// Received is what every track received so far, packets and their bytes,
// and what its subscription lost so far (sequence numbers the reorder
// window passed without them): the path's losses, not those counted when
// a subscription ends (the packets still on their way then), so it drops
// when one does. Cheap enough to ask every few milliseconds: no
// histogram is copied.
func (m *Manager) Received() (packets, bytes, lost uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.order {
		packets += t.c.packets
		bytes += t.c.bytes
		if t.depkt != nil {
			lost += t.depkt.Lost()
		}
	}
	return packets, bytes, lost
}

// Track returns the track with this SID, if known.
func (m *Manager) Track(sid string) (*RemoteTrack, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tracks[sid]
	return t, ok
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
