package packetizer

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func packetsOf(t testing.TB, p *Packetizer, payload []byte, ext Extensions) []Packet {
	t.Helper()
	return packetize(t, p, Frame{Payload: payload, Extensions: ext})
}

func TestDepacketizerInOrder(t *testing.T) {
	p, _ := NewPacketizer(7, 100, fixedClock())
	d := NewDepacketizer(DepacketizerOptions{})
	payload := bytes.Repeat([]byte("abc"), 100)
	ext := Extensions{HasUserTimestamp: true, UserTimestamp: 99}
	pkts := packetsOf(t, p, payload, ext)
	for i, pk := range pkts {
		f, ok := d.Push(pk)
		if ok != (i == len(pkts)-1) {
			t.Fatalf("packet %d: ok=%v", i, ok)
		}
		if ok && (!bytes.Equal(f.Payload, payload) || f.Extensions != ext || f.Packets != len(pkts)) {
			t.Fatalf("frame %+v", f)
		}
	}
	if s := d.Stats(); s.FramesCompleted != 1 || s.PacketsLost != 0 || s.FramesInFlight != 0 || s.BufferedBytes != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Property: shuffled packets of many frames, some dropped, some duplicated:
// every frame with all its packets comes back intact, the others are
// counted incomplete once flushed, and nothing else is reported.
func TestDepacketizerShuffledWithLossAndDuplicates(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		p, _ := NewPacketizer(1, 64+r.IntN(400), fixedClock())
		// Start just below 65535 so that sequence and frame numbers wrap in
		// every round: each frame has at least one packet.
		p.seq = math.MaxUint16 - uint16(r.IntN(8))
		p.frame = math.MaxUint16 - uint16(r.IntN(8))
		seq0, frame0 := p.seq, p.frame
		d := NewDepacketizer(DepacketizerOptions{MaxFramesInFlight: 1000})
		want := map[uint16][]byte{}
		var all []Packet
		seen := 0 // frames with at least one packet delivered
		for range 20 {
			payload := make([]byte, 1+r.IntN(3000))
			for i := range payload {
				payload[i] = byte(r.Uint32())
			}
			fn := p.frame
			pkts := packetsOf(t, p, payload, Extensions{})
			dropped, delivered := false, false
			for _, pk := range pkts {
				if r.IntN(30) == 0 {
					dropped = true
					continue
				}
				all = append(all, pk)
				delivered = true
				if r.IntN(20) == 0 {
					all = append(all, pk)
				}
			}
			if !dropped {
				want[fn] = payload
			}
			if delivered {
				seen++
			}
		}
		if p.seq >= seq0 || p.frame >= frame0 {
			t.Fatalf("round %d: no wrap (seq %d→%d, frame %d→%d)", round, seq0, p.seq, frame0, p.frame)
		}
		r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		got := map[uint16][]byte{}
		for _, pk := range all {
			if f, ok := d.Push(pk); ok {
				got[f.FrameNumber] = f.Payload
			}
		}
		d.Flush()
		if len(got) != len(want) {
			t.Fatalf("round %d: %d frames complete, want %d", round, len(got), len(want))
		}
		for fn, w := range want {
			if !bytes.Equal(got[fn], w) {
				t.Fatalf("round %d: frame %d differs", round, fn)
			}
		}
		s := d.Stats()
		// A first frame whose START was dropped looks, from here, like a
		// stream joined mid-frame (loss before the first packet received
		// is never counted): joined midway, not incomplete.
		if int(s.FramesCompleted+s.FramesIncomplete+s.FramesJoinedMidway) != seen || int(s.FramesCompleted) != len(want) ||
			s.FramesJoinedMidway > 1 {
			t.Fatalf("round %d: stats %+v", round, s)
		}
		if s.BufferedBytes != 0 || s.FramesInFlight != 0 {
			t.Fatalf("round %d: buffers not released: %+v", round, s)
		}
	}
}

