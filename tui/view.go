package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/report/series"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/components/banner"
	"github.com/dttui/dttui/tui/components/detail"
	"github.com/dttui/dttui/tui/components/filter"
	"github.com/dttui/dttui/tui/components/header"
	"github.com/dttui/dttui/tui/components/helpview"
	"github.com/dttui/dttui/tui/components/logpane"
	"github.com/dttui/dttui/tui/components/prompt"
	"github.com/dttui/dttui/tui/components/statusbar"
	"github.com/dttui/dttui/tui/components/tracktable"
	"github.com/dttui/dttui/tui/format"
)

// MinWidth and MinHeight are the smallest terminal the layout works in;
// below it the view says the terminal is too small.
const (
	MinWidth  = 20
	MinHeight = 8
)

// tableMin is the table's share when panes compete for the height: its
// header, the selected row and the totals.
const tableMin = 3

// View lays the components out at the current size: header, then the
// table with the optional detail, log and prompt panes, then the status
// line and the key help at the bottom. The result is never more than
// height lines of width cells.
func (m Model) View() string {
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		return ""
	}
	if w < MinWidth || h < MinHeight {
		msg := fmt.Sprintf("terminal too small: %dx%d, dttui needs %dx%d (q quits)", w, h, MinWidth, MinHeight)
		return fitBlock(m.th.Warn.Render(ansi.Wrap(msg, w, "")), w, h, false)
	}
	if m.quitting {
		msg := "closing: unpublishing tracks and leaving the room…\n" + m.th.Dim.Render("ctrl+c again quits at once")
		return fitBlock(msg, w, h, false)
	}
	ctx := m.ctx()

	hd := header.New(ctx)
	hd.Status, hd.Paused, hd.SubscribeOnly, hd.Recording, hd.Replay, hd.Picking = m.status, m.paused, m.opts.SubscribeOnly, m.recMark(), m.replayMark(), m.picking()
	sb := statusbar.New(ctx)
	sb.Text, sb.IsErr = m.statusMsg, m.statusErr
	ft := helpview.NewFooter(ctx)
	ft.Keys, ft.Essentials = m.footerKeys()
	for _, c := range []common.Component{hd, sb, ft} {
		c.SetSize(w, 1)
	}

	bodyH := h - 3 // header, status line, footer
	var body string
	switch {
	case m.picking():
		body = m.pickerView()
	case m.help.IsOpen():
		body = m.help.View()
	default:
		body = m.body(ctx, w, bodyH)
	}
	body = fitBlock(body, w, bodyH, true)
	return fitBlock(lipgloss.JoinVertical(lipgloss.Left, hd.View(), body, sb.View(), ft.View()), w, h, false)
}

// place lays the screen out as View draws it and gives the stateful
// children their sizes and what their keys depend on (the help's figures,
// the filter's counts, the log pane's pinned lines). It runs at the end of
// every Update, and after each key of a multi-key event, so a child's
// keys act on the screen the user sees and View only draws.
func (m *Model) place() {
	w, h := m.width, m.height
	m.charts.SetSize(w, 0) // hidden unless the body places it
	if w < MinWidth || h < MinHeight || m.quitting {
		return
	}
	bodyH := h - 3
	switch {
	case m.picking():
		if p := m.pick.picker; p != nil {
			p.SetSize(w, bodyH)
		}
		return
	case m.help.IsOpen():
		hv := m.help
		hv.Burst, hv.DefaultRate, hv.DefaultSize = m.burstN, m.opts.DefaultRate, m.opts.DefaultSize
		hv.SparkTable, hv.SparkDetail, hv.DropWindow = tracktable.SparkColumns, detail.MaxSpark, DropWindow.String()
		hv.SetSize(w, bodyH)
		return
	}
	if m.logs != nil {
		// Before the layout: the pane's height counts its pinned lines.
		m.logs.Pinned = m.pinned()
	}
	ctx := m.ctx()
	l := m.layout(ctx, w, bodyH, m.tableView(ctx))
	switch {
	case l.prompt > 0 && m.source.IsOpen():
		m.source.SetSize(w, prompt.Lines)
	case l.prompt > 0 && m.impair.IsOpen():
		m.impair.SetSize(w, prompt.Lines)
	case l.prompt > 0:
		m.prompt.SetSize(w, prompt.Lines)
	}
	if m.b == nil && m.connErr != nil {
		if _, logs := m.connectBanner(ctx, w, bodyH-l.prompt); logs > 0 {
			m.logs.SetSize(w, logs)
		}
		return
	}
	if l.filter > 0 {
		m.filter.Shown, m.filter.Of = m.shownTracks(), m.tbl.all+m.tbl.roomAll
		m.filter.SetSize(w, filter.Lines)
	}
	if l.charts > 0 {
		m.placeCharts(w, l.charts)
	}
	if l.logs > 0 {
		m.logs.SetSize(w, l.logs)
	}
}

