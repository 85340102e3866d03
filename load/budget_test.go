package load

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/budget"
)

// Since counts a load run from its warmup on: counters and latency after
// it, frames/s over the frames sent after it, reconnects after it.
func TestSummarySinceWarmup(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	track := func(sent, lost, expected uint64, drops uint64, last time.Duration, slow, fast int) TrackSummary {
		ts := TrackSummary{Participant: "p-0", Track: "t", Subscribers: 1, Sent: sent, Pushed: sent + drops, Dropped: drops,
			Lost: lost, Expected: expected, Delivered: expected - lost, firstSent: t0, lastSent: t0.Add(last)}
		if drops > 0 {
			ts.DroppedBy = map[string]uint64{"queue full": drops}
		}
		for range slow {
			ts.Latency.Record(int64(time.Second))
		}
		for range fast {
			ts.Latency.Record(int64(time.Millisecond))
		}
		return ts
	}
	// Warmup: 100 frames over 2 s, slow, 10 lost, 5 dropped, a reconnect.
	base := Summary{Tracks: []TrackSummary{track(100, 10, 100, 5, 2*time.Second, 90, 0)},
		Participants: []ParticipantState{{Identity: "p-0", Reconnects: 1}}}
	// Then 200 more over 4 s, fast, none lost or dropped.
	end := Summary{Tracks: []TrackSummary{track(300, 10, 300, 5, 6*time.Second, 90, 200)},
		Participants: []ParticipantState{{Identity: "p-0", Reconnects: 1}}}
	m := end.Since(&base)
	tr := m.Tracks[0]
	if tr.Sent != 200 || tr.Lost != 0 || tr.Expected != 200 || tr.Dropped != 0 || tr.DroppedBy != nil || tr.SentFPS != 50 || tr.Latency.Count() != 200 {
		t.Fatalf("after warmup %+v (latency %d)", tr, tr.Latency.Count())
	}
	subs := m.BudgetSubjects()
	exprs := []budget.Expr{}
	for _, s := range []string{"loss>0", "p99>10ms", "fps<50", "dropped[queue full]>0", "reconnects>0"} {
		e, err := budget.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		exprs = append(exprs, e)
	}
	for _, v := range budget.Evaluate(exprs, subs) {
		if v.Broken || v.Label() != "p-0/t" {
			t.Errorf("after warmup: %s", v)
		}
	}
	// The whole run breaks them all.
	whole := end.Since(nil)
	whole.Tracks[0].SentFPS = 40
	whole.Participants[0].Reconnects = 1
	for _, v := range budget.Evaluate(exprs, whole.BudgetSubjects()) {
		if !v.Broken {
			t.Errorf("whole run: %s", v)
		}
	}
	// Without subscribers there is no loss or latency to judge.
	noSubs := Summary{Tracks: []TrackSummary{{Participant: "p-0", Track: "t"}}}
	if v := budget.Evaluate(exprs[:1], noSubs.BudgetSubjects()); len(v) != 1 || v[0].Subject != nil || !v[0].Broken {
		t.Errorf("no subscribers: %+v", v)
	}
}

// A load run's stalls are its publishers', counted from the warmup on; a
// summary that did not count them (a participant that never joined, a
// file of an older dttui) leaves a stalls budget not measured, never
// held on a zero nobody took.
func TestStallsBudget(t *testing.T) {
	n := func(v int) *int { return &v }
	stalls, err := budget.Parse("stalls>0")
	if err != nil {
		t.Fatal(err)
	}
	tracks := []TrackSummary{{Participant: "p-0", Track: "t"}, {Participant: "p-1", Track: "t"}}
	base := Summary{Tracks: tracks, Participants: []ParticipantState{{Identity: "p-0", Stalls: n(1)}, {Identity: "p-1", Stalls: n(0)}}}
	end := Summary{Tracks: tracks, Participants: []ParticipantState{{Identity: "p-0", Stalls: n(1)}, {Identity: "p-1", Stalls: n(2)}}}

	type got struct {
		label  string
		value  float64
		broken bool
	}
	judge := func(s Summary) (out []got) {
		for _, v := range budget.Evaluate([]budget.Expr{stalls}, s.BudgetSubjects()) {
			if !v.Evaluated() {
				t.Fatalf("not measured: %s", v)
			}
			out = append(out, got{v.Label(), v.Value, v.Broken})
		}
		return out
	}
	// After the warmup p-0's one stall is gone; p-1 stalled twice.
	if g := judge(end.Since(&base)); !slices.Equal(g, []got{{"p-0/t", 0, false}, {"p-1/t", 2, true}}) {
		t.Errorf("after the warmup: %+v", g)
	}
	if g := judge(end); !slices.Equal(g, []got{{"p-0/t", 1, true}, {"p-1/t", 2, true}}) {
		t.Errorf("whole run: %+v", g)
	}
	if *base.Participants[0].Stalls != 1 {
		t.Error("Since changed its base")
	}

	// Counted, the figure travels in the file `dttui summary` reads.
	b, err := json.Marshal(end.Participants[1])
	if err != nil || !strings.Contains(string(b), `"stalls":2`) {
		t.Fatalf("%s %v", b, err)
	}
	var back ParticipantState
	if err := json.Unmarshal(b, &back); err != nil || back.Stalls == nil || *back.Stalls != 2 {
		t.Fatalf("read back %+v %v", back, err)
	}
	// Not counted: no track measures stalls.
	old := Summary{Tracks: tracks[:1], Participants: []ParticipantState{{Identity: "p-0"}}}
	if err := json.Unmarshal([]byte(`{"identity":"p-0","connected":true,"reconnects":0}`), &old.Participants[0]); err != nil {
		t.Fatal(err)
	}
	v := budget.Evaluate([]budget.Expr{stalls}, old.BudgetSubjects())
	if len(v) != 1 || v[0].Evaluated() || !v[0].Broken || v[0].Measurement() != "no track measures stalls" {
		t.Errorf("stalls not counted: %+v", v)
	}
}

// The table and the budgets show one loss, report's: of the frames
// received or lost, the ones still within their grace not counted yet.
func TestTableAndBudgetsShowReportsLoss(t *testing.T) {
	s := Summary{Room: "r", Runs: 1, Tracks: []TrackSummary{{Participant: "p", Track: "t", Published: true, Subscribers: 1,
		Sent: 10, Expected: 10, Delivered: 6, Lost: 2, InGrace: 2}}}
	var out strings.Builder
	if err := s.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), " 25.00% ") {
		t.Errorf("table:\n%s", out.String())
	}
	subj := s.BudgetSubjects()[0]
	if subj.Lost != 2 || subj.Expected != 8 {
		t.Errorf("budget subject: lost %d of %d", subj.Lost, subj.Expected)
	}
}
