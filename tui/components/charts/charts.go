// Package charts is the chart pane: the selected row's history and the
// connection's, as braille line charts over a window the user picks (1,
// 5 or 15 minutes), with reconnects, republishes and state changes marked
// on the time axis. The curves come from report/series (the same panels
// the HTML report draws); ntcharts rasterizes them.
//
// It is a stateful component: the root model owns it, forwards it the
// keys it takes (window, show/hide), and gives it, each frame, the sets
// to draw and the report's time.
package charts

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/NimbleMarkets/ntcharts/linechart/timeserieslinechart"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/report/series"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/keys"
)

// Windows are the spans the pane shows, w cycling through them.
var Windows = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute}

// DefaultWindow is the index into Windows the pane starts at (5 minutes).
const DefaultWindow = 1

// Mode says whether the pane shows: by itself when there is room (Auto),
// or as the user asked.
type Mode int

const (
	Auto Mode = iota
	On
	Off
)

// Sizes the layout works with.
const (
	// MinHeight is the pane at its smallest: its header and one row of
	// panels.
	MinHeight = 1 + panelMinH
	// AutoWidth and AutoHeight are the room the pane needs to show
	// without being asked: two rows of panels, three side by side.
	AutoWidth  = 100
	AutoHeight = 1 + 2*panelMinH + 2
	panelMinW  = 34
	panelMinH  = 6 // its borders, three rows of chart and the time axis
	maxCols    = 3
)

// Model is the chart pane.
type Model struct {
	common.Size
	ctx  common.Context
	keys keys.KeyMap
	mode Mode
	win  int

	// Drawn each frame: what the selected row is (its name, or why there
	// is none), its set (nil: none, or nothing to chart, such as a failed
	// publish), the connection's, and the report's time (the right edge is
	// its last complete second).
	Title string
	Track *series.Set
	Conn  series.Set
	At    time.Time

	cache map[panelKey]string
	last  struct { // the last pane drawn
		header string
		keys   []panelKey
		view   string
	}
}

// New returns a pane in Auto mode on the default window.
func New(ctx common.Context, k keys.KeyMap) *Model {
	return &Model{ctx: ctx, keys: k, win: DefaultWindow, cache: map[panelKey]string{}}
}

// Mode is whether the pane is shown by itself, on or off.
func (m *Model) Mode() Mode { return m.mode }

// Window is the span shown.
func (m *Model) Window() time.Duration { return Windows[m.win] }

// Toggle hides the pane if it is shown (shown says so), shows it if not.
func (m *Model) Toggle(shown bool) {
	if shown {
		m.mode = Off
	} else {
		m.mode = On
	}
}

// Room is the height the pane takes given room lines when the table's
// other rows have had theirs, or max when they give theirs up (the pane
// asked for), at width w; 0 when it is not shown. Auto shows only when
// there is room for two rows of panels, and never over a log pane.
func (m *Model) Room(w, room, most int, logsOpen bool) int {
	switch {
	case m.mode == Off:
		return 0
	case m.mode == Auto:
		if w >= AutoWidth && room >= AutoHeight && !logsOpen {
			return room
		}
		return 0
	case room >= MinHeight:
		return room
	case most >= MinHeight:
		return MinHeight
	}
	return 0
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding { return []key.Binding{m.keys.Charts, m.keys.ChartWindow} }

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

var _ common.Stateful = (*Model)(nil)

// Update implements common.Stateful: w cycles the window. (Showing and
// hiding is the root's: it knows whether the pane is shown.)
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyMsg); ok && key.Matches(k, m.keys.ChartWindow) {
		m.win = (m.win + 1) % len(Windows)
	}
	return nil
}

// slot is a panel placed in the grid: the set it belongs to.
type slot struct {
	set   *series.Set
	panel series.Panel
}

// priority orders the panels kept when they do not all fit: what was
// sent (or received), what went wrong, how late, the connection, then
// bytes.
var priority = []string{series.TitleFrames, series.TitleDrops, series.TitleLost, series.TitleLatency, series.TitleLatencyTwoClocks, series.TitleRTT, series.TitleBytes}

