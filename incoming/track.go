package incoming

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/e2ee"
	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/schema"
)

// Info is what the SFU announced about a remote track (a DataTrackInfo
// in its publisher's ParticipantInfo), with the publisher. The strings
// come from other participants: sanitize them before display.
type Info struct {
	SID        string // server-assigned (DTR_…): the track's identity
	PubHandle  uint16 // the publisher's handle; kept across a republish
	Name       string
	Encryption Encryption
	// Type is the announced frame encoding and schema (from the
	// publisher: custom names are unsanitized); zero: untyped.
	Type schema.Decl
	// PublisherIdentity and PublisherSID are the publishing participant's;
	// HandleJoin and HandleParticipantUpdate fill them in.
	PublisherIdentity string
	PublisherSID      string
}

// E2EE reports whether the track's frames are end-to-end encrypted.
func (i Info) E2EE() bool { return i.Encryption != EncryptionNone }

// Opener decrypts an E2EE frame: AES-GCM with the IV and key index of
// the frame's E2EE extension, the plaintext appended to dst.
// *e2ee.Key is one (the shared-passphrase key).
type Opener interface {
	OpenFrame(dst, ciphertext []byte, ext *packetizer.E2EE) ([]byte, error)
}

var _ Opener = (*e2ee.Key)(nil)

// Frame is a completed (and, for E2EE tracks, decrypted) frame, as
// OnFrame sees it.
type Frame struct {
	Number   uint16
	Sequence uint16 // of its first packet
	// Timestamp is the publisher's 90 kHz packet timestamp.
	Timestamp        uint32
	Packets          int
	HasUserTimestamp bool
	UserTimestamp    uint64   // UNIX milliseconds by convention
	E2EE             bool     // it was encrypted; Payload is the plaintext (the ciphertext for OnSealed)
	KeyIndex         uint8    // for E2EE frames
	IV               [12]byte // for E2EE frames, as OnSealed sees them
	Arrival          time.Time
	// Subscription numbers the track's subscriptions here (1, 2, …): a
	// frame of a later one follows a span this subscriber did not hold.
	Subscription uint64
	// Payload is only valid during OnFrame: it is a reused buffer (or the
	// packet's own bytes).
	Payload []byte
}

// RemoteTrack is a data track another participant publishes, identified
// by its SID: a republish after the publisher's reconnect is a new
// RemoteTrack (Replaces links them). It keeps its stats after it ends,
// until Manager.Remove.
type RemoteTrack struct {
	m     *Manager
	info  Info
	state atomic.Int32 // State; written under m.mu, read anywhere

	// Everything below is guarded by m.mu.
	wanted bool // subscribed on request or by auto-subscription, not since withdrawn
	// paused: subscribing waits for a rejoin (Reset), so the timeout does not run.
	paused bool
	since  time.Time
	// waitFrom is the latest Tick that found its subscribe request still
	// queued in the transport (QueueingTransport): the timeout runs from
	// the later of it and since.
	waitFrom time.Time
	retryAt  time.Time // a timed-out subscription is asked for again then (zero: not)
	// unanswered counts the timeouts since the last subscription the SFU
	// answered: the retry wait doubles with it, and starts over after one.
	unanswered uint
	handle     uint16 // while subscribed
	depkt      *packetizer.Depacketizer
	replaces   string // SID of the track this one republishes
	replacedBy string
	sendSeq    uint64 // subscribe requests sent; a failed send only fails its own

	c        counters
	folded   packetizer.DepacketizerStats // of the subscriptions that ended
	ext      packetizer.E2EE              // the frame's being opened, held here so opening allocates nothing
	plain    []byte                       // decryption buffer, reused
	preview  Preview
	wantView bool  // a Snapshot asked for a fresh preview
	out      Frame // the frame OnFrame is lent

	timeline []StateChange
	errs     []ErrorEvent

	// holder is its publisher's memory account; held what it holds now
	// (its reassembly's Held and decryption buffer); evicted the partial
	// frames given up to bound memory, by reason.
	holder  *holder
	held    int
	evicted [NumEvictReasons]uint64
}

