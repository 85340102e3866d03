// Package validate checks frames against the schema their track declares:
// JSON documents against a JSON Schema (drafts 4, 6, 7, 2019-09 and
// 2020-12, 2020-12 when the schema names none), protobuf messages against
// the message of a FileDescriptorSet the schema is named after. Frames of
// other encodings are not checked, and the Validator says why.
//
// Schemas and frames may both come from other participants: a schema is
// compiled once, at most schema.MaxBlobBytes of it, and loads nothing (a
// $ref outside the document fails); a frame costs at most MaxCheckBytes
// of decoding and MaxSteps subschema evaluations, after which the track's
// frames are no longer checked (UncheckedTooCostly).
package validate

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/dttui/dttui/schema"
)

// Mode is what a publisher does with its own frames that do not match the
// schema its track declares.
type Mode int

const (
	// ModeWarn sends the frame and counts it (the default: a publisher
	// debugging its data sees every frame arrive, and the count).
	ModeWarn Mode = iota
	// ModeRefuse drops the frame before it is sent, with the drop reason
	// "schema mismatch".
	ModeRefuse
	// ModeOff checks nothing.
	ModeOff
)

// DefaultMode is the mode of --schema-check when not given.
const DefaultMode = ModeWarn

var modeNames = [...]string{"warn", "refuse", "off"}

func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// ParseMode reads warn, refuse or off.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if s == n {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want warn, refuse or off)", ErrBadMode, s)
}

// Budgets that bound what checking one frame costs, whatever the frame
// and the schema claim.
const (
	// MaxCheckBytes is the largest frame checked; a larger one is sent or
	// counted unchecked (UncheckedTooLarge).
	MaxCheckBytes = 256 << 10
	// A frame may take BaseSteps steps, StepsPerByte more per byte,
	// MaxSteps at most. A step is one subschema evaluation, plus the
	// members of the object or array it is at, plus a 16th of the string
	// (see jsonChecker.count): a legitimate document costs a few per
	// value, while a schema of 40 definitions that each refer twice to the
	// next takes 2^40 evaluations of a single value. Past its budget a
	// frame is not checked, nor is any later frame of the track: the
	// first costs what decoding it does (tens of milliseconds for the
	// largest), the rest nothing.
	BaseSteps    = 4096
	StepsPerByte = 4
	MaxSteps     = 1 << 20
	// MaxDepth is how deep a protobuf message may nest.
	MaxDepth = 64
)

// Unchecked says why frames were not checked.
type Unchecked int

const (
	Checked            Unchecked = iota // the frame was checked
	UncheckedEncoding                   // the track's encoding or schema encoding cannot be checked here
	UncheckedNoSchema                   // the track declares no schema, or its definition is not known
	UncheckedBadSchema                  // the schema did not compile
	UncheckedTooLarge                   // the frame is larger than MaxCheckBytes
	UncheckedTooCostly                  // a frame took more than MaxSteps: checking stopped for the track
	NumUnchecked
)

var uncheckedNames = [...]string{"checked", "not checked (encoding)", "not checked (no schema)", "not checked (schema invalid)",
	"not checked (frame too large)", "not checked (schema too costly)"}

func (u Unchecked) String() string {
	if u >= 0 && int(u) < len(uncheckedNames) {
		return uncheckedNames[u]
	}
	return fmt.Sprintf("unchecked(%d)", int(u))
}

// Sentinels for errors.Is.
var (
	// ErrBadMode: a --schema-check value other than warn, refuse or off.
	ErrBadMode = errors.New("invalid schema check mode")
	// ErrBadSchema: the schema's definition did not compile.
	ErrBadSchema = errors.New("the schema does not compile")
	// ErrMismatch: a frame does not match its track's schema (a *Mismatch).
	ErrMismatch = errors.New("schema mismatch")
)

