package packetizer

import "slices"

// DepacketizerOptions bounds what a Depacketizer buffers.
type DepacketizerOptions struct {
	// MaxFramesInFlight caps partially received frames; the oldest is given
	// up (counted incomplete) when a new one would exceed it. Default 32.
	MaxFramesInFlight int
	// MaxBufferedBytes caps payload bytes held for partial frames. Default 16 MiB.
	MaxBufferedBytes int
}

// ReceivedFrame is a reassembled frame.
type ReceivedFrame struct {
	FrameNumber uint16
	Timestamp   uint32
	Extensions  Extensions
	Payload     []byte // owned by the caller
	Packets     int
}

// SeqRange is an inclusive range of sequence numbers (it may wrap).
type SeqRange struct{ First, Last uint16 }

// DepacketizerStats counts what a Depacketizer has seen.
type DepacketizerStats struct {
	PacketsReceived uint64
	// PacketsDuplicate counts copies, and late packets of frames already
	// completed or given up.
	PacketsDuplicate uint64
	PacketsForeign   uint64 // other track handles, ignored
	// PacketsLost is RTP-style: sequence numbers expected (from the first to
	// the highest seen) minus distinct packets received. Late packets lower it.
	PacketsLost      uint64
	FramesCompleted  uint64
	FramesIncomplete uint64 // given up: evicted with packets missing
	FramesInFlight   int
	BufferedBytes    int
	// RecentLost are the missing sequence ranges of the last frames given
	// up, newest last (at most 16).
	RecentLost []SeqRange
}

const maxRecentLost = 16

type partial struct {
	frame      uint16
	ts         uint32
	ext        Extensions
	packets    map[uint16][]byte
	bytes      int
	start      uint16
	final      uint16
	hasStart   bool
	hasFinal   bool
	minSeq     uint16 // lowest and highest sequence seen, wraparound-aware
	maxSeq     uint16
	insertedAt uint64
}

// Depacketizer reassembles one track's frames from packets that may arrive
// out of order, duplicated or not at all (the `_data_track` channel is
// unordered with no retransmissions). Memory is bounded by its options.
// It is not safe for concurrent use.
type Depacketizer struct {
	opts     DepacketizerOptions
	handle   uint16
	partials map[uint16]*partial
	order    uint64
	stats    DepacketizerStats

	seqInit   bool
	baseSeq   uint64 // extended sequence of the first packet
	highest   uint64 // extended highest sequence seen
	distinct  uint64
	completed map[uint16]uint64 // recently completed frames → order, to spot duplicates
}

// NewDepacketizer returns a depacketizer; the first packet fixes its track handle.
func NewDepacketizer(opts DepacketizerOptions) *Depacketizer {
	if opts.MaxFramesInFlight <= 0 {
		opts.MaxFramesInFlight = 32
	}
	if opts.MaxBufferedBytes <= 0 {
		opts.MaxBufferedBytes = 16 << 20
	}
	return &Depacketizer{opts: opts, partials: map[uint16]*partial{}, completed: map[uint16]uint64{}}
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
	if _, done := d.completed[h.FrameNumber]; done {
		d.stats.PacketsDuplicate++
		return f, false
	}
	pt := d.partials[h.FrameNumber]
	if pt == nil {
		d.order++
		pt = &partial{frame: h.FrameNumber, ts: h.Timestamp, ext: h.Extensions,
			packets: map[uint16][]byte{}, minSeq: h.Sequence, maxSeq: h.Sequence, insertedAt: d.order}
		d.partials[h.FrameNumber] = pt
	}
	if _, dup := pt.packets[h.Sequence]; dup {
		d.stats.PacketsDuplicate++
		return f, false
	}
	d.countSequence(h.Sequence)
	pt.packets[h.Sequence] = slices.Clone(p.Payload)
	pt.bytes += len(p.Payload)
	d.stats.BufferedBytes += len(p.Payload)
	if int16(h.Sequence-pt.minSeq) < 0 {
		pt.minSeq = h.Sequence
	}
	if int16(h.Sequence-pt.maxSeq) > 0 {
		pt.maxSeq = h.Sequence
	}
	if h.Marker.IsStart() {
		pt.start, pt.hasStart = h.Sequence, true
	}
	if h.Marker.IsFinal() {
		pt.final, pt.hasFinal = h.Sequence, true
	}
	if pt.hasStart && pt.hasFinal && int(uint16(pt.final-pt.start))+1 == len(pt.packets) {
		f = d.assemble(pt)
		d.evictBeyondBounds()
		return f, true
	}
	d.evictBeyondBounds()
	return f, false
}

