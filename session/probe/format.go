package probe

import (
	"bytes"
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
//
// Version 2 of each layout also carries the publisher's count of the
// frames it numbered and then dropped before sending (Header.Dropped), so
// a follower tells them from the network's losses: magic "Dt" instead of
// "DT" in the header, and after the header the count, a big-endian u64:
//
//	Binary       "Dt" | stream | seq | send time | dropped u64 | filler
//	JSON         {"dttui":"<header>","drop":"<count in hex>","pad":"abc…"}
//	CBOR         {"dttui": h'<header>', "drop": h'<count>', "pad": h'…'}
//	MessagePack  {"dttui": bin(<header>), "drop": bin(<count>), "pad": bin(…)}
//
// A Source writes it when given the count (WithDropped) and the frame has
// room for it; Decode reads both versions. A dttui before version 2 takes
// a version-2 frame for another application's (measured, not followed).
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
// encodings (and, given the schema, protobuf messages: Source.WithSchema);
// frames of a FlatBuffers, ROS or CDR track, or of a custom encoding, must
// come from the user's data.
var ErrNoFormat = errors.New("probe: the generator writes JSON, CBOR or MessagePack documents (or its binary layout on an untyped track), and protobuf messages of a stored schema; this track's frames must come from your data: a file or stdin")

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
	// v2 layouts carry the drop count after the header, after dropKey.
	v2      bool
	dropKey []byte
	// lenAt, when ≥ 0, is where the filler's length goes (big-endian u32).
	lenAt int
	// fill is the filler byte at offset k from its start; period its
	// period (the doubling copy in Encode relies on it).
	fill   func(k int) byte
	period int
}

// dropLen is the drop count's length, raw.
const dropLen = 8

var magic2 = [2]byte{'D', 't'}

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

// layouts2 are version 2 of layouts: the same, with the drop count.
var layouts2 = [...]layout{
	Binary: {v2: true, lenAt: -1, fill: layouts[Binary].fill, period: fillPeriod},
	JSON: {v2: true, prefix: layouts[JSON].prefix, dropKey: []byte(`","drop":"`), mid: layouts[JSON].mid, suffix: layouts[JSON].suffix,
		hexHeader: true, lenAt: -1, fill: layouts[JSON].fill, period: 26},
	// map(3), …, text(4) "drop", bytes(8) …, …
	CBOR: {v2: true, prefix: []byte{0xa3, 0x65, 'd', 't', 't', 'u', 'i', 0x54}, dropKey: []byte{0x64, 'd', 'r', 'o', 'p', 0x48},
		mid: layouts[CBOR].mid, lenAt: 5, fill: layouts[CBOR].fill, period: fillPeriod},
	// fixmap(3), …, fixstr "drop", bin8(8) …, …
	MessagePack: {v2: true, prefix: []byte{0x83, 0xa5, 'd', 't', 't', 'u', 'i', 0xc4, 0x14}, dropKey: []byte{0xa4, 'd', 'r', 'o', 'p', 0xc4, 0x08},
		mid: layouts[MessagePack].mid, lenAt: 5, fill: layouts[MessagePack].fill, period: fillPeriod},
}

func (l *layout) headerLen() int {
	if l.hexHeader {
		return 2 * HeaderLen
	}
	return HeaderLen
}

// dropStart is where the drop count begins (v2).
func (l *layout) dropStart() int { return len(l.prefix) + l.headerLen() + len(l.dropKey) }

// dropLen is the drop count's length as written (0 before v2).
func (l *layout) dropLen() int {
	switch {
	case !l.v2:
		return 0
	case l.hexHeader:
		return 2 * dropLen
	}
	return dropLen
}

// fillerStart is where the filler begins.
func (l *layout) fillerStart() int { return l.dropStart() + l.dropLen() + len(l.mid) }

// minSize is the smallest frame of the layout: everything but the filler.
func (l *layout) minSize() int { return l.fillerStart() + len(l.suffix) }

func (l *layout) magic() [2]byte {
	if l.v2 {
		return magic2
	}
	return magic
}

