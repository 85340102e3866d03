package probe

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecode: the loopback subscriber decodes whatever payload arrives.
// Decode and Intact never panic; whatever Decode accepts re-encodes to the
// same header, and Intact holds exactly when the filler is Encode's.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(nil))
	f.Add([]byte("DT"))
	f.Add(Encode(nil, Header{Stream: 9, Seq: 7, Sent: time.Unix(1700000000, 5)}, HeaderLen))
	f.Add(Encode(nil, Header{Stream: 1 << 31, Seq: maxSeq, Sent: time.Unix(0, 0)}, 64))
	corrupt := Encode(nil, Header{Stream: 3, Seq: 3, Sent: time.Unix(1, 2)}, 40)
	corrupt[30] ^= 0xff
	f.Add(corrupt)
	f.Add(Encode(nil, Header{Stream: 4, Seq: 9, Sent: time.Unix(1, 2), Dropped: 77, HasDropped: true}, 64)) // version 2
	f.Fuzz(func(t *testing.T, b []byte) {
		intact := Intact(b)
		h, ok := Decode(b)
		if !ok {
			return
		}
		if h.Seq > maxSeq {
			t.Fatalf("seq %d beyond 48 bits", h.Seq)
		}
		again := Encode(nil, h, len(b))
		if !bytes.Equal(again[:HeaderLen], b[:HeaderLen]) {
			t.Fatalf("header %x re-encodes as %x", b[:HeaderLen], again[:HeaderLen])
		}
		if intact != bytes.Equal(again, b) {
			t.Fatalf("Intact = %v for %x", intact, b)
		}
	})
}
