// Package tracktable is the table of tracks: one row per track with its
// state, rates, counters, loopback figures and a send-rate sparkline, and a
// totals row. Columns drop by priority when the terminal is narrow.
package tracktable

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/clocksync"
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

// Model draws the table: the local tracks, then, with the room monitor,
// the room's (a second section with its own columns: what arrives from
// the others is not what we send, and the two are never summed).
type Model struct {
	common.Size
	ctx common.Context
	// Rows are the local rows first, then the room rows.
	Rows     []Row
	Selected int // index into Rows
	// Empty is shown when there are no local rows.
	Empty string
	// Local shows the local section (false: a subscribe-only run, which
	// publishes nothing); Room the room section (the monitor is on).
	Local, Room bool
	// RoomEmpty is shown when the room has no rows; RoomNote, when set,
	// on its rule meanwhile (the room is then the whole table).
	RoomEmpty, RoomNote string
	// Sort and RoomSort are the columns the sections are in the order of,
	// marked in their headers with the direction (RoomSort zero: none).
	Sort, RoomSort Sort
	// Of and RoomOf are how many rows each section has before a filter
	// left Rows (0: no filter); the totals say "n/Of".
	Of, RoomOf int
	// Loopback: a loopback subscriber measures delivery, so the receive
	// columns (RX/S, LOST, P50, P95, P99) are there before any row is.
	Loopback bool
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
	ColFrom    = "FROM" // room rows: the publisher's identity
	ColLost    = "LOST"
)

// New returns a table with the local section.
func New(ctx common.Context) *Model {
	return &Model{ctx: ctx, Empty: "no tracks yet: press p to publish one", Local: true,
		RoomEmpty: "no data tracks from other participants yet"}
}

type column struct {
	title    string
	width    int
	priority int // 0 always shown; higher ones drop first on narrow screens
	// last: within its priority, the column kept last (dropped first).
	last  bool
	right bool
	rx    bool // loopback-only column
	typed bool // shown only when a row declares a frame encoding
	live  bool // a figure a failed publish does not have: "-" there
	// grow is how much wider the column gets when the screen has room
	// left after every column fits (a whole SID at 200 columns).
	grow  int
	cell  func(r Row) string
	style func(r Row) *lipgloss.Style // nil: unstyled
}

// styles are the cell-style helpers both sections use.
type styles struct {
	none   func(Row) *lipgloss.Style
	always func(lipgloss.Style) func(Row) *lipgloss.Style
	when   func(lipgloss.Style, func(Row) bool) func(Row) *lipgloss.Style
}

func cellStyles() styles {
	return styles{
		none:   func(Row) *lipgloss.Style { return nil },
		always: func(s lipgloss.Style) func(Row) *lipgloss.Style { return func(Row) *lipgloss.Style { return &s } },
		when: func(s lipgloss.Style, cond func(Row) bool) func(Row) *lipgloss.Style {
			return func(r Row) *lipgloss.Style {
				if cond(r) {
					return &s
				}
				return nil
			}
		},
	}
}

func num(v uint64) string { return format.Count(float64(v)) }

// stateColumn is STATE in both sections: the state in words, and E2EE
// after it for an end-to-end encrypted track (the word, not only a colour).
func (m *Model) stateColumn() column {
	th := m.ctx.Theme
	return column{title: "STATE", width: StateWidth, priority: 0, cell: func(r Row) string {
		s, _ := r.State(th, m.ctx.Now())
		if r.E2EE() {
			s += " " + E2EEMark
		}
		return s
	},
		style: func(r Row) *lipgloss.Style { _, s := r.State(th, m.ctx.Now()); return &s }}
}

// E2EE says the row's track is end-to-end encrypted.
func (r Row) E2EE() bool {
	if r.R != nil {
		return r.R.Stats.E2EE()
	}
	return r.L.E2EE
}

