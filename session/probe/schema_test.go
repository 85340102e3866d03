package probe

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
)

var jsonTrack = schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON},
	Schema: schema.ID{Name: "pose", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}}

// The generator's frames on a track with a JSON Schema match it, at every
// size, and stay probe frames (numbered, intact) where the schema allows.
func TestGeneratedFramesMatchTheSchema(t *testing.T) {
	for _, tc := range []struct {
		def      string
		followed bool
	}{
		{`{"type":"object","required":["x","y"],"properties":{"x":{"type":"number","minimum":1},"y":{"type":"number"}}}`, true},
		{`{}`, true},
		{`{"type":"object","required":["id","tags"],"properties":{"id":{"type":"integer","minimum":3,"multipleOf":5},
		  "tags":{"type":"array","minItems":2,"items":{"enum":["a","b"]}}}}`, true},
		{`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","required":["v"],"properties":{"v":{"$ref":"#/definitions/v"}},
		  "definitions":{"v":{"type":"object","required":["k"],"properties":{"k":{"const":"on"}}}}}`, true},
		{`{"type":"object","required":["id"],"additionalProperties":false,"properties":{"id":{"type":"string","minLength":2}}}`, false},
		{`{"type":"object","properties":{"pad":{"type":"integer"}}}`, false},
		{`{"type":"array","minItems":1,"items":{"type":"boolean"}}`, false},
		{`{"type":"object","required":["n"],"properties":{"n":{"type":"integer","maximum":-3}},"maxProperties":2}`, false},
	} {
		v, err := validate.New(jsonTrack, []byte(tc.def))
		if err != nil {
			t.Fatal(err)
		}
		var frames [][]byte
		push := func(p []byte, _ uint64) error { frames = append(frames, p); return nil }
		now := func() time.Time { return time.Unix(1700000000, 0) }
		var drops Drops
		src := NewSource(0, push, now).WithFormat(jsonTrack.Frame).WithDropped(drops.Dropped).WithSchema(v, 300)
		if err := src.Err(); err != nil {
			t.Fatalf("%s: %v", tc.def, err)
		}
		for _, size := range []int{MinSize, 100, 300, 5000} {
			if err := src.Push(size); err != nil {
				t.Fatal(err)
			}
		}
		for i, f := range frames {
			if m, u := v.Check(f); m != nil || u != validate.Checked {
				t.Errorf("%s: frame %d %s: %v %v", tc.def, i, f, m, u)
			}
			h, ok := Decode(f)
			if ok != tc.followed || (ok && (!Intact(f) || h.Seq != uint64(i) || h.Stream != src.Stream())) {
				t.Errorf("%s: frame %d %s: probe %v %+v intact %v, want followed %v", tc.def, i, f, ok, h, Intact(f), tc.followed)
			}
		}
		if tc.followed && len(frames[3]) != 5000 {
			t.Errorf("%s: a 5000-byte frame is %d", tc.def, len(frames[3]))
		}
	}
}

