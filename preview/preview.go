// Package preview renders a frame for a person to read: decoded and
// pretty-printed for the self-describing encodings (JSON, CBOR,
// MessagePack), decoded by field name for protobuf when the track's schema
// (a FileDescriptorSet) is known, and otherwise as text when it is UTF-8,
// else as a hex dump. Frames come from other participants: every line it
// returns is safe to print (package textsafe).
package preview

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/textsafe"
)

// Kind says how a frame was rendered.
type Kind string

const (
	KindJSON     Kind = "json"
	KindCBOR     Kind = "cbor"
	KindMsgpack  Kind = "msgpack"
	KindProtobuf Kind = "protobuf"
	KindText     Kind = "text"
	KindHex      Kind = "hex"
)

// Frame is a rendered frame.
type Frame struct {
	Kind Kind
	// Lines are safe to print. Truncated says the frame, or what was kept
	// of it, did not all fit.
	Lines     []string
	Truncated bool
	// Err says why the declared encoding could not be decoded (the frame is
	// then shown as text or hex): worth showing, a publisher's bug.
	Err error
}

// Options bound a rendering.
type Options struct {
	MaxLines int // default 40
	// Partial says payload is only the head of a longer frame: decoding
	// it as a whole is not tried.
	Partial bool
	// Schema is the track's stored schema definition, when it has one.
	Schema []byte
}

// Render renders payload, declared as decl.
func Render(payload []byte, decl schema.Decl, o Options) Frame {
	if o.MaxLines <= 0 {
		o.MaxLines = 40
	}
	var f Frame
	if !o.Partial {
		f = decode(payload, decl, o)
	}
	if f.Lines == nil {
		f.Kind, f.Lines = fallback(payload)
	}
	f.Truncated = f.Truncated || o.Partial
	for i, l := range f.Lines {
		f.Lines[i] = textsafe.Line(l)
	}
	if len(f.Lines) > o.MaxLines {
		f.Lines, f.Truncated = f.Lines[:o.MaxLines], true
	}
	return f
}

func decode(payload []byte, decl schema.Decl, o Options) Frame {
	var v any
	var kind Kind
	var err error
	switch decl.Frame.WellKnown {
	case schema.FrameJSON:
		kind = KindJSON
		err = json.Unmarshal(payload, &v)
	case schema.FrameCBOR:
		kind = KindCBOR
		err = cborMode.Unmarshal(payload, &v)
	case schema.FrameMsgpack:
		kind = KindMsgpack
		if err = msgpackBounded(payload); err == nil {
			err = msgpack.Unmarshal(payload, &v)
		}
	case schema.FrameProtobuf:
		if len(o.Schema) == 0 || decl.Schema.IsZero() {
			return Frame{}
		}
		lines, err := protobufLines(payload, decl.Schema.Name, o.Schema)
		if err != nil {
			return Frame{Err: err}
		}
		return Frame{Kind: KindProtobuf, Lines: lines}
	default:
		if decl.Frame.IsZero() && json.Valid(payload) && len(payload) > 0 && (payload[0] == '{' || payload[0] == '[') {
			kind = KindJSON
			err = json.Unmarshal(payload, &v)
			break
		}
		return Frame{}
	}
	if err != nil {
		return Frame{Err: fmt.Errorf("not valid %s: %w", kind, err)}
	}
	out, err := json.MarshalIndent(jsonable(v), "", "  ")
	if err != nil {
		return Frame{Err: err}
	}
	return Frame{Kind: kind, Lines: strings.Split(string(out), "\n")}
}

// jsonable turns what CBOR and MessagePack decode (maps with any keys,
// byte strings) into what encoding/json prints.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	case []byte:
		return "0x" + hex.EncodeToString(x)
	}
	return v
}

// protobufLines decodes payload as message name (a full name, or the last
// part of one) of the FileDescriptorSet def, as protojson prints it.
func protobufLines(payload []byte, name string, def []byte) ([]string, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(def, &set); err != nil {
		return nil, fmt.Errorf("the schema is not a FileDescriptorSet: %w", err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("the schema's files: %w", err)
	}
	md, err := findMessage(files, name)
	if err != nil {
		return nil, err
	}
	msg := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(payload, msg); err != nil {
		return nil, fmt.Errorf("not a valid %s: %w", md.FullName(), err)
	}
	out, err := protojson.Marshal(msg)
	if err != nil {
		return nil, err
	}
	// protojson varies its spacing on purpose; indent it the one way.
	var b bytes.Buffer
	if err := json.Indent(&b, out, "", "  "); err != nil {
		return nil, err
	}
	return strings.Split(b.String(), "\n"), nil
}

func findMessage(files *protoregistry.Files, name string) (protoreflect.MessageDescriptor, error) {
	if d, err := files.FindDescriptorByName(protoreflect.FullName(name)); err == nil {
		if md, ok := d.(protoreflect.MessageDescriptor); ok {
			return md, nil
		}
	}
	// The schema's name may be the message's short name.
	var found protoreflect.MessageDescriptor
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		msgs := fd.Messages()
		for i := range msgs.Len() {
			if string(msgs.Get(i).Name()) == name {
				found = msgs.Get(i)
				return false
			}
		}
		return true
	})
	if found == nil {
		return nil, fmt.Errorf("no message %q in the schema", name)
	}
	return found, nil
}

// fallback shows text as text (split at newlines), anything else as hex:
// 16 bytes a line with their printable ASCII.
func fallback(b []byte) (Kind, []string) {
	if utf8.Valid(b) && printable(b) {
		return KindText, strings.Split(string(b), "\n")
	}
	return KindHex, Hex(b, 0)
}

// Hex is a hex dump of b, 16 bytes a line with their offset and their
// printable ASCII (a dot for the rest), at most maxLines lines (0: all).
// Its lines are safe to print as they are.
func Hex(b []byte, maxLines int) []string {
	if maxLines > 0 {
		b = b[:min(len(b), 16*maxLines)]
	}
	var lines []string
	for off := 0; off < len(b); off += 16 {
		chunk := b[off:min(off+16, len(b))]
		var ascii bytes.Buffer
		for _, c := range chunk {
			if c >= 0x20 && c < 0x7f {
				ascii.WriteByte(c)
			} else {
				ascii.WriteByte('.')
			}
		}
		lines = append(lines, fmt.Sprintf("%08x  %-47s  %s", off, spaced(chunk), ascii.String()))
	}
	return lines
}

func spaced(b []byte) string {
	var s strings.Builder
	for i, c := range b {
		if i > 0 {
			s.WriteByte(' ')
		}
		fmt.Fprintf(&s, "%02x", c)
	}
	return s.String()
}

// printable: mostly text (tabs and newlines allowed, few controls).
func printable(b []byte) bool {
	controls := 0
	for _, r := range string(b) {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
			controls++
		}
	}
	return controls*20 <= len(b)
}

// cborMode decodes other participants' bytes with bounds: nesting, and
// the elements a 4 KiB head can claim, well below the library's defaults.
var cborMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{MaxNestedLevels: 32, MaxArrayElements: 4096, MaxMapPairs: 4096}.DecMode()
	if err != nil {
		panic(err) // constant options
	}
	return m
}()
