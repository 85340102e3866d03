package packetizer

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func fixedClock() *Clock {
	t0 := time.Unix(1700000000, 0)
	return newClockWithBase(func() time.Time { return t0 }, 7)
}

func packetize(t testing.TB, p *Packetizer, f Frame) []Packet {
	t.Helper()
	var out []Packet
	err := p.Packetize(f, func(pkt []byte) error {
		parsed, err := Parse(bytes.Clone(pkt))
		if err != nil {
			return err
		}
		if len(pkt) > p.mtu {
			t.Fatalf("packet of %d bytes exceeds MTU %d", len(pkt), p.mtu)
		}
		out = append(out, parsed)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSplit24000AtMTU(t *testing.T) {
	p, _ := NewPacketizer(1, MTU, fixedClock())
	pkts := packetize(t, p, Frame{Payload: make([]byte, 24000)})
	if len(pkts) != 2 || len(pkts[0].Payload) != 15988 || len(pkts[1].Payload) != 8012 {
		t.Fatalf("payload sizes: %d packets", len(pkts))
	}
}

// Reference §2.3: maximum payload per packet for each extension set.
func TestMaxPayloadPerExtensionSet(t *testing.T) {
	for _, tc := range []struct {
		ext  Extensions
		want int
	}{
		{Extensions{}, 15988},
		{Extensions{HasE2EE: true}, 15968},
		{Extensions{HasE2EE: true, HasUserTimestamp: true}, 15960},
		{Extensions{HasUserTimestamp: true}, 15976},
	} {
		h := Header{Extensions: tc.ext}
		if got := MTU - h.Len(); got != tc.want {
			t.Errorf("%+v: room %d, want %d", tc.ext, got, tc.want)
		}
	}
}

func TestSplitMTU100MatchesJS(t *testing.T) {
	p, _ := NewPacketizer(1, 100, fixedClock())
	pkts := packetize(t, p, Frame{Payload: make([]byte, 300)})
	wantSizes := []int{88, 88, 88, 36}
	wantMarkers := []Marker{MarkerStart, MarkerInter, MarkerInter, MarkerFinal}
	if len(pkts) != 4 {
		t.Fatalf("%d packets", len(pkts))
	}
	for i, pk := range pkts {
		if len(pk.Payload) != wantSizes[i] || pk.Header.Marker != wantMarkers[i] || pk.Header.Sequence != uint16(i) ||
			pk.Header.FrameNumber != 0 || pk.Header.Timestamp != pkts[0].Header.Timestamp {
			t.Fatalf("packet %d: %+v len %d", i, pk.Header, len(pk.Payload))
		}
	}
}

func TestMarkers(t *testing.T) {
	p, _ := NewPacketizer(9, 100, fixedClock())
	if pk := packetize(t, p, Frame{Payload: make([]byte, 10)}); len(pk) != 1 || pk[0].Header.Marker != MarkerSingle {
		t.Fatalf("1 packet: %+v", pk)
	}
	pk := packetize(t, p, Frame{Payload: make([]byte, 150)})
	if len(pk) != 2 || pk[0].Header.Marker != MarkerStart || pk[1].Header.Marker != MarkerFinal {
		t.Fatalf("2 packets: %+v", pk)
	}
}

func TestExtensionsRepeatOnEveryPacket(t *testing.T) {
	ext := Extensions{HasE2EE: true, E2EE: E2EE{KeyIndex: 3, IV: [12]byte{1, 2, 3}}, HasUserTimestamp: true, UserTimestamp: 42}
	p, _ := NewPacketizer(5, 200, fixedClock())
	pkts := packetize(t, p, Frame{Payload: make([]byte, 1000), Extensions: ext})
	if len(pkts) < 3 {
		t.Fatalf("%d packets", len(pkts))
	}
	for i, pk := range pkts {
		if pk.Header.Extensions != ext || pk.Header.FrameNumber != 0 || pk.Header.Handle != 5 {
			t.Fatalf("packet %d: %+v", i, pk.Header)
		}
	}
}

func TestEmptyPayloadConsumesFrameNumber(t *testing.T) {
	p, _ := NewPacketizer(1, MTU, fixedClock())
	if pk := packetize(t, p, Frame{}); len(pk) != 0 {
		t.Fatalf("empty frame gave %d packets", len(pk))
	}
	if pk := packetize(t, p, Frame{Payload: []byte{1}}); pk[0].Header.FrameNumber != 1 {
		t.Fatalf("frame number %d, want 1", pk[0].Header.FrameNumber)
	}
}

func TestSequenceAndFrameNumberWrap(t *testing.T) {
	p, _ := NewPacketizer(1, 100, fixedClock())
	p.seq, p.frame = 65535, 65535
	pk := packetize(t, p, Frame{Payload: make([]byte, 150)})
	if pk[0].Header.Sequence != 65535 || pk[1].Header.Sequence != 0 || pk[0].Header.FrameNumber != 65535 {
		t.Fatalf("%+v %+v", pk[0].Header, pk[1].Header)
	}
	if pk := packetize(t, p, Frame{Payload: []byte{1}}); pk[0].Header.FrameNumber != 0 || pk[0].Header.Sequence != 1 {
		t.Fatalf("after wrap: %+v", pk[0].Header)
	}
}

func TestMTUTooShort(t *testing.T) {
	if _, err := NewPacketizer(1, 12, nil); !errors.Is(err, ErrMTUTooShort) {
		t.Fatalf("NewPacketizer(mtu 12): %v", err)
	}
	p, _ := NewPacketizer(1, 30, fixedClock())
	err := p.Packetize(Frame{Payload: []byte{1}, Extensions: Extensions{HasE2EE: true}}, func([]byte) error { return nil })
	var me *MTUError
	if !errors.Is(err, ErrMTUTooShort) || !errors.As(err, &me) || me.HeaderLen != 32 {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewPacketizer(0, MTU, nil); !errors.Is(err, ErrInvalidHandle) {
		t.Fatalf("handle 0: %v", err)
	}
}

func TestEmitErrorStopsPacketize(t *testing.T) {
	p, _ := NewPacketizer(1, 100, fixedClock())
	boom := errors.New("boom")
	calls := 0
	err := p.Packetize(Frame{Payload: make([]byte, 500)}, func([]byte) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

// Property: for random sizes and extension sets, the payload chunks
// concatenate back to the frame and every packet fits the MTU.
func TestPayloadReassemblesForRandomSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		mtu := 41 + r.IntN(2000)
		p, _ := NewPacketizer(uint16(1+i), mtu, fixedClock())
		payload := make([]byte, r.IntN(20000))
		for j := range payload {
			payload[j] = byte(r.Uint32())
		}
		ext := Extensions{HasE2EE: r.IntN(2) == 0, HasUserTimestamp: r.IntN(2) == 0, UserTimestamp: r.Uint64()}
		pkts := packetize(t, p, Frame{Payload: payload, Extensions: ext})
		var got []byte
		for _, pk := range pkts {
			got = append(got, pk.Payload...)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("case %d: payload of %d bytes at MTU %d did not reassemble", i, len(payload), mtu)
		}
		if n, _ := PacketCount(len(payload), ext, mtu); n != len(pkts) {
			t.Fatalf("PacketCount = %d, packets %d", n, len(pkts))
		}
	}
}

func TestClockAdvancesAt90kHzAndNeverGoesBack(t *testing.T) {
	now := time.Unix(100, 0)
	c := newClockWithBase(func() time.Time { return now }, 0xFFFFFF00)
	if ts := c.Now(); ts != 0xFFFFFF00 {
		t.Fatalf("start %x", ts)
	}
	now = now.Add(time.Second)
	if ts := c.Now(); ts != uint32(0xFFFFFF00+90000-1<<32) { // wraps past 2^32
		t.Fatalf("after 1s: %d", ts)
	}
	now = now.Add(-500 * time.Millisecond) // wall clock stepped back
	if ts := c.Now(); ts != uint32(0xFFFFFF00+90000-1<<32) {
		t.Fatalf("went backwards: %d", ts)
	}
	now = now.Add(time.Second)
	if ts := c.Now(); ts != uint32(0xFFFFFF00+135000-1<<32) {
		t.Fatalf("resume: %d", ts)
	}
}

func TestNewClockHasRandomBase(t *testing.T) {
	a, b := NewClock(nil).Now(), NewClock(nil).Now()
	c := NewClock(nil).Now()
	if a == b && b == c {
		t.Fatal("three clocks share a base: not random")
	}
}

// After more than 2^31 ticks (6.6 h) without a frame, the clock must still
// advance: a wraparound "is it before the last one" test on the 32-bit
// values would see the jump as going backwards and freeze.
func TestClockAdvancesAfterLongIdle(t *testing.T) {
	t0 := time.Unix(100, 0)
	now := t0
	c := newClockWithBase(func() time.Time { return now }, 5)
	c.Now()
	var want uint32
	for _, idle := range []time.Duration{7 * time.Hour, 14 * time.Hour, 30 * time.Hour} {
		now = t0.Add(idle)
		want = uint32(5 + uint64(idle/time.Second)*ClockRate)
		if ts := c.Now(); ts != want {
			t.Fatalf("after %v: %d, want %d", idle, ts, want)
		}
	}
	now = t0.Add(29 * time.Hour) // stepped back: holds the last value
	if ts := c.Now(); ts != want {
		t.Fatalf("went backwards: %d", ts)
	}
}
