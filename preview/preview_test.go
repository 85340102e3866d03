package preview

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/dttui/dttui/schema"
)

func declOf(f schema.Frame) schema.Decl {
	return schema.Decl{Frame: schema.FrameEncoding{WellKnown: f}}
}

func joined(f Frame) string { return strings.Join(f.Lines, "\n") }

func TestSelfDescribingEncodings(t *testing.T) {
	obj := map[string]any{"x": 1.5, "name": "arm", "tags": []any{"a", "b"}}
	cb, _ := cbor.Marshal(obj)
	mp, _ := msgpack.Marshal(obj)
	for _, tc := range []struct {
		f       schema.Frame
		payload []byte
		kind    Kind
	}{
		{schema.FrameJSON, []byte(`{"x":1.5,"name":"arm","tags":["a","b"]}`), KindJSON},
		{schema.FrameCBOR, cb, KindCBOR},
		{schema.FrameMsgpack, mp, KindMsgpack},
	} {
		got := Render(tc.payload, declOf(tc.f), Options{})
		text := joined(got)
		if got.Kind != tc.kind || got.Err != nil || !strings.Contains(text, `"name": "arm"`) || !strings.Contains(text, `"x": 1.5`) || len(got.Lines) < 5 {
			t.Fatalf("%s: %s %v\n%s", tc.kind, got.Kind, got.Err, text)
		}
	}
}

// A protobuf frame is decoded by field name with the track's stored
// FileDescriptorSet.
func TestProtobufWithSchema(t *testing.T) {
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("pose.proto"), Package: proto.String("robot"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Pose"), Field: []*descriptorpb.FieldDescriptorProto{
			{Name: proto.String("x"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_DOUBLE.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String("x")},
			{Name: proto.String("frame_id"), Number: proto.Int32(2), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String("frameId")},
		}}},
	}
	def, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{fdp}})
	if err != nil {
		t.Fatal(err)
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := dynamicpb.NewMessage(fd.Messages().Get(0))
	msg.Set(fd.Messages().Get(0).Fields().ByName("x"), protoValue(2.25))
	msg.Set(fd.Messages().Get(0).Fields().ByName("frame_id"), protoString("base_link"))
	payload, _ := proto.Marshal(msg)
	decl := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameProtobuf},
		Schema: schema.ID{Name: "robot.Pose", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingProtobuf}}}
	got := Render(payload, decl, Options{Schema: def})
	if got.Kind != KindProtobuf || !strings.Contains(joined(got), `"frameId": "base_link"`) || !strings.Contains(joined(got), `"x": 2.25`) {
		t.Fatalf("%s %v\n%s", got.Kind, got.Err, joined(got))
	}
	decl.Schema.Name = "Pose" // the short name works too
	if got := Render(payload, decl, Options{Schema: def}); got.Kind != KindProtobuf {
		t.Fatalf("short name: %v", got.Err)
	}
	// Without the schema: hex.
	if got := Render(payload, decl, Options{}); got.Kind != KindHex {
		t.Fatalf("no schema: %s", got.Kind)
	}
}

// What cannot be decoded as declared says why and is shown as text or
// hex; text from the publisher cannot drive the terminal.
func TestFallbacksAndHostileText(t *testing.T) {
	got := Render([]byte("not json\x1b]2;PWNED\x07"), declOf(schema.FrameJSON), Options{})
	if got.Err == nil || got.Kind != KindHex || strings.ContainsAny(joined(got), "\x1b\x07") {
		t.Fatalf("%s %v %q", got.Kind, got.Err, joined(got))
	}
	got = Render([]byte("a long line of plain text with one escape \x1b[2J in it"), schema.Decl{}, Options{})
	if got.Kind != KindText || strings.ContainsAny(joined(got), "\x1b") || !strings.Contains(joined(got), `\x1b[2J`) {
		t.Fatalf("%s %q", got.Kind, joined(got))
	}
	got = Render([]byte{0, 1, 2, 0xff, 'A', 'B'}, schema.Decl{}, Options{})
	if got.Kind != KindHex || got.Lines[0] != "00000000  00 01 02 ff 41 42                                ....AB" {
		t.Fatalf("%s %q", got.Kind, got.Lines)
	}
	got = Render([]byte(`{"a":1}`), schema.Decl{}, Options{})
	if got.Kind != KindJSON {
		t.Fatalf("untyped JSON object: %s", got.Kind)
	}
	big := strings.Repeat("line\n", 100)
	got = Render([]byte(big), schema.Decl{}, Options{MaxLines: 10})
	if len(got.Lines) != 10 || !got.Truncated {
		t.Fatalf("%d lines, truncated %v", len(got.Lines), got.Truncated)
	}
	got = Render([]byte(`{"a":`), declOf(schema.FrameJSON), Options{Partial: true})
	if got.Err != nil || got.Kind != KindText || !got.Truncated {
		t.Fatalf("partial: %s %v", got.Kind, got.Err)
	}
}

// FuzzRender: any bytes under any declaration render without a panic,
// within the line bound, with nothing a terminal would act on.
func FuzzRender(f *testing.F) {
	f.Add([]byte(`{"a":[1,2,{"b":null}]}`), int8(schema.FrameJSON))
	f.Add([]byte{0xa1, 0x61, 0x61, 0x01}, int8(schema.FrameCBOR))
	f.Add([]byte{0x81, 0xa1, 0x61, 0x01}, int8(schema.FrameMsgpack))
	f.Add([]byte("\x1b[2J\x9b"), int8(0))
	f.Fuzz(func(t *testing.T, b []byte, enc int8) {
		got := Render(b, declOf(schema.Frame(enc)), Options{MaxLines: 50})
		if len(got.Lines) > 50 {
			t.Fatalf("%d lines", len(got.Lines))
		}
		for _, l := range got.Lines {
			// ESC, BEL and the C1 CSI (U+009B); a raw 0x9b byte would make
			// the line invalid UTF-8. U+FFFD, the replacement character,
			// is harmless.
			if strings.ContainsAny(l, "\x1b\x07\u009b") || !utf8.ValidString(l) {
				t.Fatalf("unsafe line %q", l)
			}
		}
	})
}

func protoValue(f float64) protoreflect.Value { return protoreflect.ValueOfFloat64(f) }
func protoString(s string) protoreflect.Value { return protoreflect.ValueOfString(s) }