// View implements common.Component: a header line naming the row, the
// window and the marks, then the panels in a grid of as many columns as
// the width holds (up to three), as many rows as the height holds.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	win := m.Window()
	end := m.At.Truncate(time.Second)
	var slots []slot
	var marks []series.Mark
	if m.Track != nil {
		t := m.Track.Last(int(win / time.Second))
		for _, p := range t.Panels {
			slots = append(slots, slot{&t, p})
		}
		marks = t.Marks
	}
	conn := m.Conn.Last(int(win / time.Second))
	for _, p := range conn.Panels {
		slots = append(slots, slot{&conn, p})
	}
	if m.Track == nil {
		marks = conn.Marks
	}
	header := m.header(m.Title, win, marks, w)
	if h < 1+panelMinH {
		return header
	}
	cols := min(max(w/panelMinW, 1), maxCols)
	rows := (h - 1) / panelMinH
	slots = keep(slots, cols*rows)
	if len(slots) == 0 {
		return header
	}
	rows = (len(slots) + cols - 1) / cols
	// The whole pane is the same as last frame's when every panel is: most
	// frames (nine of ten at 10 Hz) draw nothing anew.
	var keys []panelKey
	for r := range rows {
		row := slots[r*cols : min((r+1)*cols, len(slots))]
		for c, s := range row {
			keys = append(keys, m.key(s, win, end, share(w, len(row), c), share(h-1, rows, r)))
		}
	}
	if header == m.last.header && slices.Equal(keys, m.last.keys) {
		return m.last.view
	}
	lines := []string{header}
	k := 0
	for r := range rows {
		row := slots[r*cols : min((r+1)*cols, len(slots))]
		var boxes []string
		for _, s := range row {
			boxes = append(boxes, m.panel(s, keys[k]))
			k++
		}
		lines = append(lines, lipgloss.JoinHorizontal(lipgloss.Top, boxes...))
	}
	m.last.header, m.last.keys, m.last.view = header, keys, strings.Join(lines, "\n")
	return m.last.view
}

// keep returns at most n slots: by priority when some must go, in the
// sets' own order.
func keep(slots []slot, n int) []slot {
	if len(slots) <= n {
		return slots
	}
	rank := func(title string) int {
		for i, t := range priority {
			if t == title {
				return i
			}
		}
		return len(priority)
	}
	var out []slot
	for _, s := range slots {
		better := 0
		for _, o := range slots {
			if rank(o.panel.Title) < rank(s.panel.Title) {
				better++
			}
		}
		if better < n && len(out) < n {
			out = append(out, s)
		}
	}
	return out
}

// share is part i of n of total cells, the remainder going to the first.
func share(total, n, i int) int {
	s := total / n
	if i < total%n {
		s++
	}
	return s
}

func (m *Model) header(title string, win time.Duration, marks []series.Mark, w int) string {
	th := m.ctx.Theme
	parts := []string{th.Bold.Render("charts"), th.Title.Render(format.Outside(title)),
		"last " + windowName(win), th.Dim.Render("w window · t hide")}
	if legend := markLegend(marks); legend != "" {
		parts = append(parts, th.Warn.Render(legend))
	}
	return ansi.Truncate(" "+strings.Join(parts, th.Dim.Render(" · ")), w, "…")
}

// markLegend names the marks present, each once: "R reconnected  P republished".
func markLegend(marks []series.Mark) string {
	seen := map[series.MarkKind]bool{}
	var out []string
	for _, mk := range marks {
		if !seen[mk.Kind] {
			seen[mk.Kind] = true
			out = append(out, mk.Kind.Glyph()+" "+mk.Kind.String())
		}
	}
	return strings.Join(out, "  ")
}

