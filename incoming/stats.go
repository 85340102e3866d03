package incoming

import (
	"fmt"
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/packetizer"
)

// State is where a remote track is in its life, as seen by this subscriber.
type State int32

const (
	StateAnnounced    State = iota // a participant publishes it; not subscribed
	StateSubscribing               // asked the SFU; no subscriber handle yet
	StateSubscribed                // the SFU assigned a subscriber handle: packets flow
	StateUnsubscribed              // the subscription ended here: Unsubscribe, timeout, refusal, Close
	StateUnpublished               // the publisher unpublished it or left (final)
)

var stateNames = [...]string{"announced", "subscribing", "subscribed", "unsubscribed", "unpublished"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// StateChange is one entry of a track's timeline.
type StateChange struct {
	At     time.Time
	State  State
	Handle uint16 // subscriber handle, when subscribed
	Reason string // why, in words ("the SFU ended the subscription", ...)
}

// ErrorEvent is one entry of a track's error history.
type ErrorEvent struct {
	At    time.Time
	Err   string // Cause in words, for display
	Cause error  // for errors.Is and errors.As
}

// Preview is the head of one frame, for display.
type Preview struct {
	Number uint16
	At     time.Time
	Size   int    // the whole payload's length
	Head   []byte // its first PreviewBytes bytes at most: plaintext once decrypted
}

// PreviewBytes bounds Preview.Head.
const PreviewBytes = 4096

// LostFrames is a room track's "lost": every frame that never arrived
// whole — no packet of it arrived (FramesLost) or not all of them
// (FramesIncomplete). Frames cut by a subscription's start or end are
// not lost. The table, the detail pane, the JSON and the metrics show
// this one figure.
func (s TrackStats) LostFrames() uint64 { return s.FramesLost + s.FramesIncomplete }

// TrackStats is a snapshot of one remote track. Counters are cumulative
// over the track's life, across its subscriptions: rates and windows are
// differences of successive snapshots (histograms too, with Sub).
type TrackStats struct {
	Info
	State State
	Since time.Time // when State began
	// Handle is the subscriber handle while subscribed, else 0.
	Handle uint16
	// Subscriptions counts the handles the SFU assigned: each starts a
	// fresh reassembly (a resubscribe, a rejoin, the SFU resubscribing).
	Subscriptions uint64
	// SubscribeTimeouts counts the subscribe requests no handle map
	// answered within the subscribe timeout (each is asked for again).
	SubscribeTimeouts uint64
	// Replaces is the SID of the track this one republishes (same
	// publisher identity, publisher handle, name and encodings: the
	// publisher reconnected); ReplacedBy the SID of its republish.
	Replaces   string
	ReplacedBy string

	// Packets and Bytes count what arrived with the track's handle while
	// subscribed; Bytes are whole packets, headers included (the SFU's
	// own byte counts are of the same packets).
	Packets uint64
	Bytes   uint64
	// PacketsIgnored arrived with the track's handle while it was not
	// subscribed here (just after Unsubscribe or unpublish, before the SFU
	// stopped forwarding): counted, not measured.
	PacketsIgnored uint64
	// From the packets' sequence numbers (see packetizer.DepacketizerStats):
	// lost never decreases; a packet arriving after its loss was settled
	// is counted late, and a copy as duplicate.
	PacketsLost      uint64
	PacketsDuplicate uint64
	PacketsReordered uint64
	PacketsLate      uint64

	FramesCompleted  uint64
	FramesIncomplete uint64 // given up with packets missing; by reason in IncompleteBy
	IncompleteBy     [packetizer.NumIncompleteReasons]uint64
	// FramesLost counts frame numbers no packet arrived for, between the
	// lowest and highest received in each subscription.
	FramesLost uint64
	// FramesCut counts frames only partly inside a subscription: begun
	// before it (the SFU forwards a new subscriber from the packet it is
	// at), or still waiting for the packets after the last one received
	// when this subscriber ended it (Unsubscribe, Close, a permission
	// refusal: those packets were on their way, or not sent yet). They are
	// neither incomplete nor lost.
	FramesCut uint64
	// FrameBytes is the payload of completed frames as received (for E2EE
	// tracks, ciphertext with its tag). FrameSizes is their distribution.
	FrameBytes uint64
	FrameSizes histogram.Histogram
	// FramesOverClientLimit counts completed frames of more packets than
	// LiveKit's JS and Rust subscribers accept (packetizer.SubscriberMaxPackets).
	FramesOverClientLimit uint64

	// FramesDecrypted counts E2EE frames opened; DecryptFailures the ones
	// that could not be, by reason. Only decrypted frames (and plain ones)
	// reach OnFrame.
	FramesDecrypted uint64
	DecryptFailures [NumDecryptReasons]uint64

	// UserTimestamps counts frames with the user-timestamp extension.
	// Latency is their arrival time minus that timestamp, read as UNIX
	// milliseconds (so millisecond resolution), in nanoseconds. Clock says
	// whose clock that is: when the publisher answered the clock exchange
	// (Options.Clock, Synced) the offset between its clock and ours is
	// taken out and the figure is one-way within Clock.Uncertainty;
	// otherwise (TwoClocks) it compares two clocks and their offset is
	// part of it. Frames whose latency comes out negative are recorded as
	// 0 and counted in LatencyNegative. LatencyUnsynced is the frames
	// waiting now, while the publisher's clock is being asked, to be
	// recorded once it is known (a level; at most 4096: frames past that
	// are not recorded). Clock is the estimate now (the figure's
	// uncertainty).
	UserTimestamps  uint64
	Latency         histogram.Histogram
	LatencyNegative uint64
	LatencyUnsynced int
	Clock           clocksync.Estimate

	FirstPacketAt time.Time
	LastPacketAt  time.Time
	// LastFrame is a frame completed since the previous Snapshot (the
	// first one; copying every frame would cost more than the frame), or
	// the latest one before, with its number and arrival.
	LastFrame Preview

	// HeldBytes is the memory its partial frames and reassembly buffers
	// hold now; Evicted counts its partial frames given up to bound
	// memory, by reason (also in IncompleteBy as reclaimed).
	HeldBytes int
	Evicted   [NumEvictReasons]uint64

	LastErr  error
	Timeline []StateChange // oldest first, bounded
	Errors   []ErrorEvent  // oldest first, bounded
}

// DecryptFailuresTotal sums DecryptFailures.
func (s *TrackStats) DecryptFailuresTotal() uint64 {
	var n uint64
	for _, c := range s.DecryptFailures {
		n += c
	}
	return n
}

// Stats counts what the manager saw beyond its tracks.
type Stats struct {
	Packets uint64 // every HandlePacket
	Bytes   uint64
	// Malformed packets failed to parse; by packetizer.DecodeReason.
	Malformed   uint64
	MalformedBy [8]uint64
	// UnknownHandle counts packets whose subscriber handle no map named:
	// held for HoldTime in case the map was late, then dropped.
	UnknownHandle uint64
	Held          int    // packets held now, waiting for their handle
	HeldDelivered uint64 // held packets delivered once their handle was mapped
	HandleMaps    uint64 // DataTrackSubscriberHandles messages handled
	// Memory is what other participants' tracks make the manager hold,
	// against its budget, and what was evicted to keep within it.
	Memory Held
}

func appendBounded[T any](s []T, v T) []T {
	if len(s) >= packetizer.HistoryLimit {
		s = append(s[:0], s[1:]...)
	}
	return append(s, v)
}

// Encryption is a track's announced end-to-end encryption
// (livekit.Encryption.Type).
type Encryption int32

const (
	EncryptionNone   Encryption = 0
	EncryptionGCM    Encryption = 1 // AES-GCM, what LiveKit's clients use
	EncryptionCustom Encryption = 2
)

func (e Encryption) String() string {
	switch e {
	case EncryptionNone:
		return "none"
	case EncryptionGCM:
		return "AES-GCM"
	case EncryptionCustom:
		return "custom"
	}
	return fmt.Sprintf("encryption(%d)", int32(e))
}
