package probe

import (
	"testing"
	"time"
)

// Version 2 of every format carries the publisher's drop count and reads
// back whole; a frame too small for it is written in version 1, and
// version 1 frames still decode (without a count).
func TestFormatV2CarriesTheDropCount(t *testing.T) {
	h := Header{Stream: 7, Seq: 41, Sent: time.Unix(1700000000, 123), Dropped: 1<<40 + 5, HasDropped: true}
	for _, f := range []Format{Binary, JSON, CBOR, MessagePack} {
		for _, size := range []int{0, 200, 5000} {
			b := EncodeFormat(f, nil, h, size)
			got, ok := Decode(b)
			want := h
			if size == 0 { // the smallest frame: no room for the count
				want.Dropped, want.HasDropped = 0, false
			}
			if !ok || got != want || !Intact(b) {
				t.Fatalf("%v, %d bytes: decoded %+v %v, intact %v, want %+v", f, len(b), got, ok, Intact(b), want)
			}
			b[len(b)-1-len(layouts2[f].suffix)] ^= 1
			if size > 0 && Intact(b) {
				t.Fatalf("%v, %d bytes: a damaged filler is intact", f, len(b))
			}
		}
		v1 := EncodeFormat(f, nil, Header{Stream: 7, Seq: 41, Sent: h.Sent}, 300)
		if got, ok := Decode(v1); !ok || got.HasDropped || got.Seq != 41 || !Intact(v1) {
			t.Fatalf("%v version 1: %+v %v", f, got, ok)
		}
	}
}

// Drops counts the numbers the sender skipped: frames numbered, then
// dropped before they were sent.
func TestDropsCountsNumbersSkippedAtTheSender(t *testing.T) {
	var d Drops
	for _, seq := range []uint64{0, 1, 3, 4, 7, 7, 2, 8} {
		d.Sent(seq)
	}
	if d.Dropped() != 3 {
		t.Fatalf("dropped %d, want 3 (2, 5 and 6)", d.Dropped())
	}
	var frames [][]byte
	src := NewSource(9, func(p []byte, _ uint64) error { frames = append(frames, p); return nil }, nil).WithDropped(d.Dropped)
	if err := src.Push(100); err != nil {
		t.Fatal(err)
	}
	if h, ok := Decode(frames[0]); !ok || !h.HasDropped || h.Dropped != 3 {
		t.Fatalf("the source's frame says %+v", h)
	}
}

// Issue 20 item 11: frames the publisher numbered and dropped as stale
// read as lost at a follower; the counts its later frames carry tell them
// apart from the network's (before: "lost 2", nothing more to say).
func TestFollowerTellsThePublishersDropsFromTheNetworks(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := NewFollower(time.Second)
	frame := func(seq, dropped uint64) []byte {
		return Encode(nil, Header{Stream: 1, Seq: seq, Sent: t0, Dropped: dropped, HasDropped: true}, 64)
	}
	// The publisher had dropped 5 frames before we followed; it drops 3
	// and 4 (stale); the network loses 8.
	for _, q := range []struct{ seq, dropped uint64 }{{0, 5}, {1, 5}, {2, 5}, {5, 5}, {6, 7}, {7, 7}, {9, 7}, {10, 7}} {
		arrive(f, frame(q.seq, q.dropped), 1, t0)
	}
	f.Expire(t0.Add(time.Hour))
	c, fc := f.Counts()
	if c.Lost != 3 || fc.PublisherDropped != 2 {
		t.Fatalf("lost %d, of which the publisher dropped %d; want 3 and 2", c.Lost, fc.PublisherDropped)
	}
	// A claim beyond the frames the span numbered is not credited.
	arrive(f, frame(11, 1<<40), 1, t0)
	if _, fc := f.Counts(); fc.PublisherDropped > 12 {
		t.Fatalf("publisher dropped %d of 12 frames numbered", fc.PublisherDropped)
	}
}
