// Package tracktable is the table of tracks: one row per track with its
// state, rates, counters, loopback figures and a send-rate sparkline, and a
// totals row. Columns drop by priority when the terminal is narrow.
package tracktable

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/sparkline"
)

// SparkColumns is how many seconds of send rate the table's sparkline
// shows, one column per second.
const SparkColumns = 10

// StateWidth fits every state word: "failed: " and the longest short
// reason ("disconnected"), "dropping ▶", "pending 1m30s".
const StateWidth = 20

// Model draws the table.
type Model struct {
	common.Size
	ctx      common.Context
	Rows     []Row
	Selected int // index into Rows
	// Empty is shown when there are no rows.
	Empty string
	// Sort is the column the rows are in the order of, marked in the
	// header with its direction.
	Sort Sort
	// Of is how many rows there are before a filter left Rows (0: no
	// filter); the totals say "n/Of".
	Of int
}

// Sort is a column and its direction.
type Sort struct {
	Column string // one of the Col* titles
	Desc   bool
}

// The titles of the columns rows can be sorted by.
const (
	ColName    = "NAME"
	ColHandle  = "H"
	ColBytes   = "BYTES/S"
	ColDropped = "DROPPED"
)

// New returns a table.
func New(ctx common.Context) *Model {
	return &Model{ctx: ctx, Empty: "no tracks yet: press p to publish one"}
}

type column struct {
	title    string
	width    int
	priority int // 0 always shown; higher ones drop first on narrow screens
	right    bool
	rx       bool // loopback-only column
	live     bool // a figure a failed publish does not have: "-" there
	cell     func(r Row) string
	style    func(r Row) *lipgloss.Style // nil: unstyled
}

func (m *Model) columns() []column {
	th := m.ctx.Theme
	num := func(v uint64) string { return format.Count(float64(v)) }
	rxcell := func(f func(report.Receive, Row) string) func(Row) string {
		return func(r Row) string {
			if r.L.Rx == nil {
				return "-"
			}
			return f(*r.L.Rx, r)
		}
	}
	none := func(Row) *lipgloss.Style { return nil }
	always := func(s lipgloss.Style) func(Row) *lipgloss.Style { return func(Row) *lipgloss.Style { return &s } }
	when := func(s lipgloss.Style, cond func(Row) bool) func(Row) *lipgloss.Style {
		return func(r Row) *lipgloss.Style {
			if cond(r) {
				return &s
			}
			return nil
		}
	}
	return []column{
		{title: ColName, width: 12, priority: 0, cell: func(r Row) string { return r.L.Name }, style: none},
		{title: ColHandle, width: 3, priority: 1, right: true, cell: func(r Row) string {
			if r.L.Handle == 0 {
				return "-"
			}
			return fmt.Sprint(r.L.Handle)
		}, style: none},
		{title: "SID", width: 12, priority: 3, cell: func(r Row) string { return format.OrDash(r.L.SID()) }, style: always(th.Dim)},
		// E2EE tracks say so after their state: the word, not only a colour.
		{title: "STATE", width: StateWidth, priority: 0, cell: func(r Row) string {
			s, _ := r.State(th, m.ctx.Now())
			if r.L.E2EE {
				s += " " + E2EEMark
			}
			return s
		},
			style: func(r Row) *lipgloss.Style { _, s := r.State(th, m.ctx.Now()); return &s }},
		{title: "FPS", width: 6, priority: 0, right: true, live: true, cell: func(r Row) string { return format.Count(r.L.Rate.SentFPS) }, style: none},
		{title: ColBytes, width: 10, priority: 0, right: true, live: true, cell: func(r Row) string { return format.Bytes(r.L.Rate.SentBPS) + "/s" }, style: none},
		{title: "PPS", width: 6, priority: 3, right: true, live: true, cell: func(r Row) string { return format.Count(r.L.Rate.SentPPS) }, style: none},
		{title: "PUSHED", width: 7, priority: 2, right: true, live: true, cell: func(r Row) string { return num(r.L.Out.FramesPushed) }, style: none},
		// Red while dropping now, not forever after the first drop.
		{title: ColDropped, width: 7, priority: 0, right: true, live: true, cell: func(r Row) string { return num(r.L.Out.FramesDropped) },
			style: when(th.Bad, func(r Row) bool { return r.Dropping })},
		{title: "UNPUB", width: 5, priority: 2, right: true, live: true, cell: func(r Row) string { return num(r.L.Out.UnpublishedErrors) },
			style: when(th.Warn, func(r Row) bool { return r.L.Out.UnpublishedErrors > 0 })},
		{title: "RX/S", width: 6, priority: 1, right: true, rx: true, cell: rxcell(func(_ report.Receive, r Row) string { return format.Count(r.L.Rate.ReceivedFPS) }), style: none},
		// Frames sent and not received within the grace period.
		{title: "LOST", width: 5, priority: 1, right: true, rx: true, cell: rxcell(func(x report.Receive, _ Row) string { return num(x.Lost) }),
			style: when(th.Warn, func(r Row) bool { return r.L.Rx != nil && r.L.Rx.Lost > 0 })},
		{title: "P50", width: 6, priority: 2, right: true, rx: true, cell: rxcell(func(_ report.Receive, r Row) string { return format.Duration(r.L.Latency.P50) }), style: none},
		{title: "P99", width: 6, priority: 2, right: true, rx: true, cell: rxcell(func(_ report.Receive, r Row) string { return format.Duration(r.L.Latency.P99) }), style: none},
		{title: fmt.Sprintf("SEND %ds", SparkColumns), width: SparkColumns, priority: 2, cell: func(r Row) string {
			if !r.HasTrack {
				return ""
			}
			return sparkline.Render(r.Spark(), SparkColumns)
		}, style: always(th.Info)},
		{title: "LAST ERROR", width: 0, priority: 3, cell: func(r Row) string { return r.LastError() }, style: always(th.Bad)},
	}
}

