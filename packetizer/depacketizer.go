package packetizer

import (
	"container/heap"
	"math"
	"math/bits"
	"slices"
)

// Defaults and limits of DepacketizerOptions.
const (
	DefaultMaxFramesInFlight = 32
	DefaultMaxBufferedBytes  = 16 << 20
	DefaultReorderWindow     = 2048

	// MaxFramesInFlightLimit caps MaxFramesInFlight: every eviction scans
	// the partial frames, and partials older than the reorder window are
	// given up anyway.
	MaxFramesInFlightLimit = 4096
	// MaxReorderWindow caps ReorderWindow. Extended sequence numbers are
	// inferred from 16-bit ones within ±32768 of the highest seen, so the
	// window has to stay well inside that.
	MaxReorderWindow = 16384

	// PacketOverhead is what each held packet counts toward
	// MaxBufferedBytes besides its payload (map entry, slice header,
	// allocation), so that packets with empty payloads are bounded too.
	PacketOverhead = 64

	// maxFramePackets bounds the sequence span of one frame: a longer one
	// could not be told apart from its 16-bit sequence numbers wrapping.
	maxFramePackets = 1 << 15
	maxRecentLost   = 16
	// maxGivenUp bounds the records of given-up frames. Forgetting one only
	// risks counting that frame incomplete twice if more packets of it come.
	maxGivenUp = 4096
)

// DepacketizerOptions bounds what a Depacketizer buffers. Zero values take
// the defaults; values above a limit are clamped to it.
type DepacketizerOptions struct {
	// MaxFramesInFlight caps partially received frames; past it the partial
	// whose newest packet is oldest is given up (counted incomplete).
	// Default 32, at most MaxFramesInFlightLimit.
	MaxFramesInFlight int
	// MaxBufferedBytes caps the memory held for partial frames: payload
	// bytes plus PacketOverhead per packet. Default 16 MiB. A frame that
	// alone needs more can never complete: it is counted incomplete as soon
	// as it goes over, and its later packets are dropped as late.
	MaxBufferedBytes int
	// ReorderWindow is how many sequence numbers a packet may trail the
	// highest one seen. Older packets are dropped as late, a partial frame
	// whose newest packet falls behind the window is given up, and
	// sequence numbers that fall behind it unreceived are reported lost.
	// Default 2048, at most MaxReorderWindow.
	ReorderWindow int
}

// ReceivedFrame is a reassembled frame.
type ReceivedFrame struct {
	FrameNumber uint16
	Sequence    uint16 // of its first packet
	Timestamp   uint32
	Extensions  Extensions
	Payload     []byte // owned by the caller
	Packets     int
}

// SeqRange is an inclusive range of sequence numbers (it may wrap).
type SeqRange struct{ First, Last uint16 }

// DepacketizerStats counts what a Depacketizer has seen.
type DepacketizerStats struct {
	PacketsReceived uint64 // with the track's handle
	// PacketsDuplicate counts copies of packets received within the
	// reorder window.
	PacketsDuplicate uint64
	// PacketsLate counts packets dropped because they trail the highest
	// sequence by more than the reorder window, belong to a frame already
	// given up, or are older than a newer frame that reuses their frame
	// number.
	PacketsLate    uint64
	PacketsForeign uint64 // other track handles, ignored
	// PacketsLost is RTP-style: sequence numbers from the lowest to the
	// highest received, minus the distinct packets received. Packets that
	// arrive late but within the reorder window lower it.
	PacketsLost      uint64
	FramesCompleted  uint64
	FramesIncomplete uint64 // given up with packets missing, or too large
	FramesInFlight   int
	BufferedBytes    int // payload plus PacketOverhead per packet held
	// RecentLost are the latest sequence ranges that never arrived, oldest
	// first and newest last, at most 16. A sequence number is reported
	// once the reorder window has moved past it without it, or at Flush;
	// nothing before the lowest sequence received counts.
	RecentLost []SeqRange
}

// partial is a frame being reassembled. Every packet it holds lies within
// [start, final] as far as those are known: a packet that contradicts that
// (or the frame's timestamp and extensions) is not of this frame.
type partial struct {
	frame    uint16
	ts       uint32
	ext      Extensions
	packets  map[uint64][]byte // by extended sequence number
	bytes    int               // payload held
	start    uint64
	final    uint64
	hasStart bool
	hasFinal bool
	lo, hi   uint64 // lowest and highest sequence held
	index    int    // in Depacketizer.byHi
}