// layoutFor is the layout a frame of format f and size bytes is written
// in: version 2 when the header carries a drop count and the frame has
// room for it.
func layoutFor(f Format, h *Header, size int) *layout {
	if l := &layouts2[f]; h.HasDropped && size >= l.minSize() {
		return l
	}
	return &layouts[f]
}

// MinSizeOf is the smallest frame of format f: everything but the filler
// (of version 1: a smaller frame than version 2's goes without the count).
func MinSizeOf(f Format) int { return layouts[f].minSize() }

// EncodeFormat is Encode in format f.
func EncodeFormat(f Format, dst []byte, h Header, size int) []byte {
	size = max(size, MinSizeOf(f))
	l := layoutFor(f, &h, size)
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

// writeHeader writes the prefix, h and (v2) its drop count into a frame
// of format f (the frame's length chooses the layout, as in EncodeFormat).
func writeHeader(f Format, dst []byte, h Header) {
	l := layoutFor(f, &h, len(dst))
	copy(dst, l.prefix)
	m := l.magic()
	if !l.hexHeader {
		putHeader(dst[len(l.prefix):], h, m)
	} else {
		var raw [HeaderLen]byte
		putHeader(raw[:], h, m)
		hex.Encode(dst[len(l.prefix):], raw[:])
	}
	if !l.v2 {
		return
	}
	copy(dst[len(l.prefix)+l.headerLen():], l.dropKey)
	var n [dropLen]byte
	binary.BigEndian.PutUint64(n[:], h.Dropped)
	if l.hexHeader {
		hex.Encode(dst[l.dropStart():], n[:])
	} else {
		copy(dst[l.dropStart():], n[:])
	}
}

// matches says whether b begins as a frame of the layout: its prefix, then
// the header's magic of its version.
func (l *layout) matches(b []byte) bool {
	if len(b) < l.minSize() || string(b[:len(l.prefix)]) != string(l.prefix) {
		return false
	}
	m, h := l.magic(), b[len(l.prefix):]
	if !l.hexHeader {
		return [2]byte(h[:2]) == m
	}
	var x [4]byte
	hex.Encode(x[:], m[:])
	return string(h[:4]) == string(x[:])
}

// layoutOf tells a probe frame's layout from its first bytes.
func layoutOf(b []byte) (*layout, bool) {
	for _, set := range []*[4]layout{&layouts, &layouts2} {
		for f := range set {
			if l := &set[f]; l.matches(b) {
				return l, true
			}
		}
	}
	return nil, false
}

// rawHeader is the 20 header bytes of a frame of layout l.
func rawHeader(l *layout, b []byte) ([]byte, bool) {
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

// dropCount is the drop count of a v2 frame of layout l.
func dropCount(l *layout, b []byte) (uint64, bool) {
	d := b[l.dropStart() : l.dropStart()+l.dropLen()]
	if !l.hexHeader {
		return binary.BigEndian.Uint64(d), true
	}
	var raw [dropLen]byte
	var again [2 * dropLen]byte
	if _, err := hex.Decode(raw[:], d); err != nil {
		return 0, false
	}
	if hex.Encode(again[:], raw[:]); string(again[:]) != string(d) {
		return 0, false // as EncodeFormat writes it, or not a count of ours
	}
	return binary.BigEndian.Uint64(raw[:]), true
}

// intactFormat says whether a frame of layout l still holds what
// EncodeFormat wrote around its header.
func intactFormat(l *layout, b []byte) bool {
	fs, end := l.fillerStart(), len(b)-len(l.suffix)
	if end < fs {
		return false
	}
	if l.hexHeader && string(b[end:]) != string(l.suffix) {
		// A JSON frame may carry the members of the track's schema after
		// its filler (Fit): `","x":0}` where `"}` would end it. The filler
		// is letters, so its end is the first quote.
		i := bytes.IndexByte(b[fs:], '"')
		if i < 0 || fs+i+2 >= len(b) || b[fs+i+1] != ',' || b[len(b)-1] != '}' {
			return false
		}
		end = fs + i
	} else if string(b[end:]) != string(l.suffix) {
		return false
	}
	if l.v2 && string(b[len(l.prefix)+l.headerLen():l.dropStart()]) != string(l.dropKey) {
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
