package probe

import (
	"slices"
	"time"

	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/report"
)

// Follower measures probe frames at a subscriber that did not send them:
// a room track another dttui publishes. Its sequence numbers give exact
// frame loss between the first frame seen and the latest (a frame is
// counted sent once a later one has arrived, and lost once it has not
// arrived within the grace period after that); its send time gives
// latency to the nanosecond, on the publisher's clock against ours. What
// the publisher sent after the last frame that arrived cannot be known.
//
// A new stream (the publisher republished, or another dttui took the
// name) or a new subscription starts a new span: frames between two spans
// are not counted, and frames still in their grace when a span ends are
// counted cut, not lost.
//
// The frames are other participants' input, so each arrival costs a
// bounded amount of work whatever its header claims: the frames a jump
// skips are kept as one range, not one entry each (at most
// maxMissingRanges of them; past it the oldest is settled early, counted
// lost), and a stream may not claim to have lost more than
// jumpAllowance frames for each one that arrived, beyond a first
// maxFollowGap (a jump beyond that is counted in Jumps and starts a new
// span instead). Not safe for concurrent use.
type Follower struct {
	grace time.Duration

	stream  uint32
	span    uint64 // the subscription the current span belongs to
	started bool   // a span is under way
	first   uint64 // the first sequence number of the span
	maxSeen uint64 // highest sequence number seen in the span
	// missing are the ranges of numbers declared sent and not arrived,
	// in grace; ordered by number, which is also the order they were
	// declared in. lost are the latest ranges counted lost, same order;
	// numbers at or below lostFloor and in none of them are too old to
	// tell a late frame from a copy (counted late, as the ledger does).
	missing   []seqRun
	lost      []seqRun
	lostFloor uint64
	span0     LedgerCounts // the current span's figures
	done      LedgerCounts // of the spans that ended

	// dropSeen says a frame of the span carried the publisher's drop
	// count (format version 2): dropBase is the first count, dropMax the
	// highest.
	dropSeen          bool
	dropBase, dropMax uint64

	// tokens is the jump allowance: frames a jump may skip, refilled by
	// jumpAllowance for each arrival, up to maxFollowGap.
	tokens uint64

	c FollowCounts
}

// seqRun is numbers first…last (inclusive) declared sent at at.
type seqRun struct {
	first, last uint64
	at          time.Time
}

// FollowCounts are a Follower's figures beyond the ledger's.
type FollowCounts struct {
	// Spans counts the spans followed: streams and subscriptions.
	Spans uint64
	// Cut counts frames still in their grace when their span ended.
	Cut uint64
	// Corrupt counts probe frames whose filler was not intact: reassembled
	// wrongly, or not a probe after all.
	Corrupt uint64
	// PublisherDropped counts frames the publisher numbered and then did
	// not send (stale, or lost with its connection), by the counts its
	// frames carry (Header.Dropped): they are among Lost and InGrace, so
	// Lost - PublisherDropped is the network's (at most the frames each
	// span numbered). 0 from a publisher that does not say.
	PublisherDropped uint64
	// Jumps counts arrivals whose sequence number skipped more frames than
	// the jump allowance (jumpAllowance per frame that arrived, at most
	// maxFollowGap at once): a mangled or hostile header. Each starts a
	// new span; the frames it skipped are not counted.
	Jumps uint64
	// Latency is arrival minus the probe's send time, in nanoseconds
	// (0 when the publisher's clock is ahead).
	Latency histogram.Histogram
}

// maxFollowGap bounds the frames one arrival can declare sent: a jump
// further ahead starts a new span instead (a mangled or hostile header
// must not make a subscriber count millions of frames).
const maxFollowGap = 1 << 16

// jumpAllowance is how many frames a stream may skip for each frame that
// arrives: a stream losing up to 16 frames in 17 over time is followed,
// and one claiming more cannot make "sent" grow faster than 17 times what
// arrives (an attacker's jumps of 65 536 a frame made it 150 million).
const jumpAllowance = 16

// maxMissingRanges bounds the ranges of frames in grace a follower keeps
// (each arrival inside one may split it); maxLostRanges the ranges kept
// to tell a late frame from a copy.
const (
	maxMissingRanges = 1024
	maxLostRanges    = 64
)

