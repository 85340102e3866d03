package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/histogram"
)

func lat(ms ...float64) histogram.Histogram {
	var h histogram.Histogram
	for _, m := range ms {
		h.Record(int64(m * float64(time.Millisecond)))
	}
	return h
}

func sampleSummary() Summary {
	return Summary{Room: "r1", Elapsed: 12.34, Runs: 1,
		Participants: []ParticipantState{
			{Identity: "l-sub-0", Role: RoleSubscriber, Connected: true, State: "connected"},
			{Identity: "l-pub-0", Role: RolePublisher, Connected: true, State: "connected", Reconnects: 1},
			{Identity: "l-pub-1", Role: RolePublisher, Error: "dial: refused"},
		},
		Tracks: []TrackSummary{
			{Participant: "l-pub-0", Track: "a", Published: true, PublishNs: int64(2 * time.Millisecond), Subscribers: 1,
				Pushed: 10, Sent: 8, Dropped: 2, DroppedBy: map[string]uint64{"queue full": 2},
				Expected: 8, Delivered: 7, Lost: 1, Latency: lat(1, 1, 1, 2, 2, 3, 40)},
			{Participant: "l-pub-0", Track: "b", Published: false, Error: "timeout", Subscribers: 1},
		},
	}
}

func TestTable(t *testing.T) {
	s := sampleSummary()
	var b bytes.Buffer
	if err := s.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := `  TRACK             PUSHED  SENT  DROPPED  DELIVERED  LOST    LOSS    P50     P95     P99  PUBLISH
  l-pub-0/a             10     8        2        7/8     1  12.50%  2.0ms  40.9ms  40.9ms    2.0ms
  l-pub-0/b              0     0        0        0/0     0       -      -       -       -        -
  TOTAL (2 tracks)      10     8        2        7/8     1  12.50%  2.0ms  40.9ms  40.9ms    2.0ms
dropped by reason: queue full 2
room r1: 1/2 publishers and 1/1 subscribers connected to the end, 1 reconnects, 12.3 s
problem: l-pub-1 could not connect: dial: refused
problem: l-pub-0/b was not published: timeout
`
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestTableGroupsManyTracksByName(t *testing.T) {
	var s Summary
	for i := range MaxTableRows + 1 {
		s.Tracks = append(s.Tracks, TrackSummary{Participant: fmt.Sprintf("p%d", i), Track: []string{"x", "y"}[i%2], Published: true,
			Pushed: 1, Sent: 1, Expected: 2, Delivered: 2})
	}
	var b bytes.Buffer
	if err := s.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if !strings.HasPrefix(strings.TrimSpace(lines[1]), "x (×21)") || !strings.HasPrefix(strings.TrimSpace(lines[2]), "y (×20)") ||
		!strings.HasPrefix(strings.TrimSpace(lines[3]), "TOTAL (41 tracks)") {
		t.Fatalf("grouped table:\n%s", b.String())
	}
	if !strings.Contains(lines[3], "82/82") {
		t.Errorf("total row: %q", lines[3])
	}
}

func TestTableMakesNamesSafe(t *testing.T) {
	s := Summary{Room: "r\x1b]2;x\x07", Tracks: []TrackSummary{{Participant: "p\x1b[2J", Track: "t\u009b", Published: true}}}
	var b bytes.Buffer
	if err := s.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, c := range b.String() {
		if c == 0x1b || c == 0x07 || c == 0x9b {
			t.Fatalf("control character %U in table:\n%q", c, b.String())
		}
	}
}

// Two runs that loaded one room merge into one summary: tracks and
// participants side by side, totals and latency percentiles over both.
func TestMergeThroughJSONLines(t *testing.T) {
	a, b := sampleSummary(), sampleSummary()
	b.Room, b.Elapsed = "r1", 20
	for i := range b.Tracks {
		b.Tracks[i].Participant = "m-pub-0"
	}
	b.Participants = slices.Clone(b.Participants)
	for i := range b.Participants {
		b.Participants[i].Identity = "m" + b.Participants[i].Identity[1:]
	}
	var files [2]bytes.Buffer
	for i, s := range []Summary{a, b} {
		enc := json.NewEncoder(&files[i])
		_ = enc.Encode(Line{Progress: &Progress{}})
		_ = enc.Encode(Line{Final: true, Summary: &s})
	}
	var all Summary
	for i := range files {
		s, err := ReadSummary(&files[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := all.Merge(&s); err != nil {
			t.Fatal(err)
		}
	}
	if all.Runs != 2 || all.Room != "r1" || all.Elapsed != 20 || len(all.Tracks) != 4 || len(all.Participants) != 6 {
		t.Fatalf("merged: runs %d room %q elapsed %v tracks %d participants %d", all.Runs, all.Room, all.Elapsed, len(all.Tracks), len(all.Participants))
	}
	tot := all.Totals()
	one := a.Totals()
	if tot.Pushed != 2*one.Pushed || tot.Delivered != 2*one.Delivered || tot.Lost != 2*one.Lost || tot.Latency.Count() != 2*one.Latency.Count() ||
		tot.DroppedBy["queue full"] != 4 || tot.Published != 2 {
		t.Fatalf("merged totals %+v, one run %+v", tot, one)
	}
	if tot.Latency.Quantile(.5) != one.Latency.Quantile(.5) {
		t.Errorf("p50 of two identical runs %d ≠ one run's %d", tot.Latency.Quantile(.5), one.Latency.Quantile(.5))
	}
}

// One run given twice (say, a glob and its file) would count every frame
// twice: the second is refused.
func TestMergeRefusesTheSameRunTwice(t *testing.T) {
	a, b := sampleSummary(), sampleSummary()
	var all Summary
	if err := all.Merge(&a); err != nil {
		t.Fatal(err)
	}
	if err := all.Merge(&b); !errors.Is(err, ErrSameRun) || !strings.Contains(err.Error(), `"l-sub-0"`) {
		t.Fatalf("the same run twice: %v", err)
	}
	if all.Runs != 1 || len(all.Tracks) != len(a.Tracks) {
		t.Fatalf("a refused run changed the summary: runs %d, tracks %d", all.Runs, len(all.Tracks))
	}
	// The same identities in another room: another run.
	b.Room = a.Room + "-other"
	if err := all.Merge(&b); err != nil || all.Runs != 2 {
		t.Fatalf("another room: %v, runs %d", err, all.Runs)
	}
}

func TestReadSummaryErrors(t *testing.T) {
	for _, in := range []string{"", `{"load":{}}` + "\n", "not json\n", `{"final":true,"summary":{"tracks":[{"latency_ns":{"count":3,"buckets":[]}}]}}`} {
		if _, err := ReadSummary(strings.NewReader(in)); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
	if _, err := ReadSummary(strings.NewReader(`{"load":{}}`)); !errors.Is(err, ErrNoSummary) {
		t.Errorf("no final line: %v", err)
	}
}

func FuzzReadSummary(f *testing.F) {
	s := sampleSummary()
	b, _ := json.Marshal(Line{Final: true, Summary: &s})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ReadSummary(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := s.WriteTable(&out); err != nil {
			t.Fatal(err)
		}
		for _, c := range out.String() {
			if c < 0x20 && c != '\n' {
				t.Fatalf("control character %U in table", c)
			}
		}
	})
}