// countSequence keeps RTP-style loss accounting in extended (64-bit)
// sequence space, so wraps at 65535 are invisible.
func (d *Depacketizer) countSequence(seq uint16) {
	if !d.seqInit {
		d.seqInit, d.baseSeq, d.highest = true, 1<<20+uint64(seq), 1<<20+uint64(seq)
		d.distinct = 1
		d.updateLost()
		return
	}
	delta := int64(int16(seq - uint16(d.highest)))
	ext := uint64(int64(d.highest) + delta)
	if ext > d.highest {
		d.highest = ext
	}
	if ext < d.baseSeq {
		d.baseSeq = ext
	}
	d.distinct++
	d.updateLost()
}

func (d *Depacketizer) updateLost() {
	expected := d.highest - d.baseSeq + 1
	if expected > d.distinct {
		d.stats.PacketsLost = expected - d.distinct
	} else {
		d.stats.PacketsLost = 0
	}
}

func (d *Depacketizer) assemble(pt *partial) ReceivedFrame {
	payload := make([]byte, 0, pt.bytes)
	n := int(uint16(pt.final-pt.start)) + 1
	for i := range n {
		payload = append(payload, pt.packets[pt.start+uint16(i)]...)
	}
	d.remove(pt)
	d.stats.FramesCompleted++
	d.completed[pt.frame] = d.order
	return ReceivedFrame{FrameNumber: pt.frame, Timestamp: pt.ts, Extensions: pt.ext, Payload: payload, Packets: n}
}

func (d *Depacketizer) remove(pt *partial) {
	delete(d.partials, pt.frame)
	d.stats.BufferedBytes -= pt.bytes
}

// evictBeyondBounds gives up the oldest partial frames while over a bound,
// and forgets completed frame numbers too old to see duplicates of.
func (d *Depacketizer) evictBeyondBounds() {
	for len(d.partials) > d.opts.MaxFramesInFlight || d.stats.BufferedBytes > d.opts.MaxBufferedBytes {
		var oldest *partial
		for _, pt := range d.partials {
			if oldest == nil || pt.insertedAt < oldest.insertedAt {
				oldest = pt
			}
		}
		d.giveUp(oldest)
	}
	if len(d.completed) > 4*d.opts.MaxFramesInFlight {
		for fn, at := range d.completed {
			if d.order-at > uint64(2*d.opts.MaxFramesInFlight) {
				delete(d.completed, fn)
			}
		}
	}
}

func (d *Depacketizer) giveUp(pt *partial) {
	d.remove(pt)
	d.stats.FramesIncomplete++
	// Remember it, so late packets don't start a partial that can never complete.
	d.completed[pt.frame] = d.order
	first, last := pt.minSeq, pt.maxSeq
	if pt.hasStart {
		first = pt.start
	}
	if pt.hasFinal {
		last = pt.final
	}
	var missing []SeqRange
	for s := first; ; s++ {
		if _, ok := pt.packets[s]; !ok {
			if n := len(missing); n > 0 && missing[n-1].Last == s-1 {
				missing[n-1].Last = s
			} else {
				missing = append(missing, SeqRange{s, s})
			}
		}
		if s == last {
			break
		}
	}
	if !pt.hasStart {
		// The start packet itself never came: the range before what we saw is lost too.
		missing = append([]SeqRange{{first - 1, first - 1}}, missing...)
	}
	if !pt.hasFinal {
		missing = append(missing, SeqRange{last + 1, last + 1})
	}
	d.stats.RecentLost = append(d.stats.RecentLost, missing...)
	if n := len(d.stats.RecentLost); n > maxRecentLost {
		d.stats.RecentLost = slices.Clone(d.stats.RecentLost[n-maxRecentLost:])
	}
}

// Flush gives up every partial frame (for example when the track ends) so
// it is counted incomplete.
func (d *Depacketizer) Flush() {
	for len(d.partials) > 0 {
		for _, pt := range d.partials {
			d.giveUp(pt)
			break
		}
	}
}

// Stats returns a copy of the counters.
func (d *Depacketizer) Stats() DepacketizerStats {
	s := d.stats
	s.FramesInFlight = len(d.partials)
	s.RecentLost = slices.Clone(s.RecentLost)
	return s
}
