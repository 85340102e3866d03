package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/report/series"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/components/charts"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

// chartModel is the charts scenario at a size.
func chartModel(t *testing.T, w, h int) *harness {
	t.Helper()
	b := newFakeBackend()
	c := &clock{t: t0}
	b.now = c.now
	hs := newHarness(t, New(b, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour}))
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	chartsScenario(t, hs, b, c)
	return hs
}

// At 140x40 the charts take the room under the table by themselves; at
// 80x24 they wait for t; t hides them again, and they stay hidden at any
// size until asked for.
func TestChartsShowWhereThereIsRoom(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	h.send(tea.WindowSizeMsg{Width: 140, Height: 40})
	publishNow(t, h, b, "x")
	if !h.m.chartsShown() || !strings.Contains(plain(h.m), "charts · x · last 5m") {
		t.Fatalf("no charts at 140x40:\n%s", plain(h.m))
	}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	if h.m.chartsShown() || strings.Contains(plain(h.m), "frames/s") {
		t.Fatalf("charts at 80x24 without t:\n%s", plain(h.m))
	}
	h.send(press("t"))
	if !h.m.chartsShown() || !strings.Contains(plain(h.m), "frames/s") {
		t.Fatalf("t did not show the charts at 80x24:\n%s", plain(h.m))
	}
	h.send(press("t"))
	h.send(tea.WindowSizeMsg{Width: 140, Height: 40})
	if h.m.chartsShown() {
		t.Fatal("charts hidden with t came back at 140x40")
	}
	h.send(press("t"))
	if !h.m.chartsShown() {
		t.Fatal("t did not bring the charts back")
	}

	// By themselves, the charts give an open log pane the room; asked
	// for, they share it.
	h = newHarness(t, newTestModel(b, c, logbuf.New(10)))
	h.send(tea.WindowSizeMsg{Width: 140, Height: 40})
	h.send(tickMsg(c.t))
	h.send(press("l"))
	if h.m.chartsShown() {
		t.Fatal("auto charts over the log pane")
	}
	h.send(press("t")) // the table's key, the pane keeps its own (esc would close it)
	if !h.m.chartsShown() || !strings.Contains(plain(h.m), "logs ·") {
		t.Fatalf("charts asked for beside the log pane:\n%s", plain(h.m))
	}
}

// w cycles the window (5, 15, 1 minutes), in the pane's header and on its
// time axis; pressed while the pane is hidden, it shows it.
func TestChartWindow(t *testing.T) {
	h := chartModel(t, 140, 40)
	for _, want := range []struct{ header, tick string }{{"last 15m", "-10m"}, {"last 1m", "-45s"}, {"last 5m", "-4m"}} {
		h.send(press("w"))
		v := plain(h.m)
		if !strings.Contains(v, want.header) || !strings.Contains(v, want.tick) {
			t.Fatalf("window %s: header or axis missing:\n%s", want.header, v)
		}
	}
	h.send(press("t"))
	h.send(press("w"))
	if !h.m.chartsShown() || h.m.charts.Window() != 15*time.Minute {
		t.Fatalf("w on hidden charts: shown %v, window %s", h.m.chartsShown(), h.m.charts.Window())
	}
}

// The marks the scenario's events leave (reconnect, republish) are on the
// time axis and named in the header; the selected row is what is charted,
// and the connection's panel is there for every row.
func TestChartsMarkEventsForTheSelectedRow(t *testing.T) {
	h := chartModel(t, 140, 40)
	v := plain(h.m)
	for _, want := range []string{"charts · telemetry", "R reconnected", "P republished", "r reconnecting", series.TitleRTT, series.TitleLatency, "queue full"} {
		if !strings.Contains(v, want) {
			t.Fatalf("%q missing:\n%s", want, v)
		}
	}
	axes := 0
	for _, l := range strings.Split(v, "\n") {
		if strings.Contains(l, "└") && strings.ContainsAny(l, "RrPp") {
			axes++
		}
	}
	if axes == 0 {
		t.Fatalf("no mark on any time axis:\n%s", v)
	}
	h.send(press("j")) // chat: no republish of its own; the reconnect still shows
	v = plain(h.m)
	if !strings.Contains(v, "charts · chat") || strings.Contains(v, "P republished") || !strings.Contains(v, "R reconnected") {
		t.Fatalf("chat's charts:\n%s", v)
	}
}

// Reset clears the charts like every other figure; pause freezes them
// while the session keeps recording, so unpaused they have no gap.
func TestChartsResetAndPause(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	h.send(tea.WindowSizeMsg{Width: 140, Height: 40})
	publishNow(t, h, b, "x")
	step := func(n int) {
		for range n {
			b.advance(c, time.Second, map[string]float64{"x": 100}, 100, nil)
			h.send(tickMsg(c.t))
		}
	}
	set := func() series.Set {
		r, _ := h.m.selectedRow()
		return *r.series(h.m.tbl.snap)
	}
	step(21) // the first sample opens the first second
	if s := set(); s.Len != 20 {
		t.Fatalf("%d seconds charted, want 20", s.Len)
	}
	h.send(press("z"))
	frozen := plain(h.m)
	step(10)
	if plain(h.m) != frozen {
		t.Fatal("paused charts moved")
	}
	h.send(press("z"))
	h.send(tickMsg(c.t))
	if s := set(); s.Len != 30 || s.Panels[0].Series[0].Values[25] != 100 {
		t.Fatalf("after pause: %d seconds, values %v", s.Len, s.Panels[0].Series[0].Values)
	}
	b.mu.Lock()
	b.status.State, b.status.Since = session.StateReconnecting, c.t
	b.mu.Unlock()
	step(2)
	if s := set(); len(s.Marks) == 0 {
		t.Fatal("the reconnect is not marked")
	}
	h.send(press("r"))
	if s := set(); s.Len != 0 || len(s.Marks) != 0 || series.Connection(h.m.tbl.snap).Len != 0 {
		t.Fatalf("after reset: %d seconds, %d marks", s.Len, len(s.Marks))
	}
	step(3)
	if s := set(); s.Len != 3 {
		t.Fatalf("after reset and 3 s: %d seconds", s.Len)
	}
}

// The pane fits the room it is given at every size, whatever it holds.
func TestChartPaneFits(t *testing.T) {
	h := chartModel(t, 140, 40)
	c := h.m.charts
	for _, sz := range [][2]int{{1, 1}, {20, 3}, {34, 7}, {40, 12}, {80, 17}, {100, 30}, {200, 57}} {
		c.SetSize(sz[0], sz[1])
		v := c.View()
		assertFits(t, v, sz[0], sz[1])
		if sz[1] >= charts.MinHeight && sz[0] >= 34 && !strings.Contains(v, "frames/s") {
			t.Fatalf("%dx%d: no panel:\n%s", sz[0], sz[1], v)
		}
	}
}
