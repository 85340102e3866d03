package packetizer

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"
)

// Defaults and limits of DepacketizerOptions.
const (
	DefaultMaxFramesInFlight = 32
	DefaultMaxBufferedBytes  = 16 << 20
	DefaultReorderWindow     = 2048
	// DefaultReorderDelay is how long a sequence number may stay missing
	// after a later one arrived before it counts as lost. The SFU drops
	// what it cannot forward within its target latency (100 ms by
	// default), so a packet later than this is not coming.
	DefaultReorderDelay = 500 * time.Millisecond

	// MaxFramesInFlightLimit caps MaxFramesInFlight: every eviction scans
	// the partial frames, and partials older than the reorder window are
	// given up anyway.
	MaxFramesInFlightLimit = 4096
	// MaxReorderWindow caps ReorderWindow. Extended sequence numbers are
	// inferred from 16-bit ones within ±32768 of the highest seen, so the
	// window has to stay well inside that.
	MaxReorderWindow = 16384

	// PacketOverhead is what each held packet counts toward
	// MaxBufferedBytes besides its payload (its index entry and share of
	// the bookkeeping), so that packets with empty payloads are bounded too.
	PacketOverhead = 64

	// maxFramePackets bounds the sequence span of one frame: a longer one
	// could not be told apart from its 16-bit sequence numbers wrapping.
	maxFramePackets = 1 << 15
	maxRecentLost   = 16
	// maxGivenUp bounds the records of given-up frames. Forgetting one only
	// risks counting that frame incomplete twice if more packets of it come.
	maxGivenUp = 4096
	// maxFreePartials bounds the partial frames kept for reuse: in order,
	// one frame is in flight at a time.
	maxFreePartials = 4
	maxCheckpoints  = 32
	// maxGaps bounds the frame-number gaps waiting to be settled; past it
	// the oldest is settled early (its frames counted lost at once).
	maxGaps = 256
	// maxTrackedGap is the widest gap whose frames are told apart when
	// they arrive late (one bit each); a wider gap is counted lost whole.
	maxTrackedGap = 1 << 14
)

// DepacketizerOptions bounds what a Depacketizer buffers and says when a
// missing packet counts as lost. Zero values take the defaults; values
// above a limit are clamped to it.
type DepacketizerOptions struct {
	// MaxFramesInFlight caps partially received frames; past it the partial
	// whose newest packet is oldest is given up (counted incomplete).
	// Default 32, at most MaxFramesInFlightLimit.
	MaxFramesInFlight int
	// MaxBufferedBytes caps the memory held for partial frames: payload
	// bytes plus PacketOverhead per packet. Default 16 MiB. A frame that
	// alone needs more before its last packet arrives can never complete:
	// it is counted incomplete as soon as it goes over, and its later
	// packets are dropped as late.
	MaxBufferedBytes int
	// ReorderWindow is how many sequence numbers a packet may trail the
	// highest one seen. Older packets are dropped as late, a partial frame
	// whose newest packet falls behind the window is given up, and
	// sequence numbers that fall behind it unreceived are counted lost.
	// Default 2048, at most MaxReorderWindow.
	ReorderWindow int
	// ReorderDelay does the same in time, for packets pushed with PushAt
	// and for Expire: a sequence number still missing this long after a
	// later one arrived is counted lost, so loss shows at low packet rates
	// too. Default DefaultReorderDelay; negative turns it off.
	ReorderDelay time.Duration
}

// ReceivedFrame is a reassembled frame.
type ReceivedFrame struct {
	FrameNumber uint16
	Sequence    uint16 // of its first packet
	Timestamp   uint32
	Extensions  Extensions
	// Payload is owned by the caller after Push; after PushAt it (and the
	// frame) is only valid until the next call on the Depacketizer.
	Payload []byte
	Packets int
}

// SeqRange is an inclusive range of sequence numbers (it may wrap).
type SeqRange struct{ First, Last uint16 }

