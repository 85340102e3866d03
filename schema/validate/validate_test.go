package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/dttui/dttui/schema"
)

var jsonDecl = schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON},
	Schema: schema.ID{Name: "pose", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}}

const poseSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["x", "y"],
  "properties": {
    "x": {"type": "number", "minimum": -10, "maximum": 10},
    "y": {"type": "number"},
    "label": {"enum": ["a", "b"]},
    "path": {"type": "array", "items": {"type": "object", "required": ["t"], "properties": {"t": {"type": "integer"}}}}
  }
}`

func mustNew(t *testing.T, decl schema.Decl, def string) *Validator {
	t.Helper()
	v, err := New(decl, []byte(def))
	if err != nil {
		t.Fatal(err)
	}
	if u := v.Unchecked(); u != Checked {
		t.Fatalf("Unchecked() = %v", u)
	}
	return v
}

func TestJSONSchemaFirstFailingPath(t *testing.T) {
	v := mustNew(t, jsonDecl, poseSchema)
	for _, tc := range []struct {
		frame, path, reason string // reason: a part of it; path "-" means valid
	}{
		{`{"x":1,"y":2}`, "-", ""},
		{`{"x":1,"y":2,"label":"a","path":[{"t":3}]}`, "-", ""},
		{`{"z":3}`, "/x", "missing"},
		{`{"x":1}`, "/y", "missing"},
		{`{"x":11,"y":0}`, "/x", "10"},
		{`{"x":"1","y":0}`, "/x", "string"},
		{`{"x":1,"y":0,"label":"c"}`, "/label", "a"},
		{`{"x":1,"y":0,"path":[{"t":1},{"t":1.5}]}`, "/path/1/t", "number"},
		{`{"x":1,"y":0,"path":[{"t":1},{}]}`, "/path/1/t", "missing"},
		{`[1]`, "", "array"},
		{`{"x":1`, "", "not JSON"},
		{`{"x":1,"y":2} {}`, "", "not JSON"},
	} {
		m, u := v.Check([]byte(tc.frame))
		if u != Checked {
			t.Errorf("%s: %v", tc.frame, u)
			continue
		}
		if tc.path == "-" {
			if m != nil {
				t.Errorf("%s: %v, want a match", tc.frame, m)
			}
			continue
		}
		if m == nil {
			t.Errorf("%s: matched, want a mismatch at %q", tc.frame, tc.path)
			continue
		}
		if m.Path != tc.path || !strings.Contains(m.Reason, tc.reason) {
			t.Errorf("%s: %q %q, want path %q and a reason with %q", tc.frame, m.Path, m.Reason, tc.path, tc.reason)
		}
		if !errors.Is(m, ErrMismatch) {
			t.Errorf("%v is not ErrMismatch", m)
		}
	}
}

func TestJSONSchemaDrafts(t *testing.T) {
	for _, draft := range []string{"http://json-schema.org/draft-04/schema#", "http://json-schema.org/draft-06/schema#",
		"http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft/2019-09/schema", "https://json-schema.org/draft/2020-12/schema", ""} {
		def := fmt.Sprintf(`{"$schema":%q,"type":"object","required":["x"],"properties":{"x":{"type":"integer"}}}`, draft)
		if draft == "" {
			def = `{"type":"object","required":["x"],"properties":{"x":{"type":"integer"}}}`
		}
		v := mustNew(t, jsonDecl, def)
		if m, _ := v.Check([]byte(`{"x":1}`)); m != nil {
			t.Errorf("%s: %v", draft, m)
		}
		if m, _ := v.Check([]byte(`{"x":true}`)); m == nil || m.Path != "/x" {
			t.Errorf("%s: %v, want a mismatch at /x", draft, m)
		}
	}
}

func TestJSONSchemaRefusedSchemas(t *testing.T) {
	for name, def := range map[string]string{
		"not JSON":       `{"type":`,
		"bad keyword":    `{"type":"nope"}`,
		"file reference": `{"$ref":"file:///etc/hostname"}`,
		"http reference": `{"$ref":"http://127.0.0.1:1/s.json"}`,
		"too large":      `{"description":"` + strings.Repeat("a", schema.MaxBlobBytes) + `"}`,
	} {
		v, err := New(jsonDecl, []byte(def))
		if !errors.Is(err, ErrBadSchema) {
			t.Errorf("%s: %v, want ErrBadSchema", name, err)
		}
		if v.Unchecked() != UncheckedBadSchema {
			t.Errorf("%s: %v", name, v.Unchecked())
		}
		if m, u := v.Check([]byte(`{}`)); m != nil || u != UncheckedBadSchema {
			t.Errorf("%s: Check = %v %v", name, m, u)
		}
	}
}

func TestNotChecked(t *testing.T) {
	cbor := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameCBOR}}
	ros := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameROS1},
		Schema: schema.ID{Name: "p", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingROS1Msg}}}
	custom := schema.Decl{Frame: schema.FrameEncoding{Custom: "mine"},
		Schema: schema.ID{Name: "p", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}}
	for _, tc := range []struct {
		decl schema.Decl
		def  string
		want Unchecked
	}{
		{schema.Decl{}, "", UncheckedNoSchema},
		{cbor, "", UncheckedNoSchema},
		{ros, "int32 x", UncheckedEncoding},
		{custom, "{}", UncheckedEncoding},
		{jsonDecl, "", UncheckedNoSchema},
	} {
		v, err := New(tc.decl, []byte(tc.def))
		if err != nil {
			t.Fatal(err)
		}
		if m, u := v.Check([]byte("anything")); m != nil || u != tc.want {
			t.Errorf("%v: %v %v, want %v", tc.decl, m, u, tc.want)
		}
	}
	var nilV *Validator
	if _, u := nilV.Check(nil); u != UncheckedNoSchema {
		t.Errorf("nil: %v", u)
	}
	big := mustNew(t, jsonDecl, `{}`)
	if _, u := big.Check(make([]byte, MaxCheckBytes+1)); u != UncheckedTooLarge {
		t.Errorf("large frame: %v", u)
	}
}

// refBomb is a small schema whose every value takes 2^levels subschema
// evaluations: each definition refers twice to the next.
func refBomb(levels int) string {
	var defs []string
	for i := range levels {
		defs = append(defs, fmt.Sprintf(`"d%d":{"allOf":[{"$ref":"#/$defs/d%d"},{"$ref":"#/$defs/d%d"}]}`, i, i+1, i+1))
	}
	defs = append(defs, fmt.Sprintf(`"d%d":{"type":"number"}`, levels))
	return `{"$ref":"#/$defs/d0","$defs":{` + strings.Join(defs, ",") + `}}`
}

func TestHostileSchemaIsBounded(t *testing.T) {
	start := time.Now()
	v := mustNew(t, jsonDecl, refBomb(60))
	compiled := time.Since(start)
	start = time.Now()
	m, u := v.Check([]byte(`1`))
	checked := time.Since(start)
	if m != nil || u != UncheckedTooCostly {
		t.Fatalf("Check = %v %v, want UncheckedTooCostly", m, u)
	}
	// The track is no longer checked: the next frame costs nothing.
	if _, u := v.Check([]byte(`1`)); u != UncheckedTooCostly || v.Unchecked() != UncheckedTooCostly {
		t.Fatalf("after: %v", u)
	}
	t.Logf("2^60 evaluations cut at %d: compile %v, check %v", stepsFor(1), compiled, checked)
	// A generous ceiling: the budget is in steps, so this only catches a
	// check that no longer counts them.
	if checked > 10*time.Second {
		t.Fatalf("check took %v", checked)
	}
	// Within budget the same shape is checked.
	small := mustNew(t, jsonDecl, refBomb(10))
	if m, u := small.Check([]byte(`"x"`)); u != Checked || m == nil {
		t.Fatalf("small bomb: %v %v", m, u)
	}
}

// Pose and Inner as a FileDescriptorSet, as protoc would write it.
func poseSet(t testing.TB) []byte {
	f := &descriptorpb.FileDescriptorProto{
		Name: proto.String("pose.proto"), Package: proto.String("demo"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Pose"), Field: []*descriptorpb.FieldDescriptorProto{
				field("x", 1, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""),
				field("y", 2, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""),
				field("inner", 3, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".demo.Inner"),
				repeated(field("points", 4, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".demo.Inner")),
			}},
			{Name: proto.String("Inner"), Field: []*descriptorpb.FieldDescriptorProto{
				field("a", 1, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
				field("name", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
			}},
		},
	}
	b, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{f}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func field(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
	f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(),
		Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String(name)}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	return f
}

func repeated(f *descriptorpb.FieldDescriptorProto) *descriptorpb.FieldDescriptorProto {
	f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	return f
}

func protoDecl(name string) schema.Decl {
	return schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameProtobuf},
		Schema: schema.ID{Name: name, Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingProtobuf}}}
}

// inner encodes an Inner with a = 7 and then extra.
func inner(extra ...byte) []byte {
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 7)
	return append(b, extra...)
}

func TestProtobufFirstFailingPath(t *testing.T) {
	def := poseSet(t)
	valid := protowire.AppendTag(nil, 1, protowire.Fixed64Type)
	valid = protowire.AppendFixed64(valid, 0x3ff0000000000000)
	valid = protowire.AppendTag(valid, 3, protowire.BytesType)
	valid = protowire.AppendBytes(valid, inner())
	unknownTop := protowire.AppendVarint(protowire.AppendTag(slicesClone(valid), 9, protowire.VarintType), 1)
	wireX := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1)
	nested := protowire.AppendTag(slicesClone(valid), 4, protowire.BytesType)
	nested = protowire.AppendBytes(nested, inner())
	nested = protowire.AppendTag(nested, 4, protowire.BytesType)
	nested = protowire.AppendBytes(nested, inner(protowire.AppendVarint(protowire.AppendTag(nil, 5, protowire.VarintType), 2)...))
	wireName := protowire.AppendTag(nil, 3, protowire.BytesType)
	wireName = protowire.AppendBytes(wireName, protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 3))
	for _, name := range []string{"demo.Pose", "Pose"} {
		v := mustNew(t, protoDecl(name), string(def))
		for _, tc := range []struct {
			what  string
			frame []byte
			path  string // "-": valid
			part  string
		}{
			{"valid", valid, "-", ""},
			{"empty message", nil, "-", ""},
			{"unknown field", unknownTop, "#9", "not in demo.Pose"},
			{"wrong wire type", wireX, "x", "wire type varint"},
			{"nested unknown", nested, "points[1].#5", "not in demo.Inner"},
			{"nested wrong wire type", wireName, "inner.name", "wire type varint"},
			{"truncated", valid[:len(valid)-1], "", "not a valid demo.Pose"},
		} {
			m, u := v.Check(tc.frame)
			if u != Checked {
				t.Fatalf("%s: %v", tc.what, u)
			}
			switch {
			case tc.path == "-" && m != nil:
				t.Errorf("%s %s: %v", name, tc.what, m)
			case tc.path != "-" && (m == nil || m.Path != tc.path || !strings.Contains(m.Reason, tc.part)):
				t.Errorf("%s %s: %v, want path %q with %q", name, tc.what, m, tc.path, tc.part)
			}
		}
	}
	if _, err := New(protoDecl("demo.Nope"), def); !errors.Is(err, ErrBadSchema) {
		t.Errorf("no such message: %v", err)
	}
	if _, err := New(protoDecl("Pose"), []byte("not a descriptor set")); !errors.Is(err, ErrBadSchema) {
		t.Errorf("not a set: %v", err)
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{ModeWarn, ModeRefuse, ModeOff} {
		if got, err := ParseMode(m.String()); err != nil || got != m {
			t.Errorf("%v: %v %v", m, got, err)
		}
	}
	if _, err := ParseMode("strict"); !errors.Is(err, ErrBadMode) {
		t.Errorf("strict: %v", err)
	}
}

// exampleSchemas are schemas Example must write a document for.
var exampleSchemas = []string{
	poseSchema,
	`{}`,
	`true`,
	`{"type":"object"}`,
	`{"type":"object","required":["id","kind","tags","at"],"properties":{"id":{"type":"integer","minimum":3,"multipleOf":5},
	  "kind":{"enum":["a","b"]},"tags":{"type":"array","minItems":2,"items":{"type":"string","minLength":3}},
	  "at":{"type":"number","exclusiveMinimum":0,"maximum":1}}}`,
	`{"type":"object","required":["v"],"properties":{"v":{"$ref":"#/$defs/vec"}},"$defs":{"vec":{"type":"object",
	  "required":["x","y","z"],"properties":{"x":{"type":"number"},"y":{"type":"number"},"z":{"const":0}}}}}`,
	`{"allOf":[{"type":"object","required":["a"]},{"required":["b"],"properties":{"b":{"type":"boolean"}}}]}`,
	`{"type":"object","required":["p"],"properties":{"p":{"oneOf":[{"type":"string","maxLength":0},{"type":"integer","maximum":-5}]}}}`,
	`{"type":"object","required":["n"],"properties":{"n":{"type":"integer","exclusiveMaximum":-2}}}`,
	`{"type":"object","minProperties":2,"properties":{"a":{"type":"null"},"b":{"type":"string"}}}`,
	`{"type":"object","required":["id"],"additionalProperties":false,"properties":{"id":{"type":"string"}}}`,
	`{"type":"array","minItems":1,"prefixItems":[{"type":"integer"}]}`,
	`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","required":["k"],"properties":{"k":{"type":"integer","minimum":2.5}}}`,
	`{"type":"object","required":["t"],"properties":{"t":{"type":"object","required":["child"],"properties":{"child":{"$ref":"#"}}}}}`,
}

func TestExampleMatchesItsSchema(t *testing.T) {
	for _, def := range exampleSchemas {
		v := mustNew(t, jsonDecl, def)
		x, err := v.Example()
		if def == exampleSchemas[len(exampleSchemas)-1] {
			// Each level requires the next: no finite document matches.
			if !errors.Is(err, ErrNoExample) {
				t.Errorf("endless schema: %v %v", x, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", def, err)
			continue
		}
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		if m, u := v.Check(b); m != nil || u != Checked {
			t.Errorf("%s: example %s: %v %v", def, b, m, u)
		}
	}
}

func TestExampleRefusesUnsatisfiable(t *testing.T) {
	for _, def := range []string{
		`false`,
		`{"type":"object","required":["s"],"properties":{"s":{"type":"string","pattern":"^[0-9]{4}$"}}}`,
		`{"type":"integer","minimum":5,"maximum":4}`,
		`{"type":"object","required":["x"],"properties":{"x":false}}`,
		`{"not":{}}`,
	} {
		v := mustNew(t, jsonDecl, def)
		if x, err := v.Example(); !errors.Is(err, ErrNoExample) {
			t.Errorf("%s: %v %v, want ErrNoExample", def, x, err)
		}
	}
	if _, err := (&Validator{}).Example(); !errors.Is(err, ErrNotJSONSchema) {
		t.Errorf("no schema: %v", err)
	}
}

// A large legitimate document stays within its budget.
func TestLargeDocumentWithinBudget(t *testing.T) {
	v := mustNew(t, jsonDecl, poseSchema)
	items := strings.Repeat(`{"t":1},`, (MaxCheckBytes-64)/8)
	frame := []byte(`{"x":1,"y":2,"path":[` + strings.TrimSuffix(items, ",") + `]}`)
	if m, u := v.Check(frame); m != nil || u != Checked {
		t.Fatalf("%d bytes: %v %v", len(frame), m, u)
	}
}

// The budget holds on large frames too: an evaluation costs what the
// library does with the value there (a set of an array's items, a long
// string compared), so a ref bomb over a 256 KiB array or a 60 KB string
// is cut as early, and the first frame is the only one that costs.
func TestHostileSchemaOnLargeFrames(t *testing.T) {
	big := strings.Repeat("a", 60000)
	for name, tc := range map[string]struct{ def, frame string }{
		"array":  {refBomb(60), "[" + strings.Repeat("1,", MaxCheckBytes/2-2) + "1]"},
		"nested": {refBomb(60), `{"a":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + "}"},
		"string": {strings.Replace(refBomb(60), `{"type":"number"}`, `{"enum":["`+big+`"]}`, 1), `"` + big + `"`},
	} {
		v := mustNew(t, jsonDecl, tc.def)
		start := time.Now()
		m, u := v.Check([]byte(tc.frame))
		took := time.Since(start)
		if m != nil || u != UncheckedTooCostly {
			t.Fatalf("%s: %v %v", name, m, u)
		}
		t.Logf("%s: %d bytes cut at a budget of %d in %v", name, len(tc.frame), stepsFor(len(tc.frame)), took)
		if took > 10*time.Second {
			t.Fatalf("%s took %v", name, took)
		}
	}
}

// richSet has every kind of field ProtoExample fills: scalars, an enum, a
// nested and a repeated message, a map, a oneof, itself, packed floats.
func richSet(t testing.TB) []byte {
	entry := &descriptorpb.DescriptorProto{Name: proto.String("TagsEntry"), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
		Field: []*descriptorpb.FieldDescriptorProto{
			field("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
			field("value", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
		}}
	oneofA := field("a", 6, descriptorpb.FieldDescriptorProto_TYPE_STRING, "")
	oneofA.OneofIndex = proto.Int32(0)
	oneofB := field("b", 7, descriptorpb.FieldDescriptorProto_TYPE_INT32, "")
	oneofB.OneofIndex = proto.Int32(0)
	rich := &descriptorpb.DescriptorProto{Name: proto.String("Rich"), NestedType: []*descriptorpb.DescriptorProto{entry},
		OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("choice")}},
		Field: []*descriptorpb.FieldDescriptorProto{
			field("x", 1, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""),
			field("inner", 2, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".demo.Inner"),
			repeated(field("pts", 3, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".demo.Inner")),
			repeated(field("tags", 4, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".demo.Rich.TagsEntry")),
			field("kind", 5, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".demo.Kind"),
			oneofA, oneofB,
			field("child", 8, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".demo.Rich"),
			repeated(field("vals", 9, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, "")),
			field("blob", 10, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""),
		}}
	f := &descriptorpb.FileDescriptorProto{
		Name: proto.String("rich.proto"), Package: proto.String("demo"), Syntax: proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{Name: proto.String("Kind"), Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("KIND_UNSET"), Number: proto.Int32(0)}, {Name: proto.String("KIND_MAP"), Number: proto.Int32(1)}}}},
		MessageType: []*descriptorpb.DescriptorProto{rich, {Name: proto.String("Inner"), Field: []*descriptorpb.FieldDescriptorProto{
			field("a", 1, descriptorpb.FieldDescriptorProto_TYPE_INT32, "")}}},
	}
	b, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{f}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProtoExampleIsPopulated(t *testing.T) {
	for name, def := range map[string][]byte{"demo.Pose": poseSet(t), "Rich": richSet(t)} {
		v := mustNew(t, protoDecl(name), string(def))
		b, err := v.ProtoExample()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m, u := v.Check(b); m != nil || u != Checked {
			t.Fatalf("%s: %v %v", name, m, u)
		}
		// Every field of the top message is there (one of the oneof).
		md := v.proto.md
		msg := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(b, msg); err != nil {
			t.Fatal(err)
		}
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			if o := fd.ContainingOneof(); o != nil && o.Fields().Get(0) != fd {
				continue
			}
			if !msg.Has(fd) {
				t.Errorf("%s: field %s not set in %x", name, fd.Name(), b)
			}
		}
	}
	if _, err := mustNew(t, jsonDecl, `{}`).ProtoExample(); !errors.Is(err, ErrNotProtobuf) {
		t.Fatalf("JSON track: %v", err)
	}
}

func TestZeroValidatorChecksNothing(t *testing.T) {
	var v Validator
	if m, u := v.Check([]byte(`{}`)); m != nil || u != UncheckedNoSchema || v.Unchecked() != UncheckedNoSchema {
		t.Fatalf("%v %v %v", m, u, v.Unchecked())
	}
}
