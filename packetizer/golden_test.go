package packetizer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rep(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func seq(from, to byte) []byte {
	var b []byte
	for i := from; i <= to; i++ {
		b = append(b, i)
	}
	return b
}

var e2eeFA3C = E2EE{KeyIndex: 0xFA, IV: [12]byte(rep(0x3C, 12))}

// Golden vectors from the JS, Rust and SFU test suites (reference §4.4).
var goldens = []struct {
	name      string
	hex       string
	pkt       Packet
	headerLen int
}{
	{"V1 JS single", "18 00 00 65 00 66 00 67 00 00 00 68 00 01 02 03 04 05 06 07 08 09",
		Packet{Header{MarkerSingle, 101, 102, 103, 104, Extensions{}}, seq(0, 9)}, 12},
	{"V1 JS single (deserialize variant)", "18 00 00 65 00 66 00 67 00 00 00 68 01 02 03 04 05 06 07 08 09",
		Packet{Header{MarkerSingle, 101, 102, 103, 104, Extensions{}}, seq(1, 9)}, 12},
	{"V2 JS final with both extensions",
		"0c 00 88 11 44 22 44 11 44 22 11 88 00 06 01 0d fa 3c 3c 3c 3c 3c 3c 3c 3c 3c 3c 3c 3c 02 08 44 11 22 11 11 11 88 11 00" +
			hex.EncodeToString(rep(0xFA, 32)),
		Packet{Header{MarkerFinal, 0x8811, 0x4422, 0x4411, 0x44221188,
			Extensions{HasE2EE: true, E2EE: e2eeFA3C, HasUserTimestamp: true, UserTimestamp: 0x4411221111118811}}, rep(0xFA, 32)}, 40},
	{"V3 Rust serialize 1024-byte payload",
		"0c0088114422441144221188 0006 010dfa3c3c3c3c3c3c3c3c3c3c3c3c 02084411221111118811 00" + hex.EncodeToString(rep(0xFA, 1024)),
		Packet{Header{MarkerFinal, 0x8811, 0x4422, 0x4411, 0x44221188,
			Extensions{HasE2EE: true, E2EE: e2eeFA3C, HasUserTimestamp: true, UserTimestamp: 0x4411221111118811}}, rep(0xFA, 1024)}, 40},
	{"V4 JS start with E2EE only",
		"14 00 00 65 00 66 00 67 00 00 00 68 00 04 01 0d fa" + hex.EncodeToString(rep(0x3C, 12)) + "00 00 00" + hex.EncodeToString(rep(0xFA, 32)),
		Packet{Header{MarkerStart, 101, 102, 103, 104, Extensions{HasE2EE: true, E2EE: e2eeFA3C}}, rep(0xFA, 32)}, 32},
	{"V5 base header only", "08 00 88 11 44 22 44 11 44 22 11 88",
		Packet{Header{MarkerFinal, 0x8811, 0x4422, 0x4411, 0x44221188, Extensions{}}, []byte{}}, 12},
	{"V6 user timestamp only (no padding)", "0c 00 88 11 44 22 44 11 44 22 11 88 00 02 02 08 44 11 22 11 11 11 88 11",
		Packet{Header{MarkerFinal, 0x8811, 0x4422, 0x4411, 0x44221188,
			Extensions{HasUserTimestamp: true, UserTimestamp: 0x4411221111118811}}, []byte{}}, 24},
	{"V7 SFU single", "18 00 0d 05 1a 0a 27 0f de ad be ef ff fe fd fc fb fa",
		Packet{Header{MarkerSingle, 3333, 6666, 9999, 0xdeadbeef, Extensions{}}, []byte{0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa}}, 12},
}

func TestGoldenVectorsEncode(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			want := unhex(t, g.hex)
			if got := g.pkt.Header.Len(); got != g.headerLen {
				t.Fatalf("Header.Len = %d, want %d", got, g.headerLen)
			}
			got, err := g.pkt.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestGoldenVectorsDecode(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			b := unhex(t, g.hex)
			p, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if p.Header != g.pkt.Header {
				t.Fatalf("header:\n got %+v\nwant %+v", p.Header, g.pkt.Header)
			}
			if !bytes.Equal(p.Payload, g.pkt.Payload) {
				t.Fatalf("payload %x, want %x", p.Payload, g.pkt.Payload)
			}
			again, err := p.AppendTo(nil)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("round trip: %x, %v", again, err)
			}
		})
	}
}

