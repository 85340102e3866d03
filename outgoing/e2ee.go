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

// E2EEKey seals data-track frames with AES-GCM (128-bit tag, no AAD), the
// algorithm LiveKit's JS and Rust clients use for data tracks.
type E2EEKey struct {
	aead     cipher.AEAD
	KeyIndex uint8
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
	return k.aead.Open(dst, ext.IV[:], ciphertext, nil)
}

// EncryptError is a frame that could not be sealed.
type EncryptError struct{ Err error }

func (e *EncryptError) Error() string { return "e2ee: encrypt frame: " + e.Err.Error() }
func (e *EncryptError) Unwrap() error { return e.Err }

// sealer is one track's encryption state: IVs follow the clients'
// construction (random | time in ms | time − send count), so they never
// repeat for a key within a session.
type sealer struct {
	key       *E2EEKey
	random    uint32
	sendCount uint32
	now       func() time.Time
	buf       []byte
}

func newSealer(key *E2EEKey, now func() time.Time) *sealer {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &sealer{key: key, random: binary.BigEndian.Uint32(b[:]), now: now}
}

// seal returns the ciphertext (with tag) in a buffer reused across frames,
// and the extension to put on every packet of the frame.
func (s *sealer) seal(plaintext []byte) ([]byte, packetizer.E2EE, error) {
	var ext packetizer.E2EE
	ext.KeyIndex = s.key.KeyIndex
	ms := uint32(s.now().UnixMilli())
	binary.BigEndian.PutUint32(ext.IV[0:], s.random)
	binary.BigEndian.PutUint32(ext.IV[4:], ms)
	binary.BigEndian.PutUint32(ext.IV[8:], ms-(s.sendCount%0xFFFF))
	s.sendCount++
	if len(plaintext) > 1<<30 {
		return nil, ext, &EncryptError{Err: errors.New("frame too large to seal")}
	}
	s.buf = s.key.aead.Seal(s.buf[:0], ext.IV[:], plaintext, nil)
	return s.buf, ext, nil
}
