// Package packetizer implements LiveKit data-track packet format v0: the
// 12-byte base header and its extensions, a per-track packetizer that splits
// frames to fit the transport MTU, and a depacketizer that reassembles them.
//
// The encoding is byte-for-byte what LiveKit's JS client, Rust SDK and SFU
// produce and accept (see the golden vectors in the tests).
package packetizer

import (
	"encoding/binary"
	"strconv"
)

// MTU is the largest serialized packet (header + payload) the JS and Rust
// clients send on the `_data_track` channel.
const MTU = 16000

// BaseHeaderLen is the size of the fixed header.
const BaseHeaderLen = 12

// Marker says where a packet sits in its frame: the S (start) and F (final)
// bits of byte 0.
type Marker uint8

const (
	MarkerInter  Marker = 0b00
	MarkerFinal  Marker = 0b01
	MarkerStart  Marker = 0b10
	MarkerSingle Marker = 0b11
)

func (m Marker) String() string {
	switch m {
	case MarkerInter:
		return "inter"
	case MarkerFinal:
		return "final"
	case MarkerStart:
		return "start"
	case MarkerSingle:
		return "single"
	}
	return "invalid"
}

// IsStart reports whether the packet begins a frame.
func (m Marker) IsStart() bool { return m&MarkerStart != 0 }

// IsFinal reports whether the packet ends a frame.
func (m Marker) IsFinal() bool { return m&MarkerFinal != 0 }

const (
	versionShift = 5
	markerShift  = 3
	extFlag      = 1 << 2
)

// Header is a decoded packet header.
type Header struct {
	Marker      Marker
	Handle      uint16 // 0 is invalid
	Sequence    uint16 // per packet, wraps
	FrameNumber uint16 // per frame, wraps
	Timestamp   uint32 // 90 kHz
	Extensions  Extensions
}

// Len is the serialized length of the header, extension block included.
func (h *Header) Len() int {
	n := h.Extensions.dataLen()
	if n == 0 {
		return BaseHeaderLen
	}
	return BaseHeaderLen + 4*extWords(n)
}

// AppendTo appends the serialized header to dst.
func (h *Header) AppendTo(dst []byte) ([]byte, error) {
	if h.Handle == 0 {
		return dst, ErrInvalidHandle
	}
	if h.Marker > MarkerSingle {
		return dst, ErrInvalidMarker
	}
	b0 := byte(h.Marker) << markerShift
	extLen := h.Extensions.dataLen()
	if extLen > 0 {
		b0 |= extFlag
	}
	dst = append(dst, b0, 0)
	dst = binary.BigEndian.AppendUint16(dst, h.Handle)
	dst = binary.BigEndian.AppendUint16(dst, h.Sequence)
	dst = binary.BigEndian.AppendUint16(dst, h.FrameNumber)
	dst = binary.BigEndian.AppendUint32(dst, h.Timestamp)
	if extLen > 0 {
		words := extWords(extLen)
		dst = binary.BigEndian.AppendUint16(dst, uint16(words-1))
		dst = h.Extensions.appendTo(dst)
		for range words*4 - 2 - extLen {
			dst = append(dst, 0) // padding only at the end: the SFU stops at the first 0 id
		}
	}
	return dst, nil
}

// extWords is the number of 32-bit words covering the length word, the
// extensions and the padding.
func extWords(extLen int) int { return (2 + extLen + 3) / 4 }

// Packet is a header and the payload bytes that follow it.
type Packet struct {
	Header  Header
	Payload []byte
}

// AppendTo appends the serialized packet to dst.
func (p *Packet) AppendTo(dst []byte) ([]byte, error) {
	dst, err := p.Header.AppendTo(dst)
	if err != nil {
		return dst, err
	}
	return append(dst, p.Payload...), nil
}

// Parse decodes one packet. The payload aliases b. It never panics and
// never reads past b; unknown extensions are skipped, not fatal.
func Parse(b []byte) (Packet, error) {
	var p Packet
	err := p.Unmarshal(b)
	return p, err
}

// Unmarshal decodes one packet into p, as Parse does, without returning
// a Packet by value: the receive path's way (see Depacketizer.PushAt).
// On error p holds what was decoded before it.
func (p *Packet) Unmarshal(b []byte) error {
	*p = Packet{}
	if len(b) < BaseHeaderLen {
		return decodeErr(ReasonTooShort, len(b), "")
	}
	if v := b[0] >> versionShift; v != 0 {
		return decodeErr(ReasonUnsupportedVersion, 0, "version "+strconv.Itoa(int(v)))
	}
	h := &p.Header
	h.Marker = Marker(b[0]>>markerShift) & 0b11
	h.Handle = binary.BigEndian.Uint16(b[2:])
	if h.Handle == 0 {
		return decodeErr(ReasonInvalidHandle, 2, "")
	}
	h.Sequence = binary.BigEndian.Uint16(b[4:])
	h.FrameNumber = binary.BigEndian.Uint16(b[6:])
	h.Timestamp = binary.BigEndian.Uint32(b[8:])
	off := BaseHeaderLen
	if b[0]&extFlag != 0 {
		if len(b) < off+2 {
			return decodeErr(ReasonMissingExtWords, off, "")
		}
		blockLen := (int(binary.BigEndian.Uint16(b[off:])) + 1) * 4
		if len(b) < off+blockLen {
			return decodeErr(ReasonHeaderOverrun, off, "")
		}
		if err := h.Extensions.parse(b[off+2:off+blockLen], off+2); err != nil {
			return err
		}
		off += blockLen
	}
	p.Payload = b[off:]
	return nil
}