// IncompleteReason says why a partial frame was given up.
type IncompleteReason int

const (
	IncompleteMissing    IncompleteReason = iota // packets never came within the reorder window or delay
	IncompleteEvicted                            // more frames or bytes in flight than the options allow
	IncompleteTooLarge                           // the frame alone exceeds MaxBufferedBytes or the sequence span
	IncompleteSuperseded                         // a newer frame reused its number, or a repeated START or FINAL contradicted it
	IncompleteFlushed                            // still partial at Flush: the stream or subscription ended (its last packets may have been in flight)
	IncompleteReclaimed                          // given up by its owner to bound memory (Reclaim): over a budget across tracks, or its track went silent
	NumIncompleteReasons
)

var incompleteNames = [...]string{"packets missing", "evicted", "too large", "superseded", "flushed", "reclaimed"}

func (r IncompleteReason) String() string {
	if r >= 0 && int(r) < len(incompleteNames) {
		return incompleteNames[r]
	}
	return fmt.Sprintf("incomplete(%d)", int(r))
}

// DepacketizerStats counts what a Depacketizer has seen. The counters
// only grow, except PacketsMissing, FramesInFlight and BufferedBytes.
type DepacketizerStats struct {
	PacketsReceived uint64 // with the track's handle
	// PacketsDuplicate counts copies of packets received within the
	// reorder window.
	PacketsDuplicate uint64
	// PacketsReordered counts packets accepted with a sequence number
	// below the highest one already received.
	PacketsReordered uint64
	// PacketsLate counts packets dropped because their sequence number was
	// already settled (behind the reorder window or delay, or at Flush),
	// they belong to a frame already given up, or they are older than a
	// newer frame that reuses their frame number. A late packet does not
	// undo its loss: it stays counted in PacketsLost.
	PacketsLate    uint64
	PacketsForeign uint64 // other track handles, ignored
	// PacketsLost counts sequence numbers, from the lowest received to
	// the highest, that the reorder window or delay (or Flush) passed
	// without them arriving. It never decreases.
	PacketsLost uint64
	// PacketsMissing is the RTP-style count: sequence numbers from the
	// lowest received to the highest, minus the distinct ones received.
	// A reordered packet lowers it; it includes PacketsLost.
	PacketsMissing   uint64
	FramesCompleted  uint64
	FramesIncomplete uint64 // given up with packets missing, or too large; the sum of IncompleteBy
	IncompleteBy     [NumIncompleteReasons]uint64
	// FramesJoinedMidway counts frames the stream was joined in the
	// middle of: their START precedes the first packet received (an SFU
	// forwards a new subscriber from the packet it is at), and every
	// packet from that one to their FINAL arrived. Nothing of them sent
	// within the stream is missing, so they are not incomplete.
	FramesJoinedMidway uint64
	// FramesCut counts frames Cut dropped: waiting for packets after the
	// last one received when the receiver ended the stream.
	FramesCut uint64
	// FramesLost counts frame numbers, between the lowest and the highest
	// received, of which no packet arrived (settled as PacketsLost is: a
	// frame's packets all come before a later frame's). An empty frame
	// sends no packet, so it counts here too.
	FramesLost     uint64
	FramesInFlight int
	BufferedBytes  int // payload plus PacketOverhead per packet held
	// RecentLost are the latest sequence ranges that never arrived, oldest
	// first and newest last, at most 16.
	RecentLost []SeqRange
}

// seg is where one held packet's payload sits in its partial's data.
type seg struct {
	seq    uint64
	off, n int
}