func TestDepacketizerBoundsAndLostRanges(t *testing.T) {
	p, _ := NewPacketizer(1, 100, fixedClock())
	d := NewDepacketizer(DepacketizerOptions{MaxFramesInFlight: 2})
	// Three frames of 3 packets each, each missing its middle packet.
	var frame0 []Packet
	for i := range 3 {
		pkts := packetsOf(t, p, make([]byte, 250), Extensions{})
		if i == 0 {
			frame0 = pkts
		}
		d.Push(pkts[0])
		d.Push(pkts[2])
	}
	s := d.Stats()
	if s.FramesInFlight != 2 || s.FramesIncomplete != 1 || s.IncompleteBy[IncompleteEvicted] != 1 || s.PacketsMissing != 3 {
		t.Fatalf("stats %+v", s)
	}
	if len(s.RecentLost) != 0 || s.PacketsLost != 0 {
		t.Fatalf("lost counted before the window passed: %+v", s)
	}
	// A late packet of the evicted frame must not resurrect it, but it did
	// arrive, so it is no longer missing.
	if _, ok := d.Push(frame0[1]); ok {
		t.Fatal("evicted frame completed")
	}
	if s := d.Stats(); s.FramesInFlight != 2 || s.PacketsLate != 1 || s.PacketsMissing != 2 || s.PacketsReordered != 1 {
		t.Fatalf("late packet: %+v", s)
	}
	d.Flush()
	s = d.Stats()
	if s.FramesIncomplete != 3 || s.IncompleteBy[IncompleteFlushed] != 2 || s.PacketsLost != 2 || s.PacketsMissing != 2 ||
		s.FramesLost != 0 || !slices.Equal(s.RecentLost, []SeqRange{{4, 4}, {7, 7}}) {
		t.Fatalf("after flush: %+v", s)
	}
}

func TestDepacketizerByteBound(t *testing.T) {
	p, _ := NewPacketizer(1, 1000, fixedClock())
	d := NewDepacketizer(DepacketizerOptions{MaxBufferedBytes: 5000})
	for range 10 {
		pkts := packetsOf(t, p, make([]byte, 3000), Extensions{})
		d.Push(pkts[0]) // never complete
		if s := d.Stats(); s.BufferedBytes > 5000 {
			t.Fatalf("buffered %d > bound", s.BufferedBytes)
		}
	}
}