type counters struct {
	subscriptions   uint64
	timeouts        uint64 // subscribe requests no handle map answered in time
	packets, bytes  uint64
	ignored         uint64
	frameBytes      uint64
	overClientLimit uint64
	decrypted       uint64
	decryptFailures [NumDecryptReasons]uint64
	userTimestamps  uint64
	latencyNegative uint64
	sizes, latency  histogram.Histogram
	// pendingLat holds two-clock latencies while the publisher's clock is
	// unknown.
	pendingLat      []int64
	firstAt, lastAt time.Time
}

// Info returns what the SFU announced. It never changes; it may be called
// from OnFrame.
func (t *RemoteTrack) Info() Info { return t.info }

// State returns the track's state; it may be called from OnFrame.
func (t *RemoteTrack) State() State { return State(t.state.Load()) }

// Stats returns a snapshot of the track; it must not be called from OnFrame.
func (t *RemoteTrack) Stats() TrackStats {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	return t.statsLocked()
}

// setState moves the track to s with a reason for its timeline.
func (t *RemoteTrack) setState(s State, now time.Time, reason string) {
	t.state.Store(int32(s))
	t.since = now
	t.timeline = appendBounded(t.timeline, StateChange{At: now, State: s, Handle: t.handle, Reason: reason})
}

func (t *RemoteTrack) recordError(now time.Time, err error) {
	t.errs = appendBounded(t.errs, ErrorEvent{At: now, Err: err.Error(), Cause: err})
}

// live reports whether a subscription is under way or up.
func (t *RemoteTrack) live() bool {
	s := t.State()
	return s == StateSubscribing || s == StateSubscribed
}

// startSubscription begins a subscription epoch on handle h: a fresh
// reassembly, so sequence numbers before it are not counted lost.
func (t *RemoteTrack) startSubscription(h uint16, now time.Time) {
	t.endSubscription(false)
	t.handle = h
	t.depkt = packetizer.NewDepacketizer(t.m.opts.Reassembly)
	t.c.subscriptions++
	t.unanswered = 0
	t.paused = false
	t.setState(StateSubscribed, now, "subscribed")
}

// endSubscription closes the current epoch and folds its counters into
// the track's. An epoch the SFU, the publisher or the connection ended is
// flushed: what is still missing counts as lost or incomplete. In one
// this subscriber ended (cut: Unsubscribe, Close) the frame still waiting
// for the packets after the last one received is cut, not incomplete:
// those packets were on their way, or not sent yet.
func (t *RemoteTrack) endSubscription(cut bool) {
	if t.depkt == nil {
		return
	}
	if cut {
		t.depkt.Cut()
	} else {
		t.depkt.Flush()
	}
	addStats(&t.folded, t.depkt.Stats())
	t.depkt = nil
	t.handle = 0
}

func addStats(a *packetizer.DepacketizerStats, b packetizer.DepacketizerStats) {
	a.PacketsReceived += b.PacketsReceived
	a.PacketsDuplicate += b.PacketsDuplicate
	a.PacketsReordered += b.PacketsReordered
	a.PacketsLate += b.PacketsLate
	a.PacketsForeign += b.PacketsForeign
	a.PacketsLost += b.PacketsLost
	a.PacketsMissing += b.PacketsMissing
	a.FramesCompleted += b.FramesCompleted
	a.FramesIncomplete += b.FramesIncomplete
	for i, n := range b.IncompleteBy {
		a.IncompleteBy[i] += n
	}
	a.FramesLost += b.FramesLost
	a.FramesJoinedMidway += b.FramesJoinedMidway
	a.FramesCut += b.FramesCut
}

// receive measures one packet routed to the subscribed track. It is the
// hot path: no allocation, the payload copied once into the frame.
func (t *RemoteTrack) receive(b []byte, pkt *packetizer.Packet, arrival time.Time) {
	t.c.packets++
	t.c.bytes += uint64(len(b))
	if t.c.firstAt.IsZero() {
		t.c.firstAt = arrival
	}
	t.c.lastAt = arrival
	if f, ok := t.depkt.PushAt(pkt, arrival); ok {
		t.frame(f, arrival)
	}
}

