package tui

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/components/detail"
	"github.com/dttui/dttui/tui/components/header"
	"github.com/dttui/dttui/tui/components/helpview"
	"github.com/dttui/dttui/tui/components/logpane"
	"github.com/dttui/dttui/tui/components/prompt"
	"github.com/dttui/dttui/tui/components/statusbar"
	"github.com/dttui/dttui/tui/components/tracktable"
)

// View lays the components out at the current size: header, then the
// table with the optional detail, log and prompt panes, then the status
// line and the key help at the bottom.
func (m Model) View() string {
	if m.quitting {
		return "closing: unpublishing tracks and leaving the room…\n"
	}
	w, h := max(m.width, 20), max(m.height, 8)
	ctx := common.Context{Theme: m.th, Now: m.opts.Now}

	hd := header.New(ctx)
	hd.Status, hd.Paused = m.status, m.paused
	sb := statusbar.New(ctx)
	sb.Text, sb.IsErr = m.statusMsg, m.statusErr
	hv := helpview.New(ctx, m.keys)
	hv.Prompt, hv.Burst, hv.DefaultRate, hv.DefaultSize = m.prompt, m.burstN, m.opts.DefaultRate, m.opts.DefaultSize
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
		rows := m.tableRows()
		var panes []common.Component
		paneH := 0
		if m.showDetail {
			d := detail.New(ctx)
			d.Burst = m.burstN
			if len(rows) > 0 {
				d.Row = &rows[m.selectedIndex()]
			}
			d.SetSize(w, max(bodyH/2, 6))
			panes, paneH = append(panes, d), paneH+d.Height
		}
		if m.showLogs && m.opts.Logs != nil {
			lp := logpane.New(ctx, m.opts.Logs)
			lp.SetSize(w, max((bodyH-paneH)/2, 5))
			panes, paneH = append(panes, lp), paneH+lp.Height
		}
		if m.prompt {
			in := m.input
			p := prompt.New(ctx, &in)
			p.E2EE, p.E2EEAvailable = m.promptE2E, m.opts.E2EEAvailable
			p.SetSize(w, prompt.Lines)
			panes, paneH = append(panes, p), paneH+prompt.Lines
		}
		tt := tracktable.New(ctx)
		tt.Rows, tt.Selected = rows, m.selectedIndex()
		tt.SetSize(w, max(bodyH-paneH, 3))
		views := []string{tt.View()}
		for _, p := range panes {
			views = append(views, p.View())
		}
		body = lipgloss.JoinVertical(lipgloss.Left, views...)
	}
	body = placeBlock(body, w, bodyH)
	return lipgloss.JoinVertical(lipgloss.Left, hd.View(), body, sb.View(), footer)
}

// tableRows turns the model's rows into what the table and detail show.
func (m Model) tableRows() []tracktable.Row {
	out := make([]tracktable.Row, len(m.rows))
	for i, r := range m.rows {
		tr := r.Row
		// Generator settings change between ticks: read them live.
		if r.ui != nil {
			tr.HasTrack, tr.Spark = true, r.ui.spark.Values()
			tr.Generating, tr.GenRate, tr.GenSize = r.ui.gen != nil, r.ui.rate, r.ui.size
		}
		out[i] = tr
	}
	return out
}

// placeBlock pads or cuts a block to exactly h lines of at most w cells,
// so the footer stays at the bottom whatever the content.
func placeBlock(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			lines[i] = ansi.Truncate(l, w, "")
		}
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}
