package tracktable

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/theme"
)

func table(w int, rx bool) string {
	m := New(common.Context{Theme: theme.Plain(), Now: func() time.Time { return time.Unix(0, 0) }})
	r := Row{L: report.Local{Handle: 1, Name: "t", SIDs: []string{"DTR_x"}, State: outgoing.StatePublished,
		Errors: []outgoing.ErrorEvent{{Err: "boom"}}}, HasTrack: true}
	if rx {
		r.L.Rx = &report.Receive{}
	}
	m.Rows = []Row{r}
	m.SetSize(w, 10)
	return ansi.Strip(m.View())
}

// Narrow terminals drop the least important columns first; what stays is
// the state, the rates, the drops and (with loopback) what arrives.
func TestColumnsByWidth(t *testing.T) {
	for _, tc := range []struct {
		w        int
		rx       bool
		want     []string
		dontWant []string
	}{
		{80, true, []string{"NAME", "STATE", "FPS", "BYTES/S", "DROPPED", "RX/S", "LOST"}, []string{"SID", "LAST ERROR"}},
		{80, false, []string{"NAME", "STATE", "FPS", "BYTES/S", "DROPPED", "PUSHED", "UNPUB"}, []string{"RX/S", "SID"}},
		{140, false, []string{"SID", "PPS", "SEND 10s", "LAST ERROR", "boom"}, []string{"RX/S"}},
		{140, true, []string{"SID", "P50", "P99", "RX/S"}, nil},
	} {
		v := table(tc.w, tc.rx)
		head := strings.Split(v, "\n")[0]
		for _, c := range tc.want {
			if !strings.Contains(v, c) {
				t.Errorf("%d cols, rx=%v: %q missing in %q", tc.w, tc.rx, c, head)
			}
		}
		for _, c := range tc.dontWant {
			if strings.Contains(head, c) {
				t.Errorf("%d cols, rx=%v: %q should not fit in %q", tc.w, tc.rx, c, head)
			}
		}
		for _, l := range strings.Split(v, "\n") {
			if ansi.StringWidth(l) > tc.w {
				t.Errorf("%d cols: line %q is %d wide", tc.w, l, ansi.StringWidth(l))
			}
		}
	}
}

func TestFailedRowSaysWhy(t *testing.T) {
	r := Row{Failed: &outgoing.PublishError{Reason: outgoing.ReasonDuplicateName}}
	if s, _ := r.State(theme.Plain(), time.Now()); s != "failed: duplicate" {
		t.Fatalf("state %q", s)
	}
}

// highlighted reports, for each visible cell of a styled line, whether it
// has a background colour, following the SGR sequences as a terminal does.
func highlighted(line string) []bool {
	var out []bool
	on := false
	p := ansi.NewParser()
	state := byte(0)
	for len(line) > 0 {
		seq, width, n, newState := ansi.DecodeSequence(line, state, p)
		state = newState
		line = line[n:]
		if width > 0 {
			for range width {
				out = append(out, on)
			}
			continue
		}
		if ansi.Cmd(p.Command()).Final() != 'm' || !strings.HasPrefix(seq, "\x1b[") {
			continue
		}
		params := p.Params()
		if len(params) == 0 {
			on = false
		}
		for i := 0; i < len(params); i++ {
			switch v := params[i].Param(0); {
			case v == 0, v == 49:
				on = false
			case v == 48:
				on = true
				if params[i+1].Param(0) == 5 {
					i += 2
				} else {
					i += 4
				}
			case v == 38:
				if params[i+1].Param(0) == 5 {
					i += 2
				} else {
					i += 4
				}
			case v >= 40 && v <= 47, v >= 100 && v <= 107:
				on = true
			}
		}
	}
	return out
}

