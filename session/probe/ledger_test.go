package probe

import (
	"github.com/dttui/dttui/histogram"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func checkLedger(t *testing.T, l *Ledger, want LedgerCounts) {
	t.Helper()
	c := l.Counts()
	want.ReceivedBytes = 10 * want.Received // every frame here is 10 bytes
	if c != want {
		t.Fatalf("counts %+v, want %+v", c, want)
	}
	if c.Received+c.Lost+c.InGrace != c.Sent {
		t.Fatalf("received %d + lost %d + in grace %d != sent %d", c.Received, c.Lost, c.InGrace, c.Sent)
	}
}

// Frames that never arrive are lost once their grace is over, also the
// last ones of a run: loss at the tail is not a gap anyone sees.
func TestLedgerTailLoss(t *testing.T) {
	l := NewLedger(time.Second)
	for seq := range 10 {
		l.Sent(uint64(seq), at(seq*10))
	}
	for seq := range 7 {
		l.Arrived(uint64(seq), 10, time.Time{}, 0)
	}
	l.Expire(at(500))
	checkLedger(t, l, LedgerCounts{Sent: 10, Received: 7, InGrace: 3})
	l.Expire(at(1070)) // frames 7 and 8 were sent at 70 and 80 ms
	checkLedger(t, l, LedgerCounts{Sent: 10, Received: 7, Lost: 1, InGrace: 2})
	l.Expire(at(1090))
	checkLedger(t, l, LedgerCounts{Sent: 10, Received: 7, Lost: 3})
}

// Lost never goes down: a frame that shows up after its grace is late,
// and a duplicate or a frame of the same number cannot hide a loss.
func TestLedgerLostNeverGoesDown(t *testing.T) {
	l := NewLedger(time.Second)
	for seq := range 5 {
		l.Sent(uint64(seq), at(0))
	}
	l.Arrived(0, 10, time.Time{}, 0)
	l.Arrived(1, 10, time.Time{}, 0)
	l.Expire(at(2000))
	checkLedger(t, l, LedgerCounts{Sent: 5, Received: 2, Lost: 3})
	for _, seq := range []uint64{2, 3, 4} {
		if a := l.Arrived(seq, 10, time.Time{}, 0); a != ArrivalLate {
			t.Fatalf("frame %d after its grace: %v", seq, a)
		}
	}
	for _, seq := range []uint64{0, 1} {
		if a := l.Arrived(seq, 10, time.Time{}, 0); a != ArrivalLate && a != ArrivalDuplicate {
			t.Fatalf("repeat of %d: %v", seq, a)
		}
	}
	c := l.Counts()
	if c.Lost != 3 || c.Received != 2 || c.Late+c.Duplicates != 5 {
		t.Fatalf("%+v", c)
	}
}

func TestLedgerDuplicatesCountedApart(t *testing.T) {
	l := NewLedger(time.Second)
	for seq := range 4 {
		l.Sent(uint64(seq), at(0))
	}
	for _, seq := range []uint64{0, 0, 1, 1, 1, 3} {
		l.Arrived(seq, 10, time.Time{}, 0)
	}
	checkLedger(t, l, LedgerCounts{Sent: 4, Received: 3, InGrace: 1, Duplicates: 3})
	l.Expire(at(1000))
	checkLedger(t, l, LedgerCounts{Sent: 4, Received: 3, Lost: 1, Duplicates: 3})
}

// Frames dropped before the transport leave gaps in the sent numbers;
// they are never expected, so they are not lost.
func TestLedgerIgnoresFramesNeverSent(t *testing.T) {
	l := NewLedger(time.Second)
	for _, seq := range []uint64{3, 4, 7, 9} {
		l.Sent(seq, at(0))
		l.Arrived(seq, 10, time.Time{}, 0)
	}
	l.Expire(at(5000))
	checkLedger(t, l, LedgerCounts{Sent: 4, Received: 4})
	if l.n != 0 {
		t.Fatalf("ring keeps %d slots after everything settled", l.n)
	}
}

// The record of a send follows its last packet's write, so the frame can
// arrive first; it still counts once.
func TestLedgerArrivalBeforeSentRecord(t *testing.T) {
	l := NewLedger(time.Second)
	if a := l.Arrived(0, 10, time.Time{}, 0); a != ArrivalPending {
		t.Fatalf("first arrival: %v", a)
	}
	l.Expire(at(5000)) // nothing to expire: the frame's send is not recorded yet
	l.Sent(0, at(0))
	l.Sent(1, at(1))
	if a := l.Arrived(2, 10, time.Time{}, 0); a != ArrivalFirst {
		t.Fatalf("arrival of the frame being sent: %v", a)
	}
	l.Sent(2, at(2))
	l.Arrived(1, 10, time.Time{}, 0)
	checkLedger(t, l, LedgerCounts{Sent: 3, Received: 3})
}

// Frames sent before the ledger began following the stream (before the
// subscriber could get them) are not expected, and those that arrive
// anyway are counted apart, never as received or lost.
func TestLedgerFollowsFromTheFirstSend(t *testing.T) {
	l := NewLedger(time.Second)
	l.Arrived(3, 10, time.Time{}, 3*time.Millisecond) // sent before the ledger existed
	l.Arrived(4, 10, time.Time{}, 4*time.Millisecond)
	l.Arrived(5, 10, time.Time{}, 5*time.Millisecond) // the frame whose send is being recorded
	l.Sent(5, at(0))
	l.Sent(6, at(1))
	l.Arrived(6, 10, time.Time{}, 6*time.Millisecond)
	l.Arrived(4, 10, time.Time{}, 40*time.Millisecond) // a late copy of an unfollowed frame
	c := l.Counts()
	if c.Sent != 2 || c.Received != 2 || c.ReceivedBytes != 20 || c.Unfollowed != 3 || c.Lost != 0 || c.Late != 0 {
		t.Fatalf("%+v", c)
	}
	// One latency per frame received, the held one's included (a load
	// run once counted frames 5 received without its latency).
	var lat histogram.Histogram
	l.AddLatency(&lat)
	if lat.Count() != 2 || lat.Sum() != uint64(11*time.Millisecond) {
		t.Fatalf("latencies: %d summing %v; want 2 summing 11ms", lat.Count(), time.Duration(lat.Sum()))
	}
}

// What OnLatency sees is what the ledger records, frame for frame: the
// held frame once its send is recorded, at its own arrival time; never an
// unfollowed, duplicate or late one. The loopback's per-second latency
// series is fed from it, so it cannot count frames the ledger did not.
func TestLedgerOnLatencySeesWhatItRecords(t *testing.T) {
	l := NewLedger(time.Second)
	type seen struct {
		at time.Time
		d  time.Duration
	}
	var got []seen
	l.OnLatency(func(at time.Time, d time.Duration) { got = append(got, seen{at, d}) })
	l.Arrived(4, 10, at(-2), 4*time.Millisecond) // sent before the ledger followed
	l.Arrived(5, 10, at(-1), 5*time.Millisecond) // beats its own send record
	if len(got) != 0 {
		t.Fatalf("seen before the first send: %v", got)
	}
	l.Sent(5, at(0))
	l.Sent(6, at(1))
	l.Sent(7, at(2))
	l.Arrived(6, 10, at(3), 6*time.Millisecond)
	l.Arrived(6, 10, at(4), 60*time.Millisecond) // a duplicate
	l.Arrived(4, 10, at(5), 40*time.Millisecond) // a late copy of an unfollowed frame
	l.Expire(at(2).Add(2 * time.Second))         // 7 lost
	l.Arrived(7, 10, at(6), 7*time.Millisecond)  // after it was counted lost
	want := []seen{{at(-1), 5 * time.Millisecond}, {at(3), 6 * time.Millisecond}}
	if !slices.Equal(got, want) {
		t.Fatalf("seen %v, want %v", got, want)
	}
	var lat histogram.Histogram
	l.AddLatency(&lat)
	if c := l.Counts(); lat.Count() != uint64(len(got)) || c.Received != uint64(len(got)) || c.Late != 1 || c.Duplicates != 1 {
		t.Fatalf("ledger: %d latencies, counts %+v; seen %d", lat.Count(), c, len(got))
	}
}

// A sequence number far beyond what was sent is a mangled header: counted
// apart, and it cannot make the ledger grow.
func TestLedgerUnexpectedSequence(t *testing.T) {
	l := NewLedger(time.Second)
	l.Sent(0, at(0))
	if a := l.Arrived(1<<40, 10, time.Time{}, 0); a != ArrivalUnexpected {
		t.Fatalf("arrival %v", a)
	}
	if l.n != 1 {
		t.Fatalf("ring grew to %d", l.n)
	}
	l.Arrived(0, 10, time.Time{}, 0)
	checkLedger(t, l, LedgerCounts{Sent: 1, Received: 1, Unexpected: 1})
}

// Settle ends a run: whatever was sent and has not arrived is lost now.
func TestLedgerSettle(t *testing.T) {
	l := NewLedger(time.Hour)
	for seq := range 3 {
		l.Sent(uint64(seq), at(0))
	}
	l.Arrived(1, 10, time.Time{}, 0)
	l.Settle()
	checkLedger(t, l, LedgerCounts{Sent: 3, Received: 1, Lost: 2})
}

// Through a random channel (loss, duplicates, reordering, sender drops,
// arrivals racing the send record) the identity holds after every step
// where no arrival waits for its record, and lost never goes down.
func TestLedgerRandomChannel(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 7))
		l := NewLedger(100 * time.Millisecond)
		now := 0
		var inFlight []uint64 // sent, not yet delivered by the channel
		var lastLost uint64
		for seq := uint64(0); seq < 3000; seq++ {
			now += rng.IntN(3)
			if rng.IntN(10) == 0 {
				continue // dropped before the transport: never sent
			}
			early := rng.IntN(20) == 0
			if early {
				l.Arrived(seq, 10, time.Time{}, 0) // the frame beats its own send record
			}
			l.Sent(seq, at(now))
			if !early && rng.IntN(20) != 0 { // 5 % lost on the way
				inFlight = append(inFlight, seq)
				if rng.IntN(10) == 0 {
					inFlight = append(inFlight, seq) // duplicated
				}
			}
			rng.Shuffle(len(inFlight), func(i, j int) { inFlight[i], inFlight[j] = inFlight[j], inFlight[i] })
			for len(inFlight) > 0 && rng.IntN(3) != 0 {
				l.Arrived(inFlight[0], 10, time.Time{}, 0)
				inFlight = inFlight[1:]
			}
			l.Expire(at(now))
			c := l.Counts()
			if c.Received+c.Lost+c.InGrace != c.Sent || c.Lost < lastLost {
				t.Fatalf("seed %d seq %d: %+v (lost before %d)", seed, seq, c, lastLost)
			}
			lastLost = c.Lost
		}
		l.Settle()
		c := l.Counts()
		if c.InGrace != 0 || c.Received+c.Lost != c.Sent {
			t.Fatalf("seed %d settled: %+v", seed, c)
		}
	}
}

func BenchmarkLedgerSentArrived(b *testing.B) {
	l := NewLedger(time.Second)
	now := t0
	var seq uint64
	for b.Loop() {
		l.Sent(seq, now)
		l.Arrived(seq, 10, time.Time{}, 0)
		if seq%1024 == 0 {
			l.Expire(now)
		}
		seq++
	}
}

// A grace period not given (0) or not meaningful (< 0) is the default,
// in the ledger, the follower and whoever resolves one with LossGrace;
// one given is kept.
func TestLossGraceDefault(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{{0, DefaultLossGrace}, {-time.Second, DefaultLossGrace}, {time.Second, time.Second}} {
		if got := LossGrace(c.in); got != c.want {
			t.Errorf("LossGrace(%s) = %s, want %s", c.in, got, c.want)
		}
		if got := NewLedger(c.in).grace; got != c.want {
			t.Errorf("NewLedger(%s).grace = %s, want %s", c.in, got, c.want)
		}
		if got := NewFollower(c.in).grace; got != c.want {
			t.Errorf("NewFollower(%s).grace = %s, want %s", c.in, got, c.want)
		}
	}
}
