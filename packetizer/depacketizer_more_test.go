package packetizer

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func single(seq, frame uint16) Packet {
	return Packet{Header: Header{Marker: MarkerSingle, Handle: 1, Sequence: seq, FrameNumber: frame}, Payload: []byte{byte(frame)}}
}

// singleAt is single, for PushAt.
func singleAt(seq, frame uint16) *Packet {
	p := single(seq, frame)
	return &p
}

// Frames whose every packet is dropped are counted lost once the window
// passes them, across the 16-bit wrap of both numbers; a frame that
// arrives reordered within the window is not; nothing before the first
// frame received counts.
func TestDepacketizerFramesLost(t *testing.T) {
	d := NewDepacketizer(DepacketizerOptions{ReorderWindow: 8})
	// Frames 65533 … 9, sequence = frame; 65535, 1 and 2 never come,
	// 3 comes after 5.
	pushAll(d, single(65533, 65533), single(65534, 65534), single(0, 0))
	pushAll(d, single(4, 4), single(5, 5), single(3, 3))
	s := d.Stats()
	if s.FramesLost != 0 || s.PacketsLost != 0 || s.PacketsReordered != 1 || s.FramesCompleted != 6 {
		t.Fatalf("before the window passed: %+v", s)
	}
	for n := uint16(6); n < 20; n++ {
		pushAll(d, single(n, n))
	}
	s = d.Stats()
	if s.FramesLost != 3 || s.PacketsLost != 3 || !slices.Equal(s.RecentLost, []SeqRange{{65535, 65535}, {1, 2}}) {
		t.Fatalf("after the window: %+v", s)
	}
	// Late now: counted late, never un-lost.
	pushAll(d, single(1, 1))
	if s := d.Stats(); s.FramesLost != 3 || s.PacketsLost != 3 || s.PacketsLate != 1 {
		t.Fatalf("late: %+v", s)
	}
}

// A frame below the first one received opens a gap down to it; its
// packets come first in sequence order, so the gap settles with them.
func TestDepacketizerFramesLostBelowFirst(t *testing.T) {
	d := NewDepacketizer(DepacketizerOptions{})
	pushAll(d, single(10, 10), single(11, 11), single(7, 7), single(9, 9))
	d.Flush()
	// 8 is lost (between 7 and 9); nothing below 7 counts.
	if s := d.Stats(); s.FramesLost != 1 || s.PacketsLost != 1 || s.FramesCompleted != 4 {
		t.Fatalf("%+v", s)
	}
}

// Multi-packet frames: a frame entirely lost between two that arrive is
// lost, one with some packets is incomplete, never both.
func TestDepacketizerLostVersusIncomplete(t *testing.T) {
	p, _ := NewPacketizer(1, 100, steppingClock())
	d := NewDepacketizer(DepacketizerOptions{})
	var frames [][]Packet
	for range 6 {
		frames = append(frames, packetsOf(t, p, make([]byte, 250), Extensions{}))
	}
	pushAll(d, frames[0]...)
	// frame 1: nothing; frame 2: first packet only; frame 3: nothing.
	pushAll(d, frames[2][0])
	pushAll(d, frames[4]...)
	pushAll(d, frames[5]...)
	d.Flush()
	s := d.Stats()
	if s.FramesCompleted != 3 || s.FramesIncomplete != 1 || s.FramesLost != 2 || s.PacketsLost != 3+2+3 {
		t.Fatalf("%+v", s)
	}
	if s.IncompleteBy[IncompleteFlushed] != 1 {
		t.Fatalf("reasons %v", s.IncompleteBy)
	}
}

