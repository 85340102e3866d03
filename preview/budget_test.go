package preview

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/dttui/dttui/schema"
)

// allocated is what f allocates, in bytes.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// maxLineRunes is the longest line a rendering may have: the deepest
// indentation, a cut line and its "…".
const maxLineRunes = 2*MaxDepth + MaxLineRunes + 1

// checkBounded fails unless f is within the line budgets.
func checkBounded(t *testing.T, f Frame, maxLines int) {
	t.Helper()
	if len(f.Lines) > maxLines {
		t.Fatalf("%d lines, the bound is %d", len(f.Lines), maxLines)
	}
	for _, l := range f.Lines {
		if n := utf8.RuneCountInString(l); n > maxLineRunes {
			t.Fatalf("a line of %d runes", n)
		}
	}
}

// A 4 KiB JSON frame nested 2 040 deep renders its first lines with the
// depth cut, in little memory (issue 20.8: main indented all of it, 8 MB
// a frame, and escaped every line before keeping 12).
func TestDeepJSONIsBounded(t *testing.T) {
	deep := strings.Repeat("[", 2040) + strings.Repeat("]", 2040)
	var f Frame
	n := allocated(func() { f = Render([]byte(deep), declOf(schema.FrameJSON), Options{}) })
	checkBounded(t, f, DefaultMaxLines)
	if f.Kind != KindJSON || !f.Truncated || !strings.Contains(joined(f), "[…]") {
		t.Fatalf("%s %v truncated %v\n%s", f.Kind, f.Err, f.Truncated, joined(f))
	}
	if n > 1<<20 {
		t.Fatalf("rendering a 4 KiB frame allocated %d bytes", n)
	}
	// A wide one: one line of each element, only as many as shown.
	wide := "[" + strings.Repeat(`"`+strings.Repeat("x", 100)+`",`, 30) + `"` + strings.Repeat("y", 10000) + `"]`
	f = Render([]byte(wide), declOf(schema.FrameJSON), Options{MaxLines: 12})
	checkBounded(t, f, 12)
}

// A self-recursive protobuf message nested as deep as its bytes allow is
// refused past MaxDepth (shown as hex, with why) and one within it is
// printed; the schema is parsed once, not per frame (issue 20.8: ~50 % of
// a core for an 835-message schema).
func TestRecursiveProtobufIsBounded(t *testing.T) {
	def, decl, payload := recursiveProtobuf(t, 0, 1500)
	Render(payload, decl, Options{Schema: def}) // parses the schema
	var f Frame
	n := allocated(func() { f = Render(payload, decl, Options{MaxLines: 12, Schema: def}) })
	checkBounded(t, f, 12)
	if f.Err == nil || f.Kind != KindHex {
		t.Fatalf("1 500 deep: %s %v", f.Kind, f.Err)
	}
	if n > 1<<20 {
		t.Fatalf("rendering a %d-byte frame allocated %d bytes", len(payload), n)
	}
	shallow := []byte{0x10, 0x01}
	for range 5 {
		shallow = append(append([]byte{0x0a}, uvarint(len(shallow))...), shallow...)
	}
	if f := Render(shallow, decl, Options{Schema: def}); f.Kind != KindProtobuf || !strings.Contains(joined(f), `"v": 1`) {
		t.Fatalf("5 deep: %s %v\n%s", f.Kind, f.Err, joined(f))
	}
}

// recursiveProtobuf is a self-recursive message x.Node (field 1 a child
// Node, field 2 an int32) in a schema of 1+extra messages, and a frame of
// it nested depth deep.
func recursiveProtobuf(tb testing.TB, extra, depth int) (def []byte, decl schema.Decl, payload []byte) {
	tb.Helper()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("node.proto"), Package: proto.String("x"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Node"), Field: []*descriptorpb.FieldDescriptorProto{
			{Name: proto.String("child"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".x.Node"), Label: opt, JsonName: proto.String("child")},
			{Name: proto.String("v"), Number: proto.Int32(2), Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum(), Label: opt, JsonName: proto.String("v")},
		}}},
	}
	for i := range extra {
		fdp.MessageType = append(fdp.MessageType, &descriptorpb.DescriptorProto{Name: proto.String(fmt.Sprintf("Filler%d", i)), Field: []*descriptorpb.FieldDescriptorProto{
			{Name: proto.String("n"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".x.Node"), Label: opt, JsonName: proto.String("n")},
		}})
	}
	def, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{fdp}})
	if err != nil {
		tb.Fatal(err)
	}
	// Field 1 (child), with a varint length, around and around.
	payload = []byte{0x10, 0x01}
	for range depth {
		payload = append(append([]byte{0x0a}, uvarint(len(payload))...), payload...)
	}
	decl = schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameProtobuf},
		Schema: schema.ID{Name: "x.Node", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingProtobuf}}}
	return def, decl, payload
}

// BenchmarkHostilePreview is the CPU a decoding bomb costs while the
// detail pane shows its track, per frame and as a share of a core at the
// 20 frames/s of issue 20.8 (before: 70-85 % of a core for the deep JSON,
// ~50 % for the recursive protobuf with an 835-message schema).
//
//	go test -run '^$' -bench HostilePreview ./preview/
func BenchmarkHostilePreview(b *testing.B) {
	deep := []byte(strings.Repeat("[", 2040) + strings.Repeat("]", 2040))
	def, decl, payload := recursiveProtobuf(b, 834, 1500)
	for _, c := range []struct {
		name  string
		frame []byte
		decl  schema.Decl
		opt   Options
	}{
		{"json-2040-deep", deep, declOf(schema.FrameJSON), Options{MaxLines: 12}},
		{"protobuf-835-messages-1500-deep", payload, decl, Options{MaxLines: 12, Schema: def}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				Render(c.frame, c.decl, c.opt)
			}
			perFrame := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(100*20*perFrame, "%core@20fps")
		})
	}
}

func uvarint(n int) []byte {
	var b []byte
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

// FuzzRenderBudget: any frame of up to 4 KiB under any declaration
// renders at most the lines asked for, each within the line budget (the
// allocation bound is the tests' above: measuring it stops the world).
func FuzzRenderBudget(f *testing.F) {
	f.Add([]byte(strings.Repeat("[", 2000)+strings.Repeat("]", 2000)), int8(schema.FrameJSON), uint8(12))
	f.Add([]byte(strings.Repeat("{\"a\":", 300)+"1"+strings.Repeat("}", 300)), int8(0), uint8(40))
	f.Add([]byte{0x9f, 0x9f, 0x9f, 0xff, 0xff, 0xff}, int8(schema.FrameCBOR), uint8(3))
	f.Add([]byte{0x91, 0x91, 0x91, 0x91, 0x01}, int8(schema.FrameMsgpack), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, enc int8, lines uint8) {
		if len(b) > 4096 {
			return
		}
		max := 1 + int(lines)%64
		checkBounded(t, Render(b, declOf(schema.Frame(enc)), Options{MaxLines: max}), max)
	})
}

// A line of characters that escape to several runes each is cut after
// escaping: the line budget holds for the escaped line.
func TestEscapedLinesWithinBudget(t *testing.T) {
	text := strings.Repeat("\u202e", 1000) + "\n" + strings.Repeat("a\x1b", 400)
	for _, decl := range []schema.Decl{{}, declOf(schema.FrameJSON)} {
		payload := []byte(text)
		if !decl.Frame.IsZero() {
			payload = []byte(`["` + strings.Repeat("\u202e", 1000) + `"]`)
		}
		checkBounded(t, Render(payload, decl, Options{}), DefaultMaxLines)
	}
}