// ctx is what every component shares: the theme and the clock.
func (m Model) ctx() common.Context { return common.Context{Theme: m.th, Now: m.opts.Now} }

// footerKeys are the footer's hints for whoever has the keys, and the
// ones it keeps at every width: help and quit, or, while q and ? are
// taken (typing, the help open), ctrl+c.
func (m Model) footerKeys() (hints, essentials []key.Binding) {
	k := m.keys
	switch {
	case m.pickerOpen() && m.pick.picker.Typing():
		return m.pick.picker.ShortHelp(), k.TypingEssentials()
	case m.pickerOpen():
		return m.pick.picker.ShortHelp(), []key.Binding{k.Quit}
	case m.picking():
		return nil, []key.Binding{k.Quit}
	case m.prompt.IsOpen():
		return m.prompt.ShortHelp(), k.TypingEssentials()
	case m.source.IsOpen():
		return m.source.ShortHelp(), k.TypingEssentials()
	case m.impair.IsOpen():
		return m.impair.ShortHelp(), k.TypingEssentials()
	case m.help.IsOpen():
		return m.help.ShortHelp(), k.TypingEssentials()
	case m.logsFocused() && m.logs.Searching():
		return m.logs.ShortHelp(), k.TypingEssentials()
	case m.filter.Editing():
		return m.filter.ShortHelp(), k.TypingEssentials()
	case m.logsFocused():
		return m.logs.ShortHelp(), k.Essentials()
	case m.b == nil:
		return k.OfflineHelp(m.connErr != nil && m.opts.Connect != nil), k.Essentials()
	case m.gaveUp() && m.opts.Connect != nil:
		return k.OfflineHelp(true), k.Essentials()
	case m.opts.SubscribeOnly:
		return k.SubscribeOnlyHelp(), k.Essentials()
	}
	if r, ok := m.selectedRow(); ok && r.Room() {
		return k.RoomHelp(), k.Essentials()
	}
	return k.ShortHelp(), k.Essentials()
}

// layout is the body's heights, line for line (0: not shown).
type layout struct {
	prompt, filter, detail, charts, logs, table int
	d                                           *detail.Model // sized, when shown
}

