package probe

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/dttui/dttui/schema"
)

// Format is how a probe frame is written. An untyped track carries dttui's
// binary layout; a track that declares a self-describing frame encoding
// carries a document of that encoding, so what a subscriber decodes is
// what the track says it is:
//
//	JSON         {"dttui":"<the 20-byte header in hex>","pad":"abc…"}
//	CBOR         {"dttui": h'<header>', "pad": h'<filler>'}
//	MessagePack  {"dttui": bin(<header>), "pad": bin(<filler>)}
//
// The filler makes the frame the size asked for; every format keeps the
// header where Decode finds it from the first bytes alone.
type Format int

const (
	Binary Format = iota
	JSON
	CBOR
	MessagePack
)

func (f Format) String() string {
	switch f {
	case Binary:
		return "binary"
	case JSON:
		return "json"
	case CBOR:
		return "cbor"
	case MessagePack:
		return "msgpack"
	}
	return fmt.Sprintf("format(%d)", int(f))
}

// ErrNoFormat: the generator can only write documents of self-describing
// encodings; frames of a protobuf, FlatBuffers, ROS or CDR track, or of a
// custom encoding, must come from the user's data.
var ErrNoFormat = errors.New("probe: the generator writes JSON, CBOR or MessagePack documents (or its binary layout on an untyped track); this track's frames must come from your data: a file or stdin")

// FormatFor is the format of a track declaring enc (Binary when untyped).
func FormatFor(enc schema.FrameEncoding) (Format, error) {
	if enc.IsZero() {
		return Binary, nil
	}
	if enc.Custom != "" {
		return 0, ErrNoFormat
	}
	switch enc.WellKnown {
	case schema.FrameJSON:
		return JSON, nil
	case schema.FrameCBOR:
		return CBOR, nil
	case schema.FrameMsgpack:
		return MessagePack, nil
	}
	return 0, ErrNoFormat
}

// layout is where a format puts things: the header (raw, or as hex) after
// prefix, then mid, then the filler, then suffix.
type layout struct {
	prefix, mid, suffix []byte
	hexHeader           bool
	// lenAt, when ≥ 0, is where the filler's length goes (big-endian u32).
	lenAt int
	// fill is the filler byte at offset k from its start; period its
	// period (the doubling copy in Encode relies on it).
	fill   func(k int) byte
	period int
}

var layouts = [...]layout{
	Binary: {lenAt: -1, fill: func(k int) byte { return byte(k + HeaderLen) }, period: fillPeriod},
	JSON: {prefix: []byte(`{"dttui":"`), mid: []byte(`","pad":"`), suffix: []byte(`"}`), hexHeader: true, lenAt: -1,
		fill: func(k int) byte { return 'a' + byte(k%26) }, period: 26},
	// map(2), text(5) "dttui", bytes(20) …, text(3) "pad", bytes(u32 len) …
	CBOR: {prefix: []byte{0xa2, 0x65, 'd', 't', 't', 'u', 'i', 0x54}, mid: []byte{0x63, 'p', 'a', 'd', 0x5a, 0, 0, 0, 0}, lenAt: 5,
		fill: func(k int) byte { return byte(k) }, period: fillPeriod},
	// fixmap(2), fixstr "dttui", bin8(20) …, fixstr "pad", bin32 …
	MessagePack: {prefix: []byte{0x82, 0xa5, 'd', 't', 't', 'u', 'i', 0xc4, 0x14}, mid: []byte{0xa3, 'p', 'a', 'd', 0xc6, 0, 0, 0, 0}, lenAt: 5,
		fill: func(k int) byte { return byte(k) }, period: fillPeriod},
}

func (l *layout) headerLen() int {
	if l.hexHeader {
		return 2 * HeaderLen
	}
	return HeaderLen
}

// fillerStart is where the filler begins.
func (l *layout) fillerStart() int { return len(l.prefix) + l.headerLen() + len(l.mid) }

// MinSizeOf is the smallest frame of format f: everything but the filler.
func MinSizeOf(f Format) int {
	l := &layouts[f]
	return l.fillerStart() + len(l.suffix)
}

// EncodeFormat is Encode in format f.
func EncodeFormat(f Format, dst []byte, h Header, size int) []byte {
	l := &layouts[f]
	size = max(size, MinSizeOf(f))
	if cap(dst) < size {
		dst = make([]byte, size)
	}
	dst = dst[:size]
	writeHeader(f, dst, h)
	fs, end := l.fillerStart(), size-len(l.suffix)
	copy(dst[fs-len(l.mid):], l.mid)
	if l.lenAt >= 0 {
		binary.BigEndian.PutUint32(dst[fs-len(l.mid)+l.lenAt:], uint32(end-fs))
	}
	// One period written, then copied in doubling chunks: a 4 MiB frame
	// costs a memcpy, not four million stores.
	first := min(end, fs+l.period)
	for i := fs; i < first; i++ {
		dst[i] = l.fill(i - fs)
	}
	for filled := first; filled < end; {
		filled += copy(dst[filled:end], dst[fs:filled])
	}
	copy(dst[end:], l.suffix)
	return dst
}

// writeHeader writes the prefix and h into a frame of format f.
func writeHeader(f Format, dst []byte, h Header) {
	l := &layouts[f]
	copy(dst, l.prefix)
	if !l.hexHeader {
		putHeader(dst[len(l.prefix):], h)
		return
	}
	var raw [HeaderLen]byte
	putHeader(raw[:], h)
	hex.Encode(dst[len(l.prefix):], raw[:])
}

// formatOf tells a probe frame's format from its first bytes.
func formatOf(b []byte) (Format, bool) {
	for f := range layouts {
		l := &layouts[f]
		if len(b) < MinSizeOf(Format(f)) {
			continue
		}
		if Format(f) == Binary {
			if [2]byte(b[:2]) == magic {
				return Binary, true
			}
			continue
		}
		if string(b[:len(l.prefix)]) == string(l.prefix) {
			return Format(f), true
		}
	}
	return 0, false
}

// rawHeader is the 20 header bytes of a frame of format f.
func rawHeader(f Format, b []byte) ([]byte, bool) {
	l := &layouts[f]
	h := b[len(l.prefix) : len(l.prefix)+l.headerLen()]
	if !l.hexHeader {
		return h, true
	}
	raw := make([]byte, HeaderLen)
	if _, err := hex.Decode(raw, h); err != nil {
		return nil, false
	}
	return raw, true
}

// intactFormat says whether a frame of format f still holds what
// EncodeFormat wrote around its header.
func intactFormat(f Format, b []byte) bool {
	l := &layouts[f]
	fs, end := l.fillerStart(), len(b)-len(l.suffix)
	if end < fs || string(b[end:]) != string(l.suffix) {
		return false
	}
	mid := b[fs-len(l.mid) : fs]
	for i, c := range l.mid {
		if l.lenAt >= 0 && i >= l.lenAt && i < l.lenAt+4 {
			continue
		}
		if mid[i] != c {
			return false
		}
	}
	if l.lenAt >= 0 && binary.BigEndian.Uint32(mid[l.lenAt:]) != uint32(end-fs) {
		return false
	}
	for i := fs; i < end; i++ {
		if b[i] != l.fill(i-fs) {
			return false
		}
	}
	return true
}