func (t *RemoteTrack) frame(f *packetizer.ReceivedFrame, arrival time.Time) {
	c := &t.c
	c.frameBytes += uint64(len(f.Payload))
	c.sizes.Record(int64(len(f.Payload)))
	if f.Packets > packetizer.SubscriberMaxPackets {
		c.overClientLimit++
	}
	ext := &f.Extensions
	if ext.HasUserTimestamp {
		c.userTimestamps++
		t.latencyOf(arrival, ext.UserTimestamp)
	}
	payload := f.Payload
	if t.info.E2EE() {
		if fn := t.m.opts.OnSealed; fn != nil {
			t.lend(fn, f, arrival, f.Payload)
		}
		var ok bool
		if payload, ok = t.decrypt(f); !ok {
			return
		}
	}
	if t.wantView || t.preview.At.IsZero() {
		t.wantView = false
		t.preview = Preview{Number: f.FrameNumber, At: arrival, Size: len(payload),
			Head: append(t.preview.Head[:0], payload[:min(len(payload), PreviewBytes)]...)}
	}
	if fn := t.m.opts.OnFrame; fn != nil {
		t.lend(fn, f, arrival, payload)
	}
}

// lend hands fn the frame f with payload as its Payload.
func (t *RemoteTrack) lend(fn func(*RemoteTrack, *Frame), f *packetizer.ReceivedFrame, arrival time.Time, payload []byte) {
	// Lent by pointer, from the track: a Frame passed by value cost
	// 20 ns a frame (copying it whole reads back fields just written).
	ext := &f.Extensions
	o := &t.out // field by field: a composite literal is built aside and copied
	o.Number, o.Sequence, o.Timestamp, o.Packets = f.FrameNumber, f.Sequence, f.Timestamp, f.Packets
	o.HasUserTimestamp, o.UserTimestamp = ext.HasUserTimestamp, ext.UserTimestamp
	o.E2EE, o.KeyIndex, o.IV = t.info.E2EE(), ext.E2EE.KeyIndex, ext.E2EE.IV
	o.Arrival, o.Payload, o.Subscription = arrival, payload, t.c.subscriptions
	fn(t, o)
	o.Payload = nil
}

// maxUserTimestamp is the latest user timestamp (UNIX milliseconds, in
// 2262) whose nanoseconds fit an int64, as time.Time's UnixNano do.
const maxUserTimestamp = math.MaxInt64 / int64(time.Millisecond)

// latency is arrival minus a user timestamp read as UNIX milliseconds,
// in nanoseconds; false when the timestamp is ahead of arrival. Integer
// arithmetic: time.UnixMilli and Time.Sub cost more than the rest of a
// frame's bookkeeping.
func latency(arrival time.Time, userTS uint64) (int64, bool) {
	d, ok := signedLatency(arrival, userTS)
	if !ok || d < 0 {
		return 0, false
	}
	return d, true
}

// signedLatency is latency on two clocks, negative when the publisher's
// is ahead; false past any clock time.Time keeps in nanoseconds.
func signedLatency(arrival time.Time, userTS uint64) (int64, bool) {
	if userTS > uint64(maxUserTimestamp) {
		return 0, false
	}
	return arrival.UnixNano() - int64(userTS)*int64(time.Millisecond), true
}

// maxPendingLatencies bounds the frames kept while the publisher's clock
// is being asked (a few round trips; DefaultAnswerTimeout at worst for
// a publisher that never answers): 4096 frames, 32 KiB per track.
const maxPendingLatencies = 4096

// latencyOf records a frame's latency once its publisher's clock is
// settled (Options.Clock): corrected by the estimated offset when synced,
// as our clock minus theirs when they did not answer. Until then the raw
// figure waits, so a track's histogram is all of one kind.
func (t *RemoteTrack) latencyOf(arrival time.Time, userTS uint64) {
	c := &t.c
	d, ok := signedLatency(arrival, userTS)
	if !ok {
		c.recordLatency(-1)
		return
	}
	est := t.clock()
	if est.State == clocksync.Unknown {
		if len(c.pendingLat) < maxPendingLatencies {
			c.pendingLat = append(c.pendingLat, d)
		}
		return
	}
	t.flushLatencies(est)
	c.recordLatency(corrected(d, est))
}

// clock is what the manager knows of the publisher's clock now.
func (t *RemoteTrack) clock() clocksync.Estimate {
	if fn := t.m.opts.Clock; fn != nil {
		return fn(t.info.PublisherIdentity)
	}
	return clocksync.Estimate{State: clocksync.TwoClocks}
}

// flushLatencies records the frames that waited for the publisher's clock.
func (t *RemoteTrack) flushLatencies(est clocksync.Estimate) {
	c := &t.c
	for _, d := range c.pendingLat {
		c.recordLatency(corrected(d, est))
	}
	c.pendingLat = c.pendingLat[:0]
}