// Mismatch is why a frame does not match its schema. Path and Reason come
// from the frame and the schema, both possibly another participant's:
// sanitize them before printing.
type Mismatch struct {
	// Path is where the frame first fails: a JSON pointer ("/pose/x", ""
	// for the whole document) or a protobuf field path ("pose.position.x",
	// "points[2]", "" for the message).
	Path   string
	Reason string
}

func (m *Mismatch) Error() string {
	p := m.Path
	if p == "" {
		p = "(root)"
	}
	return fmt.Sprintf("schema mismatch at %s: %s", p, m.Reason)
}

// Is matches ErrMismatch.
func (m *Mismatch) Is(target error) bool { return target == ErrMismatch }

// Validator checks the frames of one track. Its zero value and nil check
// nothing. It is safe for concurrent use; frames are checked one at a
// time.
type Validator struct {
	mu        sync.Mutex
	unchecked Unchecked
	json      *jsonChecker
	proto     *protoChecker
}

// New compiles decl's schema from its definition def. A track whose
// frames cannot be checked gets a Validator that says why (Unchecked) and
// no error; a schema that does not compile gets one too, saying so, and
// an error matching ErrBadSchema.
func New(decl schema.Decl, def []byte) (*Validator, error) {
	v := &Validator{}
	switch {
	case decl.Frame.WellKnown == schema.FrameJSON && decl.Frame.Custom == "" && decl.Schema.Encoding.WellKnown == schema.EncodingJSONSchema:
	case decl.Frame.WellKnown == schema.FrameProtobuf && decl.Frame.Custom == "" && decl.Schema.Encoding.WellKnown == schema.EncodingProtobuf:
	case decl.Schema.IsZero():
		v.unchecked = UncheckedNoSchema
		return v, nil
	default:
		v.unchecked = UncheckedEncoding
		return v, nil
	}
	if len(def) == 0 {
		v.unchecked = UncheckedNoSchema
		return v, nil
	}
	var err error
	if len(def) > schema.MaxBlobBytes {
		err = fmt.Errorf("%d bytes, over the %d a stored schema may hold", len(def), schema.MaxBlobBytes)
	} else if decl.Schema.Encoding.WellKnown == schema.EncodingJSONSchema {
		v.json, err = compileJSON(def)
	} else {
		v.proto, err = compileProto(def, decl.Schema.Name)
	}
	if err != nil {
		v.unchecked = UncheckedBadSchema
		return v, fmt.Errorf("%w: %s: %v", ErrBadSchema, decl.Schema, err)
	}
	return v, nil
}

// Unchecked says why this track's frames are not checked (Checked when
// they are).
func (v *Validator) Unchecked() Unchecked {
	if v == nil {
		return UncheckedNoSchema
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.state()
}

// state is Unchecked with v.mu held: a zero Validator has nothing to
// check with.
func (v *Validator) state() Unchecked {
	if v.unchecked == Checked && v.json == nil && v.proto == nil {
		return UncheckedNoSchema
	}
	return v.unchecked
}

// Check checks one frame: a *Mismatch when it does not match, else nil,
// with whether it was checked (Checked) or why not.
func (v *Validator) Check(frame []byte) (*Mismatch, Unchecked) {
	if v == nil {
		return nil, UncheckedNoSchema
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if u := v.state(); u != Checked {
		return nil, u
	}
	if len(frame) > MaxCheckBytes {
		return nil, UncheckedTooLarge
	}
	if v.proto != nil {
		return v.proto.check(frame), Checked
	}
	m, ok := v.json.check(frame, stepsFor(len(frame)))
	if !ok {
		v.unchecked = UncheckedTooCostly
		return nil, UncheckedTooCostly
	}
	return m, Checked
}

// stepsFor is the step budget of a frame of n bytes.
func stepsFor(n int) int { return min(BaseSteps+StepsPerByte*n, MaxSteps) }

// pointer is a JSON pointer of the path's tokens (RFC 6901).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}
