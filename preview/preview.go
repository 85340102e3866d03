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
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
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
	MaxLines int // default DefaultMaxLines
	// Partial says payload is only the head of a longer frame: decoding
	// it as a whole is not tried.
	Partial bool
	// Schema is the track's stored schema definition, when it has one.
	Schema []byte
}

// Budgets that bound what one frame costs to render, whatever it claims:
// a frame is another participant's, and the pane renders one per frame
// that arrives. Each is checked before the output grows.
const (
	// MaxDecodeBytes is the most of a payload decoded; a longer one is
	// shown as the head of a longer frame.
	MaxDecodeBytes = 64 << 10
	// MaxDepth is how deep a rendered value nests; a deeper value shows
	// as "…" (a 4 KiB frame nested 2 000 deep printed 8 MB indented).
	MaxDepth = 32
	// MaxLineRunes cuts each line, after escaping.
	MaxLineRunes = 256
	// DefaultMaxLines is Options.MaxLines when not set.
	DefaultMaxLines = 40
)

// Render renders payload, declared as decl, within the budgets above:
// at most o.MaxLines lines of at most MaxLineRunes runes, each safe to
// print.
func Render(payload []byte, decl schema.Decl, o Options) Frame {
	if o.MaxLines <= 0 {
		o.MaxLines = DefaultMaxLines
	}
	if len(payload) > MaxDecodeBytes {
		payload, o.Partial = payload[:MaxDecodeBytes], true
	}
	w := &lineWriter{max: o.MaxLines}
	var f Frame
	if !o.Partial {
		f = decode(w, payload, decl, o)
	}
	if f.Kind == "" {
		w.lines = w.lines[:0]
		f.Kind = fallback(w, payload)
	}
	f.Lines = w.lines
	f.Truncated = o.Partial
	if len(f.Lines) > o.MaxLines {
		f.Lines, f.Truncated = f.Lines[:o.MaxLines], true
	}
	return f
}

// lineWriter collects a rendering's lines, each escaped and cut as it is
// added, and stops once it has one more than it shows (that one says the
// rest was cut): a value's later lines cost nothing.
type lineWriter struct {
	lines []string
	max   int
}

func (w *lineWriter) full() bool { return len(w.lines) > w.max }

func (w *lineWriter) add(depth int, s string) {
	if w.full() {
		return
	}
	w.lines = append(w.lines, strings.Repeat("  ", min(depth, MaxDepth))+textsafe.Clip(s, MaxLineRunes))
}

// value writes v as json.MarshalIndent would (two spaces, keys sorted),
// prefix before its first line and suffix after its last, up to
// MaxDepth and the writer's lines.
func (w *lineWriter) value(v any, depth int, prefix, suffix string) {
	if w.full() {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			w.add(depth, prefix+"{}"+suffix)
			return
		}
		if depth >= MaxDepth {
			w.add(depth, prefix+"{…}"+suffix)
			return
		}
		w.add(depth, prefix+"{")
		keys := slices.Sorted(maps.Keys(x))
		for i, k := range keys {
			if w.full() {
				return
			}
			w.value(x[k], depth+1, scalar(k)+": ", comma(i, len(keys)))
		}
		w.add(depth, "}"+suffix)
	case []any:
		if len(x) == 0 {
			w.add(depth, prefix+"[]"+suffix)
			return
		}
		if depth >= MaxDepth {
			w.add(depth, prefix+"[…]"+suffix)
			return
		}
		w.add(depth, prefix+"[")
		for i, e := range x {
			if w.full() {
				return
			}
			w.value(e, depth+1, "", comma(i, len(x)))
		}
		w.add(depth, "]"+suffix)
	default:
		w.add(depth, prefix+scalar(v)+suffix)
	}
}

func comma(i, n int) string {
	if i < n-1 {
		return ","
	}
	return ""
}