// corrected is a two-clock latency on our clock alone: plus their offset.
// Saturating: an offset comes from another participant's answers.
func corrected(d int64, est clocksync.Estimate) int64 {
	if est.State != clocksync.Synced {
		return d
	}
	off := int64(est.Offset)
	if (off > 0 && d > math.MaxInt64-off) || (off < 0 && d < math.MinInt64-off) {
		return -1
	}
	return d + off
}

// recordLatency records d, or 0 and a negative one when d < 0.
func (c *counters) recordLatency(d int64) {
	if d < 0 {
		c.latencyNegative++
		d = 0
	}
	c.latency.Record(d)
}

// decrypt opens an E2EE frame into t.plain, counting a failure by reason.
func (t *RemoteTrack) decrypt(f *packetizer.ReceivedFrame) ([]byte, bool) {
	why := DecryptReason(-1)
	switch {
	case t.info.Encryption != EncryptionGCM:
		why = DecryptUnsupported
	case t.m.opts.Opener == nil:
		why = DecryptNoKey
	case !f.Extensions.HasE2EE:
		why = DecryptNoExtension
	case len(f.Payload) < packetizer.E2EETagLen:
		why = DecryptTooShort
	}
	if why >= 0 {
		t.c.decryptFailures[why]++
		return nil, false
	}
	t.ext = f.Extensions.E2EE
	plain, err := t.m.opts.Opener.OpenFrame(t.plain[:0], f.Payload, &t.ext)
	if err != nil {
		t.c.decryptFailures[DecryptAuthFailed]++
		return nil, false
	}
	t.plain = plain
	if cap(plain) > t.m.retainLimit {
		t.plain = nil // a rare huge frame: do not keep its buffer
	}
	t.c.decrypted++
	return plain, true
}

// expire settles loss by time (packets may have stopped).
func (t *RemoteTrack) expire(now time.Time) {
	if t.depkt != nil {
		t.depkt.Expire(now)
	}
}

func (t *RemoteTrack) statsLocked() TrackStats {
	var s TrackStats
	t.statsIntoLocked(&s)
	return s
}

// statsIntoLocked writes t's stats into s in place: a TrackStats is
// 10 KB (two histograms), and Snapshot fills a room's worth.
func (t *RemoteTrack) statsIntoLocked(s *TrackStats) {
	est := t.clock()
	if est.State != clocksync.Unknown {
		t.flushLatencies(est)
	}
	d := t.folded
	if t.depkt != nil {
		addStats(&d, t.depkt.Stats())
	}
	c := &t.c
	*s = TrackStats{
		Info: t.info, State: t.State(), Since: t.since, Handle: t.handle, Subscriptions: c.subscriptions, SubscribeTimeouts: c.timeouts,
		Replaces: t.replaces, ReplacedBy: t.replacedBy,
		Packets: c.packets, Bytes: c.bytes, PacketsIgnored: c.ignored,
		PacketsLost: d.PacketsLost, PacketsDuplicate: d.PacketsDuplicate, PacketsReordered: d.PacketsReordered,
		PacketsLate: d.PacketsLate, FramesCompleted: d.FramesCompleted, FramesIncomplete: d.FramesIncomplete,
		IncompleteBy: d.IncompleteBy, FramesLost: d.FramesLost, FramesCut: d.FramesCut + d.FramesJoinedMidway,
		FrameBytes: c.frameBytes, FrameSizes: c.sizes, FramesOverClientLimit: c.overClientLimit,
		FramesDecrypted: c.decrypted, DecryptFailures: c.decryptFailures,
		UserTimestamps: c.userTimestamps, Latency: c.latency, LatencyNegative: c.latencyNegative,
		LatencyUnsynced: len(c.pendingLat), Clock: est,
		FirstPacketAt: c.firstAt, LastPacketAt: c.lastAt,
		LastFrame: t.preview,
		HeldBytes: t.held, Evicted: t.evicted,
		Timeline: append([]StateChange(nil), t.timeline...),
		Errors:   append([]ErrorEvent(nil), t.errs...),
	}
	s.LastFrame.Head = append([]byte(nil), t.preview.Head...)
	if n := len(t.errs); n > 0 {
		s.LastErr = t.errs[n-1].Cause
	}
	t.wantView = true
}