func (pt *partial) cost() int { return pt.bytes + len(pt.packets)*PacketOverhead }

func (pt *partial) complete() bool {
	return pt.hasStart && pt.hasFinal && uint64(len(pt.packets)) == pt.final-pt.start+1
}

// conflicts reports whether a packet with frame pt.frame cannot be part
// of pt: it belongs to another frame that reuses the frame number, or the
// sender repeated a START or FINAL elsewhere.
func (pt *partial) conflicts(h *Header, seq uint64) bool {
	return h.Timestamp != pt.ts || h.Extensions != pt.ext ||
		pt.hasStart && seq < pt.start || pt.hasFinal && seq > pt.final ||
		h.Marker.IsStart() && seq > pt.lo || h.Marker.IsFinal() && seq < pt.hi
}

// add stores the packet; it reports whether pt.hi grew.
func (pt *partial) add(h *Header, seq uint64, payload []byte) bool {
	pt.packets[seq] = slices.Clone(payload)
	pt.bytes += len(payload)
	if h.Marker.IsStart() {
		pt.start, pt.hasStart = seq, true
	}
	if h.Marker.IsFinal() {
		pt.final, pt.hasFinal = seq, true
	}
	pt.lo = min(pt.lo, seq)
	if seq <= pt.hi {
		return false
	}
	pt.hi = seq
	return true
}

// byHi is a min-heap of the partials by newest sequence: the one to give
// up first, for the window or a bound, is at [0].
type byHi []*partial

func (h byHi) Len() int           { return len(h) }
func (h byHi) Less(i, j int) bool { return h[i].hi < h[j].hi }
func (h byHi) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *byHi) Push(x any) {
	pt := x.(*partial)
	pt.index = len(*h)
	*h = append(*h, pt)
}
func (h *byHi) Pop() any {
	old := *h
	pt := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return pt
}

// givenUp remembers a frame given up, so its late packets are dropped
// rather than opening a partial that would be given up, and counted, again.
type givenUp struct {
	ts       uint32
	ext      Extensions
	start    uint64 // 0 when its START never came
	hi       uint64 // highest sequence seen
	final    uint64
	hasFinal bool
}

// last is the highest sequence the frame may still have a packet at.
func (g *givenUp) last(window uint64) uint64 {
	if g.hasFinal {
		return g.final
	}
	return g.hi + window
}

func (g *givenUp) owns(h *Header, seq, window uint64) bool {
	return h.Timestamp == g.ts && h.Extensions == g.ext && seq >= g.start && seq <= g.last(window)
}

// extRange is an inclusive range of extended sequence numbers.
type extRange struct{ first, last uint64 }

// Depacketizer reassembles one track's frames from packets that may arrive
// out of order, duplicated or not at all (the `_data_track` channel is
// unordered with no retransmissions). Memory is bounded by its options.
//
// Sequence numbers are tracked extended to 64 bits, so wraps at 65535 are
// invisible. A frame is returned only when a START, a FINAL and every
// sequence number between them arrived with the same frame number,
// timestamp and extensions.
//
// It is not safe for concurrent use.
type Depacketizer struct {
	opts   DepacketizerOptions
	window uint64
	handle uint16
	stats  DepacketizerStats

	seqInit  bool
	highest  uint64 // highest sequence received
	edge     uint64 // sequences below it are settled: received, or reported lost
	base     uint64 // lowest sequence received; loss is not counted before it
	distinct uint64
	// seen has bit uint16(s) set when s in [edge, highest] was received.
	// The window is far below 65536, so positions never collide.
	seen [1 << 16 / 64]uint64

	partials map[uint16]*partial
	byHi     byHi // the same partials, oldest newest packet first
	givenUp  map[uint16]givenUp
	sweepAt  int // sweep expired givenUp records past this many

	lost []extRange // newest last
}

// NewDepacketizer returns a depacketizer; the first packet fixes its track handle.
func NewDepacketizer(opts DepacketizerOptions) *Depacketizer {
	opts.MaxFramesInFlight = clampOption(opts.MaxFramesInFlight, DefaultMaxFramesInFlight, MaxFramesInFlightLimit)
	opts.MaxBufferedBytes = clampOption(opts.MaxBufferedBytes, DefaultMaxBufferedBytes, math.MaxInt)
	opts.ReorderWindow = clampOption(opts.ReorderWindow, DefaultReorderWindow, MaxReorderWindow)
	return &Depacketizer{
		opts:     opts,
		window:   uint64(opts.ReorderWindow),
		partials: map[uint16]*partial{},
		givenUp:  map[uint16]givenUp{},
		sweepAt:  64,
	}
}

