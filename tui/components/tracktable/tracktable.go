// Package tracktable is the table of tracks: one row per track with its
// state, rates, counters, loopback figures and a send-rate sparkline, and a
// totals row. Columns drop by priority when the terminal is narrow.
package tracktable

import (
	"fmt"
	"strings"

	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/sparkline"
)

// Model draws the table.
type Model struct {
	common.Size
	ctx      common.Context
	Rows     []Row
	Selected int // index into Rows
}

// New returns a table.
func New(ctx common.Context) *Model { return &Model{ctx: ctx} }

type column struct {
	title    string
	width    int
	priority int // 0 always shown; higher ones drop first on narrow screens
	right    bool
	rx       bool // loopback-only column
	cell     func(r Row) string
	style    func(r Row) func(...string) string
}

func (m *Model) columns() []column {
	th := m.ctx.Theme
	num := func(v uint64) string { return format.Count(float64(v)) }
	rxcell := func(f func(session.ReceiveStats, Row) string) func(Row) string {
		return func(r Row) string {
			if r.Rx == nil {
				return "-"
			}
			return f(*r.Rx, r)
		}
	}
	none := func(Row) func(...string) string { return nil }
	return []column{
		{title: "NAME", width: 12, priority: 0, cell: func(r Row) string { return r.Stats.Name }, style: none},
		{title: "H", width: 3, priority: 1, right: true, cell: func(r Row) string {
			if r.Stats.Handle == 0 {
				return "-"
			}
			return fmt.Sprint(r.Stats.Handle)
		}, style: none},
		{title: "SID", width: 12, priority: 3, cell: func(r Row) string {
			if r.Stats.SID == "" {
				return "-"
			}
			return r.Stats.SID
		}, style: func(Row) func(...string) string { return th.Dim.Render }},
		{title: "STATE", width: 16, priority: 0, cell: func(r Row) string { s, _ := r.State(th, m.ctx.Now()); return s },
			style: func(r Row) func(...string) string { _, f := r.State(th, m.ctx.Now()); return f }},
		{title: "FPS", width: 6, priority: 0, right: true, cell: func(r Row) string { return format.Count(r.FPS) }, style: none},
		{title: "BYTES/S", width: 10, priority: 0, right: true, cell: func(r Row) string { return format.Bytes(r.BPS) + "/s" }, style: none},
		{title: "PPS", width: 6, priority: 3, right: true, cell: func(r Row) string { return format.Count(r.PPS) }, style: none},
		{title: "PUSHED", width: 7, priority: 2, right: true, cell: func(r Row) string { return num(r.Stats.FramesPushed) }, style: none},
		{title: "DROPPED", width: 7, priority: 0, right: true, cell: func(r Row) string { return num(r.Stats.FramesDropped) },
			style: func(r Row) func(...string) string {
				if r.Stats.FramesDropped > 0 {
					return th.Bad.Render
				}
				return nil
			}},
		{title: "UNPUB", width: 5, priority: 2, right: true, cell: func(r Row) string { return num(r.Stats.UnpublishedErrors) },
			style: func(r Row) func(...string) string {
				if r.Stats.UnpublishedErrors > 0 {
					return th.Warn.Render
				}
				return nil
			}},
		{title: "RX/S", width: 6, priority: 1, right: true, rx: true, cell: rxcell(func(_ session.ReceiveStats, r Row) string { return format.Count(r.RxFPS) }), style: none},
		{title: "LOST", width: 5, priority: 1, right: true, rx: true, cell: rxcell(func(x session.ReceiveStats, _ Row) string { return num(x.FramesLost + x.FramesIncomplete) }),
			style: func(r Row) func(...string) string {
				if r.Rx != nil && r.Rx.FramesLost+r.Rx.FramesIncomplete > 0 {
					return th.Warn.Render
				}
				return nil
			}},
		{title: "P50", width: 6, priority: 2, right: true, rx: true, cell: rxcell(func(x session.ReceiveStats, _ Row) string { return format.Duration(x.LatencyP50) }), style: none},
		{title: "P99", width: 6, priority: 2, right: true, rx: true, cell: rxcell(func(x session.ReceiveStats, _ Row) string { return format.Duration(x.LatencyP99) }), style: none},
		{title: "SEND RATE", width: 10, priority: 2, cell: func(r Row) string {
			if !r.HasTrack {
				return ""
			}
			return sparkline.Render(r.Spark, 10)
		}, style: func(Row) func(...string) string { return th.Info.Render }},
		{title: "LAST ERROR", width: 0, priority: 3, cell: func(r Row) string { return r.Stats.LastError },
			style: func(Row) func(...string) string { return th.Bad.Render }},
	}
}