// NewFollower returns a follower with the given grace period (LossGrace).
func NewFollower(grace time.Duration) *Follower {
	return &Follower{grace: LossGrace(grace), tokens: maxFollowGap}
}

// Arrived records a probe frame of subscription sub that arrived at now:
// payload p, whose header Decode read as h. Its cost is bounded by a
// constant and the payload's length, whatever h says. It says whether
// the frame counted as received, the frames whose latency is recorded:
// a zero h.Sent (the publisher's clock not known yet) leaves it to the
// caller (RecordLatency).
func (f *Follower) Arrived(h Header, p []byte, sub uint64, now time.Time) (received bool) {
	if !Intact(p) {
		f.c.Corrupt++
		return false
	}
	received = f.arrived(h, p, sub, now)
	if h.HasDropped {
		f.noteDropped(h.Dropped)
	}
	return received
}

// RecordLatency records the latency of a received frame Arrived left
// without one.
func (f *Follower) RecordLatency(d time.Duration) { f.c.Latency.Record(d.Nanoseconds()) }

// noteDropped takes the publisher's drop count a frame of the span
// carried; what the span credits it is bounded by the frames it numbered.
func (f *Follower) noteDropped(n uint64) {
	if !f.dropSeen {
		f.dropSeen, f.dropBase, f.dropMax = true, n, n
		return
	}
	if n > f.dropMax {
		room := f.maxSeen - f.first + 1 - (f.dropMax - f.dropBase)
		inc := min(n-f.dropMax, room)
		f.c.PublisherDropped += inc
		f.dropMax += inc
	}
}

func (f *Follower) arrived(h Header, p []byte, sub uint64, now time.Time) bool {
	f.tokens = min(maxFollowGap, f.tokens+jumpAllowance)
	if !f.started || h.Stream != f.stream || sub != f.span {
		f.restart(h, sub, now)
		f.top(h, len(p), now)
		return true
	}
	if h.Seq > f.maxSeen {
		if skipped := h.Seq - f.maxSeen - 1; skipped > 0 {
			if skipped >= maxFollowGap || skipped > f.tokens {
				f.c.Jumps++
				f.restart(h, sub, now)
			} else {
				f.tokens -= skipped
				f.addMissing(seqRun{f.maxSeen + 1, h.Seq - 1, now})
				f.span0.Sent += skipped
				f.span0.InGrace += skipped
			}
		}
		f.top(h, len(p), now)
		return true
	}
	if f.arrivedBelow(h.Seq, len(p)) {
		f.latency(h, now)
		return true
	}
	return false
}

// top records the arrival of a frame numbered above every other of the span.
func (f *Follower) top(h Header, size int, now time.Time) {
	f.maxSeen = h.Seq
	f.span0.Sent++
	f.received(size)
	f.latency(h, now)
}

func (f *Follower) latency(h Header, now time.Time) {
	if !h.Sent.IsZero() {
		f.c.Latency.Record(now.Sub(h.Sent).Nanoseconds())
	}
}

func (f *Follower) received(size int) {
	f.span0.Received++
	f.span0.ReceivedBytes += uint64(size)
}

// arrivedBelow records seq ≤ maxSeen; it reports a first arrival.
func (f *Follower) arrivedBelow(seq uint64, size int) bool {
	c := &f.span0
	if seq < f.first {
		c.Unfollowed++
		return false
	}
	if i, ok := find(f.missing, seq); ok {
		f.missing = splitRun(f.missing, i, seq)
		c.InGrace--
		for len(f.missing) > maxMissingRanges {
			f.loseOldest()
		}
		f.received(size)
		return true
	}
	if _, ok := find(f.lost, seq); ok || seq <= f.lostFloor {
		c.Late++
		return false
	}
	c.Duplicates++
	return false
}

// find returns the index of the run holding seq in runs (ordered).
func find(runs []seqRun, seq uint64) (int, bool) {
	i, _ := slices.BinarySearchFunc(runs, seq, func(r seqRun, s uint64) int {
		switch {
		case r.last < s:
			return -1
		case r.first > s:
			return 1
		}
		return 0
	})
	return i, i < len(runs) && runs[i].first <= seq && seq <= runs[i].last
}

