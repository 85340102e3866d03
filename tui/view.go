package tui

import (
	"fmt"
	"strings"

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
	hv := helpview.New(ctx, m.keys)
	hv.Offline = m.b == nil
	hv.Prompt, hv.Burst, hv.DefaultRate, hv.DefaultSize = m.prompt, m.burstN, m.opts.DefaultRate, m.opts.DefaultSize
	hv.SparkTable, hv.SparkDetail, hv.DropWindow = tracktable.SparkColumns, detail.MaxSpark, DropWindow.String()
	for _, c := range []common.Component{hd, sb, hv} {
		c.SetSize(w, 1)
	}
	footer := hv.View()

	bodyH := h - 3 // header, status line, footer
	var body string
	if m.showHelp {
		hv.Full = true
		hv.SetSize(w, bodyH)
		body = hv.View()
	} else {
		body = m.body(ctx, w, bodyH)
	}
	body = fitBlock(body, w, bodyH, true)
	return fitBlock(lipgloss.JoinVertical(lipgloss.Left, hd.View(), body, sb.View(), footer), w, h, false)
}

// body stacks the table and the open panes in bodyH lines. The prompt is
// placed first (it is what the user is typing into), then the table gets
// its header, selected row and totals, then the detail pane, then the
// log pane; a pane that does not fit at its minimum is not shown, and
// what is left goes to the table's other rows.
func (m Model) body(ctx common.Context, w, bodyH int) string {
	var bottom []string // panes under the table, top to bottom
	avail := bodyH
	var promptView string
	if m.prompt {
		in := m.input
		p := prompt.New(ctx, &in)
		p.E2EE, p.E2EEAvailable = m.promptE2E, m.opts.E2EEAvailable
		p.SetSize(w, prompt.Lines)
		promptView = p.View()
		avail -= prompt.Lines
	}
	if m.b == nil && m.connErr != nil {
		return m.connectFailed(ctx, w, avail, promptView)
	}

	rows := m.tableRows()
	tableNeed := 2 + max(len(rows), 1)
	rest := avail - min(tableNeed, tableMin, avail)
	logMin := logpane.MinHeight
	showLogs := m.showLogs && m.opts.Logs != nil
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
		d.SetSize(w, min(d.Want(w), room))
		rest -= d.Height
		bottom = append(bottom, d.View())
	}
	if showLogs && rest >= logMin {
		lp := logpane.New(ctx, m.opts.Logs)
		// The table's remaining rows come first, the log pane takes the rest.
		lp.SetSize(w, max(logMin, rest-max(tableNeed-tableMin, 0)))
		rest -= lp.Height
		bottom = append(bottom, lp.View())
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
	b.Hint = "q quits · l shows the log"
	b.SetSize(w, avail)
	views := []string{b.View()}
	rest := avail - lipgloss.Height(views[0])
	if m.showLogs && m.opts.Logs != nil && rest >= logpane.MinHeight {
		lp := logpane.New(ctx, m.opts.Logs)
		lp.SetSize(w, rest)
		views = append(views, lp.View())
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