// visibleColumns keeps the columns that fit w, dropping the least
// important first; LAST ERROR takes what is left.
func (m *Model) visibleColumns(w int) []column {
	hasRx := false
	for _, r := range m.Rows {
		hasRx = hasRx || r.Rx != nil
	}
	all := m.columns()
	avail := w - 2 // selection marker
	keep := make([]bool, len(all))
	for p := 0; p <= 3; p++ {
		for i, c := range all {
			if c.priority != p || (c.rx && !hasRx) || c.width == 0 {
				continue
			}
			if avail >= c.width+1 {
				keep[i] = true
				avail -= c.width + 1
			}
		}
	}
	var out []column
	for i, c := range all {
		if c.width == 0 && avail >= 13 {
			c.width = avail - 1
			keep[i] = true
		}
		if keep[i] {
			out = append(out, c)
		}
	}
	return out
}

// View implements common.Component.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	cols := m.visibleColumns(w)
	var b strings.Builder
	head := "  "
	for _, c := range cols {
		head += format.Fit(c.title, c.width, c.right) + " "
	}
	b.WriteString(m.ctx.Theme.TableHead.Render(strings.TrimRight(head, " ")))
	b.WriteByte('\n')
	if len(m.Rows) == 0 {
		b.WriteString(m.ctx.Theme.Dim.Render("  no tracks yet: press p to publish one"))
		return b.String()
	}
	// Scroll so the selection stays visible; one line for totals.
	rowsH := max(h-2, 1)
	sel := min(max(m.Selected, 0), len(m.Rows)-1)
	start := 0
	if sel >= rowsH {
		start = sel - rowsH + 1
	}
	end := min(start+rowsH, len(m.Rows))
	for i := start; i < end; i++ {
		r := m.Rows[i]
		marker := "  "
		if i == sel {
			marker = "› "
		}
		line := marker
		for _, c := range cols {
			cell := format.Fit(c.cell(r), c.width, c.right)
			if f := c.style(r); f != nil {
				cell = f(cell)
			}
			line += cell + " "
		}
		line = strings.TrimRight(line, " ")
		if i == sel {
			line = m.ctx.Theme.Selected.Render(line)
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.WriteString(m.ctx.Theme.Totals.Render(m.totalsLine(cols)))
	return b.String()
}

func (m *Model) totalsLine(cols []column) string {
	var t Row
	t.Stats.Name = fmt.Sprintf("TOTAL (%d)", len(m.Rows))
	var rx session.ReceiveStats
	hasRx := false
	for _, r := range m.Rows {
		t.FPS += r.FPS
		t.PPS += r.PPS
		t.BPS += r.BPS
		t.RxFPS += r.RxFPS
		t.Stats.FramesPushed += r.Stats.FramesPushed
		t.Stats.FramesDropped += r.Stats.FramesDropped
		t.Stats.UnpublishedErrors += r.Stats.UnpublishedErrors
		if r.Rx != nil {
			hasRx = true
			rx.FramesLost += r.Rx.FramesLost
			rx.FramesIncomplete += r.Rx.FramesIncomplete
		}
	}
	if hasRx {
		t.Rx = &rx
	}
	line := "  "
	for _, c := range cols {
		var cell string
		switch c.title {
		case "NAME", "FPS", "PPS", "BYTES/S", "PUSHED", "DROPPED", "UNPUB", "RX/S", "LOST":
			cell = c.cell(t)
		}
		line += format.Fit(cell, c.width, c.right) + " "
	}
	return strings.TrimRight(line, " ")
}