// The selected row has the selection background from its marker to the
// table's edge, through coloured cells (a style wrapped around styled
// cells ended at the first cell's reset), and the coloured cells keep
// their colour; the other rows have no background.
func TestSelectedRowIsHighlightedThroughout(t *testing.T) {
	th := theme.Color()
	m := New(common.Context{Theme: th, Now: func() time.Time { return time.Unix(0, 0) }})
	m.Rows = []Row{
		{L: report.Local{Handle: 1, Name: "a", SIDs: []string{"DTR_a"}, State: outgoing.StatePublished, Figures: report.Figures{History: history(1, 2, 3)}}, HasTrack: true},
		{L: report.Local{Handle: 2, Name: "b", SIDs: []string{"DTR_b"}, State: outgoing.StatePublished, Out: outgoing.Counters{FramesDropped: 5, UnpublishedErrors: 1},
			Errors: []outgoing.ErrorEvent{{Err: "boom"}}, Figures: report.Figures{History: history(1, 2, 3)}}, Dropping: true, HasTrack: true, Generating: true},
	}
	m.Selected = 1
	m.SetSize(140, 10)
	lines := strings.Split(m.View(), "\n")
	sel := highlighted(lines[2])
	if len(sel) != 140 {
		t.Fatalf("selected row is %d cells, want the table's 140", len(sel))
	}
	for i, h := range sel {
		if !h {
			t.Fatalf("cell %d of the selected row has no background: %q", i, ansi.Strip(lines[2]))
		}
	}
	if bad := th.Bad.Inherit(th.Selected).Render("dropping ▶"); !strings.Contains(lines[2], strings.TrimSuffix(bad, "\x1b[0m")) {
		t.Fatalf("the state lost its colour on the selected row: %q", lines[2])
	}
	if !strings.HasPrefix(ansi.Strip(lines[2]), "› ") {
		t.Fatal("no › marker on the selected row (needed without colour)")
	}
	for i, h := range highlighted(lines[1]) {
		if h {
			t.Fatalf("cell %d of an unselected row has a background", i)
		}
	}
}

// Failed publishes have no traffic: their figures read "-", and the
// totals count only live tracks.
func TestFailedRowsHaveNoFigures(t *testing.T) {
	m := New(common.Context{Theme: theme.Plain(), Now: func() time.Time { return time.Unix(0, 0) }})
	m.Rows = []Row{
		{L: report.Local{Handle: 1, Name: "ok", State: outgoing.StatePublished, Out: outgoing.Counters{FramesPushed: 10},
			Figures: report.Figures{Rate: report.Rates{SentFPS: 10, SentBPS: 1024}}}},
		{L: report.Local{Name: "bad"}, Failed: &outgoing.PublishError{Reason: outgoing.ReasonDisconnected}},
	}
	m.SetSize(80, 10)
	v := m.View()
	var failed, total string
	for _, l := range strings.Split(v, "\n") {
		switch {
		case strings.Contains(l, "bad"):
			failed = l
		case strings.Contains(l, "TOTAL"):
			total = l
		}
	}
	if !strings.Contains(failed, "failed: disconnected") || strings.Contains(failed, "B/s") || strings.Count(failed, " -") < 5 {
		t.Fatalf("failed row %q", failed)
	}
	if !strings.Contains(total, "TOTAL (1)") || !strings.Contains(total, " 1 KiB/s") {
		t.Fatalf("totals %q", total)
	}
}

// Every state word fits the STATE column whole.
func TestStateWordsFit(t *testing.T) {
	th := theme.Plain()
	now := time.Unix(0, 0)
	for reason := outgoing.ReasonUnknown; reason <= outgoing.ReasonE2EENotConfigured; reason++ {
		r := Row{Failed: &outgoing.PublishError{Reason: reason}}
		if s, _ := r.State(th, now); ansi.StringWidth(s) > StateWidth {
			t.Errorf("%q is wider than STATE (%d)", s, StateWidth)
		}
	}
	r := Row{L: report.Local{State: outgoing.StatePending, Since: now.Add(-95 * time.Second)}}
	if s, _ := r.State(th, now); ansi.StringWidth(s) > StateWidth {
		t.Errorf("%q is wider than STATE", s)
	}
}

