package preview

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// maxMsgpackDepth bounds how deep a previewed MessagePack value nests
// (the decoder recurses once per level).
const maxMsgpackDepth = 64

var errMsgpackTruncated = errors.New("truncated")

// msgpackBounded checks that b holds MessagePack values whose every
// declared length and count the bytes that follow can back, nested at
// most maxMsgpackDepth deep. msgpack.Unmarshal allocates what a header
// declares before reading the elements: a 5-byte map32 header asking for
// billions of entries would take all memory. Each element takes at least
// one byte, so a count larger than the bytes left is a lie.
func msgpackBounded(b []byte) error {
	var open []uint64 // elements still to come in each open container
	i := 0
	for i < len(b) || len(open) > 0 {
		if i >= len(b) {
			return errMsgpackTruncated
		}
		c := b[i]
		i++
		if len(open) > 0 {
			open[len(open)-1]--
		}
		var n uint64    // elements of a container starting here
		var skip uint64 // bytes of a scalar after its first
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			n = 2 * uint64(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			n = uint64(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			skip = uint64(c & 0x1f)
		case c == 0xc1:
			return fmt.Errorf("byte 0x%02x at %d is never used", c, i-1)
		default:
			size, lenBytes, extra, container := msgpackHeader(c)
			if uint64(len(b)-i) < uint64(lenBytes) {
				return errMsgpackTruncated
			}
			v := size
			switch lenBytes {
			case 1:
				v = uint64(b[i])
			case 2:
				v = uint64(binary.BigEndian.Uint16(b[i:]))
			case 4:
				v = uint64(binary.BigEndian.Uint32(b[i:]))
			}
			i += lenBytes
			switch container {
			case 'a':
				n = v
			case 'm':
				n = 2 * v
			default:
				skip = v + extra
			}
		}
		if skip > uint64(len(b)-i) {
			return errMsgpackTruncated
		}
		i += int(skip)
		if n > 0 {
			if n > uint64(len(b)-i) {
				return fmt.Errorf("a container of %d elements in %d bytes", n, len(b)-i)
			}
			if len(open) == maxMsgpackDepth {
				return fmt.Errorf("nested more than %d deep", maxMsgpackDepth)
			}
			open = append(open, n)
		}
		for len(open) > 0 && open[len(open)-1] == 0 {
			open = open[:len(open)-1]
		}
	}
	return nil
}

// msgpackHeader describes the codes 0xc4-0xdf: a fixed size, or the
// bytes of a length that follows; extra bytes after it (an ext's type);
// and whether it begins an array ('a') or a map ('m').
func msgpackHeader(c byte) (size uint64, lenBytes int, extra uint64, container byte) {
	switch c {
	case 0xc4, 0xd9: // bin8, str8
		return 0, 1, 0, 0
	case 0xc5, 0xda: // bin16, str16
		return 0, 2, 0, 0
	case 0xc6, 0xdb: // bin32, str32
		return 0, 4, 0, 0
	case 0xc7: // ext8
		return 0, 1, 1, 0
	case 0xc8:
		return 0, 2, 1, 0
	case 0xc9:
		return 0, 4, 1, 0
	case 0xca, 0xce, 0xd2: // 4-byte numbers
		return 4, 0, 0, 0
	case 0xcb, 0xcf, 0xd3: // 8-byte numbers
		return 8, 0, 0, 0
	case 0xcc, 0xd0:
		return 1, 0, 0, 0
	case 0xcd, 0xd1:
		return 2, 0, 0, 0
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16, after a type byte
		return 1 + 1<<(c-0xd4), 0, 0, 0
	case 0xdc:
		return 0, 2, 0, 'a'
	case 0xdd:
		return 0, 4, 0, 'a'
	case 0xde:
		return 0, 2, 0, 'm'
	default: // 0xdf
		return 0, 4, 0, 'm'
	}
}
