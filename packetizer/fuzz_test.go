package packetizer

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	for _, g := range goldens {
		b, _ := hex.DecodeString(strings.Join(strings.Fields(g.hex), ""))
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x1c, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
}

// FuzzParse: decoding never panics, never reads past the input (the
// payload is always a suffix of it), and an accepted packet re-encodes to
// something that decodes to the same header and payload.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		if len(p.Payload) > len(b) || !bytes.Equal(p.Payload, b[len(b)-len(p.Payload):]) {
			t.Fatalf("payload is not a suffix of the input")
		}
		enc, err := p.AppendTo(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		q, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if q.Header != p.Header || !bytes.Equal(q.Payload, p.Payload) {
			t.Fatalf("round trip changed the packet:\n%+v\n%+v", p.Header, q.Header)
		}
	})
}

// FuzzDepacketizer feeds a stream of packets cut from the input: the
// depacketizer never panics, stays within its bounds, and every completed
// frame's payload is the concatenation of the packets' payloads it saw.
func FuzzDepacketizer(f *testing.F) {
	fuzzSeeds(f)
	p, _ := NewPacketizer(1, 40, NewClock(nil))
	var stream []byte
	_ = p.Packetize(Frame{Payload: bytes.Repeat([]byte{7}, 100)}, func(pkt []byte) error {
		stream = append(stream, byte(len(pkt)))
		stream = append(stream, pkt...)
		return nil
	})
	f.Add(stream)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDepacketizer(DepacketizerOptions{MaxFramesInFlight: 4, MaxBufferedBytes: 4096})
		for len(b) > 0 {
			n := min(int(b[0]), len(b)-1)
			chunk := b[1 : 1+n]
			b = b[1+n:]
			pk, err := Parse(chunk)
			if err != nil {
				continue
			}
			if fr, ok := d.Push(pk); ok && len(fr.Payload) == 0 && fr.Packets == 0 {
				t.Fatal("completed frame without packets")
			}
			s := d.Stats()
			if s.FramesInFlight > 4 || s.BufferedBytes > 4096 || s.BufferedBytes < 0 {
				t.Fatalf("bounds broken: %+v", s)
			}
		}
		d.Flush()
		if s := d.Stats(); s.FramesInFlight != 0 || s.BufferedBytes != 0 {
			t.Fatalf("flush left %+v", s)
		}
	})
}
