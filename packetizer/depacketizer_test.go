package packetizer

import (
	"bytes"
	"math/rand/v2"
	"testing"
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
		p.seq = uint16(r.Uint32()) // exercise wraparound
		p.frame = uint16(r.Uint32())
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
		if int(s.FramesCompleted+s.FramesIncomplete) != seen || int(s.FramesCompleted) != len(want) {
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
	for range 3 {
		pkts := packetsOf(t, p, make([]byte, 250), Extensions{})
		d.Push(pkts[0])
		d.Push(pkts[2])
	}
	s := d.Stats()
	if s.FramesInFlight != 2 || s.FramesIncomplete != 1 {
		t.Fatalf("stats %+v", s)
	}
	if len(s.RecentLost) != 1 || s.RecentLost[0] != (SeqRange{1, 1}) {
		t.Fatalf("lost ranges %+v", s.RecentLost)
	}
	if s.PacketsLost != 3 {
		t.Fatalf("PacketsLost %d, want 3", s.PacketsLost)
	}
	// A late packet of the evicted frame must not resurrect it.
	late := Packet{Header: Header{Marker: MarkerInter, Handle: 1, Sequence: 1, FrameNumber: 0}, Payload: []byte{1}}
	d.Push(late)
	if s := d.Stats(); s.FramesInFlight != 2 || s.PacketsDuplicate != 1 {
		t.Fatalf("late packet: %+v", s)
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
