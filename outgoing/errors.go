package outgoing

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Reason classifies why a publish failed.
type Reason int

const (
	ReasonUnknown           Reason = iota // the SFU rejected it for another reason (see RawMessage)
	ReasonNotAllowed                      // token lacks canPublishData, or the server has data tracks off
	ReasonDuplicateName                   // this participant already publishes a track of that name
	ReasonInvalidName                     // empty or longer than 256 bytes
	ReasonTimeout                         // no answer within the publish timeout
	ReasonLimitReached                    // no track handle left, or the SFU's limit
	ReasonDisconnected                    // the connection went away while pending
	ReasonCancelled                       // the caller's context ended
	ReasonE2EENotConfigured               // E2EE requested without a passphrase
	ReasonInvalidType                     // frame encoding and schema break the rules (Err is a *schema.Error)
)

var reasonNames = [...]string{"unknown", "not allowed", "duplicate name", "invalid name", "timeout",
	"limit reached", "disconnected", "cancelled", "E2EE not configured", "invalid type"}

func (r Reason) String() string {
	if r >= 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Sentinels for errors.Is. A *PublishError matches the one of its Reason;
// a *PushError matches ErrTrackUnpublished, ErrSchemaMismatch or
// ErrQueueFull.
var (
	ErrUnknown           = errors.New("publish rejected by the SFU")
	ErrNotAllowed        = errors.New("not allowed to publish data tracks")
	ErrDuplicateName     = errors.New("a data track with this name is already published")
	ErrInvalidName       = errors.New("invalid data track name")
	ErrTimeout           = errors.New("publish timed out")
	ErrLimitReached      = errors.New("data track limit reached")
	ErrDisconnected      = errors.New("disconnected")
	ErrCancelled         = errors.New("publish cancelled")
	ErrE2EENotConfigured = errors.New("end-to-end encryption is not configured")
	ErrInvalidType       = errors.New("invalid frame encoding or schema")

	ErrTrackUnpublished = errors.New("track is unpublished")
	ErrQueueFull        = errors.New("frame dropped")
	// ErrSchemaMismatch: the track refuses frames that do not match its
	// schema (FrameCheck.Refuse), and this one did not.
	ErrSchemaMismatch = errors.New("frame does not match the track's schema")

	// ErrClosed is returned by a manager after Close.
	ErrClosed = errors.New("data track manager closed")
	// ErrStillPublished is returned by Remove for a track still published or republishing.
	ErrStillPublished = errors.New("track is still published or republishing")
	// ErrUnknownTrack: no track with this handle is known.
	ErrUnknownTrack = errors.New("no such track")
)

var reasonErrs = [...]error{ErrUnknown, ErrNotAllowed, ErrDuplicateName, ErrInvalidName, ErrTimeout,
	ErrLimitReached, ErrDisconnected, ErrCancelled, ErrE2EENotConfigured, ErrInvalidType}

// PublishError is why Publish failed.
type PublishError struct {
	Reason Reason
	Name   string
	Handle uint16 // 0 when no handle was allocated
	// SFUReason and RawMessage are what the SFU said, when it said anything
	// (RequestResponse reason number and message).
	SFUReason  int32
	RawMessage string
	// Detail is local context in words ("full reconnect"); it never
	// comes from the SFU.
	Detail    string
	Timeout   time.Duration // for ReasonTimeout
	Republish bool          // the track was being republished after a reconnect
	Err       error         // underlying cause (transport error, ctx error), if any
}

func (e *PublishError) Error() string {
	verb := "publish"
	if e.Republish {
		verb = "republish"
	}
	return verb + " " + quoteName(e.Name) + ": " + e.Problem()
}

// Problem is the error in words without the `publish "name": ` prefix,
// for places where the track is already named (a table row, a timeline).
func (e *PublishError) Problem() string {
	var msg string
	switch e.Reason {
	case ReasonNotAllowed:
		msg += "not allowed: the token needs canPublishData and the server enable_data_tracks"
	case ReasonDuplicateName:
		msg += "a track with this name is already published by this participant"
	case ReasonInvalidName:
		msg += fmt.Sprintf("invalid name: it must be 1 to %d bytes, not %d", MaxNameBytes, len(e.Name))
	case ReasonTimeout:
		msg += fmt.Sprintf("no answer from the SFU within %s", e.Timeout)
		if !e.Republish { // a republish did work before: the server is not the question
			msg += ": does the server support data tracks (livekit-server ≥ 1.11 with enable_data_tracks)?"
		}
	case ReasonLimitReached:
		msg += "track limit reached"
	case ReasonDisconnected:
		msg += "disconnected"
	case ReasonCancelled:
		msg += "cancelled"
	case ReasonE2EENotConfigured:
		msg += "E2EE requested but no passphrase is set (--e2ee-passphrase)"
	case ReasonInvalidType:
		msg += "invalid frame encoding or schema"
	default:
		msg += "rejected by the SFU"
	}
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	if e.RawMessage != "" || e.SFUReason != 0 {
		msg += " (SFU said " + SFUReasonName(e.SFUReason)
		if e.RawMessage != "" {
			msg += fmt.Sprintf(": %q", e.RawMessage)
		}
		msg += ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// quoteName quotes a track name for a message, shortening a long one.
func quoteName(name string) string {
	const keep = 40
	if len(name) <= keep+8 {
		return strconv.Quote(name)
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return strconv.Quote(name[:cut]) + "…"
}

func (e *PublishError) Is(target error) bool {
	return e.Reason >= 0 && int(e.Reason) < len(reasonErrs) && reasonErrs[e.Reason] == target
}

func (e *PublishError) Unwrap() error { return e.Err }

// RequestResponse reason numbers from livekit_rtc.proto. Kept here as plain
// numbers so this package needs no protocol import.
const (
	sfuOK              = 0
	sfuNotFound        = 1
	sfuNotAllowed      = 2
	sfuLimitExceeded   = 3
	sfuInvalidHandle   = 7
	sfuInvalidName     = 8
	sfuDuplicateHandle = 9
	sfuDuplicateName   = 10
	sfuInvalidRequest  = 11
)

// SFUReasonName is the protocol's name of a RequestResponse reason
// number ("DUPLICATE_NAME"), or the number when it is not one we know.
func SFUReasonName(r int32) string {
	switch r {
	case sfuOK:
		return "OK"
	case sfuNotFound:
		return "NOT_FOUND"
	case sfuNotAllowed:
		return "NOT_ALLOWED"
	case sfuLimitExceeded:
		return "LIMIT_EXCEEDED"
	case sfuInvalidHandle:
		return "INVALID_HANDLE"
	case sfuInvalidName:
		return "INVALID_NAME"
	case sfuDuplicateHandle:
		return "DUPLICATE_HANDLE"
	case sfuDuplicateName:
		return "DUPLICATE_NAME"
	case sfuInvalidRequest:
		return "INVALID_REQUEST"
	}
	return fmt.Sprintf("%d", r)
}

// reasonFromSFU maps a RequestResponse reason the way the JS client does
// (and INVALID_REQUEST to ReasonInvalidType); everything else keeps the
// SFU's words as Unknown.
func reasonFromSFU(r int32) Reason {
	switch r {
	case sfuNotAllowed:
		return ReasonNotAllowed
	case sfuDuplicateName:
		return ReasonDuplicateName
	case sfuInvalidName:
		return ReasonInvalidName
	case sfuLimitExceeded:
		return ReasonLimitReached
	case sfuInvalidRequest:
		// livekit-server v1.13.5 answers a publish with INVALID_REQUEST
		// only for an empty or over-long custom encoding name.
		return ReasonInvalidType
	}
	return ReasonUnknown
}

// DropReason says why a pushed frame was not sent.
type DropReason int

const (
	DropQueueFull      DropReason = iota // the track's send queue was full
	DropRepublishing                     // the track was being republished after a reconnect
	DropUnpublished                      // the track was unpublished (before or while queued)
	DropTransportError                   // the data channel refused a packet (closed, failed)
	DropEncryptError                     // E2EE sealing failed
	DropPacketizeError                   // the frame could not be packetized
	DropDisconnected                     // still queued when the connection was lost for good
	DropClosed                           // still queued when the session closed: the exit flush did not get it out in time
	DropMemoryCap                        // the session's frames queued for sending held Options.MaxQueuedBytes already
	DropStale                            // older than Options.MaxFrameAge when the sender reached it
	DropSchemaMismatch                   // the frame does not match the track's schema (FrameCheck.Refuse)
	DropCongested                        // waited past what the congested path allows, a fresher frame behind it (CongestionTransport)
	NumDropReasons
)

var dropNames = [...]string{"queue full", "republishing", "unpublished", "transport error", "encrypt error", "packetize error",
	"disconnected", "closed before sent", "memory cap", "stale", "schema mismatch", "congested"}

func (d DropReason) String() string {
	if d >= 0 && int(d) < len(dropNames) {
		return dropNames[d]
	}
	return fmt.Sprintf("drop(%d)", int(d))
}

// PushError is why TryPush did not accept a frame. The frame is dropped
// and counted under Drop in the track's stats.
type PushError struct {
	Track string
	Drop  DropReason
}

func (e *PushError) Error() string {
	return fmt.Sprintf("push to %q: %s", e.Track, e.Problem())
}

// Problem is the error in words without the `push to "name": ` prefix.
func (e *PushError) Problem() string {
	if e.Drop == DropUnpublished {
		return "track is unpublished"
	}
	return "frame dropped: " + e.Drop.String()
}

// Is: an unpublished track gives ErrTrackUnpublished, a frame refused by
// the schema check ErrSchemaMismatch; any other drop is ErrQueueFull, as
// in the Rust SDK (republishing included).
func (e *PushError) Is(target error) bool {
	switch e.Drop {
	case DropUnpublished:
		return target == ErrTrackUnpublished
	case DropSchemaMismatch:
		return target == ErrSchemaMismatch
	}
	return target == ErrQueueFull
}
