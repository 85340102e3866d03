// Package e2ee holds the end-to-end encryption key of data tracks and
// the code that seals and opens frames with it: AES-GCM keyed from a
// shared passphrase, as LiveKit's JS and Rust clients do. The publish side
// (outgoing) seals with it and the receive side (incoming) opens with it,
// so both live here rather than one side importing the other. It depends
// only on packetizer, whose E2EETagLen is the tag length both sides use.
package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dttui/dttui/packetizer"
)

// E2EE key derivation, as LiveKit's ExternalE2EEKeyProvider does for a
// string passphrase: PBKDF2-HMAC-SHA256 with the default ratchet salt.
const (
	e2eeSalt       = "LKFrameEncryptionKey"
	e2eeIterations = 100_000
	e2eeKeyBytes   = 16 // AES-128
)

// Key seals data-track frames with AES-GCM (128-bit tag, no AAD), the
// algorithm LiveKit's JS and Rust clients use for data tracks.
type Key struct {
	aead     cipher.AEAD
	KeyIndex uint8
	Rand     io.Reader // IV randomness; nil: crypto/rand (tests inject their own)
}

func (k *Key) randReader() io.Reader {
	if k.Rand != nil {
		return k.Rand
	}
	return rand.Reader
}

// NewKey derives the key from a shared passphrase.
func NewKey(passphrase string) (*Key, error) {
	if passphrase == "" {
		return nil, errors.New("e2ee: empty passphrase")
	}
	key, err := pbkdf2.Key(sha256.New, passphrase, []byte(e2eeSalt), e2eeIterations, e2eeKeyBytes)
	if err != nil {
		return nil, fmt.Errorf("e2ee: derive key: %w", err)
	}
	return NewKeyFromBytes(key)
}

// NewKeyFromBytes makes a key from 16 raw AES-128 key bytes (tests and
// benchmarks; a session derives its key with NewKey).
func NewKeyFromBytes(key []byte) (*Key, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("e2ee: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("e2ee: %w", err)
	}
	return &Key{aead: aead}, nil
}

// Open decrypts a frame sealed with this key (for tests and subscribers).
func (k *Key) Open(dst, ciphertext []byte, ext packetizer.E2EE) ([]byte, error) {
	return k.OpenFrame(dst, ciphertext, &ext)
}

// OpenFrame is Open with the extension by pointer: a receive path that
// keeps the extension in memory of its own opens frames without an
// allocation (Open's copy of ext escapes to the heap through the AEAD
// interface). The plaintext is appended to dst.
func (k *Key) OpenFrame(dst, ciphertext []byte, ext *packetizer.E2EE) ([]byte, error) {
	return k.aead.Open(dst, ext.IV[:], ciphertext, nil)
}

// EncryptError is a frame that could not be sealed.
type EncryptError struct{ Err error }

func (e *EncryptError) Error() string { return "e2ee: encrypt frame: " + e.Err.Error() }
func (e *EncryptError) Unwrap() error { return e.Err }

// Sealer is one track's encryption state. IVs follow the clients'
// construction (DataCryptor.makeIV), big-endian:
//
//	bytes 0-3   a fresh random u32 for every frame
//	bytes 4-7   ms since the sealer started, from a monotonic clock
//	bytes 8-11  that ms value − (send count mod 0xFFFF)
//
// The random part is what keeps a nonce from repeating under a key shared
// by every participant: it is drawn anew for each frame, and the time
// part never goes backwards, even if the wall clock steps back or an
// injected clock stands still.
type Sealer struct {
	key       *Key
	sendCount uint32
	now       func() time.Time
	start     time.Time
	lastMS    int64
	// rnd holds crypto/rand output drawn in batches, 4 bytes per frame and
	// never reused: one read per 64 frames instead of one per frame, and
	// no allocation.
	rnd    [256]byte
	rndOff int
	iv     [12]byte
	buf    []byte
}

// NewSealer starts a track's sealer; now is its clock (time.Now, or a
// test's).
func NewSealer(key *Key, now func() time.Time) *Sealer {
	s := &Sealer{key: key, now: now, start: now()}
	s.rndOff = len(s.rnd) // empty: the first frame draws
	return s
}

// monoMS is the ms part of the IV. With time.Now, Sub uses the monotonic
// clock reading; the clamp also holds for injected clocks.
func (s *Sealer) monoMS() uint32 {
	ms := int64(s.now().Sub(s.start) / time.Millisecond)
	if ms < s.lastMS {
		ms = s.lastMS
	}
	s.lastMS = ms
	return uint32(ms)
}

// Seal returns the ciphertext (with tag) in a buffer reused across frames,
// and the extension to put on every packet of the frame. A frame that
// cannot be sealed gives an *EncryptError.
func (s *Sealer) Seal(plaintext []byte) ([]byte, packetizer.E2EE, error) {
	var ext packetizer.E2EE
	ext.KeyIndex = s.key.KeyIndex
	if len(plaintext) > 1<<30 {
		return nil, ext, &EncryptError{Err: errors.New("frame too large to seal")}
	}
	if s.rndOff+4 > len(s.rnd) {
		if _, err := io.ReadFull(s.key.randReader(), s.rnd[:]); err != nil {
			return nil, ext, &EncryptError{Err: fmt.Errorf("draw a random IV: %w", err)}
		}
		s.rndOff = 0
	}
	// The IV is built in the sealer: a slice of a local array handed to
	// the AEAD interface would move it to the heap on every frame.
	iv := &s.iv
	copy(iv[0:4], s.rnd[s.rndOff:s.rndOff+4])
	s.rndOff += 4
	ms := s.monoMS()
	binary.BigEndian.PutUint32(iv[4:], ms)
	binary.BigEndian.PutUint32(iv[8:], ms-(s.sendCount%0xFFFF))
	s.sendCount++
	s.buf = s.key.aead.Seal(s.buf[:0], iv[:], plaintext, nil)
	ext.IV = *iv
	return s.buf, ext, nil
}
