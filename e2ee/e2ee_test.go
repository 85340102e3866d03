package e2ee

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/dttui/dttui/packetizer"
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

// fakeClock is a clock a test moves by hand; the sealer reads it from
// the test's goroutine only.
type fakeClock struct{ t time.Time }

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }

func testKey(t *testing.T) *Key {
	t.Helper()
	k, err := NewKeyFromBytes(bytes.Repeat([]byte{9}, 16))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The IV keeps the clients' layout: fresh random u32 per frame, ms, ms −
// send count.
func TestSealerIVLayout(t *testing.T) {
	key := testKey(t)
	key.Rand = &countingReader{}
	clock := newFakeClock()
	s := NewSealer(key, clock.now)
	for i := range 70 { // past one batch of random bytes
		clock.add(time.Millisecond)
		_, ext, err := s.Seal([]byte("x"))
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
	s := NewSealer(key, clock.now)
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
		_, ext, err := s.Seal([]byte("x"))
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

func TestNewKeyKnownAnswer(t *testing.T) {
	want, _ := hex.DecodeString(pbkdf2KnownKey)
	expected, err := NewKeyFromBytes(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewKey("passphrase")
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

func TestNewKeyDerivesPBKDF2(t *testing.T) {
	a, err := NewKey("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewKey("correct horse")
	c, _ := NewKey("other")
	if err := roundTrip(t, a, b, "hello"); err != nil {
		t.Fatalf("same passphrase cannot open: %v", err)
	}
	if roundTrip(t, a, c, "hello") == nil {
		t.Fatal("other passphrase opened the frame")
	}
	if _, err := NewKey(""); err == nil {
		t.Fatal("empty passphrase accepted")
	}
}

func TestOpenFrameDoesNotAllocate(t *testing.T) {
	k, _ := NewKeyFromBytes(make([]byte, 16))
	ct, ext, err := NewSealer(k, time.Now).Seal(make([]byte, 1024))
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
func roundTrip(t *testing.T, from, to *Key, plaintext string) error {
	t.Helper()
	ct, ext, err := NewSealer(from, time.Now).Seal([]byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	got, err := to.Open(nil, ct, ext)
	if err == nil && string(got) != plaintext {
		return errors.New("opened to other bytes")
	}
	return err
}

func TestE2EETagLenIsTheAEADOverhead(t *testing.T) {
	k, err := NewKey("tag length")
	if err != nil {
		t.Fatal(err)
	}
	if got := k.aead.Overhead(); got != packetizer.E2EETagLen {
		t.Fatalf("AES-GCM overhead %d, E2EETagLen %d", got, packetizer.E2EETagLen)
	}
}
