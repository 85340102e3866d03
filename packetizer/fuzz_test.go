package packetizer

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"
)

func fuzzSeeds(f *testing.F) {
	for _, g := range goldens {
		b, _ := hex.DecodeString(strings.Join(strings.Fields(g.hex), ""))
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x1c, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
}

// FuzzParse: decoding never panics, never reads past the input (the
// payload is always a suffix of it), and an accepted packet re-encodes to
// something that decodes to the same header and payload.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		if len(p.Payload) > len(b) || !bytes.Equal(p.Payload, b[len(b)-len(p.Payload):]) {
			t.Fatalf("payload is not a suffix of the input")
		}
		enc, err := p.AppendTo(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		q, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if q.Header != p.Header || !bytes.Equal(q.Payload, p.Payload) {
			t.Fatalf("round trip changed the packet:\n%+v\n%+v", p.Header, q.Header)
		}
	})
}

// FuzzDepacketizer pushes two packet streams into depacketizers, which
// must never panic and must stay within their bounds:
//   - raw is cut into length-prefixed chunks parsed as packets: a completed
//     frame must be the concatenation, in sequence order, of payloads pushed
//     with its frame number, timestamp and extensions, START to FINAL;
//   - frames are packetized from seq0 and frame0 (knobs pick the MTU,
//     extensions, clock and window) and delivered as plan says, with drops,
//     copies and delays: a completed frame must be the one sent under its
//     number, and with no plan every frame that fits must complete.
func FuzzDepacketizer(f *testing.F) {
	for _, g := range goldens {
		b, _ := hex.DecodeString(strings.Join(strings.Fields(g.hex), ""))
		f.Add(b, []byte(nil), []byte(nil), uint16(0), uint16(0), uint8(0))
	}
	p, _ := NewPacketizer(1, 40, NewClock(nil))
	var stream []byte
	_ = p.Packetize(Frame{Payload: bytes.Repeat([]byte{7}, 100)}, func(pkt []byte) error {
		stream = append(stream, byte(len(pkt)))
		stream = append(stream, pkt...)
		return nil
	})
	f.Add(stream, []byte{3, 1, 2, 3, 0, 5, 0xff, 1, 2, 3, 4, 5}, []byte{1, 6, 5, 0, 9}, uint16(65533), uint16(65535), uint8(0x21))
	f.Fuzz(func(t *testing.T, raw, frames, plan []byte, seq0, frame0 uint16, knobs uint8) {
		fuzzRawStream(t, raw)
		fuzzFrames(t, frames, plan, seq0, frame0, knobs)
	})
}

// statsCheck fails when a depacketizer's stats break its options or its
// accounting: counters that go down, reasons that do not add up, more
// lost than missing.
type statsCheck struct {
	t    *testing.T
	d    *Depacketizer
	last DepacketizerStats
}

func (c *statsCheck) check() DepacketizerStats {
	c.t.Helper()
	s, d, p := c.d.Stats(), c.d, c.last
	if s.FramesInFlight > d.opts.MaxFramesInFlight || s.BufferedBytes > d.opts.MaxBufferedBytes ||
		s.BufferedBytes < 0 || len(s.RecentLost) > maxRecentLost {
		c.t.Fatalf("bounds broken: %+v", s)
	}
	var by uint64
	for _, n := range s.IncompleteBy {
		by += n
	}
	if by != s.FramesIncomplete || s.PacketsLost > s.PacketsMissing {
		c.t.Fatalf("accounting broken: %+v", s)
	}
	if s.PacketsReceived < p.PacketsReceived || s.PacketsDuplicate < p.PacketsDuplicate || s.PacketsLate < p.PacketsLate ||
		s.PacketsReordered < p.PacketsReordered || s.PacketsLost < p.PacketsLost || s.FramesCompleted < p.FramesCompleted ||
		s.FramesIncomplete < p.FramesIncomplete || s.FramesLost < p.FramesLost {
		c.t.Fatalf("a counter went down:\n%+v\n%+v", p, s)
	}
	c.last = s
	return s
}