func (m *Model) columns() []column {
	th := m.ctx.Theme
	st := cellStyles()
	none, always, when := st.none, st.always, st.when
	rxcell := func(f func(report.Receive, Row) string) func(Row) string {
		return func(r Row) string {
			if r.L.Rx == nil {
				return "-"
			}
			return f(*r.L.Rx, r)
		}
	}
	return []column{
		{title: ColName, width: 12, priority: 0, cell: Row.Name, style: none},
		{title: ColHandle, width: 3, priority: 1, right: true, cell: func(r Row) string {
			if r.L.Handle == 0 {
				return "-"
			}
			return fmt.Sprint(r.L.Handle)
		}, style: none},
		{title: "SID", width: 12, grow: sidGrow, priority: 3, cell: func(r Row) string { return format.OrDash(r.SID()) }, style: always(th.Dim)},
		// The declared frame encoding, as the room's rows show theirs;
		// only when a track declares one.
		{title: "TYPE", width: 8, priority: 2, typed: true, cell: func(r Row) string {
			return format.OrDash(format.Outside(r.L.Type.Frame.String()))
		}, style: always(th.Info)},
		m.stateColumn(),
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
		{title: ColLost, width: 5, priority: 1, right: true, rx: true, cell: rxcell(func(x report.Receive, _ Row) string { return num(x.Lost) }),
			style: when(th.Warn, func(r Row) bool { return r.L.Rx != nil && r.L.Rx.Lost > 0 })},
		// Latency cells are at most 5 wide (format.Duration); P95 is the
		// first column to go when the table narrows.
		{title: "P50", width: 5, priority: 2, right: true, rx: true, cell: rxcell(func(_ report.Receive, r Row) string { return format.Duration(r.L.Latency.P50) }), style: none},
		{title: "P95", width: 5, priority: 2, last: true, right: true, rx: true, cell: rxcell(func(_ report.Receive, r Row) string { return format.Duration(r.L.Latency.P95) }), style: none},
		{title: "P99", width: 5, priority: 2, right: true, rx: true, cell: rxcell(func(_ report.Receive, r Row) string { return format.Duration(r.L.Latency.P99) }), style: none},
		{title: fmt.Sprintf("SEND %ds", SparkColumns), width: SparkColumns, priority: 2, cell: func(r Row) string {
			if !r.HasTrack {
				return ""
			}
			return sparkline.Render(r.Spark(), SparkColumns)
		}, style: always(th.Info)},
		{title: "LAST ERROR", width: 0, priority: 3, cell: Row.LastError, style: always(th.Bad)},
	}
}

// TwoClocks marks a room row's latency cells when its publisher's clock
// is not synced with ours (it did not answer dttui's clock exchange, or
// is being asked): arrival by our clock minus its user timestamp, so the
// clocks' offset is part of it. Unmarked cells are one-way.
const TwoClocks = "~"

// roomLatency is a room row's latency cell, marked when on two clocks
// (at most 6 cells: format.Duration gives at most 5 with a decimal).
func roomLatency(r Row, d time.Duration) string {
	s := format.Duration(d)
	if d > 0 && r.R.Stats.Clock.State != clocksync.Synced {
		s += TwoClocks
	}
	return s
}

// roomColumns are the room section's: what arrives from each track,
// measured from its packets.
func (m *Model) roomColumns() []column {
	th := m.ctx.Theme
	st := cellStyles()
	none, always, when := st.none, st.always, st.when
	lost := func(r Row) uint64 { return r.R.Stats.LostFrames() }
	return []column{
		{title: ColName, width: 12, priority: 0, cell: Row.Name, style: none},
		{title: ColFrom, width: 10, priority: 1, cell: func(r Row) string { return format.Outside(r.R.Stats.PublisherIdentity) }, style: none},
		{title: "SID", width: 12, grow: sidGrow, priority: 3, cell: func(r Row) string { return format.OrDash(r.SID()) }, style: always(th.Dim)},
		{title: "TYPE", width: 8, priority: 3, cell: func(r Row) string {
			return format.OrDash(format.Outside(r.R.Stats.Type.Frame.String()))
		}, style: always(th.Info)},
		m.stateColumn(),
		{title: "FPS", width: 6, priority: 0, right: true, cell: func(r Row) string { return format.Count(r.R.Rate.ReceivedFPS) }, style: none},
		{title: ColBytes, width: 10, priority: 0, right: true, cell: func(r Row) string { return format.Bytes(r.R.Rate.ReceivedBPS) + "/s" }, style: none},
		// Packets/s goes before the latency columns, as in our section.
		{title: "PPS", width: 6, priority: 3, right: true, cell: func(r Row) string { return format.Count(r.R.Rate.ReceivedPPS) }, style: none},
		// Frames: numbers never seen, and frames given up incomplete.
		{title: ColLost, width: 5, priority: 0, right: true, cell: func(r Row) string { return num(lost(r)) },
			style: when(th.Warn, func(r Row) bool { return lost(r) > 0 })},
		{title: "PLOST", width: 5, priority: 1, right: true, cell: func(r Row) string { return num(r.R.Stats.PacketsLost) },
			style: when(th.Warn, func(r Row) bool { return r.R.Stats.PacketsLost > 0 })},
		{title: "P50", width: 6, priority: 2, right: true, cell: func(r Row) string { return roomLatency(r, r.R.Latency.P50) }, style: none},
		{title: "P95", width: 6, priority: 2, last: true, right: true, cell: func(r Row) string { return roomLatency(r, r.R.Latency.P95) }, style: none},
		{title: "P99", width: 6, priority: 2, right: true, cell: func(r Row) string { return roomLatency(r, r.R.Latency.P99) }, style: none},
		{title: "DECRYPT", width: 7, priority: 2, right: true, cell: func(r Row) string {
			if !r.E2EE() {
				return "-"
			}
			return num(r.R.Stats.DecryptFailuresTotal())
		}, style: when(th.Bad, func(r Row) bool { return r.R.Stats.DecryptFailuresTotal() > 0 })},
		{title: fmt.Sprintf("RECV %ds", SparkColumns), width: SparkColumns, priority: 2, cell: func(r Row) string {
			return sparkline.Render(r.Spark(), SparkColumns)
		}, style: always(th.Info)},
		{title: "LAST ERROR", width: 0, priority: 3, cell: Row.LastError, style: always(th.Bad)},
	}
}

