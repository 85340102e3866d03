package probe

import (
	"testing"
	"time"
)

func followFrame(stream uint32, seq uint64, sent time.Time) []byte {
	return Encode(nil, Header{Stream: stream, Seq: seq, Sent: sent}, 64)
}

// arrive hands f a payload as the monitor does: decoded first, and only
// if it is a probe frame (false otherwise).
func arrive(f *Follower, p []byte, sub uint64, now time.Time) bool {
	h, ok := Decode(p)
	if ok {
		f.Arrived(h, p, sub, now)
	}
	return ok
}

func checkFollow(t *testing.T, f *Follower, want LedgerCounts, cut uint64) {
	t.Helper()
	c, fc := f.Counts()
	if c.Received+c.Lost+c.InGrace+fc.Cut != c.Sent {
		t.Fatalf("received %d + lost %d + in grace %d + cut %d != sent %d", c.Received, c.Lost, c.InGrace, fc.Cut, c.Sent)
	}
	c.ReceivedBytes = 0
	if c != want || fc.Cut != cut {
		t.Fatalf("counts %+v cut %d, want %+v cut %d", c, fc.Cut, want, cut)
	}
}

func TestFollowerCountsGapsOnceTheirGraceIsOver(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := NewFollower(time.Second)
	for _, seq := range []uint64{5, 6, 9} { // 7 and 8 missing; 0-4 before we followed
		if !arrive(f, followFrame(1, seq, t0), 1, t0.Add(time.Millisecond)) {
			t.Fatal("a probe frame not recognised")
		}
	}
	checkFollow(t, f, LedgerCounts{Sent: 5, Received: 3, InGrace: 2}, 0)
	arrive(f, followFrame(1, 7, t0), 1, t0.Add(500*time.Millisecond)) // reordered, within grace
	arrive(f, followFrame(1, 6, t0), 1, t0.Add(600*time.Millisecond)) // a copy
	f.Expire(t0.Add(2 * time.Second))
	checkFollow(t, f, LedgerCounts{Sent: 5, Received: 4, Lost: 1, Duplicates: 1}, 0)
	arrive(f, followFrame(1, 8, t0), 1, t0.Add(3*time.Second)) // too late: stays lost
	arrive(f, followFrame(1, 4, t0), 1, t0.Add(3*time.Second)) // from before the first we saw
	checkFollow(t, f, LedgerCounts{Sent: 5, Received: 4, Lost: 1, Duplicates: 1, Late: 1, Unfollowed: 1}, 0)
	_, fc := f.Counts()
	if fc.Latency.Count() != 4 || fc.Spans != 1 {
		t.Fatalf("latency of %d frames, %d spans", fc.Latency.Count(), fc.Spans)
	}
	if q := time.Duration(fc.Latency.Quantile(0)); q < time.Millisecond*31/32 || q > time.Millisecond*33/32 {
		t.Fatalf("lowest latency %v, want 1ms", q)
	}
}

func TestFollowerStartsASpanPerStreamAndSubscription(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := NewFollower(time.Second)
	arrive(f, followFrame(1, 0, t0), 1, t0)
	arrive(f, followFrame(1, 2, t0), 1, t0) // 1 in grace
	// The publisher republished: a new stream, from 0 again. Frame 1 of
	// the old one is cut, not lost, and the new stream's numbers do not
	// fill the old one's gaps.
	arrive(f, followFrame(2, 0, t0), 1, t0)
	arrive(f, followFrame(2, 1, t0), 1, t0)
	// Resubscribed: frames 2-9 went by while we held no subscription.
	arrive(f, followFrame(2, 10, t0), 2, t0)
	// A jump too far ahead starts over rather than tracking the gap.
	arrive(f, followFrame(2, 10+maxFollowGap+1, t0), 2, t0)
	f.Expire(t0.Add(time.Hour))
	checkFollow(t, f, LedgerCounts{Sent: 7, Received: 6}, 1)
	if _, fc := f.Counts(); fc.Spans != 4 {
		t.Fatalf("%d spans, want 4", fc.Spans)
	}
}

func TestFollowerIgnoresOtherPayloadsAndCountsCorruptOnes(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := NewFollower(0)
	if arrive(f, []byte(`{"x":1}`), 1, t0) || arrive(f, nil, 1, t0) {
		t.Fatal("not a probe, taken for one")
	}
	p := followFrame(1, 0, t0)
	p[len(p)-1] ^= 0xff
	if !arrive(f, p, 1, t0) {
		t.Fatal("a damaged probe frame not recognised")
	}
	c, fc := f.Counts()
	if fc.Corrupt != 1 || c != (LedgerCounts{}) {
		t.Fatalf("corrupt %d, counts %+v", fc.Corrupt, c)
	}
}
