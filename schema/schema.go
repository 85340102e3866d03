// Package schema holds what a typed data track declares about its frames:
// a frame encoding (protocol field frame_encoding) and a schema ID (field
// schema), whose definition the publisher stores in the room as a data
// blob, and the rules that make a pair of them compatible. The well-known
// names mirror the MCAP registry's message and schema encodings, as
// LiveKit's protocol does (livekit/protocol livekit_models.proto,
// DataTrackFrameEncoding and DataTrackSchemaEncoding).
package schema

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Frame is a well-known frame encoding; the values are the protocol's.
type Frame int

const (
	FrameCustom     Frame = 0 // not well known: see FrameEncoding.Custom
	FrameROS1       Frame = 1
	FrameCDR        Frame = 2
	FrameProtobuf   Frame = 3
	FrameFlatbuffer Frame = 4
	FrameCBOR       Frame = 5
	FrameMsgpack    Frame = 6
	FrameJSON       Frame = 7
)

var frameNames = map[Frame]string{FrameROS1: "ros1", FrameCDR: "cdr", FrameProtobuf: "protobuf", FrameFlatbuffer: "flatbuffer",
	FrameCBOR: "cbor", FrameMsgpack: "msgpack", FrameJSON: "json"}

// Encoding is a well-known schema encoding; the values are the protocol's.
type Encoding int

const (
	EncodingCustom     Encoding = 0 // not well known: see SchemaEncoding.Custom
	EncodingProtobuf   Encoding = 1
	EncodingFlatbuffer Encoding = 2
	EncodingROS1Msg    Encoding = 3
	EncodingROS2Msg    Encoding = 4
	EncodingROS2IDL    Encoding = 5
	EncodingOMGIDL     Encoding = 6
	EncodingJSONSchema Encoding = 7
)

var encodingNames = map[Encoding]string{EncodingProtobuf: "protobuf", EncodingFlatbuffer: "flatbuffer", EncodingROS1Msg: "ros1msg",
	EncodingROS2Msg: "ros2msg", EncodingROS2IDL: "ros2idl", EncodingOMGIDL: "omgidl", EncodingJSONSchema: "jsonschema"}

// Limits livekit-server v1.13.5 enforces by default.
const (
	// MaxCustomLen is the longest custom encoding name
	// (limit.max_data_track_custom_encoding_length).
	MaxCustomLen = 32
	// MaxNameLen is the longest schema name.
	MaxNameLen = 256
	// MaxBlobBytes is what one participant's stored blobs may hold in all,
	// keys included (limit.max_data_blobs_size).
	MaxBlobBytes = 64000
)

// FrameEncoding says what a track's frame payloads are.
type FrameEncoding struct {
	WellKnown Frame
	Custom    string // set when WellKnown is FrameCustom
}

// SchemaEncoding says what a schema definition is written in.
type SchemaEncoding struct {
	WellKnown Encoding
	Custom    string // set when WellKnown is EncodingCustom
}

// ID names a schema. Two IDs with the same name and different encodings
// are different schemas.
type ID struct {
	Name     string
	Encoding SchemaEncoding
}

func (f FrameEncoding) String() string {
	if f.WellKnown == FrameCustom {
		return f.Custom
	}
	if n, ok := frameNames[f.WellKnown]; ok {
		return n
	}
	return fmt.Sprintf("frame-encoding(%d)", int(f.WellKnown))
}

func (e SchemaEncoding) String() string {
	if e.WellKnown == EncodingCustom {
		return e.Custom
	}
	if n, ok := encodingNames[e.WellKnown]; ok {
		return n
	}
	return fmt.Sprintf("schema-encoding(%d)", int(e.WellKnown))
}

func (id ID) String() string { return id.Encoding.String() + ":" + id.Name }

// SelfDescribing says whether frames of this encoding can be read without a
// schema (CBOR, MessagePack, JSON; a custom encoding, as far as we know).
func (f FrameEncoding) SelfDescribing() bool {
	switch f.WellKnown {
	case FrameCBOR, FrameMsgpack, FrameJSON, FrameCustom:
		return true
	}
	return false
}

// ParseFrameEncoding reads a frame encoding by its well-known name (ros1,
// cdr, protobuf, flatbuffer, cbor, msgpack, json; any case) or, otherwise,
// as a custom name; "custom:NAME" forces a custom one.
func ParseFrameEncoding(s string) (FrameEncoding, error) {
	if name, ok := strings.CutPrefix(s, "custom:"); ok {
		return FrameEncoding{Custom: name}, checkCustom("frame encoding", name)
	}
	for f, n := range frameNames {
		if strings.EqualFold(s, n) {
			return FrameEncoding{WellKnown: f}, nil
		}
	}
	return FrameEncoding{Custom: s}, checkCustom("frame encoding", s)
}

// ParseSchemaEncoding is ParseFrameEncoding for schema encodings
// (protobuf, flatbuffer, ros1msg, ros2msg, ros2idl, omgidl, jsonschema).
func ParseSchemaEncoding(s string) (SchemaEncoding, error) {
	if name, ok := strings.CutPrefix(s, "custom:"); ok {
		return SchemaEncoding{Custom: name}, checkCustom("schema encoding", name)
	}
	for e, n := range encodingNames {
		if strings.EqualFold(s, n) {
			return SchemaEncoding{WellKnown: e}, nil
		}
	}
	return SchemaEncoding{Custom: s}, checkCustom("schema encoding", s)
}