// With arrival times, a missing sequence number counts lost once
// ReorderDelay has passed since a later one arrived (never before), at a
// packet rate far too low for the window; Expire settles without a packet.
func TestDepacketizerReorderDelay(t *testing.T) {
	d := NewDepacketizer(DepacketizerOptions{ReorderDelay: 100 * time.Millisecond})
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	d.PushAt(singleAt(0, 0), at(0))
	d.PushAt(singleAt(2, 2), at(10)) // 1 missing from here
	d.Expire(at(109))
	if s := d.Stats(); s.PacketsLost != 0 || s.PacketsMissing != 1 {
		t.Fatalf("early: %+v", s)
	}
	d.Expire(at(110 + 100/16))
	if s := d.Stats(); s.PacketsLost != 1 || s.FramesLost != 1 {
		t.Fatalf("after the delay: %+v", s)
	}
	// A partial frame behind the settled edge is given up by time too.
	start := Packet{Header: Header{Marker: MarkerStart, Handle: 1, Sequence: 3, FrameNumber: 3}, Payload: []byte{1}}
	final := Packet{Header: Header{Marker: MarkerFinal, Handle: 1, Sequence: 5, FrameNumber: 3}, Payload: []byte{3}}
	d.PushAt(&start, at(200))
	d.PushAt(&final, at(201))
	d.PushAt(singleAt(6, 4), at(202))
	d.Expire(at(400))
	if s := d.Stats(); s.FramesIncomplete != 1 || s.IncompleteBy[IncompleteMissing] != 1 || s.PacketsLost != 2 || s.FramesInFlight != 0 {
		t.Fatalf("partial: %+v", s)
	}
	// Negative delay: only the window settles.
	d = NewDepacketizer(DepacketizerOptions{ReorderDelay: -1})
	d.PushAt(singleAt(0, 0), at(0))
	d.PushAt(singleAt(2, 2), at(1))
	d.Expire(at(100000))
	if s := d.Stats(); s.PacketsLost != 0 {
		t.Fatalf("delay off: %+v", s)
	}
}

// PushAt lends its frame: in order, frames come out of a reused buffer
// (each byte copied once, no allocation in steady state), and a
// single-packet frame is the packet's own payload.
func TestDepacketizerPushAtReusesBuffers(t *testing.T) {
	p, _ := NewPacketizer(1, MTU, fixedClock())
	payload := randomPayload(rand.New(rand.NewPCG(7, 8)), 64<<10)
	pkts := packetsOf(t, p, payload, Extensions{})
	d := NewDepacketizer(DepacketizerOptions{})
	now := time.Unix(0, 0)
	var seq uint16
	var frame uint16
	run := func() {
		for i := range pkts {
			pkts[i].Header.Sequence, pkts[i].Header.FrameNumber = seq, frame
			seq++
			f, ok := d.PushAt(&pkts[i], now)
			if ok != (i == len(pkts)-1) || ok && !bytes.Equal(f.Payload, payload) {
				t.Fatalf("packet %d: ok=%v", i, ok)
			}
		}
		frame++
	}
	run() // warm up: the buffer grows once
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Fatalf("%v allocations per 64 KiB frame", n)
	}
	sp := single(seq, frame)
	f, ok := d.PushAt(&sp, now)
	if !ok || &f.Payload[0] != &sp.Payload[0] {
		t.Fatal("single-packet frame copied")
	}
}

// A reordered frame is assembled in sequence order, from PushAt as from Push.
func TestDepacketizerPushAtReordered(t *testing.T) {
	p, _ := NewPacketizer(1, 100, fixedClock())
	payload := randomPayload(rand.New(rand.NewPCG(9, 10)), 1000)
	pkts := packetsOf(t, p, payload, Extensions{})
	r := rand.New(rand.NewPCG(11, 12))
	r.Shuffle(len(pkts), func(i, j int) { pkts[i], pkts[j] = pkts[j], pkts[i] })
	d := NewDepacketizer(DepacketizerOptions{})
	var got []byte
	for _, pk := range pkts {
		if f, ok := d.PushAt(&pk, time.Unix(0, 0)); ok {
			got = bytes.Clone(f.Payload)
		}
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("reordered frame differs")
	}
}

func TestIncompleteReasonString(t *testing.T) {
	for r := range NumIncompleteReasons {
		if r.String() == "" || r.String() == IncompleteReason(99).String() {
			t.Fatalf("reason %d: %q", r, r.String())
		}
	}
}