// partial is a frame being reassembled. Every packet it holds lies within
// [start, final] as far as those are known: a packet that contradicts that
// (or the frame's timestamp and extensions) is not of this frame.
//
// Payloads are appended to data in arrival order, so a frame that arrives
// in order is its data as is: each byte is copied once, from the packet
// into the frame. Only a reordered frame is copied again, sorted.
//
// newPartial sets every field: a new one must be set there too.
type partial struct {
	frame    uint16
	ts       uint32
	ext      Extensions
	segs     []seg  // arrival order
	data     []byte // payloads, arrival order
	inOrder  bool   // segs hold consecutive ascending sequence numbers
	start    uint64
	final    uint64
	hasStart bool
	hasFinal bool
	lo, hi   uint64 // lowest and highest sequence held
	// at is when its newest packet arrived (since the first PushAt), for
	// Oldest: a track gone silent leaves its last partial behind.
	at     time.Duration
	index  int  // in Depacketizer.byHi
	mapped bool // in Depacketizer.partials
}

func (pt *partial) cost() int { return len(pt.data) + len(pt.segs)*PacketOverhead }

func (pt *partial) complete() bool {
	return pt.hasStart && pt.hasFinal && uint64(len(pt.segs)) == pt.final-pt.start+1
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
	if n := len(pt.segs); n > 0 && seq != pt.segs[n-1].seq+1 {
		pt.inOrder = false
	}
	pt.segs = append(pt.segs, seg{seq: seq, off: len(pt.data), n: len(payload)})
	pt.data = append(pt.data, payload...)
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

// checkpoint records that sequence seq had arrived at time at (since the
// first PushAt): once at is ReorderDelay old, every sequence below seq
// still missing is lost.
type checkpoint struct {
	seq uint64
	at  time.Duration
}

// gap is a run of frame numbers no packet has arrived for yet, between
// two frames that did. All their packets precede sequence seq (senders
// number packets in frame order), so they are settled, and the frames
// still unseen counted lost, when the sequence edge reaches seq.
type gap struct {
	first, last uint64 // extended frame numbers, inclusive
	seq         uint64
	seen        uint64 // frames of the run that arrived since
	tracked     bool   // seen is kept per frame in fseen
}

// Depacketizer reassembles one track's frames from packets that may arrive
// out of order, duplicated or not at all (the `_data_track` channel is
// unordered with no retransmissions), and accounts for every sequence and
// frame number: received, duplicate, reordered, late, lost. Memory is
// bounded by its options, and in steady state it allocates nothing: the
// buffers of finished frames are reused.
//
// Sequence and frame numbers are tracked extended to 64 bits, so wraps at
// 65535 are invisible. A frame is returned only when a START, a FINAL and
// every sequence number between them arrived with the same frame number,
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
	edge     uint64 // sequences below it are settled: received, or counted lost
	base     uint64 // lowest sequence received; loss is not counted before it
	distinct uint64
	// seen has bit uint16(s) set when s in [edge, highest] was received.
	// The window is far below 65536, so positions never collide.
	seen [1 << 16 / 64]uint64

	// partials indexes the partials by frame number, except cur while no
	// packet of another frame has come since it was opened: in order, a
	// frame is opened and completed without a map update.
	partials map[uint16]*partial
	cur      *partial // the partial the last packet went to, if still held
	byHi     byHi     // every partial, oldest newest packet first
	givenUp  map[uint16]givenUp
	sweepAt  int // sweep expired givenUp records past this many

	lost []extRange // newest last

	// Reuse: lent is the partial whose data the last PushAt returned;
	// it goes back to free on the next call.
	lent        *partial
	out         ReceivedFrame // the frame the last call returned
	free        []*partial
	retained    int // bytes of data capacity held in free
	retainLimit int
	scratch     []byte // a reordered frame, sorted

	// Time (PushAt, Expire).
	timed    bool // the current packet came with an arrival time
	epoch    time.Time
	hasEpoch bool
	now      time.Duration
	// highestAt is when highest arrived (timed packets only).
	highestAt time.Duration
	cps       [maxCheckpoints]checkpoint
	cpHead    int
	cpN       int

	// Frame numbers.
	frameInit bool
	highFrame uint64 // extended
	baseFrame uint64
	baseSeq   uint64 // a sequence of baseFrame
	gaps      [maxGaps]gap
	gapHead   int
	gapN      int
	fseen     [1 << 16 / 64]uint64 // frames of tracked gaps that arrived
}

