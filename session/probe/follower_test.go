package probe

import (
	"testing"
	"time"

	"github.com/dttui/dttui/report"
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

// The attack of issue 20 item 2: every frame jumps 65 536 numbers ahead,
// 100 frames/s for 23 s. Sent may grow by at most jumpAllowance frames
// for each that arrives (beyond a first maxFollowGap), the absurd jumps
// are counted, and each arrival is a bounded amount of work (before,
// 65 536 ledger records a frame: 150 million "sent", a core pinned).
func TestFollowerBoundsHostileJumps(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := NewFollower(time.Second)
	const frames = 2300
	var seq uint64
	now := t0
	for i := range frames {
		now = t0.Add(time.Duration(i) * 10 * time.Millisecond)
		arrive(f, followFrame(7, seq, now), 1, now)
		seq += 1 << 16
		if len(f.missing) > maxMissingRanges || len(f.lost) > maxLostRanges {
			t.Fatalf("%d ranges in grace, %d lost kept", len(f.missing), len(f.lost))
		}
	}
	f.Expire(now.Add(time.Hour))
	c, fc := f.Counts()
	if limit := uint64(frames*(jumpAllowance+1)) + maxFollowGap; c.Sent > limit {
		t.Fatalf("sent %d of %d frames received, over %d", c.Sent, frames, limit)
	}
	if fc.Jumps < frames*9/10 || c.Received != frames {
		t.Fatalf("%d jumps flagged of %d frames, %d received", fc.Jumps, frames, c.Received)
	}
	if c.Received+c.Lost+c.InGrace+fc.Cut != c.Sent {
		t.Fatalf("received %d + lost %d + in grace %d + cut %d != sent %d", c.Received, c.Lost, c.InGrace, fc.Cut, c.Sent)
	}
}

// A stream that leaves every other frame out and then fills the holes
// splits its ranges past the bound: the oldest are settled early, as lost,
// and a frame of one of them arriving afterwards is late, not a copy.
func TestFollowerSettlesTheOldestRangeOverTheBound(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := NewFollower(time.Minute)
	arrive(f, followFrame(1, 0, t0), 1, t0)
	n := uint64(2*maxMissingRanges + 10)
	arrive(f, followFrame(1, n, t0), 1, t0) // 1 … n-1 in grace, one range
	for q := uint64(2); q < n; q += 2 {     // each arrival splits it
		arrive(f, followFrame(1, q, t0), 1, t0)
	}
	if len(f.missing) > maxMissingRanges {
		t.Fatalf("%d ranges kept", len(f.missing))
	}
	c, _ := f.Counts()
	if c.Lost == 0 || c.Received+c.Lost+c.InGrace != c.Sent || c.Sent != n+1 {
		t.Fatalf("counts %+v", c)
	}
	arrive(f, followFrame(1, 1, t0), 1, t0) // settled early: late
	arrive(f, followFrame(1, 2, t0), 1, t0) // arrived: a copy
	c2, _ := f.Counts()
	if c2.Late != c.Late+1 || c2.Duplicates != c.Duplicates+1 || c2.Received != c.Received {
		t.Fatalf("after a late frame and a copy: %+v, before %+v", c2, c)
	}
}

// FuzzFollower: whatever headers arrive, in whatever order and at
// whatever times, the account balances, its ranges stay bounded, and no
// span is credited with more frames than the jump allowance allows.
func FuzzFollower(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 5, 1, 0, 2, 0, 0, 3})
	f.Add([]byte{0, 0, 0, 0, 255, 255, 0, 1, 0, 3, 0, 0, 0, 2, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		t0 := time.Unix(1000, 0)
		fo := NewFollower(time.Second)
		now := t0
		var seqs [4]uint64
		b = b[:min(len(b), 3*512)] // an execution stays cheap
		for ; len(b) >= 3; b = b[3:] {
			// byte 0: stream (2 bits), subscription (1 bit), time step;
			// bytes 1-2: a signed step of the sequence, scaled.
			stream := uint32(b[0]&3) + 1
			sub := uint64(b[0]>>2&1) + 1
			now = now.Add(time.Duration(b[0]>>3) * 40 * time.Millisecond)
			step := int64(int16(uint16(b[1])<<8|uint16(b[2]))) * int64(1+b[1]&7)
			s := &seqs[stream-1]
			*s = uint64(max(0, int64(*s)+step))
			arrive(fo, followFrame(stream, *s, now), sub, now)
			if len(fo.missing) > maxMissingRanges || len(fo.lost) > maxLostRanges {
				t.Fatalf("%d ranges in grace, %d lost kept", len(fo.missing), len(fo.lost))
			}
			c, fc := fo.Counts()
			if c.Received+c.Lost+c.InGrace+fc.Cut != c.Sent {
				t.Fatalf("received %d + lost %d + in grace %d + cut %d != sent %d", c.Received, c.Lost, c.InGrace, fc.Cut, c.Sent)
			}
			// The frames that arrived, plus what the allowance lets jumps skip.
			arrivals := c.Received + c.Duplicates + c.Late + c.Unfollowed
			if limit := c.Received + maxFollowGap + jumpAllowance*arrivals; c.Sent > limit {
				t.Fatalf("sent %d over %d", c.Sent, limit)
			}
		}
	})
}

// A frame whose send time is not known yet (zero: its publisher's clock
// is being asked) is counted without a latency, and Arrived says so the
// caller can record it later; duplicates are not received.
func TestFollowerLeavesUnknownSendTimesToTheCaller(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := NewFollower(time.Second)
	p := followFrame(1, 1, t0)
	h, _ := Decode(p)
	h.Sent = time.Time{}
	if !f.Arrived(h, p, 1, t0.Add(time.Millisecond)) {
		t.Fatal("the first frame was not received")
	}
	if _, fc := f.Counts(); fc.Latency.Count() != 0 {
		t.Fatalf("%d latencies for a frame with no send time", fc.Latency.Count())
	}
	if f.Arrived(h, p, 1, t0.Add(2*time.Millisecond)) {
		t.Fatal("a duplicate counted as received")
	}
	f.RecordLatency(3 * time.Millisecond)
	p2 := followFrame(1, 2, t0)
	h2, _ := Decode(p2)
	if !f.Arrived(h2, p2, 1, t0.Add(time.Millisecond)) {
		t.Fatal("the second frame was not received")
	}
	c, fc := f.Counts()
	if c.Received != 2 || c.Duplicates != 1 || fc.Latency.Count() != 2 {
		t.Fatalf("received %d duplicates %d latencies %d", c.Received, c.Duplicates, fc.Latency.Count())
	}
}

// A subscriber's ledger becomes one report.Receive, whoever follows it
// (the loopback, a load run's subscribers).
func TestLedgerCountsReceive(t *testing.T) {
	c := LedgerCounts{Sent: 10, Received: 6, ReceivedBytes: 600, Lost: 2, InGrace: 2, Duplicates: 1, Late: 1, Unexpected: 1, Unfollowed: 1}
	if rx := c.Receive(3); rx != (report.Receive{Frames: 6, Bytes: 600, Lost: 2, InGrace: 2, Duplicates: 1, Late: 1, Corrupt: 1, Unfollowed: 3}) {
		t.Fatalf("Receive = %+v", rx)
	}
}
