package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
)

// A run given twice is known by its run ID, whatever its room is called
// (issue 20.9: a copy whose room read "decoy, r1" passed the check, and
// its frames counted twice).
func TestMergeKnowsARunByItsID(t *testing.T) {
	a := sampleSummary()
	a.RunID = "RUN1"
	b := a
	b.Room = "decoy, " + a.Room
	var all Summary
	if err := all.Merge(&a); err != nil {
		t.Fatal(err)
	}
	if err := all.Merge(&b); !errors.Is(err, ErrSameRun) || !strings.Contains(err.Error(), "RUN1") {
		t.Fatalf("the same run under another room's name: %v", err)
	}
	// Without IDs (files of older versions), the same participants in
	// the same room are one run, as before.
	a.RunID, b.RunID, b.Room = "", "", a.Room
	all = Summary{}
	if err := all.Merge(&a); err != nil {
		t.Fatal(err)
	}
	if err := all.Merge(&b); !errors.Is(err, ErrSameRun) {
		t.Fatalf("the same run without IDs: %v", err)
	}
	// Two runs: their own IDs; the merged summary has none.
	a.RunID, b.RunID = "RUN1", "RUN2"
	for i := range b.Participants {
		b.Participants[i].Identity += "-2"
	}
	all = Summary{}
	if err := all.Merge(&a); err != nil || all.RunID != "RUN1" {
		t.Fatalf("%v %q", err, all.RunID)
	}
	if err := all.Merge(&b); err != nil || all.Runs != 2 || all.RunID != "" {
		t.Fatalf("two runs: %v, runs %d, id %q", err, all.Runs, all.RunID)
	}
}

// Totals and merged histograms saturate instead of wrapping at 2^64
// (issue 20.9: a file's counts near 2^64 summed to small ones, a p50 of
// "0µs").
func TestTotalsSaturate(t *testing.T) {
	a, b := TrackSummary{Pushed: math.MaxUint64 - 1, Lost: 3, DroppedBy: map[string]uint64{"stale": math.MaxUint64}},
		TrackSummary{Pushed: 5, Lost: 4, DroppedBy: map[string]uint64{"stale": 2}}
	a.Latency, b.Latency = lat(1, 1, 1), lat(1)
	var big bytes.Buffer
	_ = json.NewEncoder(&big).Encode(a.Latency)
	// A histogram claiming nearly 2^64 values, as a file may.
	hostile := strings.Replace(strings.Replace(big.String(), `"count":3`, `"count":18446744073709551614`, 1), `,3]`, `,18446744073709551614]`, 1)
	if err := json.Unmarshal([]byte(hostile), &a.Latency); err != nil {
		t.Fatalf("%s: %v", hostile, err)
	}
	var tot Totals
	tot.Add(&a)
	tot.Add(&b)
	if tot.Pushed != math.MaxUint64 || tot.Lost != 7 || tot.DroppedBy["stale"] != math.MaxUint64 {
		t.Fatalf("totals %+v", tot)
	}
	if tot.Latency.Count() != math.MaxUint64 || tot.Latency.Quantile(.5) == 0 {
		t.Fatalf("latency: %d values, p50 %d", tot.Latency.Count(), tot.Latency.Quantile(.5))
	}
}

// A file's drop reasons are escaped in the table like every other text
// from it (issue 20.9: printed raw).
func TestTableEscapesTheFilesText(t *testing.T) {
	s := sampleSummary()
	s.Tracks = []TrackSummary{{Participant: "p", Track: "t", Published: true, DroppedBy: map[string]uint64{"\x1b]0;x\x07\x1b[2J": 1}}}
	var out bytes.Buffer
	if err := s.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out.String(), "\x1b\x07") || !strings.Contains(out.String(), `\x1b[2J 1`) {
		t.Fatalf("table:\n%q", out.String())
	}
}

// A file of more tracks than MaxSummaryTracks is refused as it is read,
// in bounded memory (issue 20.9: 100 000 tracks took 4.7 GB).
func TestReadSummaryCapsTracks(t *testing.T) {
	var line bytes.Buffer
	line.WriteString(`{"final":true,"summary":{"room":"r","runs":1,"tracks":[`)
	for i := range 20 * MaxSummaryTracks {
		if i > 0 {
			line.WriteByte(',')
		}
		line.WriteString("{}")
	}
	line.WriteString("]}}\n")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ReadSummary(&line)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooManyTracks) {
		t.Fatalf("%d tracks: %v", 20*MaxSummaryTracks, err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 256<<20 {
		t.Fatalf("refusing them allocated %d MB", n>>20)
	}
	a, b := sampleSummary(), sampleSummary()
	a.Tracks, b.Tracks = make([]TrackSummary, MaxSummaryTracks), make([]TrackSummary, 1)
	b.Room = "other"
	var all Summary
	if err := all.Merge(&a); err != nil {
		t.Fatal(err)
	}
	if err := all.Merge(&b); !errors.Is(err, ErrTooManyTracks) {
		t.Fatalf("merged past the cap: %v", err)
	}
}

// A line past MaxSummaryLine is refused as too large, in words.
func TestReadSummaryLineCap(t *testing.T) {
	long := strings.NewReader(`{"final":true,"summary":{"room":"` + strings.Repeat("r", MaxSummaryLine) + `"}}` + "\n")
	if _, err := ReadSummary(long); !errors.Is(err, ErrTooManyTracks) || !strings.Contains(err.Error(), "longer than 64 MiB") {
		t.Fatalf("%v", err)
	}
}