func TestDepacketizerIgnoresOtherHandles(t *testing.T) {
	d := NewDepacketizer(DepacketizerOptions{})
	d.Push(Packet{Header: Header{Marker: MarkerSingle, Handle: 1}, Payload: []byte{1}})
	if _, ok := d.Push(Packet{Header: Header{Marker: MarkerSingle, Handle: 2, FrameNumber: 1}, Payload: []byte{1}}); ok {
		t.Fatal("frame from another handle accepted")
	}
	if s := d.Stats(); s.PacketsForeign != 1 || s.FramesCompleted != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// steppingClock advances 1 ms per reading, so every frame gets its own
// timestamp.
func steppingClock() *Clock {
	now := time.Unix(1700000000, 0)
	return newClockWithBase(func() time.Time { now = now.Add(time.Millisecond); return now }, 7)
}

func pushAll(d *Depacketizer, pkts ...Packet) []ReceivedFrame {
	var out []ReceivedFrame
	for _, pk := range pkts {
		if f, ok := d.Push(pk); ok {
			out = append(out, f)
		}
	}
	return out
}

func randomPayload(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestDepacketizerSequenceWrapInsideFrame(t *testing.T) {
	p, _ := NewPacketizer(1, 100, fixedClock())
	p.seq = 65534
	payload := randomPayload(rand.New(rand.NewPCG(1, 2)), 350) // 4 packets: 65534, 65535, 0, 1
	pkts := packetsOf(t, p, payload, Extensions{})
	if len(pkts) != 4 || pkts[3].Header.Sequence != 1 {
		t.Fatalf("%d packets", len(pkts))
	}
	d := NewDepacketizer(DepacketizerOptions{})
	got := pushAll(d, pkts[3], pkts[0], pkts[2], pkts[1])
	if len(got) != 1 || !bytes.Equal(got[0].Payload, payload) || got[0].Sequence != 65534 || got[0].Packets != 4 {
		t.Fatalf("frames %+v", got)
	}
	if s := d.Stats(); s.PacketsLost != 0 || s.FramesInFlight != 0 || s.BufferedBytes != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// The audit's bug: a partial left over from frame N is still held when the
// frame number comes round again (65536 frames later; empty frames use
// numbers without packets). The new frame's START and FINAL plus the stale
// packet used to add up to the right count with the middle packet missing,
// and a frame came out with a hole and the old timestamp.
func TestDepacketizerFrameNumberReuseWithStalePartial(t *testing.T) {
	for name, clock := range map[string]func() *Clock{"same timestamp": fixedClock, "new timestamp": steppingClock} {
		t.Run(name, func(t *testing.T) {
			p, _ := NewPacketizer(1, 100, clock())
			d := NewDepacketizer(DepacketizerOptions{})
			old := packetsOf(t, p, make([]byte, 250), Extensions{}) // frame 0, seq 0-2
			d.Push(old[1])                                          // only the middle arrives
			for range 65535 {
				packetsOf(t, p, nil, Extensions{})
			}
			fresh := packetsOf(t, p, bytes.Repeat([]byte{9}, 250), Extensions{}) // frame 0 again, seq 3-5
			if fresh[0].Header.FrameNumber != 0 || fresh[0].Header.Sequence != 3 {
				t.Fatalf("setup: %+v", fresh[0].Header)
			}
			if got := pushAll(d, fresh[0], fresh[2]); len(got) != 0 {
				t.Fatalf("frame with a hole completed: %+v", got[0])
			}
			// The rest of the new frame still completes it, intact.
			got := pushAll(d, fresh[1])
			if len(got) != 1 || !bytes.Equal(got[0].Payload, bytes.Repeat([]byte{9}, 250)) || got[0].Timestamp != fresh[0].Header.Timestamp {
				t.Fatalf("frames %+v", got)
			}
			if s := d.Stats(); s.FramesIncomplete != 1 || s.FramesCompleted != 1 || s.FramesInFlight != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// A START repeated at another sequence number (same frame number and
// timestamp) must not be counted with the first one's packets.
func TestDepacketizerRepeatedStartDoesNotCompleteWrongFrame(t *testing.T) {
	mk := func(m Marker, seq uint16, b byte) Packet {
		return Packet{Header: Header{Marker: m, Handle: 1, Sequence: seq, FrameNumber: 5, Timestamp: 9}, Payload: []byte{b}}
	}
	d := NewDepacketizer(DepacketizerOptions{})
	if got := pushAll(d, mk(MarkerStart, 10, 1), mk(MarkerStart, 12, 2), mk(MarkerFinal, 14, 3)); len(got) != 0 {
		t.Fatalf("completed %+v", got)
	}
	// The stale START's neighbour is older than the new START: dropped.
	if got := pushAll(d, mk(MarkerInter, 11, 4)); len(got) != 0 || d.Stats().PacketsLate != 1 {
		t.Fatalf("completed %+v, stats %+v", got, d.Stats())
	}
	got := pushAll(d, mk(MarkerInter, 13, 5))
	if len(got) != 1 || !bytes.Equal(got[0].Payload, []byte{2, 5, 3}) || got[0].Sequence != 12 {
		t.Fatalf("frames %+v", got)
	}
	if s := d.Stats(); s.FramesIncomplete != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDepacketizerDuplicateStartAndFinal(t *testing.T) {
	p, _ := NewPacketizer(1, 100, fixedClock())
	pkts := packetsOf(t, p, make([]byte, 250), Extensions{})
	d := NewDepacketizer(DepacketizerOptions{})
	got := pushAll(d, pkts[0], pkts[0], pkts[2], pkts[2], pkts[1], pkts[0], pkts[2])
	if len(got) != 1 || len(got[0].Payload) != 250 {
		t.Fatalf("frames %+v", got)
	}
	if s := d.Stats(); s.PacketsDuplicate != 4 || s.FramesCompleted != 1 || s.FramesInFlight != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// lossCase runs 3-packet frames with packet `drop` of the first frame lost,
// then enough single-packet frames to move the reorder window past it: the
// frame must be given up and its packet reported lost without a Flush.
func lossCase(t *testing.T, drop int) {
	t.Helper()
	p, _ := NewPacketizer(1, 100, fixedClock())
	d := NewDepacketizer(DepacketizerOptions{ReorderWindow: 16})
	// A frame before, so the loss is after the first sequence received.
	pushAll(d, packetsOf(t, p, []byte{1}, Extensions{})...)
	first := packetsOf(t, p, make([]byte, 250), Extensions{})
	for i, pk := range first {
		if i != drop {
			d.Push(pk)
		}
	}
	for range 20 {
		if got := pushAll(d, packetsOf(t, p, []byte{2}, Extensions{})...); len(got) != 1 {
			t.Fatal("single-packet frame did not complete")
		}
	}
	s := d.Stats()
	lost := first[drop].Header.Sequence
	if s.FramesIncomplete != 1 || s.FramesInFlight != 0 || s.BufferedBytes != 0 ||
		s.PacketsLost != 1 || !slices.Equal(s.RecentLost, []SeqRange{{lost, lost}}) {
		t.Fatalf("stats %+v", s)
	}
	// Arriving now, it is too late to complete anything, and it stays lost.
	if got := pushAll(d, first[drop]); len(got) != 0 || d.Stats().PacketsLate != 1 || d.Stats().PacketsLost != 1 {
		t.Fatalf("late packet: %+v %+v", got, d.Stats())
	}
	if s := d.Stats(); s.IncompleteBy[IncompleteMissing] != 1 || s.FramesLost != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDepacketizerLostStart(t *testing.T) { lossCase(t, 0) }
func TestDepacketizerLostFinal(t *testing.T) { lossCase(t, 2) }

// Packets with empty payloads still cost memory: a flood of them stays
// within MaxBufferedBytes whether they name one frame or many.
func TestDepacketizerEmptyPayloadFloodStaysWithinCap(t *testing.T) {
	const capBytes = 64 << 10
	for name, frameOf := range map[string]func(i int) uint16{
		"one frame":    func(int) uint16 { return 9 },
		"every number": func(i int) uint16 { return uint16(i) },
	} {
		t.Run(name, func(t *testing.T) {
			d := NewDepacketizer(DepacketizerOptions{MaxFramesInFlight: MaxFramesInFlightLimit, MaxBufferedBytes: capBytes, ReorderWindow: MaxReorderWindow})
			for i := range 200000 {
				d.Push(Packet{Header: Header{Marker: MarkerInter, Handle: 1, Sequence: uint16(i), FrameNumber: frameOf(i)}})
				if s := d.Stats(); s.BufferedBytes > capBytes || s.FramesInFlight > MaxFramesInFlightLimit {
					t.Fatalf("packet %d: %+v", i, s)
				}
			}
			if len(d.givenUp) > 2*maxGivenUp {
				t.Fatalf("%d given-up records", len(d.givenUp))
			}
			d.Flush()
			if s := d.Stats(); s.BufferedBytes != 0 || s.FramesInFlight != 0 || s.FramesCompleted != 0 {
				t.Fatalf("after flush %+v", s)
			}
		})
	}
}

// A frame larger than MaxBufferedBytes can never complete: it is counted
// incomplete once, as soon as it goes over, and its other packets are late.
func TestDepacketizerFrameLargerThanCap(t *testing.T) {
	p, _ := NewPacketizer(1, 500, fixedClock())
	d := NewDepacketizer(DepacketizerOptions{MaxBufferedBytes: 1000})
	pkts := packetsOf(t, p, make([]byte, 3000), Extensions{})
	pushAll(d, pkts[:2]...)
	if s := d.Stats(); s.FramesIncomplete != 1 || s.FramesInFlight != 0 || s.BufferedBytes != 0 {
		t.Fatalf("stats %+v", s)
	}
	pushAll(d, pkts[2:]...)
	if s := d.Stats(); s.FramesIncomplete != 1 || s.FramesInFlight != 0 || s.PacketsLate != uint64(len(pkts)-2) {
		t.Fatalf("stats %+v", s)
	}
	// The next frame is unaffected.
	if got := pushAll(d, packetsOf(t, p, make([]byte, 400), Extensions{})...); len(got) != 1 {
		t.Fatal("next frame lost")
	}
}

func TestDepacketizerRecentLostNewestLast(t *testing.T) {
	p, _ := NewPacketizer(1, 100, fixedClock())
	d := NewDepacketizer(DepacketizerOptions{MaxFramesInFlight: 100})
	var want []SeqRange
	for range 20 {
		pkts := packetsOf(t, p, make([]byte, 250), Extensions{})
		pushAll(d, pkts[0], pkts[2])
		s := pkts[1].Header.Sequence
		want = append(want, SeqRange{s, s})
	}
	d.Flush()
	if got := d.Stats().RecentLost; !slices.Equal(got, want[len(want)-maxRecentLost:]) {
		t.Fatalf("RecentLost %v, want %v", got, want[len(want)-maxRecentLost:])
	}
}

// Consecutive missing sequence numbers are reported as one range, across
// the 16-bit wrap.
func TestDepacketizerLostRangeAcrossWrap(t *testing.T) {
	d := NewDepacketizer(DepacketizerOptions{ReorderWindow: 8})
	single := func(seq uint16) Packet {
		return Packet{Header: Header{Marker: MarkerSingle, Handle: 1, Sequence: seq, FrameNumber: seq}}
	}
	pushAll(d, single(65530), single(2))
	for s := uint16(3); s < 20; s++ {
		pushAll(d, single(s))
	}
	if s := d.Stats(); !slices.Equal(s.RecentLost, []SeqRange{{65531, 1}}) || s.PacketsLost != 7 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDepacketizerOptionsClamped(t *testing.T) {
	d := NewDepacketizer(DepacketizerOptions{MaxFramesInFlight: 1 << 20, ReorderWindow: 1 << 20})
	if d.opts.MaxFramesInFlight != MaxFramesInFlightLimit || d.opts.ReorderWindow != MaxReorderWindow {
		t.Fatalf("%+v", d.opts)
	}
	d = NewDepacketizer(DepacketizerOptions{})
	if d.opts != (DepacketizerOptions{DefaultMaxFramesInFlight, DefaultMaxBufferedBytes, DefaultReorderWindow, DefaultReorderDelay}) {
		t.Fatalf("%+v", d.opts)
	}
}

// A stream joined in the middle of a frame (the first packet received is
// not its START) has that frame joined midway, not incomplete, when
// everything from there to its FINAL arrived; a packet missing after the
// first one received is loss as ever.
func TestDepacketizerJoinedMidway(t *testing.T) {
	for _, c := range []struct {
		name                     string
		deliver                  []int // of the first frame's 4 packets
		midway, incomplete, lost uint64
	}{
		{"from the second packet", []int{1, 2, 3}, 1, 0, 0},
		{"from the last packet", []int{3}, 1, 0, 0},
		{"a hole after the first packet received", []int{1, 3}, 0, 1, 1},
		{"no FINAL", []int{1, 2}, 0, 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, _ := NewPacketizer(1, 100, fixedClock())
			d := NewDepacketizer(DepacketizerOptions{})
			first := packetsOf(t, p, bytes.Repeat([]byte{1}, 300), Extensions{}) // 4 packets
			for _, i := range c.deliver {
				d.Push(first[i])
			}
			for _, pk := range packetsOf(t, p, []byte("next"), Extensions{}) {
				if _, ok := d.Push(pk); !ok {
					t.Fatal("the next frame did not complete")
				}
			}
			d.Flush()
			s := d.Stats()
			if s.FramesJoinedMidway != c.midway || s.FramesIncomplete != c.incomplete || s.PacketsLost != c.lost || s.FramesCompleted != 1 {
				t.Fatalf("%+v", s)
			}
		})
	}
}

// Cut drops only the frame still waiting for the packets after the last
// one received; a hole below that one is loss as at Flush.
func TestDepacketizerCut(t *testing.T) {
	for _, c := range []struct {
		name                  string
		deliver               []int // of a 4-packet frame after a whole one
		then                  bool  // a single-packet frame follows
		cut, incomplete, lost uint64
	}{
		{"the frame's head", []int{0, 1}, false, 1, 0, 0},
		{"a hole in the frame", []int{0, 2}, false, 0, 1, 1},
		{"the frame's tail missing, a later frame arrived", []int{0, 1}, true, 0, 1, 2},
		{"all but the FINAL", []int{0, 1, 2}, false, 1, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, _ := NewPacketizer(1, 100, fixedClock())
			d := NewDepacketizer(DepacketizerOptions{})
			for _, pk := range packetsOf(t, p, []byte("whole"), Extensions{}) {
				d.Push(pk)
			}
			frame := packetsOf(t, p, bytes.Repeat([]byte{1}, 300), Extensions{}) // 4 packets
			next := packetsOf(t, p, []byte("next"), Extensions{})
			for _, i := range c.deliver {
				d.Push(frame[i])
			}
			if c.then {
				d.Push(next[0])
			}
			d.Cut()
			s := d.Stats()
			if s.FramesCut != c.cut || s.FramesIncomplete != c.incomplete || s.PacketsLost != c.lost || s.FramesJoinedMidway != 0 ||
				s.FramesInFlight != 0 || s.BufferedBytes != 0 {
				t.Fatalf("%+v", s)
			}
		})
	}
	// A stream joined midway and cut before its first FINAL: cut.
	p, _ := NewPacketizer(1, 100, fixedClock())
	d := NewDepacketizer(DepacketizerOptions{})
	frame := packetsOf(t, p, bytes.Repeat([]byte{1}, 300), Extensions{})
	d.Push(frame[1])
	d.Push(frame[2])
	d.Cut()
	if s := d.Stats(); s.FramesCut != 1 || s.FramesIncomplete != 0 || s.PacketsLost != 0 {
		t.Fatalf("joined midway, then cut: %+v", s)
	}
}