// scalar is a leaf as JSON, a long string cut first so its cost is the
// line's, not the string's.
func scalar(v any) string {
	if s, ok := v.(string); ok && len(s) > 4*MaxLineRunes {
		v = s[:4*MaxLineRunes]
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v) // NaN, ±Inf from CBOR or MessagePack
	}
	return string(b)
}

func decode(w *lineWriter, payload []byte, decl schema.Decl, o Options) Frame {
	var v any
	var kind Kind
	var err error
	switch decl.Frame.WellKnown {
	case schema.FrameJSON:
		kind = KindJSON
		v, err = decodeJSON(payload)
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
		v, err := protobufValue(payload, decl.Schema.Name, o.Schema)
		if err != nil {
			return Frame{Err: err}
		}
		w.value(v, 0, "", "")
		return Frame{Kind: KindProtobuf}
	default:
		if decl.Frame.IsZero() && json.Valid(payload) && len(payload) > 0 && (payload[0] == '{' || payload[0] == '[') {
			kind = KindJSON
			v, err = decodeJSON(payload)
			break
		}
		return Frame{}
	}
	if err != nil {
		return Frame{Err: fmt.Errorf("not valid %s: %w", kind, err)}
	}
	w.value(jsonable(v, 0), 0, "", "")
	return Frame{Kind: kind}
}

// decodeJSON decodes a JSON document, its numbers kept as written.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("data after the top-level value")
	}
	return v, nil
}

// jsonable turns what CBOR and MessagePack decode (maps with any keys,
// byte strings) into what encoding/json prints, down to MaxDepth (deeper
// values are not printed).
func jsonable(v any, depth int) any {
	if depth > MaxDepth {
		return v
	}
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e, depth+1)
		}
		return m
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e, depth+1)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = jsonable(e, depth+1)
		}
		return x
	case []byte:
		return "0x" + hex.EncodeToString(x[:min(len(x), 2*MaxLineRunes)])
	}
	return v
}

// protobufValue decodes payload as message name (a full name, or the
// last part of one) of the FileDescriptorSet def, as protojson prints it,
// nested at most MaxDepth deep (a self-recursive message can nest as deep
// as its bytes allow).
func protobufValue(payload []byte, name string, def []byte) (any, error) {
	files, err := schemaFiles(def)
	if err != nil {
		return nil, err
	}
	md, err := validate.FindMessage(files, name)
	if err != nil {
		return nil, err
	}
	msg := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{RecursionLimit: MaxDepth}).Unmarshal(payload, msg); err != nil {
		return nil, fmt.Errorf("not a valid %s: %w", md.FullName(), err)
	}
	out, err := protojson.Marshal(msg)
	if err != nil {
		return nil, err
	}
	return decodeJSON(out)
}

// schemaFiles parses a schema's FileDescriptorSet, once per definition:
// one of hundreds of messages took milliseconds to parse, for every frame.
func schemaFiles(def []byte) (*protoregistry.Files, error) {
	schemaCache.Lock()
	defer schemaCache.Unlock()
	if f, ok := schemaCache.files[string(def)]; ok {
		return f, nil
	}
	files, err := validate.ProtoFiles(def)
	if err != nil {
		return nil, err
	}
	if len(schemaCache.files) >= maxCachedSchemas {
		clear(schemaCache.files)
	}
	schemaCache.files[string(def)] = files
	return files, nil
}

// maxCachedSchemas bounds the parsed schemas kept (each definition is at
// most schema.MaxBlobBytes).
const maxCachedSchemas = 8

var schemaCache = struct {
	sync.Mutex
	files map[string]*protoregistry.Files
}{files: map[string]*protoregistry.Files{}}

// fallback shows text as text (split at newlines), anything else as hex:
// 16 bytes a line with their printable ASCII; no more lines than w takes.
func fallback(w *lineWriter, b []byte) Kind {
	if utf8.Valid(b) && printable(b) {
		for _, l := range strings.SplitN(string(b), "\n", w.max+1) {
			w.add(0, l)
		}
		return KindText
	}
	w.lines = Hex(b, w.max+1)
	return KindHex
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
