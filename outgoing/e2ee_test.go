package outgoing

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

// countingReader yields 0x00, 0x01, 0x02, ... so each IV's random part
// says which bytes it drew.
type countingReader struct{ next byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errBoom }

func testKey(t *testing.T) *E2EEKey {
	t.Helper()
	k, err := newE2EEKeyFromBytes(bytes.Repeat([]byte{9}, 16))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The IV keeps the clients' layout: fresh random u32 per frame, ms, ms −
// send count.
func TestSealerIVLayout(t *testing.T) {
	key := testKey(t)
	key.rand = &countingReader{}
	clock := newFakeClock()
	s := newSealer(key, clock.now)
	for i := range 70 { // past one batch of random bytes
		clock.add(time.Millisecond)
		_, ext, err := s.seal([]byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		iv := ext.IV[:]
		b := byte(4 * i)
		if want := []byte{b, b + 1, b + 2, b + 3}; !bytes.Equal(iv[:4], want) {
			t.Fatalf("frame %d: random part % x, want % x (fresh bytes per frame)", i, iv[:4], want)
		}
		ms := uint32(i + 1)
		if got := binary.BigEndian.Uint32(iv[4:]); got != ms {
			t.Fatalf("frame %d: ms %d, want %d", i, got, ms)
		}
		if got := binary.BigEndian.Uint32(iv[8:]); got != ms-uint32(i) {
			t.Fatalf("frame %d: bytes 8-11 %d, want %d", i, got, ms-uint32(i))
		}
	}
}

// A clock that stands still or steps back must not repeat an IV: the ms
// part never goes backwards and the random part is new for every frame.
func TestSealerIVWithBadClock(t *testing.T) {
	key := testKey(t)
	clock := newFakeClock()
	s := newSealer(key, clock.now)
	clock.add(5 * time.Second)
	seen := map[[12]byte]bool{}
	randoms := map[[4]byte]bool{}
	var lastMS uint32
	for i := range 200 {
		switch i {
		case 50:
			clock.add(-time.Hour) // wall clock stepped back
		case 100:
			clock.add(-time.Hour)
		}
		_, ext, err := s.seal([]byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if seen[ext.IV] {
			t.Fatalf("frame %d: IV repeated", i)
		}
		seen[ext.IV] = true
		randoms[[4]byte(ext.IV[:4])] = true
		ms := binary.BigEndian.Uint32(ext.IV[4:])
		if ms < lastMS {
			t.Fatalf("frame %d: ms went back from %d to %d", i, lastMS, ms)
		}
		lastMS = ms
	}
	if lastMS != 5000 {
		t.Fatalf("ms %d, want 5000 held after the clock went back", lastMS)
	}
	if len(randoms) < 190 { // 200 draws of 32 bits: a repeat or two at most
		t.Fatalf("only %d distinct random parts in 200 frames", len(randoms))
	}
}

// Known answer, computed independently:
// python3 -c "import hashlib;print(hashlib.pbkdf2_hmac('sha256',b'passphrase',b'LKFrameEncryptionKey',100000,16).hex())"
const pbkdf2KnownKey = "979f3dc8cd45dade396cb97743e92b2d"

func TestNewE2EEKeyKnownAnswer(t *testing.T) {
	want, _ := hex.DecodeString(pbkdf2KnownKey)
	expected, err := newE2EEKeyFromBytes(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewE2EEKey("passphrase")
	if err != nil {
		t.Fatal(err)
	}
	// The AEAD hides its key: the derived key must open what the expected
	// key sealed, and the other way round.
	if err := roundTrip(t, got, expected, "known answer"); err != nil {
		t.Fatalf("derived key differs from PBKDF2-SHA256(passphrase, LKFrameEncryptionKey, 100000, 16): %v", err)
	}
	if err := roundTrip(t, expected, got, "back"); err != nil {
		t.Fatal(err)
	}
}

func TestNewE2EEKeyDerivesPBKDF2(t *testing.T) {
	a, err := NewE2EEKey("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewE2EEKey("correct horse")
	c, _ := NewE2EEKey("other")
	if err := roundTrip(t, a, b, "hello"); err != nil {
		t.Fatalf("same passphrase cannot open: %v", err)
	}
	if roundTrip(t, a, c, "hello") == nil {
		t.Fatal("other passphrase opened the frame")
	}
	if _, err := NewE2EEKey(""); err == nil {
		t.Fatal("empty passphrase accepted")
	}
}

func TestOpenFrameDoesNotAllocate(t *testing.T) {
	k, _ := newE2EEKeyFromBytes(make([]byte, 16))
	ct, ext, err := newSealer(k, time.Now).seal(make([]byte, 1024))
	if err != nil {
		t.Fatal(err)
	}
	held := &ext // as a receive path holds it
	dst := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := k.OpenFrame(dst[:0], ct, held); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per OpenFrame", n)
	}
}

// roundTrip seals plaintext with from and opens it with to.
func roundTrip(t *testing.T, from, to *E2EEKey, plaintext string) error {
	t.Helper()
	ct, ext, err := newSealer(from, time.Now).seal([]byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	got, err := to.Open(nil, ct, ext)
	if err == nil && string(got) != plaintext {
		return errors.New("opened to other bytes")
	}
	return err
}

// Frames that cannot be sealed are dropped, counted, and their error is
// an *EncryptError for errors.As, both as LastErr and in the history.
func TestEncryptErrorIsTyped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   func(t *testing.T) *E2EEKey
		cause error
	}{
		// The SFU says E2EE though this manager has no key.
		{"no key", func(*testing.T) *E2EEKey { return nil }, errNeedsE2EE},
		{"no randomness", func(t *testing.T) *E2EEKey { k := testKey(t); k.rand = failingReader{}; return k }, errBoom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{E2EE: tc.key(t)})
			req, res := h.publishAsync(context.Background(), PublishOptions{Name: "x"})
			h.m.HandlePublishResponse(Info{Handle: req.Handle, SID: "DTR_1", Name: "x", E2EE: true})
			tr := recv(t, res).tr
			if err := tr.TryPush([]byte("secret"), 0); err != nil {
				t.Fatal(err)
			}
			flush(t, tr)
			s := tr.Stats()
			if s.DroppedBy[DropEncryptError] != 1 || s.FramesSent != 0 || len(h.tr.parsed(t)) != 0 {
				t.Fatalf("stats %+v", s)
			}
			checkAddsUp(t, s)
			var ee *EncryptError
			if err := tr.LastErr(); !errors.As(err, &ee) || !errors.Is(err, tc.cause) {
				t.Fatalf("LastErr %#v", err)
			}
			if ev := s.Errors[len(s.Errors)-1]; !errors.As(ev.Cause, &ee) || ev.Err != ee.Error() || s.LastError != ev.Err {
				t.Fatalf("history %+v", s.Errors)
			}
		})
	}
}

func TestE2EETagLenIsTheAEADOverhead(t *testing.T) {
	k, err := NewE2EEKey("tag length")
	if err != nil {
		t.Fatal(err)
	}
	if got := k.aead.Overhead(); got != E2EETagLen {
		t.Fatalf("AES-GCM overhead %d, E2EETagLen %d", got, E2EETagLen)
	}
}