// history is a per-second history with the given frames sent.
func history(sent ...uint64) []report.Second {
	out := make([]report.Second, len(sent))
	for i, n := range sent {
		out[i] = report.Second{Sent: n}
	}
	return out
}

// Counters of a long run still fit their columns, in the rows and in
// TOTAL: compact counts, never a cut figure.
func TestHugeCountsFit(t *testing.T) {
	const huge = ^uint64(0) / 3
	m := New(common.Context{Theme: theme.Plain(), Now: func() time.Time { return time.Unix(0, 0) }})
	r := Row{L: report.Local{Handle: 1, Name: "t", State: outgoing.StateUnpublished,
		Out:     outgoing.Counters{FramesPushed: huge, FramesDropped: huge, UnpublishedErrors: 193_412},
		Rx:      &report.Receive{Lost: huge},
		Figures: report.Figures{Rate: report.Rates{SentFPS: 1e12, SentPPS: 1e12, SentBPS: 1e15, ReceivedFPS: 1e12}}}, HasTrack: true}
	m.Rows = []Row{r, r}
	for _, w := range []int{50, 80, 140} {
		m.SetSize(w, 10)
		v := ansi.Strip(m.View())
		if strings.Contains(v, "…") {
			t.Fatalf("%d cols: a figure is cut:\n%s", w, v)
		}
		if w == 140 && (!strings.Contains(v, "193k") || !strings.Contains(v, "387k")) {
			t.Fatalf("UNPUB not compact, in the row and TOTAL:\n%s", v)
		}
	}
}

// A room row's latency is marked when its publisher's clock is not
// synced with ours (two clocks, or still syncing); one-way is unmarked.
func TestRoomLatencyMarksTwoClocks(t *testing.T) {
	row := func(s clocksync.State) Row {
		var r Row
		r.R = &report.Remote{}
		r.R.Stats.Clock.State = s
		return r
	}
	for _, c := range []struct {
		st   clocksync.State
		d    time.Duration
		want string
	}{
		{clocksync.Synced, 2900 * time.Microsecond, "2.9ms"},
		{clocksync.TwoClocks, 2900 * time.Microsecond, "2.9ms" + TwoClocks},
		{clocksync.Unknown, 11 * time.Millisecond, "11ms" + TwoClocks},
		{clocksync.TwoClocks, 0, "-"},
		{clocksync.TwoClocks, 9940 * time.Microsecond, "9.9ms" + TwoClocks}, // the widest: 6 cells
		{clocksync.TwoClocks, 9990 * time.Microsecond, "10ms" + TwoClocks},
	} {
		if got := roomLatency(row(c.st), c.d); got != c.want {
			t.Errorf("%v %v: %q, want %q", c.st, c.d, got, c.want)
		}
	}
}

// P95 sits between P50 and P99 and is the first latency column to go as
// the table narrows: at every width, P95 shown means P50 and P99 are.
func TestP95GoesFirst(t *testing.T) {
	m := New(common.Context{Theme: theme.Plain(), Now: func() time.Time { return time.Unix(0, 0) }})
	for name, all := range map[string]func() []column{"ours": m.columns, "room": m.roomColumns} {
		var sawP95, sawWithout bool
		for w := 20; w <= 220; w++ {
			shown := map[string]int{}
			for i, c := range visibleColumns(all(), w, true) {
				shown[c.title] = i + 1
			}
			p50, p95, p99 := shown["P50"], shown["P95"], shown["P99"]
			if p95 > 0 && (p50 == 0 || p99 == 0 || p50 > p95 || p95 > p99) {
				t.Fatalf("%s at %d: P50 %d P95 %d P99 %d", name, w, p50, p95, p99)
			}
			sawP95 = sawP95 || p95 > 0
			sawWithout = sawWithout || (p95 == 0 && p50 > 0 && p99 > 0)
		}
		if !sawP95 || !sawWithout {
			t.Errorf("%s: P95 shown at some width %v, dropped before P50/P99 at another %v", name, sawP95, sawWithout)
		}
	}
}