// flush ends the stream: nothing is left held, and everything missing is lost.
func (c *statsCheck) flush() DepacketizerStats {
	c.t.Helper()
	c.d.Flush()
	s := c.check()
	if s.FramesInFlight != 0 || s.BufferedBytes != 0 || s.PacketsLost != s.PacketsMissing {
		c.t.Fatalf("flush left %+v", s)
	}
	return s
}

func fuzzRawStream(t *testing.T, b []byte) {
	type key struct {
		seq, frame uint16
		ts         uint32
		ext        Extensions
	}
	type sent struct {
		payload   []byte
		marker    Marker
		ambiguous bool // pushed again with other bytes or marker
	}
	pushed := map[key]*sent{}
	d := NewDepacketizer(DepacketizerOptions{MaxFramesInFlight: 4, MaxBufferedBytes: 4096, ReorderWindow: 64, ReorderDelay: 10 * time.Millisecond})
	c := &statsCheck{t: t, d: d}
	now := time.Unix(0, 0)
	for len(b) > 0 {
		n := min(int(b[0]), len(b)-1)
		chunk := b[1 : 1+n]
		b = b[1+n:]
		pk, err := Parse(chunk)
		if err != nil {
			continue
		}
		h := pk.Header
		k := key{h.Sequence, h.FrameNumber, h.Timestamp, h.Extensions}
		if s := pushed[k]; s == nil {
			pushed[k] = &sent{payload: pk.Payload, marker: h.Marker}
		} else if !bytes.Equal(s.payload, pk.Payload) || s.marker != h.Marker {
			s.ambiguous = true
		}
		// The chunk's length byte doubles as the time since the last
		// packet, so the reorder delay settles some losses too.
		now = now.Add(time.Duration(n) * time.Millisecond / 16)
		fr, ok := d.PushAt(&pk, now)
		c.check()
		if !ok {
			continue
		}
		var want []byte
		checkable := true
		for i := range fr.Packets {
			s := pushed[key{fr.Sequence + uint16(i), fr.FrameNumber, fr.Timestamp, fr.Extensions}]
			switch {
			case s == nil:
				t.Fatalf("frame %d: sequence %d never pushed", fr.FrameNumber, fr.Sequence+uint16(i))
			case s.ambiguous:
				checkable = false // which copy was kept is not known
			case s.marker.IsStart() != (i == 0) || s.marker.IsFinal() != (i == fr.Packets-1):
				t.Fatalf("frame %d: packet %d of %d is %v", fr.FrameNumber, i, fr.Packets, s.marker)
			default:
				want = append(want, s.payload...)
			}
		}
		if checkable && !bytes.Equal(fr.Payload, want) {
			t.Fatalf("frame %d: payload is not its packets' payloads in order", fr.FrameNumber)
		}
	}
	c.flush()
}

