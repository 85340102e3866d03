package packetizer

import "fmt"

// Frame is what a track sends: a payload and its per-frame extensions.
type Frame struct {
	Payload    []byte
	Extensions Extensions
}

// Packetizer splits one track's frames into packets. It is not safe for
// concurrent use; each track owns one.
type Packetizer struct {
	handle uint16
	mtu    int
	clock  *Clock
	seq    uint16
	frame  uint16
	buf    []byte
}

// NewPacketizer returns a packetizer for handle sending packets of at most
// mtu bytes (header included). clock may be nil for a fresh random one.
func NewPacketizer(handle uint16, mtu int, clock *Clock) (*Packetizer, error) {
	if handle == 0 {
		return nil, ErrInvalidHandle
	}
	if mtu <= BaseHeaderLen {
		return nil, &MTUError{MTU: mtu, HeaderLen: BaseHeaderLen}
	}
	if clock == nil {
		clock = NewClock(nil)
	}
	return &Packetizer{handle: handle, mtu: mtu, clock: clock, buf: make([]byte, 0, mtu)}, nil
}

// PacketCount is how many packets a payload of n bytes with ext needs at mtu.
func PacketCount(n int, ext Extensions, mtu int) (int, error) {
	h := Header{Extensions: ext}
	room := mtu - h.Len()
	if room <= 0 {
		return 0, &MTUError{MTU: mtu, HeaderLen: h.Len()}
	}
	return (n + room - 1) / room, nil
}

// Packetize serializes f into packets and calls emit once per packet, in
// order. pkt lives in a buffer the packetizer reuses: emit must copy it to
// keep it. Every packet repeats the frame's extensions, frame number and
// timestamp. An empty payload gives no packets but still uses a frame number.
// Packetize returns the first error emit returns.
func (p *Packetizer) Packetize(f Frame, emit func(pkt []byte) error) error {
	h := Header{
		Handle:      p.handle,
		FrameNumber: p.frame,
		Timestamp:   p.clock.Now(),
		Extensions:  f.Extensions,
	}
	hl := h.Len()
	room := p.mtu - hl
	if room <= 0 {
		return &MTUError{MTU: p.mtu, HeaderLen: hl}
	}
	p.frame++
	payload := f.Payload
	count := (len(payload) + room - 1) / room
	for i := range count {
		switch {
		case count == 1:
			h.Marker = MarkerSingle
		case i == 0:
			h.Marker = MarkerStart
		case i == count-1:
			h.Marker = MarkerFinal
		default:
			h.Marker = MarkerInter
		}
		h.Sequence = p.seq
		p.seq++
		chunk := payload[i*room : min((i+1)*room, len(payload))]
		buf, err := h.AppendTo(p.buf[:0])
		if err != nil {
			return fmt.Errorf("packetize: %w", err)
		}
		buf = append(buf, chunk...)
		p.buf = buf
		if err := emit(buf); err != nil {
			return err
		}
	}
	return nil
}

// Handle returns the track handle packets carry.
func (p *Packetizer) Handle() uint16 { return p.handle }