// NewDepacketizer returns a depacketizer; the first packet fixes its track handle.
func NewDepacketizer(opts DepacketizerOptions) *Depacketizer {
	opts.MaxFramesInFlight = clampOption(opts.MaxFramesInFlight, DefaultMaxFramesInFlight, MaxFramesInFlightLimit)
	opts.MaxBufferedBytes = clampOption(opts.MaxBufferedBytes, DefaultMaxBufferedBytes, math.MaxInt)
	opts.ReorderWindow = clampOption(opts.ReorderWindow, DefaultReorderWindow, MaxReorderWindow)
	if opts.ReorderDelay == 0 {
		opts.ReorderDelay = DefaultReorderDelay
	}
	return &Depacketizer{
		opts:        opts,
		window:      uint64(opts.ReorderWindow),
		partials:    make(map[uint16]*partial, opts.MaxFramesInFlight),
		givenUp:     map[uint16]givenUp{},
		sweepAt:     64,
		free:        make([]*partial, 0, maxFreePartials),
		retainLimit: opts.MaxBufferedBytes / 4,
	}
}

func clampOption(v, def, limit int) int {
	if v <= 0 {
		return def
	}
	return min(v, limit)
}

// Push adds one packet. When it completes a frame, that frame is returned
// with ok set; its Payload is the caller's. Push does not count time, so
// only the reorder window settles loss.
func (d *Depacketizer) Push(p Packet) (f ReceivedFrame, ok bool) {
	d.release()
	d.timed = false
	out, ok := d.push(&p)
	if ok {
		f = *out
		f.Payload = slices.Clone(f.Payload)
	}
	return f, ok
}

// PushAt adds one packet that arrived at arrival; it only reads p
// during the call. When the packet completes a frame, that frame is
// returned with ok set. The frame and its Payload are only valid until
// the next call on d: the Payload is the depacketizer's reused buffer, or
// p.Payload itself for a single-packet frame. A frame that arrived in
// order has been copied once, from its packets into that buffer.
//
// It is the receive path's: pointers in and out, because copying a
// freshly written Packet or ReceivedFrame whole stalls the CPU on the
// narrow stores that wrote it (tens of nanoseconds a packet).
//
// Arrival times also settle loss by ReorderDelay; they should come from
// one clock (time.Now readings are compared by their monotonic part).
func (d *Depacketizer) PushAt(p *Packet, arrival time.Time) (f *ReceivedFrame, ok bool) {
	d.release()
	d.timed = d.opts.ReorderDelay > 0
	d.now = d.since(arrival) // for Oldest, whether or not loss is settled by time
	if d.timed {
		d.expire()
	}
	return d.push(p)
}

// Expire settles by time, as a packet arriving at now would: sequence
// numbers missing for ReorderDelay after a later one arrived are counted
// lost, with the frames they leave incomplete or missing. Call it when
// packets may have stopped, so the last losses show.
func (d *Depacketizer) Expire(now time.Time) {
	d.release()
	if d.opts.ReorderDelay <= 0 || !d.hasEpoch {
		return
	}
	d.now = d.since(now)
	d.expire()
}

func (d *Depacketizer) since(t time.Time) time.Duration {
	if !d.hasEpoch {
		d.epoch, d.hasEpoch = t, true
	}
	return t.Sub(d.epoch)
}

func (d *Depacketizer) expire() {
	for d.cpN > 0 {
		cp := d.cps[d.cpHead]
		if d.now-cp.at < d.opts.ReorderDelay {
			return
		}
		d.cpHead = (d.cpHead + 1) % maxCheckpoints
		d.cpN--
		if cp.seq > d.edge {
			d.advance(cp.seq)
		}
	}
	// The newest packet may be younger than every checkpoint's spacing:
	// once it is ReorderDelay old, everything below it is settled too.
	if d.cpN == 0 && d.seqInit && d.highest > d.edge && d.now-d.highestAt >= d.opts.ReorderDelay {
		d.advance(d.highest)
	}
}

