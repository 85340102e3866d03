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
	f.Add([]byte("DTT1"))
	f.Add(Encode(nil, 7, time.Unix(1700000000, 5), HeaderLen))
	f.Add(Encode(nil, 1<<63, time.Unix(0, 0), 64))
	corrupt := Encode(nil, 3, time.Unix(1, 2), 40)
	corrupt[30] ^= 0xff
	f.Add(corrupt)
	f.Fuzz(func(t *testing.T, b []byte) {
		intact := Intact(b)
		seq, sent, ok := Decode(b)
		if !ok {
			return
		}
		again := Encode(nil, seq, sent, len(b))
		if !bytes.Equal(again[:HeaderLen], b[:HeaderLen]) {
			t.Fatalf("header %x re-encodes as %x", b[:HeaderLen], again[:HeaderLen])
		}
		if intact != bytes.Equal(again, b) {
			t.Fatalf("Intact = %v for %x", intact, b)
		}
	})
}
