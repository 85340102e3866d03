package outgoing

import (
	"errors"

	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/schema"
	"sync/atomic"
	"time"
)

// PublishState is where a track is in its life.
type PublishState int

const (
	StatePending      PublishState = iota // asked the SFU, no answer yet
	StatePublished                        // the SFU accepted it; frames flow
	StateRepublishing                     // full reconnect under way or republish unanswered; frames are dropped
	StateUnpublished                      // gone: by us, by the SFU, or on disconnect
)

var stateNames = [...]string{"pending", "published", "republishing", "unpublished"}

func (s PublishState) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// StateChange is one entry of a track's timeline.
type StateChange struct {
	At     time.Time
	State  PublishState
	SID    string
	Reason string // why, in words ("unpublished by the SFU", "reconnected", ...)
}

// ErrorEvent is one entry of a track's error history.
type ErrorEvent struct {
	At  time.Time
	Err string // Cause in words, for display
	// Cause is the error itself, for errors.Is and errors.As (nil in
	// events built by hand).
	Cause error
}

// Problem is the event in words without a prefix naming the track (which
// the reader already knows): the typed cause's own Problem when it has
// one, else the message.
func (e ErrorEvent) Problem() string {
	var p interface{ Problem() string }
	if errors.As(e.Cause, &p) {
		return p.Problem()
	}
	return e.Err
}

// TrackStats is a snapshot of one track for display.
type TrackStats struct {
	Handle uint16
	Name   string
	SID    string
	E2EE   bool
	Type   schema.Decl // frame encoding and schema; zero: untyped
	State  PublishState
	Since  time.Time // when State began

	Counters

	LastError   string
	LastErrorAt time.Time
	Timeline    []StateChange // oldest first, bounded
	Errors      []ErrorEvent  // oldest first, bounded
}

// Counters are a track's figures. Each is counted on its own, where the
// event happens, so pushed = sent + dropped + queued is a check that can
// fail, not a definition: it holds exactly whenever no push or send is in
// progress.
type Counters struct {
	FramesPushed  uint64 // every TryPush call
	FramesSent    uint64 // frames whose every packet was handed to the transport
	FramesDropped uint64 // sum of DroppedBy
	// FramesQueued counts frames accepted and not yet sent or dropped: up
	// when TryPush enqueues, down when the sender finishes with the frame.
	FramesQueued uint64
	PacketsSent  uint64
	BytesSent    uint64 // serialized packet bytes, headers included
	DroppedBy    [NumDropReasons]uint64
	// SchemaMismatches counts pushed frames that did not match the track's
	// schema (PublishOptions.Check): sent, or dropped as DropSchemaMismatch
	// when the check refuses them.
	SchemaMismatches uint64
	// UnpublishedErrors counts TryPush calls answered ErrTrackUnpublished.
	UnpublishedErrors uint64
	PublishAttempts   uint64
}

// counters are updated with atomics so TryPush and the sender never take a
// lock for them, and Stats can read them at any time. inflight (accepted,
// not yet sent or dropped) is what Flush waits on.
type counters struct {
	pushed, sent, packets, bytes atomic.Uint64
	dropped                      [NumDropReasons]atomic.Uint64
	unpublishedErrs              atomic.Uint64
	mismatches                   atomic.Uint64
	attempts                     atomic.Uint64
	inflight                     atomic.Int64
}

func appendBounded[T any](s []T, v T) []T {
	if len(s) >= packetizer.HistoryLimit {
		copy(s, s[1:])
		s = s[:len(s)-1]
	}
	return append(s, v)
}