// sidGrow widens the SID column, given the room, to a whole SID
// ("DTR_" and 12 characters, with room to spare).
const sidGrow = 8

// visibleColumns keeps the columns of all that fit w, dropping the least
// important first; LAST ERROR takes what is left. Loopback columns show
// only when hasRx.
func visibleColumns(all []column, w int, hasRx bool) []column {
	avail := w - 2 // selection marker
	keep := make([]bool, len(all))
	for p := 0; p <= 3; p++ {
		for _, last := range []bool{false, true} {
			for i, c := range all {
				if c.priority != p || c.last != last || (c.rx && !hasRx) || c.width == 0 {
					continue
				}
				if avail >= c.width+1 {
					keep[i] = true
					avail -= c.width + 1
				}
			}
		}
	}
	for i := range all {
		// Room left over widens the columns that can use it, as long as
		// LAST ERROR keeps its least.
		if g := min(all[i].grow, avail-14); keep[i] && g > 0 {
			all[i].width += g
			avail -= g
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

// section is one part of the table as View lays it out.
type section struct {
	rows  []Row
	off   int  // index of rows[0] in Model.Rows
	shown bool // on screen at all
	rule  bool // the line naming the section (the room's)
	// full: its header, rows and totals; else only its totals (or, with
	// no rows, nothing).
	full bool
	// brief: an empty room under the local rows is its rule alone, which
	// says so.
	brief      bool
	start, end int // rows [start, end) shown
}

// fixed is the section's lines besides its rows.
func (s *section) fixed() int {
	switch {
	case !s.shown:
		return 0
	case !s.full:
		return min(len(s.rows), 1) // its totals
	case len(s.rows) == 0 && s.brief && s.rule:
		return 1
	case len(s.rows) == 0:
		return 2 + b2i(s.rule) // its rule, header and the empty line
	}
	return 2 + b2i(s.rule) // header and totals
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Need is the height the table takes to show every row.
func (m *Model) Need() int {
	local, room := m.sections()
	n := 0
	for _, s := range []*section{&local, &room} {
		if s.shown {
			s.full, s.rule = true, s == &room
			n += s.fixed() + len(s.rows)
		}
	}
	return n
}

// sections splits Rows into the local and the room section.
func (m *Model) sections() (local, room section) {
	split := len(m.Rows)
	for i, r := range m.Rows {
		if r.Room() {
			split = i
			break
		}
	}
	local = section{rows: m.Rows[:split], shown: m.Local || split > 0}
	room = section{rows: m.Rows[split:], off: split, shown: m.Room || split < len(m.Rows), brief: local.shown}
	return local, room
}

// plan shares h lines between the sections: the one holding the
// selection keeps its header, the selected row and its totals; the other
// gives up, in turn, the room's rule, its rows (keeping its totals), and
// itself. Rows left over go to both, the selection's section first.
func (m *Model) plan(h int) (local, room section, sel int) {
	local, room = m.sections()
	sel = min(max(m.Selected, 0), len(m.Rows)-1)
	S, O := &local, &room
	if sel >= room.off && len(room.rows) > 0 {
		S, O = &room, &local
	}
	if !S.shown {
		S, O = O, S
	}
	S.full = true
	minRows := func() int { return min(len(S.rows), 1) + b2i(O.shown && O.full)*min(len(O.rows), 1) }
	type config struct{ rule, full, shown bool }
	fits := false
	for _, c := range []config{{true, true, true}, {false, true, true}, {false, false, true}, {false, false, false}} {
		room.rule = c.rule && room.shown
		O.full, O.shown = c.full, O.shown && c.shown
		if S.fixed()+O.fixed()+minRows() <= h {
			fits = true
			break
		}
	}
	if !fits { // too short for totals: the header and what rows fit
		room.rule = false
		S.full = true
	}
	avail := max(h-S.fixed()-O.fixed(), 0)
	if !fits {
		avail = max(h-1, 0)
	}
	nS, nO := len(S.rows), 0
	if O.shown && O.full {
		nO = len(O.rows)
	}
	if nS+nO > avail {
		nO = min(nO, max(min(nO, 1), avail/3))
		nS = min(nS, avail-nO)
		nO = min(nO, avail-nS)
	}
	// The selection's section scrolls to keep it in view; the other shows
	// its first rows.
	S.start, S.end = 0, nS
	if i := sel - S.off; i >= nS && nS > 0 {
		S.start, S.end = i-nS+1, i+1
	}
	O.start, O.end = 0, nO
	return local, room, sel
}

// View implements common.Component: at most Height lines. Each section
// has its header, the rows that fit (the selection kept in view) and its
// totals; the room's starts with a rule that names it.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	local, room, sel := m.plan(h)
	var lines []string
	for _, s := range []*section{&local, &room} {
		if !s.shown {
			continue
		}
		lines = append(lines, m.sectionLines(s, s == &room, sel, w, h)...)
	}
	if len(lines) > h {
		lines = lines[:max(h, 0)]
	}
	return strings.Join(lines, "\n")
}

// RowAt is the index in Rows of the row View draws on line y (0: its
// first line), laid out as View lays it; false for a rule, a header, a
// totals line or past the rows.
func (m *Model) RowAt(y int) (int, bool) {
	if y < 0 || y >= m.Height {
		return 0, false
	}
	local, room, _ := m.plan(m.Height)
	line := 0
	for _, s := range []*section{&local, &room} {
		switch {
		case !s.shown:
			continue
		case !s.full:
			line += min(len(s.rows), 1) // its totals
			continue
		}
		if s.rule {
			line++
		}
		if len(s.rows) == 0 {
			if !(s.rule && s.brief) {
				line += 2 // its header and the empty line
			}
			continue
		}
		line++ // its header
		if n := s.end - s.start; y >= line && y < line+n {
			return s.off + s.start + y - line, true
		}
		line += s.end - s.start + 1 // its rows and totals
	}
	return 0, false
}

func (m *Model) sectionLines(s *section, room bool, sel, w, h int) []string {
	th := m.ctx.Theme
	all, sort := m.columns(), m.Sort
	hasRx := m.Loopback
	if room {
		hasRx = false
		all, sort = m.roomColumns(), m.RoomSort
	} else {
		typed := false
		for _, r := range s.rows {
			hasRx = hasRx || r.L.Rx != nil
			typed = typed || !r.L.Type.Frame.IsZero()
		}
		if !typed {
			all = slices.DeleteFunc(all, func(c column) bool { return c.typed })
		}
	}
	cols := visibleColumns(all, w, hasRx)
	var lines []string
	if !s.full {
		if len(s.rows) > 0 {
			lines = append(lines, th.Totals.Render(m.totalsLine(cols, s, room)))
		}
		return lines
	}
	empty := m.Empty
	if room {
		empty = m.RoomEmpty
	}
	if s.rule {
		if len(s.rows) == 0 && s.brief {
			return append(lines, th.Dim.Render(ansi.Truncate(m.roomRule(s.rows, empty), w, "…")))
		}
		lines = append(lines, th.Dim.Render(ansi.Truncate(m.roomRule(s.rows, ""), w, "…")))
	}
	if len(s.rows) == 0 {
		lines = append(lines, th.TableHead.Render(ansi.Truncate(header(cols, sort), w, "")))
		if h >= 2 {
			lines = append(lines, th.Dim.Render(ansi.Truncate("  "+empty, w, "…")))
		}
		return lines
	}
	lines = append(lines, th.TableHead.Render(ansi.Truncate(header(cols, sort), w, "")))
	for i := s.start; i < s.end; i++ {
		lines = append(lines, m.rowLine(cols, s.rows[i], s.off+i == sel, w))
	}
	if h >= 3 {
		lines = append(lines, th.Totals.Render(m.totalsLine(cols, s, room)))
	}
	return lines
}

// roomRule names the room section: how many tracks from how many
// participants and what its latency compares, or, given one, why it is
// empty.
func (m *Model) roomRule(rows []Row, empty string) string {
	from := map[string]bool{}
	for _, r := range rows {
		from[r.R.Stats.PublisherIdentity] = true
	}
	s := "── room"
	switch {
	case empty != "":
		s += " · " + empty
	case len(rows) == 0 && m.RoomNote != "":
		s += " · " + m.RoomNote
	case len(rows) > 0:
		s += fmt.Sprintf(" · %d %s from %d %s, as received here", len(rows), plural(len(rows), "track", "tracks"),
			len(from), plural(len(from), "participant", "participants"))
		s += " · " + TwoClocks + ": two clocks (our clock minus the publisher's timestamp)"
	}
	return s + " ──"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// header is a section's column titles, the sort column marked.
func header(cols []column, sort Sort) string {
	head := "  "
	for _, c := range cols {
		title := c.title
		if c.title == sort.Column {
			// The arrow goes on the title's padded side; a right-aligned
			// title that fills its cell takes the gap before it.
			arrow := map[bool]string{false: "▲", true: "▼"}[sort.Desc]
			switch {
			case !c.right:
				title += arrow
			case ansi.StringWidth(title) < c.width:
				title = arrow + title
			default:
				head = strings.TrimSuffix(head, " ") + arrow
			}
		}
		head += format.Fit(title, c.width, c.right) + " "
	}
	return strings.TrimRight(head, " ")
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
	if end <= start {
		return fmt.Sprintf("%d rows ↓", n)
	}
	s := fmt.Sprintf("rows %d–%d of %d", start+1, end, n)
	arrows := ""
	if start > 0 {
		arrows += " ↑"
	}
	if end < n {
		arrows += " ↓"
	}
	if ansi.StringWidth(s+arrows) > StateWidth { // hundreds of rows: the compact form fits the column
		return fmt.Sprintf("rows %d–%d/%d %s", start+1, end, n, strings.ReplaceAll(strings.TrimSpace(arrows), " ", ""))
	}
	return s + arrows
}

// totalsLine sums a section's rows and says which of them are in view
// when they do not all fit (in the STATE column, empty on this line).
// The local TOTAL sums what was sent (and the loopback's receive
// figures) over the live tracks (failed publishes have no traffic); the
// room's ROOM sums what arrived. The two are never added together.
func (m *Model) totalsLine(cols []column, s *section, room bool) string {
	// The sums are report's (LocalTotal, RemoteTotal); the table picks
	// the rows and names the line.
	var t Row
	if room {
		rs := make([]report.Remote, 0, len(s.rows))
		for _, r := range s.rows {
			rs = append(rs, *r.R)
		}
		tr := report.RemoteTotal(rs)
		t.R = &tr
		t.R.Stats.Name = fmt.Sprintf("ROOM (%d)", len(rs))
		if m.RoomOf > 0 {
			t.R.Stats.Name = fmt.Sprintf("ROOM (%d/%d)", len(rs), m.RoomOf)
		}
	} else {
		ls := make([]report.Local, 0, len(s.rows))
		for _, r := range s.rows {
			if r.Failed == nil {
				ls = append(ls, r.L)
			}
		}
		t.L = report.LocalTotal(ls)
		t.L.Name = fmt.Sprintf("TOTAL (%d)", len(ls))
		if m.Of > 0 {
			t.L.Name = fmt.Sprintf("TOTAL (%d/%d)", len(ls), m.Of)
		}
	}
	cells := make([]string, len(cols))
	for i, c := range cols {
		switch c.title {
		case ColName, "FPS", "PPS", ColBytes, "PUSHED", ColDropped, "UNPUB", "RX/S", ColLost, "PLOST", "DECRYPT":
			cells[i] = c.cell(t)
		case "STATE":
			cells[i] = Scrolled(s.start, s.end, len(s.rows))
		}
	}
	line := "  "
	for i := 0; i < len(cols); i++ {
		// A left-aligned cell too long for its column ("TOTAL (10/256)")
		// runs on over the empty cells after it.
		w, j := cols[i].width, i
		for !cols[i].right && ansi.StringWidth(cells[i]) > w && j+1 < len(cols) && cells[j+1] == "" {
			j++
			w += 1 + cols[j].width
		}
		line += format.Fit(cells[i], w, cols[i].right) + " "
		i = j
	}
	return ansi.Truncate(strings.TrimRight(line, " "), m.Width, "")
}