func TestGeneratorRefusesAnUnsatisfiableSchema(t *testing.T) {
	v, err := validate.New(jsonTrack, []byte(`{"type":"object","required":["s"],"properties":{"s":{"type":"string","pattern":"^[0-9]+$"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	src := NewSource(0, func([]byte, uint64) error { return nil }, nil).WithFormat(jsonTrack.Frame).WithSchema(v, 100)
	if err := src.Err(); !errors.Is(err, ErrNoFit) || !errors.Is(err, validate.ErrNoExample) {
		t.Fatalf("Err = %v", err)
	}
	if err := src.Push(100); !errors.Is(err, ErrNoFit) {
		t.Fatalf("Push = %v", err)
	}
	if _, err := NewGenerator(src, 10, 100); !errors.Is(err, ErrNoFit) {
		t.Fatalf("NewGenerator = %v", err)
	}
}

// A frame with schema members whose tail was damaged is not intact.
func TestIntactWithMembers(t *testing.T) {
	f := Fit{Members: []byte(`,"x":1`)}
	b := f.encode(JSON, nil, Header{Stream: 9, Seq: 2, Sent: time.Unix(5, 0), HasDropped: true}, 200)
	if !Intact(b) || len(b) != 200 {
		t.Fatalf("%s: intact %v", b, Intact(b))
	}
	for _, bad := range [][]byte{b[:len(b)-1], append(append([]byte(nil), b[:len(b)-1]...), ']')} {
		if Intact(bad) {
			t.Errorf("%s intact", bad)
		}
	}
	c := append([]byte(nil), b...)
	c[len(c)-20] = 'A' // inside the filler
	if Intact(c) {
		t.Errorf("damaged filler intact: %s", c)
	}
}

// FuzzIntactWithMembers: a JSON probe frame may end with a schema's
// members after its filler. Whatever arrives, Intact never panics, and a
// frame it calls intact is one FitSchema's encoding writes: the probe
// frame, then members that start with a comma and end before the brace.
func FuzzIntactWithMembers(f *testing.F) {
	h := Header{Stream: 5, Seq: 3, Sent: time.Unix(1700000000, 9), Dropped: 2, HasDropped: true}
	for _, m := range []string{"", `,"x":1`, `,"x":{"y":[1,2]},"z":"q"`} {
		fit := Fit{Members: []byte(m)}
		f.Add(fit.encode(JSON, nil, h, 120))
		f.Add(fit.encode(JSON, nil, Header{Stream: 1, Seq: 1, Sent: time.Unix(1, 0)}, 0))
	}
	f.Add([]byte(`{"dttui":"4474`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !Intact(b) {
			return
		}
		h, ok := Decode(b)
		if !ok {
			return // a header that is not hex: Intact looks at the rest only
		}
		l, _ := layoutOf(b)
		if !l.hexHeader {
			return // the binary layouts: FuzzDecode's
		}
		i := bytes.IndexByte(b[l.fillerStart():], '"') + l.fillerStart()
		members := b[i+1 : len(b)-1]
		fit := Fit{Members: members}
		if len(members) > 0 && members[0] != ',' {
			t.Fatalf("members %q", members)
		}
		// From the filler on (the header's hex may be upper case, which
		// decodes the same), as written with the members.
		fs := l.fillerStart()
		if again := fit.encode(JSON, nil, h, len(b)); l.v2 == layoutFor(JSON, &h, len(b)-len(members)).v2 && !bytes.Equal(again[fs:], b[fs:]) {
			t.Fatalf("%q re-encodes as %q", b, again)
		}
	})
}

// On a protobuf track the generator writes a populated message of the
// schema: every frame matches it, and is the user's kind of data
// (unnumbered), not a probe.
func TestGeneratedProtobufFramesMatchTheSchema(t *testing.T) {
	def, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto)}})
	if err != nil {
		t.Fatal(err)
	}
	decl := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameProtobuf},
		Schema: schema.ID{Name: "google.protobuf.Timestamp", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingProtobuf}}}
	v, err := validate.New(decl, def)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	src := NewSource(0, func(p []byte, _ uint64) error { frames = append(frames, p); return nil }, nil).WithFormat(decl.Frame).WithSchema(v, 100)
	if err := src.Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewGenerator(src, 10, 100); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := src.Push(100); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range frames {
		var ts timestamppb.Timestamp
		if m, u := v.Check(f); m != nil || u != validate.Checked || proto.Unmarshal(f, &ts) != nil || ts.Seconds != 1 || ts.Nanos != 1 {
			t.Fatalf("%x: %v %v %v", f, m, u, &ts)
		}
		if _, ok := Decode(f); ok {
			t.Fatalf("%x decodes as a probe", f)
		}
	}
	// Without the schema the generator still cannot write protobuf.
	if err := NewSource(0, nil, nil).WithFormat(decl.Frame).Err(); !errors.Is(err, ErrNoFormat) {
		t.Fatalf("no schema: %v", err)
	}
}