// checkpoint notes that seq, a new highest, arrived now. Checkpoints are
// at least ReorderDelay/16 apart, so a loss is settled at most 1/16 of
// the delay late, never early.
func (d *Depacketizer) checkpoint(seq uint64) {
	if d.cpN > 0 && d.now-d.cps[(d.cpHead+d.cpN-1)%maxCheckpoints].at < d.opts.ReorderDelay/16 {
		return
	}
	if d.cpN == maxCheckpoints {
		return // only when time stands still for the clock; the window still settles
	}
	d.cps[(d.cpHead+d.cpN)%maxCheckpoints] = checkpoint{seq: seq, at: d.now}
	d.cpN++
}

func (d *Depacketizer) push(p *Packet) (*ReceivedFrame, bool) {
	h := &p.Header
	if d.handle == 0 {
		d.handle = h.Handle
	} else if h.Handle != d.handle {
		d.stats.PacketsForeign++
		return nil, false
	}
	d.stats.PacketsReceived++
	seq, fresh := d.receive(h.Sequence)
	if !fresh {
		return nil, false
	}
	d.noteFrame(h.FrameNumber, seq)
	pt := d.cur // in order, the frame of the last packet
	if pt == nil || pt.frame != h.FrameNumber {
		pt = nil
		if len(d.partials) > 0 {
			pt = d.partials[h.FrameNumber]
		}
	}
	if pt == nil && d.lateForGivenUp(h, seq) {
		d.stats.PacketsLate++
		return nil, false
	}
	if pt != nil && pt.conflicts(h, seq) {
		if seq < pt.hi {
			// Older than what the partial holds: a stale packet of an
			// earlier frame with this number.
			d.stats.PacketsLate++
			return nil, false
		}
		d.giveUp(pt, IncompleteSuperseded)
		pt = nil
	}
	if pt == nil {
		if h.Marker == MarkerSingle {
			d.stats.FramesCompleted++
			return d.lend(h.FrameNumber, h.Sequence, h.Timestamp, &h.Extensions, p.Payload, 1), true
		}
		pt = d.newPartial(h, seq)
		heap.Push(&d.byHi, pt)
	}
	if c := d.cur; c != pt && c != nil && !c.mapped {
		d.partials[c.frame], c.mapped = c, true // another frame interleaves
	}
	d.cur = pt
	if pt.add(h, seq, p.Payload) && len(d.byHi) > 1 { // alone, it is in place
		heap.Fix(&d.byHi, pt.index)
	}
	pt.at = d.now
	d.stats.BufferedBytes += len(p.Payload) + PacketOverhead
	if pt.complete() {
		return d.assemble(pt), true
	}
	d.enforceBounds(pt)
	return nil, false
}

// lateForGivenUp reports whether the packet belongs to a frame given up.
// A live partial with the same frame number takes precedence: it is newer.
func (d *Depacketizer) lateForGivenUp(h *Header, seq uint64) bool {
	if len(d.givenUp) == 0 {
		return false
	}
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
	switch {
	case seq > d.highest:
		d.highest = seq
		if d.timed {
			d.highestAt = d.now
			d.checkpoint(seq)
		}
		if edge := seq - d.window; edge > d.edge {
			d.advance(edge)
		}
	case seq < d.highest:
		d.stats.PacketsReordered++
	}
	d.stats.PacketsMissing = d.highest - d.base + 1 - d.distinct
	return seq, true
}

// advance moves the edge up to `to`: sequences passed that never arrived
// are counted lost, partial frames whose newest packet is behind it are
// given up (their missing packets could now only be late), and frame
// gaps wholly behind it are settled.
func (d *Depacketizer) advance(to uint64) {
	d.settle(to)
	for len(d.byHi) > 0 && d.byHi[0].hi < d.edge {
		d.giveUp(d.byHi[0], IncompleteMissing)
	}
	for d.gapN > 0 && d.gaps[d.gapHead].seq <= d.edge {
		d.settleGap()
	}
}

