package probe

import (
	"sync"
	"time"

	"github.com/dttui/dttui/histogram"
)

// DefaultLossGrace is how long after a frame was sent a subscriber has to
// receive it before the frame counts as lost. A data track is real-time:
// a frame later than this is of no use to anyone, and the grace bounds how
// long a run's final figures wait for stragglers.
const DefaultLossGrace = 3 * time.Second

// Ledger follows the frames of one probe stream from the moment their last
// packet was handed to the transport (Sent) to their arrival at a
// subscriber (Arrived). A frame is lost when it has not arrived within the
// grace period after it was sent, and stays lost: a frame arriving later
// is counted late. Duplicates change nothing but their own counter, and
// frames that were never sent (dropped before the transport) are never
// expected. So, from counters kept apart,
//
//	Received + Lost + InGrace = Sent
//
// whenever no frame is between its arrival and the sender recording it
// (a few microseconds at the end of each send).
//
// Sequence numbers must be recorded as sent in increasing order (one
// sender per stream, FIFO), which is what lets a gap below the highest
// sent number mean "dropped locally", not "still to come".
type Ledger struct {
	grace time.Duration

	mu sync.Mutex
	// before holds arrivals that came before the first send was recorded:
	// frames sent before the ledger existed (not followed), or the frame
	// whose send is about to be recorded. The first Sent sorts them out.
	before  []pendingArrival
	observe func(at time.Time, d time.Duration) // OnLatency's
	started bool
	first   uint64  // sequence number of the first frame recorded sent
	base    uint64  // sequence number of the slot at head
	head, n int     // the ring holds slots for base … base+n-1
	sentAt  []int64 // UNIX ns when recorded sent; ring
	state   []slotState
	maxSent uint64 // highest sequence number recorded sent (valid if anySent)
	anySent bool
	c       LedgerCounts
	// latency holds one latency per frame counted received, recorded
	// where it is counted: an arrival held before the first send gets
	// its latency once the send says it counts.
	latency histogram.Histogram
}

type pendingArrival struct {
	seq     uint64
	bytes   int
	at      time.Time
	latency time.Duration
}

// LedgerCounts are a Ledger's figures.
type LedgerCounts struct {
	Sent          uint64 // frames recorded as sent
	Received      uint64 // first arrivals of frames of this stream
	ReceivedBytes uint64 // their payload bytes
	Lost          uint64 // sent and not arrived within the grace period
	InGrace       uint64 // sent, not arrived yet, grace not over
	Duplicates    uint64 // further arrivals of a frame already received
	// Late counts arrivals of frames already counted lost (or too old for
	// the ledger's window to tell a late frame from a duplicate).
	Late uint64
	// Unexpected counts arrivals claiming a sequence number that was never
	// sent: a header mangled on the way.
	Unexpected uint64
	// Unfollowed counts arrivals of frames sent before the ledger began
	// following the stream (before the subscriber could receive them).
	Unfollowed uint64
}

type slotState uint8

const (
	slotEmpty   slotState = iota // not recorded sent: still to come, or dropped before the transport
	slotSent                     // sent, waiting for its arrival
	slotEarly                    // arrived before its send was recorded
	slotArrived                  // sent and arrived
	slotLost                     // sent, grace over, never arrived
)

// maxLedgerWindow bounds the ring: at 100 000 frames/s and a 3 s grace
// about 300 000 slots are live. Past the bound the oldest frames are
// settled early (sent ones counted lost) rather than memory growing.
const maxLedgerWindow = 1 << 21

// LossGrace is the grace period d, or DefaultLossGrace when d ≤ 0: every
// configured grace period is resolved here.
func LossGrace(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultLossGrace
	}
	return d
}

// NewLedger returns a ledger with the given grace period (LossGrace).
func NewLedger(grace time.Duration) *Ledger {
	return &Ledger{grace: LossGrace(grace), sentAt: make([]int64, 64), state: make([]slotState, 64)}
}

// OnLatency has fn see each latency the ledger records, with the frame's
// arrival time, as it records it: a frame held until its send is
// recorded, when that comes; a duplicate, late or unfollowed one never.
// So a per-second series fed by fn counts exactly the ledger's frames.
// fn runs under the ledger's lock and must not call back into it.
func (l *Ledger) OnLatency(fn func(at time.Time, d time.Duration)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.observe = fn
}

// Grace is the ledger's grace period.
func (l *Ledger) Grace() time.Duration { return l.grace }

// maxBefore bounds the arrivals held before the first send is recorded.
const maxBefore = 64

// Sent records that frame seq left at time at.
func (l *Ledger) Sent(seq uint64, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := !l.started
	l.start(seq)
	defer func() {
		if first {
			// Arrivals before this first send: frames sent earlier were not
			// followed; a later one (only the frame just sent) counts.
			for _, a := range l.before {
				if a.seq < seq {
					l.c.Unfollowed++
				} else {
					l.arrived(a.seq, a.bytes, a.at, a.latency)
				}
			}
			l.before = nil
		}
	}()
	if seq < l.base {
		// Settled early by the window bound while it waited for this
		// record: it had arrived (only arrived slots wait for Sent).
		l.c.Sent++
		return
	}
	i := l.slot(seq)
	switch l.state[i] {
	case slotEmpty:
		l.state[i], l.sentAt[i] = slotSent, at.UnixNano()
		l.c.InGrace++
	case slotEarly:
		l.state[i] = slotArrived
	default:
		return // recorded twice: the sender's bug, not a frame
	}
	l.c.Sent++
	if !l.anySent || seq > l.maxSent {
		l.maxSent, l.anySent = seq, true
	}
}

