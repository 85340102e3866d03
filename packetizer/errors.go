package packetizer

import (
	"errors"
	"fmt"
)

// DecodeReason says why bytes from the network are not a valid packet.
type DecodeReason int

const (
	ReasonTooShort           DecodeReason = iota + 1 // fewer than 12 bytes
	ReasonUnsupportedVersion                         // version bits are not 0
	ReasonInvalidHandle                              // track handle 0
	ReasonHeaderOverrun                              // extension block longer than the packet
	ReasonMissingExtWords                            // X set but no extension length word
	ReasonMalformedExtension                         // an extension runs past its block
)

// Sentinels for errors.Is; a *DecodeError matches the one of its Reason.
var (
	ErrTooShort           = errors.New("packet shorter than the 12-byte base header")
	ErrUnsupportedVersion = errors.New("unsupported packet version")
	ErrInvalidHandle      = errors.New("track handle 0 is reserved")
	ErrHeaderOverrun      = errors.New("extension block runs past the end of the packet")
	ErrMissingExtWords    = errors.New("extension flag set but no extension length word")
	ErrMalformedExtension = errors.New("malformed extension")

	// ErrMTUTooShort means a frame's header alone does not fit the MTU.
	ErrMTUTooShort = errors.New("MTU too short for the packet header")
	// ErrInvalidMarker means a Header to encode has a Marker above MarkerSingle.
	ErrInvalidMarker = errors.New("invalid frame marker")
)

var reasonErrs = map[DecodeReason]error{
	ReasonTooShort:           ErrTooShort,
	ReasonUnsupportedVersion: ErrUnsupportedVersion,
	ReasonInvalidHandle:      ErrInvalidHandle,
	ReasonHeaderOverrun:      ErrHeaderOverrun,
	ReasonMissingExtWords:    ErrMissingExtWords,
	ReasonMalformedExtension: ErrMalformedExtension,
}

// DecodeError describes a packet that could not be decoded.
type DecodeError struct {
	Reason DecodeReason
	Offset int // byte offset where decoding failed
	Detail string
}

func (e *DecodeError) Error() string {
	// A zero or unknown Reason (a DecodeError built by hand) still formats.
	what := "invalid packet"
	if err := reasonErrs[e.Reason]; err != nil {
		what = err.Error()
	}
	msg := "data track packet: " + what
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return fmt.Sprintf("%s at byte %d", msg, e.Offset)
}

// Is makes errors.Is(err, ErrTooShort) and friends work.
func (e *DecodeError) Is(target error) bool {
	err := reasonErrs[e.Reason]
	return err != nil && err == target
}

func decodeErr(r DecodeReason, off int, detail string) error {
	return &DecodeError{Reason: r, Offset: off, Detail: detail}
}

// MTUError reports a header of HeaderLen bytes that leaves no room for
// payload in an MTU of MTU bytes. It matches ErrMTUTooShort.
type MTUError struct{ MTU, HeaderLen int }

func (e *MTUError) Error() string {
	return fmt.Sprintf("data track packet: header of %d bytes does not fit MTU %d", e.HeaderLen, e.MTU)
}

func (e *MTUError) Is(target error) bool { return target == ErrMTUTooShort }
