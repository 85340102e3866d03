package probe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dttui/dttui/schema/validate"
)

// A track that declares a JSON Schema gets frames that match it: the
// minimal document the schema asks for (validate.Example), its members
// written after the probe's own so the frame is still numbered and
// followed:
//
//	{"dttui":"<header>","drop":"<count>","pad":"abc…","x":0,"y":0}
//
// When the schema does not allow the probe's members (additionalProperties
// false, say) every frame is the document alone: it matches, and is counted
// as data rather than followed. A schema no document can be written for
// refuses the generator (ErrNoFit).
//
// A protobuf track's frames are a populated message of its schema
// (validate.ProtoExample), unnumbered.

// ErrNoFit: the generator cannot write frames that match the track's
// schema.
var ErrNoFit = errors.New("probe: the generator cannot write frames that match the track's schema")

// Fit is how generated frames match a track's JSON Schema.
type Fit struct {
	// Members follow the probe's members in every frame: `,"x":0,"y":0`.
	Members []byte
	// Document, when set, is every frame, unnumbered: the schema does not
	// allow the probe's members.
	Document []byte
}

// probeKeys are the members a probe frame of format JSON has.
var probeKeys = []string{"dttui", "drop", "pad"}

// FitSchema finds how frames of about size bytes can match v's JSON
// Schema. v must check JSON (validate.New on a JSON track).
func FitSchema(v *validate.Validator, size int) (Fit, error) {
	x, err := v.Example()
	if err != nil {
		return Fit{}, fmt.Errorf("%w: %w", ErrNoFit, err)
	}
	doc, err := json.Marshal(x)
	if err != nil {
		return Fit{}, fmt.Errorf("%w: %w", ErrNoFit, err)
	}
	if obj, ok := x.(map[string]any); ok && !hasAny(obj, probeKeys) {
		var f Fit
		if len(obj) > 0 {
			f.Members = append([]byte{','}, doc[1:len(doc)-1]...)
		}
		h := Header{Stream: 1, Seq: 1, Sent: time.Unix(1, 0), HasDropped: true}
		fits := true
		for _, n := range []int{0, size} {
			if m := v.CheckValue(decodeJSON(f.encode(JSON, nil, h, n))); m != nil {
				fits = false
			}
		}
		if fits {
			return f, nil
		}
	}
	return Fit{Document: doc}, nil
}

func hasAny(m map[string]any, keys []string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// decodeJSON decodes a document as the validator reads frames (numbers as
// written); nil when it is not one.
func decodeJSON(b []byte) any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	if d.Decode(&x) != nil {
		return nil
	}
	return x
}

// minSize is the smallest frame of format f with the fit's members.
func (f *Fit) minSize(format Format) int { return MinSizeOf(format) + len(f.Members) }

// encode writes a probe frame of size bytes (at least minSize) with the
// fit's members after the probe's.
func (f *Fit) encode(format Format, dst []byte, h Header, size int) []byte {
	size = max(size, f.minSize(format))
	b := EncodeFormat(format, dst, h, size-len(f.Members))
	if len(f.Members) == 0 {
		return b
	}
	return append(append(b[:len(b)-1], f.Members...), '}')
}

// WithSchema makes the Source write frames that match v's JSON Schema (see
// FitSchema; size is the frame size to check the fit at) or protobuf
// message, or refuse them with ErrNoFit, and returns it. A nil v, or one
// that checks neither, changes nothing. Call it after WithFormat, before
// the Source is shared.
func (s *Source) WithSchema(v *validate.Validator, size int) *Source {
	if v == nil {
		return s
	}
	if b, err := v.ProtoExample(); !errors.Is(err, validate.ErrNotProtobuf) {
		// A protobuf track: every frame is the populated message,
		// unnumbered (a probe header would be a field it does not have).
		if err != nil {
			s.formatErr = fmt.Errorf("%w: %w", ErrNoFit, err)
			return s
		}
		s.fit, s.formatErr = &Fit{Document: b}, nil
		return s
	}
	if s.formatErr != nil || s.format != JSON {
		return s
	}
	if _, err := v.Example(); errors.Is(err, validate.ErrNotJSONSchema) {
		return s
	}
	f, err := FitSchema(v, size)
	if err != nil {
		s.formatErr = err
		return s
	}
	s.fit = &f
	return s
}