// visibleColumns keeps the columns that fit w, dropping the least
// important first; LAST ERROR takes what is left.
func (m *Model) visibleColumns(w int) []column {
	hasRx := false
	for _, r := range m.Rows {
		hasRx = hasRx || r.L.Rx != nil
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

// View implements common.Component: at most Height lines (the header, the
// rows that fit with the selection kept in view, and the totals).
func (m *Model) View() string {
	w, h := m.Width, m.Height
	th := m.ctx.Theme
	cols := m.visibleColumns(w)
	head := "  "
	for _, c := range cols {
		title := c.title
		if c.title == m.Sort.Column {
			// The arrow goes on the title's padded side; a right-aligned
			// title that fills its cell takes the gap before it.
			arrow := map[bool]string{false: "▲", true: "▼"}[m.Sort.Desc]
			switch {
			case !c.right:
				title += arrow
			case len(title) < c.width:
				title = arrow + title
			default:
				head = strings.TrimSuffix(head, " ") + arrow
			}
		}
		head += format.Fit(title, c.width, c.right) + " "
	}
	lines := []string{th.TableHead.Render(ansi.Truncate(strings.TrimRight(head, " "), w, ""))}
	if h < 2 {
		return lines[0]
	}
	if len(m.Rows) == 0 {
		lines = append(lines, th.Dim.Render(ansi.Truncate("  "+m.Empty, w, "…")))
		return strings.Join(lines, "\n")
	}
	// Scroll so the selection stays visible; one line for totals when
	// there is room for it and a row.
	totals := h >= 3
	rowsH := max(h-1, 1)
	if totals {
		rowsH = h - 2
	}
	sel := min(max(m.Selected, 0), len(m.Rows)-1)
	start := 0
	if sel >= rowsH {
		start = sel - rowsH + 1
	}
	end := min(start+rowsH, len(m.Rows))
	for i := start; i < end; i++ {
		lines = append(lines, m.rowLine(cols, m.Rows[i], i == sel, w))
	}
	if totals {
		lines = append(lines, th.Totals.Render(m.totalsLine(cols, start, end)))
	}
	return strings.Join(lines, "\n")
}

// rowLine draws one row. Each cell is styled on its own; the selected row
// adds the selection background to every cell and gap, out to the
// table's edge (a style wrapped around styled cells would end at the
// first cell's reset), and keeps the › marker for terminals without
// colour.
func (m *Model) rowLine(cols []column, r Row, selected bool, w int) string {
	th := m.ctx.Theme
	paint := func(s string, st *lipgloss.Style) string {
		switch {
		case selected && st != nil:
			return st.Inherit(th.Selected).Render(s)
		case selected:
			return th.Selected.Render(s)
		case st != nil:
			return st.Render(s)
		}
		return s
	}
	marker := "  "
	if selected {
		marker = "› "
	}
	var b strings.Builder
	b.WriteString(paint(marker, nil))
	used := 2
	failed := r.Failed != nil
	for i, c := range cols {
		text := c.cell(r)
		if failed && (c.live || c.rx) {
			text = "-"
		}
		if i > 0 {
			b.WriteString(paint(" ", nil))
			used++
		}
		b.WriteString(paint(format.Fit(text, c.width, c.right), c.style(r)))
		used += c.width
	}
	if selected && used < w {
		b.WriteString(paint(strings.Repeat(" ", w-used), nil)) // the bar spans the table
	}
	line := b.String()
	if !selected {
		line = strings.TrimRight(line, " ")
	}
	return ansi.Truncate(line, w, "")
}

// E2EEMark follows the state of an end-to-end encrypted track.
const E2EEMark = "E2EE"

// Scrolled says which rows [start, end) of n are shown when not all are,
// and which way the others are: "" when every row is shown.
func Scrolled(start, end, n int) string {
	if start == 0 && end >= n {
		return ""
	}
	s := fmt.Sprintf("rows %d–%d of %d", start+1, end, n)
	if start > 0 {
		s += " ↑"
	}
	if end < n {
		s += " ↓"
	}
	return s
}

// totalsLine sums the live tracks shown (failed publishes have no traffic
// and are not counted), and says which rows are in view when they do not
// all fit (in the STATE column, empty on this line).
func (m *Model) totalsLine(cols []column, start, end int) string {
	var t Row
	n := 0
	var rx report.Receive
	hasRx := false
	for _, r := range m.Rows {
		if r.Failed != nil {
			continue
		}
		n++
		t.L.Rate.SentFPS += r.L.Rate.SentFPS
		t.L.Rate.SentPPS += r.L.Rate.SentPPS
		t.L.Rate.SentBPS += r.L.Rate.SentBPS
		t.L.Rate.ReceivedFPS += r.L.Rate.ReceivedFPS
		t.L.Out.FramesPushed += r.L.Out.FramesPushed
		t.L.Out.FramesDropped += r.L.Out.FramesDropped
		t.L.Out.UnpublishedErrors += r.L.Out.UnpublishedErrors
		if r.L.Rx != nil {
			hasRx = true
			rx.Lost += r.L.Rx.Lost
		}
	}
	t.L.Name = fmt.Sprintf("TOTAL (%d)", n)
	if m.Of > 0 {
		t.L.Name = fmt.Sprintf("TOTAL (%d/%d)", n, m.Of)
	}
	if hasRx {
		t.L.Rx = &rx
	}
	line := "  "
	for _, c := range cols {
		var cell string
		switch c.title {
		case ColName, "FPS", "PPS", ColBytes, "PUSHED", ColDropped, "UNPUB", "RX/S", "LOST":
			cell = c.cell(t)
		case "STATE":
			cell = Scrolled(start, end, len(m.Rows))
		}
		line += format.Fit(cell, c.width, c.right) + " "
	}
	return ansi.Truncate(strings.TrimRight(line, " "), m.Width, "")
}
