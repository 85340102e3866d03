package detail

import (
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/tui/theme"
)

// Frames of one size (2068 B: a 2 KiB frame and its encryption) fall in
// one bucket, whose midpoint is 2112 B: the line gives the exact mean for
// every figure instead of a min above the mean (main: "mean 2.02 KiB ·
// min ≈2.06 KiB").
func TestSizeItemsNeverContradictTheMean(t *testing.T) {
	var h histogram.Histogram
	for range 1211 {
		h.Record(2068)
	}
	got := strings.Join(sizeItems(&h), " · ")
	want := "frame sizes (1211 frames): mean 2.02 KiB · min ≈2.02 KiB · p50 ≈2.02 KiB · p90 ≈2.02 KiB · p99 ≈2.02 KiB · max ≈2.02 KiB"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Sizes spread over buckets: the estimates stay, the extremes bound
	// the mean.
	h.Reset()
	for range 99 {
		h.Record(100)
	}
	h.Record(5000)
	got = strings.Join(sizeItems(&h), " · ")
	if want := "frame sizes (100 frames): mean 149 B · min ≈102 B · p50 ≈102 B · p90 ≈102 B · p99 ≈102 B · max ≈4.88 KiB"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// Another dttui's probe frames: their own account, in words, with what
// its latency compares.
func TestProbeItems(t *testing.T) {
	p := &report.RemoteProbe{Sent: 100, Received: 96, Lost: 3, InGrace: 1, Duplicates: 2}
	for range 96 {
		p.Latency.Record(int64(2 * time.Millisecond))
	}
	got := strings.Join(probeItems(theme.Plain(), p, clocksync.Estimate{}), " · ")
	want := "dttui probe: sent 100 (up to the latest received) · received 96 · lost 3 · in grace 1 · cut 0 · duplicates 2 · late 0 · " +
		"latency p50 2.0ms · p95 2.0ms · p99 2.0ms · from its send time (ns), the publisher's clock against ours"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	p.Corrupt = 1
	if got := strings.Join(probeItems(theme.Plain(), p, clocksync.Estimate{}), " · "); !strings.Contains(got, "corrupt 1") {
		t.Fatalf("no corrupt frames in %s", got)
	}
}

// What a room track's partial frames hold and what was evicted to keep
// the room within its budget: nothing said while nothing is held or
// evicted; the track's own evictions, then the room's, by reason.
func TestMemoryItems(t *testing.T) {
	st := &incoming.TrackStats{}
	room := &incoming.Held{Budget: 256 << 20, PerParticipant: 64 << 20}
	if got := memoryItems(theme.Plain(), st, room); got != nil {
		t.Fatalf("nothing held, nothing evicted: %q", got)
	}
	st.HeldBytes = 3 << 20
	st.Evicted[incoming.EvictIdle] = 2
	room.Bytes = 100 << 20
	room.Evicted[incoming.EvictIdle], room.Evicted[incoming.EvictParticipantShare] = 2, 40
	got := strings.Join(memoryItems(theme.Plain(), st, room), " · ")
	want := "holds 3 MiB of partial frames · the room 100 MiB of 256 MiB (a participant at most 64 MiB) · evicted (idle) 2 · " +
		"room evicted (participant share) 40 · room evicted (idle) 2"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Tracks past the cap are said even while nothing is held.
	*st, room.Evicted = incoming.TrackStats{}, [incoming.NumEvictReasons]uint64{}
	room.TracksRefused = 996
	if got := strings.Join(memoryItems(theme.Plain(), st, room), " · "); !strings.HasSuffix(got, "996 of the room's tracks not followed (track cap)") {
		t.Fatalf("refused tracks: %s", got)
	}
	p := &report.RemoteProbe{Sent: 1, Received: 1, Jumps: 3}
	if got := strings.Join(probeItems(theme.Plain(), p, clocksync.Estimate{}), " · "); !strings.Contains(got, "implausible jumps 3") {
		t.Fatalf("no jumps in %s", got)
	}
}

// The publisher's own drops are told apart within the probe's loss.
func TestProbeItemsSayThePublishersDrops(t *testing.T) {
	p := &report.RemoteProbe{Sent: 20, Received: 16, Lost: 4, PublisherDropped: 3}
	if got := strings.Join(probeItems(theme.Plain(), p, clocksync.Estimate{}), " · "); !strings.Contains(got, "lost 4 (3 dropped by the publisher)") {
		t.Fatalf("got %s", got)
	}
}