// Arrival says what an arriving frame was to the ledger.
type Arrival int

const (
	ArrivalFirst      Arrival = iota // received for the first time
	ArrivalDuplicate                 // received before
	ArrivalLate                      // counted lost before it arrived
	ArrivalUnexpected                // never sent: a mangled header
	ArrivalPending                   // before the first recorded send: counted, or not, once it comes
	ArrivalUnfollowed                // sent before the ledger followed the stream
)

// Arrived records that frame seq, of size bytes, arrived latency after
// it was sent, and says whether it counts. Before the first send is
// recorded it cannot tell yet: ArrivalPending.
func (l *Ledger) Arrived(seq uint64, size int, at time.Time, latency time.Duration) Arrival {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		// Nothing recorded sent yet: hold it until the first send says
		// whether it was followed.
		if len(l.before) < maxBefore {
			l.before = append(l.before, pendingArrival{seq, size, at, latency})
		} else {
			l.c.Unfollowed++
		}
		return ArrivalPending
	}
	return l.arrived(seq, size, at, latency)
}

func (l *Ledger) arrived(seq uint64, size int, at time.Time, latency time.Duration) Arrival {
	// A frame can arrive before its send is recorded (the record follows
	// the last packet's write), but only the frame being sent: the sender
	// records each frame before it writes the next.
	if seq > l.maxSent+1 {
		l.c.Unexpected++
		return ArrivalUnexpected
	}
	if seq < l.first {
		l.c.Unfollowed++
		return ArrivalUnfollowed
	}
	if seq < l.base {
		l.c.Late++
		return ArrivalLate
	}
	i := l.slot(seq)
	switch l.state[i] {
	case slotEmpty:
		l.state[i] = slotEarly
	case slotSent:
		l.state[i] = slotArrived
		l.c.InGrace--
	case slotLost:
		l.c.Late++
		return ArrivalLate
	default:
		l.c.Duplicates++
		return ArrivalDuplicate
	}
	l.c.Received++
	l.c.ReceivedBytes += uint64(size)
	l.latency.Record(latency.Nanoseconds())
	if l.observe != nil {
		l.observe(at, latency)
	}
	return ArrivalFirst
}

// Expire counts as lost every sent frame whose grace period is over at now.
func (l *Ledger) Expire(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expire(now.Add(-l.grace).UnixNano(), false)
}

// Settle ends the ledger's open questions: every sent frame that has not
// arrived counts as lost now, whatever its grace. Called at the end of a
// run, after waiting for stragglers.
func (l *Ledger) Settle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expire(0, true)
}

// AddLatency merges into h the latency of every frame counted received.
func (l *Ledger) AddLatency(h *histogram.Histogram) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h.Merge(&l.latency)
}

// Counts returns the ledger's figures.
func (l *Ledger) Counts() LedgerCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c
}

// expire walks the ring from its oldest slot: sent slots whose send time
// is at or before cutoff (any, with all) become lost, and settled slots at
// the head are dropped. It stops at the first slot that may still change:
// a sent frame within its grace (later ones were sent later), a frame that
// arrived before its send was recorded, or one not yet sent.
func (l *Ledger) expire(cutoff int64, all bool) {
	for l.n > 0 {
		i := l.head
		switch l.state[i] {
		case slotSent:
			if !all && l.sentAt[i] > cutoff {
				return
			}
			l.state[i] = slotLost
			l.c.InGrace--
			l.c.Lost++
		case slotEarly:
			if !all {
				return
			}
		case slotEmpty:
			if !l.anySent || l.base >= l.maxSent {
				return // not sent yet, not known to be dropped
			}
		}
		l.pop()
	}
}

func (l *Ledger) start(seq uint64) {
	if !l.started {
		l.started, l.base, l.first = true, seq, seq
	}
}

// slot returns the ring index of seq ≥ base, growing the ring to hold it.
func (l *Ledger) slot(seq uint64) int {
	for seq-l.base >= uint64(l.n) {
		if l.n == len(l.state) {
			if l.n >= maxLedgerWindow {
				l.evictOldest()
				continue
			}
			l.grow()
		}
		j := (l.head + l.n) % len(l.state)
		l.state[j], l.sentAt[j] = slotEmpty, 0
		l.n++
	}
	return (l.head + int(seq-l.base)) % len(l.state)
}

// evictOldest settles the head slot early because the window is full.
func (l *Ledger) evictOldest() {
	if l.state[l.head] == slotSent {
		l.c.InGrace--
		l.c.Lost++
	}
	l.pop()
}

func (l *Ledger) pop() {
	l.head = (l.head + 1) % len(l.state)
	l.n--
	l.base++
}

func (l *Ledger) grow() {
	size := 2 * len(l.state)
	state, sentAt := make([]slotState, size), make([]int64, size)
	for k := range l.n {
		j := (l.head + k) % len(l.state)
		state[k], sentAt[k] = l.state[j], l.sentAt[j]
	}
	l.state, l.sentAt, l.head = state, sentAt, 0
}