// settle moves the edge up to `to`, counting the sequences passed that
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

// Lost is Stats().PacketsLost, without copying the rest.
func (d *Depacketizer) Lost() uint64 { return d.stats.PacketsLost }

func (d *Depacketizer) noteLost(first, last uint64) {
	if last < d.base {
		return
	}
	first = max(first, d.base)
	d.stats.PacketsLost += last - first + 1
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

// noteFrame tracks frame numbers: a frame above the highest one seen
// opens a gap for the numbers skipped, one below the lowest a gap down to
// it, and one in between may fill a gap.
func (d *Depacketizer) noteFrame(fn uint16, seq uint64) {
	if !d.frameInit {
		ext := 1<<32 + uint64(fn)
		d.frameInit, d.highFrame, d.baseFrame, d.baseSeq = true, ext, ext, seq
		return
	}
	f := d.highFrame + uint64(int64(int16(fn-uint16(d.highFrame))))
	switch {
	case f == d.highFrame:
	case f > d.highFrame:
		if f > d.highFrame+1 {
			d.pushGap(gap{first: d.highFrame + 1, last: f - 1, seq: seq}, false)
		}
		d.highFrame = f
	case f < d.baseFrame:
		if f+1 < d.baseFrame {
			d.pushGap(gap{first: f + 1, last: d.baseFrame - 1, seq: d.baseSeq}, true)
		}
		d.baseFrame, d.baseSeq = f, seq
	default:
		d.fillGap(f)
	}
}

func (d *Depacketizer) pushGap(g gap, front bool) {
	if d.gapN == maxGaps {
		d.settleGap()
	}
	g.tracked = g.last-g.first < maxTrackedGap
	if front {
		d.gapHead = (d.gapHead + maxGaps - 1) % maxGaps
		d.gaps[d.gapHead] = g
	} else {
		d.gaps[(d.gapHead+d.gapN)%maxGaps] = g
	}
	d.gapN++
}

// fillGap notes that frame f, inside a pending gap, arrived after all.
func (d *Depacketizer) fillGap(f uint64) {
	for i := d.gapN - 1; i >= 0; i-- {
		g := &d.gaps[(d.gapHead+i)%maxGaps]
		if f > g.last {
			return // gaps are in frame order: none holds f
		}
		if f < g.first {
			continue
		}
		if g.tracked {
			w, mask := &d.fseen[uint16(f)/64], uint64(1)<<(f%64)
			if *w&mask == 0 {
				*w |= mask
				g.seen++
			}
		}
		return
	}
}

// settleGap counts the oldest gap's frames that never arrived as lost.
func (d *Depacketizer) settleGap() {
	g := &d.gaps[d.gapHead]
	d.stats.FramesLost += g.last - g.first + 1 - g.seen
	if g.tracked {
		for f := g.first; f <= g.last; {
			off := f % 64
			n := min(64-off, g.last+1-f)
			d.fseen[uint16(f)/64] &^= ^uint64(0) >> (64 - n) << off
			f += n
		}
	}
	d.gapHead = (d.gapHead + 1) % maxGaps
	d.gapN--
}

// enforceBounds gives up partials while over a bound, cur first if it
// alone is over the byte cap (it could never complete), then the ones
// whose newest packet is oldest.
func (d *Depacketizer) enforceBounds(cur *partial) {
	if cur.cost() > d.opts.MaxBufferedBytes || cur.hi-cur.lo >= maxFramePackets {
		d.giveUp(cur, IncompleteTooLarge)
	}
	for len(d.byHi) > d.opts.MaxFramesInFlight || d.stats.BufferedBytes > d.opts.MaxBufferedBytes {
		d.giveUp(d.byHi[0], IncompleteEvicted)
	}
}

func (d *Depacketizer) newPartial(h *Header, seq uint64) *partial {
	var pt *partial
	if n := len(d.free); n > 0 {
		pt = d.free[n-1]
		d.free = d.free[:n-1]
		d.retained -= cap(pt.data)
	} else {
		pt = &partial{}
	}
	// Field by field, like lend: a composite literal is built aside and
	// copied whole, which stalls on the stores that just built it.
	pt.frame, pt.ts, pt.ext = h.FrameNumber, h.Timestamp, h.Extensions
	pt.segs, pt.data = pt.segs[:0], pt.data[:0]
	pt.inOrder, pt.start, pt.final, pt.hasStart, pt.hasFinal = true, 0, 0, false, false
	pt.lo, pt.hi, pt.at, pt.index, pt.mapped = seq, seq, d.now, 0, false
	return pt
}

// recycle keeps pt for a later frame, within the retention bounds.
func (d *Depacketizer) recycle(pt *partial) {
	if len(d.free) == maxFreePartials {
		return
	}
	if d.retained+cap(pt.data) > d.retainLimit {
		pt.data = nil
	}
	if cap(pt.segs) > 1024 {
		pt.segs = nil
	}
	d.retained += cap(pt.data)
	d.free = append(d.free, pt)
}

// release takes back the partial lent by the last PushAt.
func (d *Depacketizer) release() {
	d.out.Payload = nil
	if d.lent != nil {
		d.recycle(d.lent)
		d.lent = nil
	}
	if cap(d.scratch) > d.retainLimit {
		d.scratch = nil
	}
}

func cmpSeg(a, b seg) int { return cmp.Compare(a.seq, b.seq) }

// assemble returns pt's frame, lending pt until the next call.
func (d *Depacketizer) assemble(pt *partial) *ReceivedFrame {
	payload := pt.data
	if !pt.inOrder {
		slices.SortFunc(pt.segs, cmpSeg)
		d.scratch = d.scratch[:0]
		for _, s := range pt.segs {
			d.scratch = append(d.scratch, pt.data[s.off:s.off+s.n]...)
		}
		payload = d.scratch
	}
	d.remove(pt)
	d.lent = pt
	d.stats.FramesCompleted++
	return d.lend(pt.frame, uint16(pt.start), pt.ts, &pt.ext, payload, len(pt.segs))
}

// lend fills the frame returned until the next call, field by field
// (see PushAt).
func (d *Depacketizer) lend(frame, seq uint16, ts uint32, ext *Extensions, payload []byte, packets int) *ReceivedFrame {
	f := &d.out
	f.FrameNumber, f.Sequence, f.Timestamp, f.Packets = frame, seq, ts, packets
	f.Extensions = *ext
	f.Payload = payload
	return f
}

func (d *Depacketizer) remove(pt *partial) {
	if d.cur == pt {
		d.cur = nil
	}
	if pt.mapped {
		delete(d.partials, pt.frame)
		pt.mapped = false
	}
	heap.Remove(&d.byHi, pt.index)
	d.stats.BufferedBytes -= pt.cost()
}

func (d *Depacketizer) giveUp(pt *partial, why IncompleteReason) {
	if d.joinedMidway(pt) {
		d.stats.FramesJoinedMidway++
	} else {
		d.stats.FramesIncomplete++
		d.stats.IncompleteBy[why]++
	}
	d.forget(pt)
}

// forget drops pt, remembering it so that its late packets are known.
func (d *Depacketizer) forget(pt *partial) {
	d.remove(pt)
	g := givenUp{ts: pt.ts, ext: pt.ext, hi: pt.hi, final: pt.final, hasFinal: pt.hasFinal}
	if pt.hasStart {
		g.start = pt.start
	}
	d.givenUp[pt.frame] = g
	if len(d.givenUp) > d.sweepAt {
		d.sweepGivenUp()
	}
	d.recycle(pt)
}

// joinedMidway reports whether pt began before the stream did: it lacks
// its START, holds the first sequence received, and everything from
// there to its FINAL.
func (d *Depacketizer) joinedMidway(pt *partial) bool {
	return !pt.hasStart && pt.hasFinal && pt.lo == d.base && uint64(len(pt.segs)) == pt.final-pt.lo+1
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

// Flush ends the stream (for example when the track or the subscription
// ends): every partial frame is given up and counted incomplete, every
// sequence number up to the highest seen that has not arrived is counted
// lost, and so is every frame number in a gap. Packets at or below that
// sequence are dropped as late afterwards.
func (d *Depacketizer) Flush() {
	d.release()
	for len(d.byHi) > 0 {
		d.giveUp(d.byHi[0], IncompleteFlushed)
	}
	if d.seqInit && d.highest+1 > d.edge {
		d.advance(d.highest + 1)
	}
	for d.gapN > 0 {
		d.settleGap()
	}
}

// Cut ends the stream where the receiver chose to stop (it unsubscribed,
// or closed): the frame still waiting for the packets after the last one
// received, which were on their way or not sent yet, is dropped and
// counted cut, not incomplete. Everything else is settled as Flush does:
// a packet missing below the last one received is lost, and its frame
// incomplete.
func (d *Depacketizer) Cut() {
	d.release()
	for _, pt := range d.byHi {
		if pt.hi == d.highest && !pt.hasFinal && uint64(len(pt.segs)) == pt.hi-pt.lo+1 && (pt.hasStart || pt.lo == d.base) {
			d.stats.FramesCut++
			d.forget(pt)
			break // packets of one frame are consecutive: only one can end at the highest
		}
	}
	d.Flush()
}

// Held is the memory the depacketizer holds that its packets made it
// hold: the partial frames' payload plus PacketOverhead per packet
// (BufferedBytes), and the buffers it keeps for reuse. Reclaim and Trim
// give it back.
func (d *Depacketizer) Held() int {
	return d.stats.BufferedBytes + d.retained + cap(d.scratch)
}

// Oldest returns when the newest packet of the partial frame to be given
// up first arrived (that partial's newest packet is the oldest by
// sequence, so by arrival too in a stream sent in order); ok is false
// when no frame is partial or no packet came with PushAt.
func (d *Depacketizer) Oldest() (at time.Time, ok bool) {
	if len(d.byHi) == 0 || !d.hasEpoch {
		return time.Time{}, false
	}
	return d.epoch.Add(d.byHi[0].at), true
}

// Reclaim gives up the partial frame Oldest names, counted incomplete
// (IncompleteReclaimed), and drops its buffers rather than keep them for
// reuse; it returns the bytes of Held given back (0: no partial). Its
// later packets are dropped as late. The owner calls it to bound memory
// across depacketizers, or when the track went silent.
func (d *Depacketizer) Reclaim() int {
	if len(d.byHi) == 0 {
		return 0
	}
	before := d.Held()
	pt := d.byHi[0]
	d.giveUp(pt, IncompleteReclaimed)
	d.dropFree()
	return before - d.Held()
}

// Trim drops the buffers kept for reuse and returns the bytes of Held
// given back.
func (d *Depacketizer) Trim() int {
	before := d.Held()
	d.dropFree()
	return before - d.Held()
}

// dropFree lets the partials and scratch kept for reuse go (the partial
// lent by the last PushAt is still the caller's until the next call).
func (d *Depacketizer) dropFree() {
	clear(d.free)
	d.free = d.free[:0]
	d.retained = 0
	d.scratch = nil
}

// Stats returns a copy of the counters.
func (d *Depacketizer) Stats() DepacketizerStats {
	s := d.stats
	s.FramesInFlight = len(d.byHi)
	s.RecentLost = nil
	for _, r := range d.lost {
		s.RecentLost = append(s.RecentLost, SeqRange{uint16(r.first), uint16(r.last)})
	}
	return s
}