// layout shares bodyH lines out. The prompt is placed first (it is what
// the user is typing into), then the filter bar, then the table gets its
// header, selected row and totals, then the detail pane, then the charts
// (what the table's other rows leave, by themselves from AutoHeight up, or
// when asked for), then the log pane; a pane that does not fit at its
// minimum is not shown, and what is left goes to the table's other rows.
// A log pane that has the keys takes the room before the table's other
// rows do.
func (m Model) layout(ctx common.Context, w, bodyH int, tt *tracktable.Model) layout {
	var l layout
	avail := bodyH
	if m.prompt.IsOpen() || m.source.IsOpen() || m.impair.IsOpen() {
		l.prompt = prompt.Lines
		avail -= prompt.Lines
	}
	if m.b == nil && m.connErr != nil {
		return l
	}
	if m.filter.Active() && avail > tableMin {
		l.filter = filter.Lines
		avail -= filter.Lines
	}
	rows := tt.Rows
	tableNeed := tt.Need()
	tableExtra := max(tableNeed-tableMin, 0)
	rest := avail - min(tableNeed, tableMin, avail)
	logMin := logpane.MinHeight
	showLogs := m.showLogs && m.logs != nil
	focused := showLogs && m.logs.Focused()
	if m.showDetail && rest >= detail.MinHeight {
		d := detail.New(ctx)
		d.Burst = m.burstN
		d.Sender = m.tbl.snap.Connection.Sender
		if len(rows) > 0 {
			d.Row = &rows[m.tbl.selectedIndex()]
			d.Preview = m.preview
			d.Memory = m.tbl.snap.Memory
		}
		room := rest
		if showLogs && rest-logMin >= detail.MinHeight {
			room = rest - logMin // leave the log pane its minimum
		}
		if focused {
			room = min(room, max(detail.MinHeight, rest/3))
		}
		d.SetSize(w, d.Fit(w, min(d.Want(w), room)))
		l.detail, l.d = d.Height, d
		rest -= d.Height
	}
	// The charts take what the table's other rows and the log pane's
	// minimum leave; asked for, they take the table's rows too. With the
	// log pane open, they share the room with it.
	most := rest
	if showLogs && rest >= logMin {
		most -= logMin
	}
	room := most - tableExtra
	if showLogs {
		room, most = min(room, most/2), most/2
	}
	if m.b != nil { // before the connection there is nothing to chart
		l.charts = m.charts.Room(w, room, most, showLogs)
		rest -= l.charts
	}
	if showLogs && rest >= logMin {
		// The table's remaining rows come first, the log pane takes the
		// rest; with the keys, it takes table rows too. Either way only as
		// many lines as its records need: the rows the keys act on stay
		// in sight, and no box of empty lines hides them.
		want := m.logs.Want(w, rest)
		l.logs = min(max(logMin, rest-tableExtra), want)
		if focused {
			l.logs = want
		}
		rest -= l.logs
	}
	l.table = avail - l.detail - l.charts - l.logs
	return l
}

// body draws the table and the open panes as layout placed them.
func (m Model) body(ctx common.Context, w, bodyH int) string {
	tt := m.tableView(ctx)
	l := m.layout(ctx, w, bodyH, tt)
	var promptView string
	switch {
	case l.prompt > 0 && m.source.IsOpen():
		promptView = m.source.View()
	case l.prompt > 0 && m.impair.IsOpen():
		promptView = m.impair.View()
	case l.prompt > 0:
		promptView = m.prompt.View()
	}
	if m.b == nil && m.connErr != nil {
		return m.connectFailed(ctx, w, bodyH-l.prompt, promptView)
	}
	tt.SetSize(w, l.table)
	views := []string{tt.View()}
	if l.filter > 0 {
		views = append(views, m.filter.View())
	}
	if l.d != nil {
		views = append(views, l.d.View())
	}
	if l.charts > 0 {
		views = append(views, m.charts.View())
	}
	if l.logs > 0 {
		views = append(views, m.logs.View())
	}
	if promptView != "" {
		views = append(views, promptView)
	}
	return lipgloss.JoinVertical(lipgloss.Left, views...)
}

// placeCharts gives the chart pane h lines and what it charts: the
// selected row's series (each kind of row gives its own) and the
// connection's.
func (m *Model) placeCharts(w, h int) {
	c := m.charts
	c.Title, c.Track, c.Conn, c.At = "no track selected", nil, series.Connection(m.tbl.snap), m.tbl.snap.At
	if r, ok := m.selectedRow(); ok {
		c.Title, c.Track = r.Name(), r.series(m.tbl.snap)
		switch {
		case r.failed != nil:
			c.Title += " (its publish failed: nothing to chart)"
		case r.Room():
			c.Title += " from " + format.Outside(r.R.Stats.PublisherIdentity) + " (received)"
		}
	}
	c.SetSize(w, h)
}

// chartsShown says whether the chart pane is on screen: place gave it
// lines.
func (m Model) chartsShown() bool { return m.charts.Height > 0 }

// pinned is how another client joins the embedded SFU, with the room this
// session is in: what the log's first lines said before they scrolled
// away. The secret stays in the env file.
func (m Model) pinned() []string {
	l := m.opts.LocalSFU
	if l == nil {
		return nil
	}
	head := fmt.Sprintf("embedded SFU %s · API key %s", l.URL, l.APIKey)
	if l.EnvFile == "" {
		return []string{head + " · its secret could not be written to a file (see the log)"}
	}
	room := m.status.Room
	if room == "" {
		room = "<room>"
	}
	return []string{head, fmt.Sprintf("join: set -a; . %s; set +a; lk room join --identity viewer %s", l.EnvFile, room)}
}