// splitRun takes seq out of runs[i].
func splitRun(runs []seqRun, i int, seq uint64) []seqRun {
	r := runs[i]
	switch {
	case r.first == r.last:
		return slices.Delete(runs, i, i+1)
	case seq == r.first:
		runs[i].first++
	case seq == r.last:
		runs[i].last--
	default:
		runs[i].last = seq - 1
		runs = slices.Insert(runs, i+1, seqRun{seq + 1, r.last, r.at})
	}
	return runs
}

// addMissing appends a run in grace, settling the oldest early past the
// bound.
func (f *Follower) addMissing(r seqRun) {
	f.missing = append(f.missing, r)
	for len(f.missing) > maxMissingRanges {
		f.loseOldest()
	}
}

// loseOldest counts the oldest run in grace lost.
func (f *Follower) loseOldest() {
	r := f.missing[0]
	f.missing = slices.Delete(f.missing, 0, 1)
	n := r.last - r.first + 1
	f.span0.InGrace -= n
	f.span0.Lost += n
	if len(f.lost) == maxLostRanges {
		f.lostFloor = f.lost[0].last
		f.lost = slices.Delete(f.lost, 0, 1)
	}
	f.lost = append(f.lost, r)
}

// restart ends the current span and begins one at h.
func (f *Follower) restart(h Header, sub uint64, now time.Time) {
	if f.started {
		f.expire(now)
		f.c.Cut += f.span0.InGrace
		f.span0.InGrace = 0
		f.done = f.done.Add(f.span0)
	}
	f.span0 = LedgerCounts{}
	f.missing, f.lost, f.lostFloor = f.missing[:0], f.lost[:0], 0
	f.started, f.stream, f.span, f.first, f.maxSeen = true, h.Stream, sub, h.Seq, h.Seq
	f.dropSeen = false
	f.c.Spans++
}

// Expire counts as lost the frames whose grace period is over at now.
func (f *Follower) Expire(now time.Time) {
	if f.started {
		f.expire(now)
	}
}

func (f *Follower) expire(now time.Time) {
	cutoff := now.Add(-f.grace)
	for len(f.missing) > 0 && !f.missing[0].at.After(cutoff) {
		f.loseOldest()
	}
}

// Counts returns the follower's figures: the ledger's over every span,
// and its own. Sent is the frames known to have been sent (up to the
// latest arrival of each span), so
//
//	Received + Lost + InGrace + Cut = Sent
func (f *Follower) Counts() (LedgerCounts, FollowCounts) {
	return f.done.Add(f.span0), f.c
}

// Arrivals is every arrival the counts hold, however each was counted
// (first, late, duplicate, never sent, sent before it was followed): what
// a subscriber's own count of completed frames compares with.
func (a LedgerCounts) Arrivals() uint64 {
	return a.Received + a.Late + a.Duplicates + a.Unexpected + a.Unfollowed
}

// Add returns the sum of a and b, figure by figure.
func (a LedgerCounts) Add(b LedgerCounts) LedgerCounts {
	a.Sent += b.Sent
	a.Received += b.Received
	a.ReceivedBytes += b.ReceivedBytes
	a.Lost += b.Lost
	a.InGrace += b.InGrace
	a.Duplicates += b.Duplicates
	a.Late += b.Late
	a.Unexpected += b.Unexpected
	a.Unfollowed += b.Unfollowed
	return a
}

// Receive is one subscriber's report.Receive of a track's probe frames:
// its ledgers' counts, summed over the track's SIDs, and the frames sent while
// it held no subscription. The loopback and each subscriber of a load run
// count through it, so "delivered", "lost" and "not followed" mean the same
// in both. Frames claiming a number never sent are Corrupt; the rest
// (bytes compared, data frames, incomplete frames) are the caller's.
func (c LedgerCounts) Receive(unfollowed uint64) report.Receive {
	return report.Receive{Frames: c.Received, Bytes: c.ReceivedBytes, Lost: c.Lost, InGrace: c.InGrace,
		Duplicates: c.Duplicates, Late: c.Late, Corrupt: c.Unexpected, Unfollowed: unfollowed}
}
