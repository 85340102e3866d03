package outgoing

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

// E2EETagLen is what sealing adds to a frame (packetizer.E2EETagLen).
const E2EETagLen = packetizer.E2EETagLen

// E2EEKey seals data-track frames with AES-GCM (128-bit tag, no AAD), the
// algorithm LiveKit's JS and Rust clients use for data tracks.
type E2EEKey struct {
	aead     cipher.AEAD
	KeyIndex uint8
	rand     io.Reader // IV randomness; nil: crypto/rand (tests inject their own)
}

func (k *E2EEKey) randReader() io.Reader {
	if k.rand != nil {
		return k.rand
	}
	return rand.Reader
}

// NewE2EEKey derives the key from a shared passphrase.
func NewE2EEKey(passphrase string) (*E2EEKey, error) {
	if passphrase == "" {
		return nil, errors.New("e2ee: empty passphrase")
	}
	key, err := pbkdf2.Key(sha256.New, passphrase, []byte(e2eeSalt), e2eeIterations, e2eeKeyBytes)
	if err != nil {
		return nil, fmt.Errorf("e2ee: derive key: %w", err)
	}
	return newE2EEKeyFromBytes(key)
}

func newE2EEKeyFromBytes(key []byte) (*E2EEKey, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("e2ee: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("e2ee: %w", err)
	}
	return &E2EEKey{aead: aead}, nil
}

// Open decrypts a frame sealed with this key (for tests and subscribers).
func (k *E2EEKey) Open(dst, ciphertext []byte, ext packetizer.E2EE) ([]byte, error) {
	return k.OpenFrame(dst, ciphertext, &ext)
}

// OpenFrame is Open with the extension by pointer: a receive path that
// keeps the extension in memory of its own opens frames without an
// allocation (Open's copy of ext escapes to the heap through the AEAD
// interface). The plaintext is appended to dst.
func (k *E2EEKey) OpenFrame(dst, ciphertext []byte, ext *packetizer.E2EE) ([]byte, error) {
	return k.aead.Open(dst, ext.IV[:], ciphertext, nil)
}

// EncryptError is a frame that could not be sealed.
type EncryptError struct{ Err error }

func (e *EncryptError) Error() string { return "e2ee: encrypt frame: " + e.Err.Error() }
func (e *EncryptError) Unwrap() error { return e.Err }

// sealer is one track's encryption state. IVs follow the clients'
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
type sealer struct {
	key       *E2EEKey
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

func newSealer(key *E2EEKey, now func() time.Time) *sealer {
	s := &sealer{key: key, now: now, start: now()}
	s.rndOff = len(s.rnd) // empty: the first frame draws
	return s
}

// monoMS is the ms part of the IV. With time.Now, Sub uses the monotonic
// clock reading; the clamp also holds for injected clocks.
func (s *sealer) monoMS() uint32 {
	ms := int64(s.now().Sub(s.start) / time.Millisecond)
	if ms < s.lastMS {
		ms = s.lastMS
	}
	s.lastMS = ms
	return uint32(ms)
}

// seal returns the ciphertext (with tag) in a buffer reused across frames,
// and the extension to put on every packet of the frame.
func (s *sealer) seal(plaintext []byte) ([]byte, packetizer.E2EE, error) {
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
