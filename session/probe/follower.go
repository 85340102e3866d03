package probe

import (
	"time"

	"github.com/dttui/dttui/histogram"
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
// counted cut, not lost. Not safe for concurrent use.
type Follower struct {
	grace time.Duration

	ledger  *Ledger
	stream  uint32
	span    uint64 // the subscription the current span belongs to
	maxSeen uint64 // highest sequence number seen in the span
	done    LedgerCounts

	c FollowCounts
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
	// Latency is arrival minus the probe's send time, in nanoseconds
	// (0 when the publisher's clock is ahead).
	Latency histogram.Histogram
}

// maxFollowGap bounds the frames one arrival can declare sent: a jump
// further ahead starts a new span instead (a mangled or hostile header
// must not make a subscriber track millions of frames).
const maxFollowGap = 1 << 16

// NewFollower returns a follower with the given grace period
// (DefaultLossGrace when ≤ 0).
func NewFollower(grace time.Duration) *Follower {
	if grace <= 0 {
		grace = DefaultLossGrace
	}
	return &Follower{grace: grace}
}

// Arrived records a probe frame of subscription sub that arrived at now:
// payload p, whose header Decode read as h.
func (f *Follower) Arrived(h Header, p []byte, sub uint64, now time.Time) {
	if !Intact(p) {
		f.c.Corrupt++
		return
	}
	if f.ledger == nil || h.Stream != f.stream || sub != f.span || h.Seq > f.maxSeen+maxFollowGap {
		f.restart(h, sub, now)
	}
	if h.Seq > f.maxSeen {
		for q := f.maxSeen + 1; q <= h.Seq; q++ {
			f.ledger.Sent(q, now)
		}
		f.maxSeen = h.Seq
	}
	if f.ledger.Arrived(h.Seq, len(p)) == ArrivalFirst {
		f.c.Latency.Record(now.Sub(h.Sent).Nanoseconds())
	}
}

// restart ends the current span and begins one at h.
func (f *Follower) restart(h Header, sub uint64, now time.Time) {
	if f.ledger != nil {
		f.ledger.Expire(now)
		c := f.ledger.Counts()
		f.c.Cut += c.InGrace
		c.InGrace = 0
		f.done = f.done.Add(c)
	}
	f.ledger = NewLedger(f.grace)
	f.stream, f.span, f.maxSeen = h.Stream, sub, h.Seq
	f.ledger.Sent(h.Seq, now)
	f.c.Spans++
}

// Expire counts as lost the frames whose grace period is over at now.
func (f *Follower) Expire(now time.Time) {
	if f.ledger != nil {
		f.ledger.Expire(now)
	}
}

// Counts returns the follower's figures: the ledger's over every span,
// and its own. Sent is the frames known to have been sent (up to the
// latest arrival of each span), so
//
//	Received + Lost + InGrace + Cut = Sent
func (f *Follower) Counts() (LedgerCounts, FollowCounts) {
	c := f.done
	if f.ledger != nil {
		c = c.Add(f.ledger.Counts())
	}
	return c, f.c
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
