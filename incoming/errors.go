package incoming

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Reason classifies why a subscription ended or could not start. The
// zero Reason is ReasonUnknown, as in outgoing.
type Reason int

const (
	ReasonUnknown      Reason = iota // the reason is not known
	ReasonTimeout                    // no subscriber handle within the subscribe timeout
	ReasonNotAllowed                 // the SFU said the publisher's permissions exclude this participant
	ReasonDisconnected               // the request could not be sent, or the connection ended
	ReasonUnpublished                // the track is unpublished
	ReasonUnknownTrack               // no participant announced a track with this SID
	ReasonClosed                     // the manager is closed
)

var reasonNames = [...]string{"unknown", "timeout", "not allowed", "disconnected", "unpublished", "unknown track", "closed"}

func (r Reason) String() string {
	if r >= 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// ErrUnknown matches a SubscribeError whose reason is not known.
var ErrUnknown = errors.New("subscribe failed")

// ErrTimeout means the SFU assigned no subscriber handle within the
// subscribe timeout; the request was withdrawn.
var ErrTimeout = errors.New("subscribe timed out")

// ErrNotAllowed means the SFU refused the subscription: the publisher's
// subscription permissions do not include this participant.
var ErrNotAllowed = errors.New("not allowed to subscribe")

// ErrDisconnected means the request could not be sent or the connection
// ended while subscribing.
var ErrDisconnected = errors.New("disconnected")

// ErrUnpublished means the track is unpublished: it cannot be subscribed.
var ErrUnpublished = errors.New("track is unpublished")

// ErrUnknownTrack means no participant announced a track with that SID.
var ErrUnknownTrack = errors.New("unknown data track")

// ErrClosed is returned by a manager after Close.
var ErrClosed = errors.New("incoming data track manager closed")

// ErrStillPublished is returned by Remove for a track still published.
var ErrStillPublished = errors.New("track is still published")

var reasonErrs = [...]error{ErrUnknown, ErrTimeout, ErrNotAllowed, ErrDisconnected, ErrUnpublished, ErrUnknownTrack, ErrClosed}

// SubscribeError is why a subscription ended or could not start. It
// matches the sentinel of its Reason with errors.Is.
type SubscribeError struct {
	Reason Reason
	SID    string
	Name   string // empty for an unknown track
	// PublisherSID is the participant the SFU named, for ReasonNotAllowed:
	// its SubscriptionPermissionUpdate carries no other words.
	PublisherSID string
	Timeout      time.Duration // for ReasonTimeout
	// Detail is local context in words; it never comes from the SFU.
	Detail string
	Err    error // underlying cause (transport error), if any
}

func (e *SubscribeError) Error() string {
	what := e.SID
	if e.Name != "" {
		what = strconv.Quote(e.Name) + " (" + e.SID + ")" // quoted: the name comes from the publisher
	}
	return "subscribe " + what + ": " + e.Problem()
}

// Problem is the error in words without the `subscribe "name" (SID): `
// prefix, for places where the track is already named (a timeline).
func (e *SubscribeError) Problem() string {
	var msg string
	switch e.Reason {
	case ReasonTimeout:
		msg = fmt.Sprintf("no subscriber handle from the SFU within %s", e.Timeout)
	case ReasonNotAllowed:
		msg = "not allowed by the publisher's subscription permissions (SFU: allowed=false)"
	default:
		msg = e.Reason.String()
	}
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *SubscribeError) Is(target error) bool {
	return e.Reason >= 0 && int(e.Reason) < len(reasonErrs) && reasonErrs[e.Reason] == target
}

func (e *SubscribeError) Unwrap() error { return e.Err }

// DecryptReason says why an E2EE frame could not be decrypted.
type DecryptReason int

const (
	DecryptNoKey       DecryptReason = iota // the track is E2EE and no Opener is configured
	DecryptNoExtension                      // the frame lacks the E2EE extension (key index and IV)
	DecryptUnsupported                      // the track announces an encryption other than AES-GCM
	DecryptTooShort                         // the frame is shorter than the 16-byte GCM tag: truncated
	DecryptAuthFailed                       // the tag did not verify: another key or key index, or corrupted bytes
	NumDecryptReasons
)

var decryptNames = [...]string{"no key", "no E2EE extension", "unsupported encryption", "shorter than the tag", "authentication failed"}

func (r DecryptReason) String() string {
	if r >= 0 && int(r) < len(decryptNames) {
		return decryptNames[r]
	}
	return fmt.Sprintf("decrypt(%d)", int(r))
}