// ParseID reads "encoding:name", e.g. "jsonschema:pose".
func ParseID(s string) (ID, error) {
	enc, name, ok := strings.Cut(s, ":")
	if !ok {
		return ID{}, fmt.Errorf("schema %q: want encoding:name, e.g. jsonschema:pose", s)
	}
	if enc == "custom" { // custom:ENC:name
		var rest string
		if rest, name, ok = strings.Cut(name, ":"); !ok {
			return ID{}, fmt.Errorf("schema %q: want custom:encoding:name", s)
		}
		enc = "custom:" + rest
	}
	e, err := ParseSchemaEncoding(enc)
	if err != nil {
		return ID{}, err
	}
	id := ID{Name: name, Encoding: e}
	return id, id.Validate()
}

// Validate checks the schema name and a custom encoding name.
func (id ID) Validate() error {
	if id.Name == "" || len(id.Name) > MaxNameLen || !utf8.ValidString(id.Name) {
		return &Error{Kind: ErrInvalidName, Detail: fmt.Sprintf("schema name must be 1 to %d bytes of UTF-8, not %d", MaxNameLen, len(id.Name))}
	}
	if id.Encoding.WellKnown == EncodingCustom {
		return checkCustom("schema encoding", id.Encoding.Custom)
	}
	return nil
}

func checkCustom(what, name string) error {
	if name == "" || len(name) > MaxCustomLen || !utf8.ValidString(name) {
		return &Error{Kind: ErrInvalidCustom, Detail: fmt.Sprintf("custom %s must be 1 to %d bytes of UTF-8, not %d", what, MaxCustomLen, len(name))}
	}
	return nil
}

// Sentinels for errors.Is on an *Error.
var (
	// ErrSchemaNeedsEncoding: a schema was given without a frame encoding.
	ErrSchemaNeedsEncoding = errors.New("a schema needs a frame encoding")
	// ErrEncodingNeedsSchema: the frame encoding is not self-describing.
	ErrEncodingNeedsSchema = errors.New("this frame encoding needs a schema")
	// ErrIncompatible: the schema's encoding does not describe frames of
	// this encoding.
	ErrIncompatible = errors.New("the schema does not describe frames of this encoding")
	// ErrInvalidCustom: a custom encoding name is empty or too long.
	ErrInvalidCustom = errors.New("invalid custom encoding name")
	// ErrInvalidName: a schema name is empty or too long.
	ErrInvalidName = errors.New("invalid schema name")
)

// Error is why an encoding, schema or pair of them is refused.
type Error struct {
	Kind   error // one of the sentinels
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Detail
}

// Is matches the sentinel of the error's kind.
func (e *Error) Is(target error) bool { return e.Kind == target }

// describes lists the schema encodings that describe each non-custom frame
// encoding (protocol comments on WellKnownFrameEncoding).
var describes = map[Frame][]Encoding{
	FrameROS1:       {EncodingROS1Msg},
	FrameCDR:        {EncodingROS2Msg, EncodingROS2IDL, EncodingOMGIDL},
	FrameProtobuf:   {EncodingProtobuf},
	FrameFlatbuffer: {EncodingFlatbuffer},
	FrameJSON:       {EncodingJSONSchema},
	FrameCBOR:       nil, // self-describing: no schema
	FrameMsgpack:    nil,
}

// Check says whether a track may declare this frame encoding and schema
// (either may be nil): a schema needs a frame encoding, a frame encoding
// that is not self-describing needs a schema, and a well-known pair must
// match (a custom frame encoding takes any schema). Names are checked too.
func Check(f *FrameEncoding, id *ID) error {
	if id != nil {
		if err := id.Validate(); err != nil {
			return err
		}
	}
	if f == nil {
		if id != nil {
			return &Error{Kind: ErrSchemaNeedsEncoding, Detail: "schema " + id.String()}
		}
		return nil
	}
	if f.WellKnown == FrameCustom {
		return checkCustom("frame encoding", f.Custom)
	}
	allowed, known := describes[f.WellKnown]
	if !known {
		return nil // an encoding newer than this table: the SFU decides
	}
	if id == nil {
		if !f.SelfDescribing() {
			return &Error{Kind: ErrEncodingNeedsSchema, Detail: fmt.Sprintf("%s frames need a %s schema", f, names(allowed))}
		}
		return nil
	}
	for _, e := range allowed {
		if id.Encoding.WellKnown == e {
			return nil
		}
	}
	if len(allowed) == 0 {
		return &Error{Kind: ErrIncompatible, Detail: fmt.Sprintf("%s frames are self-describing and take no schema, not %s", f, id)}
	}
	return &Error{Kind: ErrIncompatible, Detail: fmt.Sprintf("%s frames are described by a %s schema, not %s", f, names(allowed), id.Encoding)}
}

func names(es []Encoding) string {
	var out []string
	for _, e := range es {
		out = append(out, encodingNames[e])
	}
	return strings.Join(out, " or ")
}

// Decl is what a track declares about its frames. Its zero value is an
// untyped track; a zero Frame or Schema is "not declared".
type Decl struct {
	Frame  FrameEncoding
	Schema ID
}

// IsZero reports whether f declares nothing.
func (f FrameEncoding) IsZero() bool { return f == FrameEncoding{} }

// IsZero reports whether id names no schema.
func (id ID) IsZero() bool { return id == ID{} }

// Check applies Check's rules to the declaration.
func (d Decl) Check() error {
	var f *FrameEncoding
	var id *ID
	if !d.Frame.IsZero() {
		f = &d.Frame
	}
	if !d.Schema.IsZero() {
		id = &d.Schema
	}
	return Check(f, id)
}

// String is the declaration in words: "", "json", "protobuf, schema
// protobuf:pose".
func (d Decl) String() string {
	switch {
	case d.Frame.IsZero() && d.Schema.IsZero():
		return ""
	case d.Schema.IsZero():
		return d.Frame.String()
	case d.Frame.IsZero():
		return "schema " + d.Schema.String()
	}
	return d.Frame.String() + ", schema " + d.Schema.String()
}
