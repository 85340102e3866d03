package detail

import (
	"strings"
	"testing"

	"github.com/dttui/dttui/histogram"
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