func clampOption(v, def, limit int) int {
	if v <= 0 {
		return def
	}
	return min(v, limit)
}

// Push adds one packet. When it completes a frame, that frame is returned
// with ok set.
func (d *Depacketizer) Push(p Packet) (f ReceivedFrame, ok bool) {
	h := &p.Header
	if d.handle == 0 {
		d.handle = h.Handle
	} else if h.Handle != d.handle {
		d.stats.PacketsForeign++
		return f, false
	}
	d.stats.PacketsReceived++
	seq, fresh := d.receive(h.Sequence)
	if !fresh {
		return f, false
	}
	pt := d.partials[h.FrameNumber]
	if pt == nil && d.lateForGivenUp(h, seq) {
		d.stats.PacketsLate++
		return f, false
	}
	if pt != nil && pt.conflicts(h, seq) {
		if seq < pt.hi {
			// Older than what the partial holds: a stale packet of an
			// earlier frame with this number.
			d.stats.PacketsLate++
			return f, false
		}
		d.giveUp(pt)
		pt = nil
	}
	if pt == nil {
		if h.Marker == MarkerSingle {
			d.stats.FramesCompleted++
			return ReceivedFrame{FrameNumber: h.FrameNumber, Sequence: h.Sequence, Timestamp: h.Timestamp,
				Extensions: h.Extensions, Payload: slices.Clone(p.Payload), Packets: 1}, true
		}
		pt = &partial{frame: h.FrameNumber, ts: h.Timestamp, ext: h.Extensions,
			packets: map[uint64][]byte{}, lo: seq, hi: seq}
		d.partials[h.FrameNumber] = pt
		heap.Push(&d.byHi, pt)
	}
	if pt.add(h, seq, p.Payload) {
		heap.Fix(&d.byHi, pt.index)
	}
	d.stats.BufferedBytes += len(p.Payload) + PacketOverhead
	if pt.complete() {
		return d.assemble(pt), true
	}
	d.enforceBounds(pt)
	return f, false
}

// lateForGivenUp reports whether the packet belongs to a frame given up.
// A live partial with the same frame number takes precedence: it is newer.
func (d *Depacketizer) lateForGivenUp(h *Header, seq uint64) bool {
	g, found := d.givenUp[h.FrameNumber]
	if !found {
		return false
	}
	if !g.owns(h, seq, d.window) {
		delete(d.givenUp, h.FrameNumber) // that frame number is in use again
		return false
	}
	g.hi = max(g.hi, seq) // keeps a frame too large for the cap recognised
	d.givenUp[h.FrameNumber] = g
	return true
}

// receive extends seq to 64 bits relative to the highest sequence seen and
// records it. It reports false for a duplicate or a packet too late.
func (d *Depacketizer) receive(s uint16) (uint64, bool) {
	if !d.seqInit {
		// Start high so that subtracting the window never wraps.
		ext := 1<<32 + uint64(s)
		d.seqInit, d.highest, d.base, d.edge = true, ext, ext, ext-d.window
	}
	seq := d.highest + uint64(int64(int16(s-uint16(d.highest))))
	if seq < d.edge {
		d.stats.PacketsLate++
		return 0, false
	}
	w, mask := &d.seen[uint16(seq)/64], uint64(1)<<(seq%64)
	if *w&mask != 0 {
		d.stats.PacketsDuplicate++
		return 0, false
	}
	*w |= mask
	d.distinct++
	d.base = min(d.base, seq)
	if seq > d.highest {
		d.highest = seq
		if edge := seq - d.window; edge > d.edge {
			d.settle(edge)
		}
		// Give up the partials whose newest packet fell behind the window:
		// their missing packets would now be dropped as late.
		for len(d.byHi) > 0 && d.byHi[0].hi < d.edge {
			d.giveUp(d.byHi[0])
		}
	}
	d.stats.PacketsLost = d.highest - d.base + 1 - d.distinct
	return seq, true
}