func windowName(d time.Duration) string {
	if d >= time.Minute {
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

// panelKey is what a panel's drawing depends on: the same key, the same
// picture, so the pane redraws a panel once a second, not at every tick.
type panelKey struct {
	set, title string
	start      time.Time
	n, marks   int
	sum        float64
	end        time.Time
	win        time.Duration
	w, h       int
}

// key is what panel s looks like at w×h cells.
func (m *Model) key(s slot, win time.Duration, end time.Time, w, h int) panelKey {
	k := panelKey{set: s.set.Title, title: s.panel.Title, start: s.set.Start, n: s.set.Len, marks: len(s.set.Marks), end: end, win: win, w: w, h: h}
	for _, ser := range s.panel.Series {
		for _, v := range ser.Values {
			if !math.IsNaN(v) {
				k.sum += v
			}
		}
	}
	return k
}

// panel is panel s drawn, from the cache when it was drawn before.
func (m *Model) panel(s slot, k panelKey) string {
	if v, ok := m.cache[k]; ok {
		return v
	}
	if len(m.cache) > 64 {
		clear(m.cache)
	}
	v := m.draw(s, k.win, k.end, k.w, k.h)
	m.cache[k] = v
	return v
}

// draw renders one panel: a titled box with the legend in its border, the
// value axis (top, middle, zero), the braille curves, and a time axis
// with relative times and the set's marks.
func (m *Model) draw(s slot, win time.Duration, end time.Time, w, h int) string {
	th := m.ctx.Theme
	p := s.panel
	inner := max(w-4, 1)
	plotH := max(h-3, 1) // borders and the time axis
	title := th.Bold.Render(p.Title)
	if s.set.Title == series.ConnectionTitle {
		title += th.Dim.Render(" · connection")
	}
	if !hasData(p) {
		body := make([]string, plotH+1)
		body[plotH/2] = th.Dim.Render(format.Fit("no data in this window yet", inner, false))
		return common.TitledBox(m.ctx, w, title, "", strings.Join(body, "\n"), false)
	}
	top := niceCeil(peak(p), p.Unit)
	labels := []string{label(p.Unit, top), label(p.Unit, top/2), "0"}
	gutter := 0
	for _, l := range labels {
		gutter = max(gutter, ansi.StringWidth(l))
	}
	plotW := max(inner-gutter-1, 1)
	plot := strings.Split(m.curves(s, win, end, top, plotW, plotH), "\n")
	var body []string
	for i := range plotH {
		lab, tick := "", "│"
		switch i {
		case 0:
			lab, tick = labels[0], "┤"
		case plotH / 2:
			if plotH >= 3 {
				lab, tick = labels[1], "┤"
			}
		case plotH - 1:
			lab, tick = labels[2], "┤"
		}
		line := ""
		if i < len(plot) {
			line = plot[i]
		}
		body = append(body, th.Dim.Render(format.Fit(lab, gutter, true)+tick)+line)
	}
	body = append(body, m.timeAxis(s.set.Marks, win, end, gutter, plotW))
	// The legend names the series in their colours, as many as fit, then
	// how many more.
	var info string
	for i, ser := range p.Series {
		next := m.style(ser.Role, ser.Name).Render(ser.Name)
		if i > 0 {
			next = info + th.Dim.Render(" · ") + next
		}
		more := ""
		if rest := len(p.Series) - i - 1; rest > 0 {
			more = th.Dim.Render(fmt.Sprintf(" +%d", rest))
		}
		if !common.TitleFits(w, ansi.StringWidth(title), ansi.StringWidth(next+more)) {
			info += th.Dim.Render(fmt.Sprintf(" +%d", len(p.Series)-i))
			if i == 0 || !common.TitleFits(w, ansi.StringWidth(title), ansi.StringWidth(info)) {
				info = ""
			}
			break
		}
		info = next
	}
	return common.TitledBox(m.ctx, w, title, info, strings.Join(body, "\n"), false)
}

// curves draws the panel's series with ntcharts: one braille line per
// series, broken where a second has no value (NaN).
func (m *Model) curves(s slot, win time.Duration, end time.Time, top float64, w, h int) string {
	from, to := end.Add(-win), end.Add(-time.Second)
	c := timeserieslinechart.New(w, h,
		timeserieslinechart.WithTimeRange(from, to),
		timeserieslinechart.WithYRange(0, top),
		timeserieslinechart.WithXYSteps(0, 0))
	var names []string
	for _, ser := range s.panel.Series {
		seg := 0
		for i, v := range ser.Values {
			if math.IsNaN(v) {
				seg++
				continue
			}
			name := fmt.Sprintf("%s#%d", ser.Name, seg)
			if len(names) == 0 || names[len(names)-1] != name {
				names = append(names, name)
				c.SetDataSetStyle(name, m.style(ser.Role, ser.Name))
			}
			at := s.set.Start.Add(time.Duration(i) * time.Second)
			c.PushDataSet(name, timeserieslinechart.TimePoint{Time: at, Value: min(v, top)})
		}
	}
	c.DrawBrailleDataSets(names)
	return c.View()
}

// timeAxis is the line under a chart: └──-4m────R───-2m───now, with the
// marks' glyphs where they happened (before any label they meet).
func (m *Model) timeAxis(marks []series.Mark, win time.Duration, end time.Time, gutter, w int) string {
	th := m.ctx.Theme
	cells := []rune(strings.Repeat("─", w))
	kinds := make([]string, w)
	col := func(at time.Time) int {
		span := (win - time.Second).Seconds()
		x := at.Sub(end.Add(-win)).Seconds() / span * float64(w-1)
		return int(math.Round(x))
	}
	taken := make([]bool, w)
	for _, mk := range marks {
		if x := col(mk.At); x >= 0 && x < w {
			cells[x] = []rune(mk.Kind.Glyph())[0]
			kinds[x] = mk.Kind.Glyph()
			taken[x] = true
		}
	}
	// Relative times at a round step, right to left from "now", where they
	// fit between the marks and each other.
	step := tickStep(win)
	last := w
	for ago := time.Duration(0); ago < win; ago += step {
		text := "now"
		if ago > 0 {
			text = "-" + windowName(ago)
		}
		x := col(end.Add(-time.Second - ago))
		start := x - len(text) + 1
		if ago > 0 {
			start = x - len(text)/2
		}
		start = max(start, 0)
		stop := start + len(text)
		if stop > last-1 && ago > 0 || stop > w {
			continue
		}
		free := true
		for i := start; i < stop; i++ {
			free = free && !taken[i]
		}
		if !free {
			continue
		}
		for i, r := range text {
			cells[start+i] = r
		}
		last = start
	}
	var b strings.Builder
	b.WriteString(th.Dim.Render(strings.Repeat(" ", gutter) + "└"))
	for i, r := range cells {
		if kinds[i] != "" {
			b.WriteString(th.Warn.Render(string(r)))
		} else {
			b.WriteString(th.Dim.Render(string(r)))
		}
	}
	return b.String()
}

// tickStep is the spacing of the time labels: four or five per window.
func tickStep(win time.Duration) time.Duration {
	switch {
	case win <= time.Minute:
		return 15 * time.Second
	case win <= 5*time.Minute:
		return time.Minute
	}
	return 5 * time.Minute
}

// style is a series' colour: each role its own, drop reasons each a shade.
func (m *Model) style(r series.Role, name string) lipgloss.Style {
	th := m.ctx.Theme
	switch r {
	case series.Sent:
		return th.Info
	case series.Received:
		return th.OK
	case series.Dropped:
		if strings.Contains(name, "queue full") || name == "dropped" {
			return th.Bad
		}
		return th.Title
	case series.Lost, series.P99:
		return th.Warn
	case series.P50:
		return th.Info
	case series.P95:
		// Between p50's blue and p99's amber, and unlike either.
		return th.Title
	}
	return th.Title
}

// hasData says whether a panel has a value to draw.
func hasData(p series.Panel) bool {
	for _, s := range p.Series {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				return true
			}
		}
	}
	return false
}

// peak is the largest value of a panel's series.
func peak(p series.Panel) float64 {
	top := 0.0
	for _, s := range p.Series {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				top = max(top, v)
			}
		}
	}
	return top
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for 0), so
// the axis reads in round numbers and half of it too; bytes to a power of
// two, as binary units are written (512 KiB, 256 KiB).
func niceCeil(v float64, u series.Unit) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	if u == series.BytesPerSecond {
		return math.Pow(2, math.Ceil(math.Log2(v)))
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, f := range []float64{1, 2, 5, 10} {
		if f*e >= v*(1-1e-9) {
			return f * e
		}
	}
	return 10 * e
}

// label is a value on the axis, in the panel's unit.
func label(u series.Unit, v float64) string {
	switch u {
	case series.BytesPerSecond:
		return format.Bytes(v)
	case series.Duration:
		if v <= 0 {
			return "0"
		}
		return format.Duration(time.Duration(v * float64(time.Second)))
	}
	return format.Count(v)
}
