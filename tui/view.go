package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/components/banner"
	"github.com/dttui/dttui/tui/components/detail"
	"github.com/dttui/dttui/tui/components/header"
	"github.com/dttui/dttui/tui/components/helpview"
	"github.com/dttui/dttui/tui/components/logpane"
	"github.com/dttui/dttui/tui/components/prompt"
	"github.com/dttui/dttui/tui/components/statusbar"
	"github.com/dttui/dttui/tui/components/tracktable"
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
	ctx := common.Context{Theme: m.th, Now: m.opts.Now}

	hd := header.New(ctx)
	hd.Status, hd.Paused = m.status, m.paused
	sb := statusbar.New(ctx)
	sb.Text, sb.IsErr = m.statusMsg, m.statusErr
	ft := helpview.NewFooter(ctx)
	ft.Keys, ft.Essentials = m.footerKeys()
	for _, c := range []common.Component{hd, sb, ft} {
		c.SetSize(w, 1)
	}

	bodyH := h - 3 // header, status line, footer
	var body string
	if m.help.IsOpen() {
		hv := m.help
		hv.Burst, hv.DefaultRate, hv.DefaultSize = m.burstN, m.opts.DefaultRate, m.opts.DefaultSize
		hv.SparkTable, hv.SparkDetail, hv.DropWindow = tracktable.SparkColumns, detail.MaxSpark, DropWindow.String()
		hv.SetSize(w, bodyH)
		body = hv.View()
	} else {
		body = m.body(ctx, w, bodyH)
	}
	body = fitBlock(body, w, bodyH, true)
	return fitBlock(lipgloss.JoinVertical(lipgloss.Left, hd.View(), body, sb.View(), ft.View()), w, h, false)
}

// footerKeys are the footer's hints for whoever has the keys, and the
// ones it keeps at every width: help and quit, or, while q and ? are
// taken (typing, the help open), ctrl+c.
func (m Model) footerKeys() (hints, essentials []key.Binding) {
	k := m.keys
	switch {
	case m.prompt.IsOpen():
		return m.prompt.ShortHelp(), k.TypingEssentials()
	case m.help.IsOpen():
		return m.help.ShortHelp(), k.TypingEssentials()
	case m.logsFocused() && m.logs.Searching():
		return m.logs.ShortHelp(), k.TypingEssentials()
	case m.logsFocused():
		return m.logs.ShortHelp(), k.Essentials()
	case m.b == nil:
		return k.OfflineHelp(m.connErr != nil && m.opts.Connect != nil), k.Essentials()
	}
	return k.ShortHelp(), k.Essentials()
}

// body stacks the table and the open panes in bodyH lines. The prompt is
// placed first (it is what the user is typing into), then the table gets
// its header, selected row and totals, then the detail pane, then the
// log pane; a pane that does not fit at its minimum is not shown, and
// what is left goes to the table's other rows. A log pane that has the
// keys takes the room before the table's other rows do.
func (m Model) body(ctx common.Context, w, bodyH int) string {
	var bottom []string // panes under the table, top to bottom
	avail := bodyH
	var promptView string
	if m.prompt.IsOpen() {
		m.prompt.SetSize(w, prompt.Lines)
		promptView = m.prompt.View()
		avail -= prompt.Lines
	}
	if m.b == nil && m.connErr != nil {
		return m.connectFailed(ctx, w, avail, promptView)
	}

	rows := m.tableRows()
	tableNeed := 2 + max(len(rows), 1)
	rest := avail - min(tableNeed, tableMin, avail)
	logMin := logpane.MinHeight
	showLogs := m.showLogs && m.logs != nil
	focused := showLogs && m.logs.Focused()
	if m.showDetail && rest >= detail.MinHeight {
		d := detail.New(ctx)
		d.Burst = m.burstN
		if len(rows) > 0 {
			d.Row = &rows[m.selectedIndex()]
		}
		room := rest
		if showLogs && rest-logMin >= detail.MinHeight {
			room = rest - logMin // leave the log pane its minimum
		}
		if focused {
			room = min(room, max(detail.MinHeight, rest/3))
		}
		d.SetSize(w, min(d.Want(w), room))
		rest -= d.Height
		bottom = append(bottom, d.View())
	}
	if showLogs && rest >= logMin {
		lh := rest
		if !focused {
			// The table's remaining rows come first, the log pane takes the rest.
			lh = max(logMin, rest-max(tableNeed-tableMin, 0))
		}
		bottom = append(bottom, m.logView(w, lh))
		rest -= lh
	}
	tt := tracktable.New(ctx)
	if m.b == nil {
		tt.Empty = "waiting for the connection…"
	}
	tt.Rows, tt.Selected = rows, m.selectedIndex()
	tt.SetSize(w, avail-sumHeights(bottom))
	views := append([]string{tt.View()}, bottom...)
	if promptView != "" {
		views = append(views, promptView)
	}
	return lipgloss.JoinVertical(lipgloss.Left, views...)
}

// logView sizes the log pane, with the embedded SFU's join details
// pinned, and draws it.
func (m Model) logView(w, h int) string {
	m.logs.Pinned = m.pinned()
	m.logs.SetSize(w, h)
	return m.logs.View()
}

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

func sumHeights(views []string) int {
	n := 0
	for _, v := range views {
		n += lipgloss.Height(v)
	}
	return n
}

// connectFailed says in words why there is no connection, with the log
// pane under it when open.
func (m Model) connectFailed(ctx common.Context, w, avail int, promptView string) string {
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
	views := []string{b.View()}
	rest := avail - lipgloss.Height(views[0])
	if m.showLogs && m.logs != nil && rest >= logpane.MinHeight {
		views = append(views, m.logView(w, rest))
	}
	if promptView != "" {
		views = append(views, promptView)
	}
	return lipgloss.JoinVertical(lipgloss.Left, views...)
}

// tableRows turns the model's rows into what the table and detail show.
func (m Model) tableRows() []tracktable.Row {
	out := make([]tracktable.Row, len(m.rows))
	for i, r := range m.rows {
		tr := r.Row
		// Generator settings change between ticks: read them live.
		if r.ui != nil {
			tr.HasTrack = true
			tr.Generating, tr.GenRate, tr.GenSize = r.ui.gen != nil, r.ui.rate, r.ui.size
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