func fuzzFrames(t *testing.T, frames, plan []byte, seq0, frame0 uint16, knobs uint8) {
	var ext Extensions
	if knobs&1 != 0 {
		ext = Extensions{HasUserTimestamp: true, UserTimestamp: uint64(seq0)}
	}
	hdr := Header{Extensions: ext}
	mtu := hdr.Len() + 1 + int(knobs>>1&15) // 1 to 16 payload bytes a packet
	now := time.Unix(0, 0)
	clock := newClockWithBase(func() time.Time { return now }, uint32(frame0)<<16)
	p, err := NewPacketizer(1, mtu, clock)
	if err != nil {
		t.Fatal(err)
	}
	p.seq, p.frame = seq0, frame0
	type sentFrame struct {
		payload []byte
		ts      uint32
		fits    bool // within the depacketizer's byte cap
	}
	opts := DepacketizerOptions{MaxFramesInFlight: 4, MaxBufferedBytes: 1 << 12}
	if knobs&0x40 != 0 {
		opts.ReorderWindow = 16
	}
	want := map[uint16]sentFrame{}
	var pkts []Packet
	var sizes []int // of every frame number sent, from frame0
	// Frames are cut from the input as a length byte and that many bytes;
	// fewer than 65536 so frame numbers stay unique.
	for n := 0; len(frames) > 0 && n < 4096; n++ {
		size := min(int(frames[0]), len(frames)-1)
		payload := frames[1 : 1+size]
		frames = frames[1+size:]
		count, _ := PacketCount(size, ext, mtu)
		fn, before := p.frame, len(pkts)
		err := p.Packetize(Frame{Payload: payload, Extensions: ext}, func(b []byte) error {
			pk, err := Parse(bytes.Clone(b))
			pkts = append(pkts, pk)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, size)
		if size > 0 {
			// In order, a frame holds all but its last packet before it
			// completes: the cap applies to that.
			held := size - len(pkts[len(pkts)-1].Payload) + (count-1)*PacketOverhead
			want[fn] = sentFrame{payload, pkts[before].Header.Timestamp, held <= opts.MaxBufferedBytes}
		}
		if knobs&0x20 != 0 {
			now = now.Add(time.Millisecond)
		}
	}
	// plan[i] rules packet i (beyond plan: delivered once, in place): its
	// low 2 bits drop it (0), deliver it once (1, 3) or twice (2); the rest
	// delay each copy by that many places.
	type delivery struct {
		at int
		pk Packet
	}
	var order []delivery
	for i, pk := range pkts {
		a := byte(1)
		if i < len(plan) {
			a = plan[i]
		}
		for c := range [4]int{0, 1, 2, 1}[a&3] {
			order = append(order, delivery{i + (c+1)*int(a>>2), pk})
		}
	}
	slices.SortStableFunc(order, func(x, y delivery) int { return x.at - y.at })
	d := NewDepacketizer(opts)
	c := &statsCheck{t: t, d: d}
	done := map[uint16]bool{}
	lo, hi := -1, -1 // the frames (index from frame0) with a packet delivered
	for _, o := range order {
		k := int(o.pk.Header.FrameNumber - frame0)
		if lo < 0 || k < lo {
			lo = k
		}
		hi = max(hi, k)
		fr, ok := d.Push(o.pk)
		c.check()
		if !ok {
			continue
		}
		w, sent := want[fr.FrameNumber]
		if !sent || done[fr.FrameNumber] || !bytes.Equal(fr.Payload, w.payload) || fr.Timestamp != w.ts || fr.Extensions != ext {
			t.Fatalf("frame %d (%d bytes) is not the frame sent, or came twice", fr.FrameNumber, len(fr.Payload))
		}
		done[fr.FrameNumber] = true
	}
	s := c.flush()
	if lo >= 0 && s.FramesLost+s.FramesCompleted > uint64(hi-lo+1) {
		t.Fatalf("%d frames lost and %d completed among %d frame numbers", s.FramesLost, s.FramesCompleted, hi-lo+1)
	}
	if len(plan) != 0 || lo < 0 {
		return
	}
	// In order, nothing dropped: exact accounting. Every frame that fits
	// completes, every other non-empty one is given up once as too large,
	// and the empty frames between (no packets) are the lost ones.
	var fits, tooLarge, empty uint64
	for k, size := range sizes {
		w := want[frame0+uint16(k)]
		switch {
		case size == 0 && k > lo && k < hi:
			empty++
		case size == 0:
		case w.fits:
			fits++
			if !done[frame0+uint16(k)] {
				t.Fatalf("frame %d delivered in order did not complete", frame0+uint16(k))
			}
		default:
			tooLarge++
		}
	}
	if s.FramesCompleted != fits || s.FramesIncomplete != tooLarge || s.IncompleteBy[IncompleteTooLarge] != tooLarge ||
		s.FramesLost != empty || s.PacketsLost != 0 || s.PacketsDuplicate+s.PacketsReordered != 0 {
		t.Fatalf("in order: %d fit, %d too large, %d empty; stats %+v", fits, tooLarge, empty, s)
	}
}