// connectFailed says in words why there is no connection, with the log
// pane under it when open.
func (m Model) connectFailed(ctx common.Context, w, avail int, promptView string) string {
	b, logs := m.connectBanner(ctx, w, avail)
	views := []string{b}
	if logs > 0 {
		views = append(views, m.logs.View())
	}
	if promptView != "" {
		views = append(views, promptView)
	}
	return lipgloss.JoinVertical(lipgloss.Left, views...)
}

// connectBanner is the banner saying why the connect failed, avail lines
// at most, and the lines the open log pane gets under it (0: none).
func (m Model) connectBanner(ctx common.Context, w, avail int) (string, int) {
	b := banner.New(ctx)
	b.Title = "could not connect"
	if m.status.URL != "" {
		b.Title += " to " + m.status.URL
	}
	b.Text = m.connErr.Error()
	b.Hint = "r retries · l shows the log · q quits"
	if m.opts.Connect == nil {
		b.Hint = "l shows the log · q quits"
	}
	b.SetSize(w, avail)
	v := b.View()
	if rest := avail - lipgloss.Height(v); m.showLogs && m.logs != nil && rest >= logpane.MinHeight {
		return v, rest
	}
	return v, 0
}

// tableView is the track table with the model's rows, sections, order and
// filter, not yet sized.
func (m Model) tableView(ctx common.Context) *tracktable.Model {
	tt := tracktable.New(ctx)
	tt.Local = !m.opts.SubscribeOnly
	tt.Room = m.opts.SubscribeOnly || (m.b != nil && m.b.Monitor() != nil)
	switch {
	case m.b == nil:
		tt.Empty, tt.RoomEmpty = "waiting for the connection…", "waiting for the connection…"
	case m.opts.SubscribeOnly:
		tt.RoomNote = "subscribe-only: this session publishes nothing, it watches"
		tt.RoomEmpty = "waiting for another participant to publish a data track: each shows here, subscribed, as the SFU announces it"
	}
	if m.filter.Value() != "" {
		if m.tbl.all+len(m.failed) > 0 {
			tt.Empty = "no row matches /" + format.Outside(m.filter.Value())
		}
		if m.tbl.roomAll > 0 {
			tt.RoomEmpty = "no row matches /" + format.Outside(m.filter.Value())
		}
	}
	tt.Rows, tt.Selected = m.tableRows(), m.tbl.selectedIndex()
	tt.Loopback = m.tbl.snap.Loopback
	tt.Sort, tt.RoomSort = m.tbl.sort.column(), m.tbl.sort.roomColumn()
	if m.filter.Active() {
		tt.Of, tt.RoomOf = m.tbl.all, m.tbl.roomAll
	}
	return tt
}

// tableRows turns the model's rows into what the table and detail show.
func (m Model) tableRows() []tracktable.Row {
	out := make([]tracktable.Row, len(m.tbl.rows))
	for i, r := range m.tbl.rows {
		tr := r.Row
		// Generator settings change between ticks: read them live.
		if r.ui != nil {
			tr.HasTrack = true
			tr.Generating, tr.GenRate, tr.GenSize = r.ui.gen != nil, r.ui.rate, r.ui.size
			if r.ui.source != nil {
				tr.Source = r.ui.source.progress()
			}
		}
		out[i] = tr
	}
	return out
}

// fitBlock cuts a block to at most h lines of at most w cells; with pad it
// pads to exactly h lines, so the footer stays at the bottom whatever the
// content.
func fitBlock(s string, w, h int, pad bool) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			lines[i] = ansi.Truncate(l, w, "")
		}
	}
	for pad && len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// shownTracks is how many track rows (not failed publishes; the room's
// too) the filter lets through.
func (m Model) shownTracks() int {
	n := 0
	for _, r := range m.tbl.rows {
		if r.failed == nil {
			n++
		}
	}
	return n
}