// settle moves the edge up to `to`, reporting the sequences passed that
// never arrived as lost and clearing their bits for reuse.
func (d *Depacketizer) settle(to uint64) {
	for s := d.edge; s < to; {
		off := s % 64
		n := min(64-off, to-s)
		mask := ^uint64(0) >> (64 - n) << off
		w := &d.seen[uint16(s)/64]
		missing := ^*w & mask
		*w &^= mask
		for missing != 0 {
			i := bits.TrailingZeros64(missing)
			run := bits.TrailingZeros64(^(missing >> i))
			first := s - off + uint64(i)
			d.noteLost(first, first+uint64(run)-1)
			missing &^= ^uint64(0) >> (64 - run) << i
		}
		s += n
	}
	d.edge = to
}

func (d *Depacketizer) noteLost(first, last uint64) {
	if last < d.base {
		return
	}
	first = max(first, d.base)
	// Merge with the previous range while it stays unambiguous in 16 bits.
	if n := len(d.lost); n > 0 && d.lost[n-1].last+1 == first && last-d.lost[n-1].first < 1<<15 {
		d.lost[n-1].last = last
		return
	}
	if len(d.lost) == maxRecentLost {
		d.lost = append(d.lost[:0], d.lost[1:]...)
	}
	d.lost = append(d.lost, extRange{first, last})
}

// enforceBounds gives up partials while over a bound, cur first if it
// alone is over the byte cap (it could never complete), then the ones
// whose newest packet is oldest.
func (d *Depacketizer) enforceBounds(cur *partial) {
	if cur.cost() > d.opts.MaxBufferedBytes || cur.hi-cur.lo >= maxFramePackets {
		d.giveUp(cur)
	}
	for len(d.partials) > d.opts.MaxFramesInFlight || d.stats.BufferedBytes > d.opts.MaxBufferedBytes {
		d.giveUp(d.byHi[0])
	}
}

func (d *Depacketizer) assemble(pt *partial) ReceivedFrame {
	payload := make([]byte, 0, pt.bytes)
	for s := pt.start; s <= pt.final; s++ {
		payload = append(payload, pt.packets[s]...)
	}
	d.remove(pt)
	d.stats.FramesCompleted++
	return ReceivedFrame{FrameNumber: pt.frame, Sequence: uint16(pt.start), Timestamp: pt.ts,
		Extensions: pt.ext, Payload: payload, Packets: len(pt.packets)}
}

func (d *Depacketizer) remove(pt *partial) {
	delete(d.partials, pt.frame)
	heap.Remove(&d.byHi, pt.index)
	d.stats.BufferedBytes -= pt.cost()
}

func (d *Depacketizer) giveUp(pt *partial) {
	d.remove(pt)
	d.stats.FramesIncomplete++
	g := givenUp{ts: pt.ts, ext: pt.ext, hi: pt.hi, final: pt.final, hasFinal: pt.hasFinal}
	if pt.hasStart {
		g.start = pt.start
	}
	d.givenUp[pt.frame] = g
	if len(d.givenUp) > d.sweepAt {
		d.sweepGivenUp()
	}
}

// sweepGivenUp drops records no packet can match any more (their frame
// lies behind the window) and, past maxGivenUp, arbitrary ones. Sweeping
// when the map doubles keeps the cost amortized constant per record.
func (d *Depacketizer) sweepGivenUp() {
	for fn, g := range d.givenUp {
		if g.last(d.window) < d.edge || len(d.givenUp) > maxGivenUp {
			delete(d.givenUp, fn)
		}
	}
	d.sweepAt = max(64, 2*len(d.givenUp))
}

// Flush gives up every partial frame (for example when the track ends), so
// it is counted incomplete, and reports every sequence number up to the
// highest seen that has not arrived as lost. Packets at or below that
// sequence are dropped as late afterwards.
func (d *Depacketizer) Flush() {
	for len(d.byHi) > 0 {
		d.giveUp(d.byHi[0])
	}
	if d.seqInit && d.highest+1 > d.edge {
		d.settle(d.highest + 1)
	}
}

// Stats returns a copy of the counters.
func (d *Depacketizer) Stats() DepacketizerStats {
	s := d.stats
	s.FramesInFlight = len(d.partials)
	s.RecentLost = nil
	for _, r := range d.lost {
		s.RecentLost = append(s.RecentLost, SeqRange{uint16(r.first), uint16(r.last)})
	}
	return s
}