// The SFU's test utilities put a participant SID under id 1, the id the
// clients use for E2EE. Such a block must decode (the extension is skipped
// as unknown, not mistaken for E2EE) and leave the payload intact.
func TestSFUParticipantExtensionVectors(t *testing.T) {
	for _, tc := range []struct{ name, hex string }{
		{"16-byte id 1, no padding", "14 00 0d 05 1a 0a 27 0f de ad be ef 00 04 01 10" + hex.EncodeToString([]byte("test_participant")) + "ff fe fd fc"},
		{"11-byte id 1, 1 pad byte", "14 00 0d 05 1a 0a 27 0f de ad be ef 00 03 01 0b" + hex.EncodeToString([]byte("participant")) + "00 ff fe fd fc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(unhex(t, tc.hex))
			if err != nil {
				t.Fatal(err)
			}
			h := p.Header
			if h.Marker != MarkerStart || h.Handle != 3333 || h.Sequence != 6666 || h.FrameNumber != 9999 || h.Timestamp != 0xdeadbeef {
				t.Fatalf("header %+v", h)
			}
			if h.Extensions.HasE2EE || h.Extensions.HasUserTimestamp {
				t.Fatalf("participant SID decoded as a known extension: %+v", h.Extensions)
			}
			if !bytes.Equal(p.Payload, []byte{0xff, 0xfe, 0xfd, 0xfc}) {
				t.Fatalf("payload %x", p.Payload)
			}
		})
	}
}

func TestNegativeVectors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hex    string
		want   error
		reason DecodeReason
	}{
		{"empty", "", ErrTooShort, ReasonTooShort},
		{"11 bytes", "18 00 00 65 00 66 00 67 00 00 00", ErrTooShort, ReasonTooShort},
		{"X without L", "1c 00 00 65 00 66 00 67 00 00 00 68", ErrMissingExtWords, ReasonMissingExtWords},
		{"X, L=0, one byte after", "1c 00 00 65 00 66 00 67 00 00 00 68 00", ErrMissingExtWords, ReasonMissingExtWords},
		{"X, L=0 and nothing after L", "1c 00 00 65 00 66 00 67 00 00 00 68 00 00", ErrHeaderOverrun, ReasonHeaderOverrun},
		{"L beyond packet", "1c 00 00 65 00 66 00 67 00 00 00 68 00 06 01 0d", ErrHeaderOverrun, ReasonHeaderOverrun},
		{"version 1", "20 00 00 65 00 66 00 67 00 00 00 68", ErrUnsupportedVersion, ReasonUnsupportedVersion},
		{"handle 0", "18 00 00 00 00 66 00 67 00 00 00 68", ErrInvalidHandle, ReasonInvalidHandle},
		{"extension past block", "1c 00 00 65 00 66 00 67 00 00 00 68 00 01 02 08 44 11 22 11", ErrMalformedExtension, ReasonMalformedExtension},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(unhex(t, tc.hex))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason != tc.reason {
				t.Fatalf("errors.As: %#v", err)
			}
		})
	}
}

func TestHeaderRejectsHandleZero(t *testing.T) {
	h := Header{Marker: MarkerSingle}
	if _, err := h.AppendTo(nil); !errors.Is(err, ErrInvalidHandle) {
		t.Fatalf("err = %v", err)
	}
}

func TestHeaderRejectsInvalidMarker(t *testing.T) {
	h := Header{Marker: MarkerSingle + 1, Handle: 1}
	if _, err := h.AppendTo(nil); !errors.Is(err, ErrInvalidMarker) {
		t.Fatalf("err = %v", err)
	}
}

// A DecodeError built by hand, without a Reason, must still format and
// must not match any sentinel.
func TestDecodeErrorZeroReason(t *testing.T) {
	err := &DecodeError{Offset: 3}
	if msg := err.Error(); !strings.Contains(msg, "byte 3") {
		t.Fatalf("Error() = %q", msg)
	}
	for _, s := range []error{ErrTooShort, ErrMalformedExtension, ErrInvalidHandle} {
		if errors.Is(err, s) {
			t.Fatalf("zero reason matches %v", s)
		}
	}
}
