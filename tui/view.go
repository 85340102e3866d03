package tui

import (
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/sparkline"
)

// View renders the screen at the current size.
func (m Model) View() string {
	if m.quitting {
		return "closing: unpublishing tracks and leaving the room…\n"
	}
	w, h := max(m.width, 20), max(m.height, 8)
	header := m.viewHeader(w)
	footer := m.viewFooter(w)
	status := m.viewStatus(w)

	bodyH := h - 3 // header, status, footer
	var body string
	switch {
	case m.showHelp:
		body = m.viewHelp(w, bodyH)
	default:
		var panes []string
		paneH := 0
		if m.showDetail {
			ph := max(bodyH/2, 6)
			panes = append(panes, m.viewDetail(w, ph))
			paneH += ph
		}
		if m.showLogs && m.opts.Logs != nil {
			ph := max((bodyH-paneH)/2, 5)
			panes = append(panes, m.viewLogs(w, ph))
			paneH += ph
		}
		if m.prompt {
			panes = append(panes, m.viewPrompt(w))
			paneH += 3
		}
		table := m.viewTable(w, max(bodyH-paneH, 3))
		body = lipgloss.JoinVertical(lipgloss.Left, append([]string{table}, panes...)...)
	}
	body = placeBlock(body, w, bodyH)
	return lipgloss.JoinVertical(lipgloss.Left, header, body, status, footer)
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

func (m Model) viewHeader(w int) string {
	st := m.status
	th := m.th
	var state string
	switch st.State {
	case session.StateConnected:
		state = th.OK.Render("● connected")
	case session.StateConnecting:
		state = th.Warn.Render("◌ connecting")
	case session.StateReconnecting:
		state = th.Warn.Render(fmt.Sprintf("↻ reconnecting %s", formatDuration(m.opts.Now().Sub(st.Since))))
	default:
		state = th.Bad.Render("✕ disconnected")
	}
	parts := []string{th.Title.Render("dttui"), state}
	if m.paused {
		parts = append(parts, th.Warn.Render("[paused]"))
	}
	parts = append(parts, st.URL)
	if st.Room != "" {
		parts = append(parts, th.Dim.Render("room ")+st.Room)
	}
	if st.Identity != "" {
		parts = append(parts, th.Dim.Render("as ")+st.Identity)
	}
	parts = append(parts, th.Dim.Render("rtt ")+formatDuration(st.RTT))
	if st.Reconnects > 0 {
		parts = append(parts, th.Warn.Render(fmt.Sprintf("reconnects %d", st.Reconnects)))
	}
	line := strings.Join(parts, "  ")
	if st.Err != nil && st.State != session.StateConnected {
		line += "  " + th.Bad.Render(st.Err.Error())
	}
	return ansi.Truncate(line, w, "…")
}

func (m Model) viewStatus(w int) string {
	if m.statusMsg == "" {
		return ""
	}
	style := m.th.Status
	if m.statusErr {
		style = m.th.StatusErr
	}
	return style.Render(ansi.Truncate(m.statusMsg, w, "…"))
}

func (m Model) viewFooter(w int) string {
	if m.prompt {
		return m.th.Footer.Render(ansi.Truncate("enter publish · tab E2EE on/off · esc cancel", w-2, "…"))
	}
	hm := help.New()
	hm.Width = w - 2
	hm.Styles.ShortKey = m.th.Bold
	hm.Styles.ShortDesc = m.th.Dim
	hm.Styles.ShortSeparator = m.th.Dim
	return m.th.Footer.Render(hm.ShortHelpView(m.keys.ShortHelp()))
}

func (m Model) viewHelp(w, h int) string {
	hm := help.New()
	hm.Width = w - 4
	hm.ShowAll = true
	hm.Styles.FullKey = m.th.Bold
	hm.Styles.FullDesc = m.th.Dim
	text := m.th.Title.Render("Keys") + "\n\n" + hm.FullHelpView(m.keys.FullHelp()) + "\n\n" +
		m.th.Dim.Render(fmt.Sprintf("burst size %d · generator default %s/s × %s · any key closes this help",
			m.burstN, formatCount(m.opts.DefaultRate), formatBytes(float64(m.opts.DefaultSize))))
	return m.th.Box.Width(w - 2).Render(text)
}

func (m Model) viewPrompt(w int) string {
	e2ee := "E2EE off"
	if m.promptE2E {
		e2ee = m.th.OK.Render("E2EE on")
	} else if !m.opts.E2EEAvailable {
		e2ee = m.th.Dim.Render("E2EE off (no --e2ee-passphrase)")
	}
	return m.th.Box.Width(w - 2).Render("Publish a data track   " + m.input.View() + "   " + e2ee)
}

func (m Model) stateCell(r row) (string, func(...string) string) {
	st := r.stats
	th := m.th
	switch st.State {
	case outgoing.StatePending:
		return "pending " + formatDuration(m.opts.Now().Sub(st.Since)), th.Warn.Render
	case outgoing.StatePublished:
		if r.ui != nil && r.ui.gen != nil {
			return "published ▶", th.OK.Render
		}
		return "published", th.OK.Render
	case outgoing.StateRepublishing:
		return "republishing", th.Warn.Render
	case outgoing.StateUnpublished:
		return "unpublished", th.Dim.Render
	case outgoing.StateFailed:
		if r.failed != nil {
			return "failed: " + shortReason(r.failed.err), th.Bad.Render
		}
		return "failed", th.Bad.Render
	}
	return st.State.String(), th.Dim.Render
}

type column struct {
	title    string
	width    int
	priority int // 0 always shown; higher ones drop first on narrow screens
	right    bool
	rx       bool // loopback-only column
	cell     func(r row) string
	style    func(r row) func(...string) string
}

func (m Model) columns() []column {
	th := m.th
	num := func(v uint64) string { return formatCount(float64(v)) }
	rxcell := func(f func(session.ReceiveStats, row) string) func(row) string {
		return func(r row) string {
			if r.rx == nil {
				return "-"
			}
			return f(*r.rx, r)
		}
	}
	none := func(row) func(...string) string { return nil }
	return []column{
		{title: "NAME", width: 12, priority: 0, cell: func(r row) string { return r.stats.Name }, style: none},
		{title: "H", width: 3, priority: 1, right: true, cell: func(r row) string {
			if r.stats.Handle == 0 {
				return "-"
			}
			return fmt.Sprint(r.stats.Handle)
		}, style: none},
		{title: "SID", width: 12, priority: 3, cell: func(r row) string {
			if r.stats.SID == "" {
				return "-"
			}
			return r.stats.SID
		}, style: func(row) func(...string) string { return th.Dim.Render }},
		{title: "STATE", width: 16, priority: 0, cell: func(r row) string { s, _ := m.stateCell(r); return s },
			style: func(r row) func(...string) string { _, f := m.stateCell(r); return f }},
		{title: "FPS", width: 6, priority: 0, right: true, cell: func(r row) string { return formatCount(r.fps) }, style: none},
		{title: "BYTES/S", width: 10, priority: 0, right: true, cell: func(r row) string { return formatBytes(r.bps) + "/s" }, style: none},
		{title: "PPS", width: 6, priority: 3, right: true, cell: func(r row) string { return formatCount(r.pps) }, style: none},
		{title: "PUSHED", width: 7, priority: 2, right: true, cell: func(r row) string { return num(r.stats.FramesPushed) }, style: none},
		{title: "DROPPED", width: 7, priority: 0, right: true, cell: func(r row) string { return num(r.stats.FramesDropped) },
			style: func(r row) func(...string) string {
				if r.stats.FramesDropped > 0 {
					return th.Bad.Render
				}
				return nil
			}},
		{title: "UNPUB", width: 5, priority: 2, right: true, cell: func(r row) string { return num(r.stats.UnpublishedErrors) },
			style: func(r row) func(...string) string {
				if r.stats.UnpublishedErrors > 0 {
					return th.Warn.Render
				}
				return nil
			}},
		{title: "RX/S", width: 6, priority: 1, right: true, rx: true, cell: rxcell(func(_ session.ReceiveStats, r row) string { return formatCount(r.rxfps) }), style: none},
		{title: "LOST", width: 5, priority: 1, right: true, rx: true, cell: rxcell(func(x session.ReceiveStats, _ row) string { return num(x.FramesLost + x.FramesIncomplete) }),
			style: func(r row) func(...string) string {
				if r.rx != nil && r.rx.FramesLost+r.rx.FramesIncomplete > 0 {
					return th.Warn.Render
				}
				return nil
			}},
		{title: "P50", width: 6, priority: 2, right: true, rx: true, cell: rxcell(func(x session.ReceiveStats, _ row) string { return formatDuration(x.LatencyP50) }), style: none},
		{title: "P99", width: 6, priority: 2, right: true, rx: true, cell: rxcell(func(x session.ReceiveStats, _ row) string { return formatDuration(x.LatencyP99) }), style: none},
		{title: "SEND RATE", width: 10, priority: 2, cell: func(r row) string {
			if r.ui == nil {
				return ""
			}
			return sparkline.Render(r.ui.spark.Values(), 10)
		}, style: func(row) func(...string) string { return th.Info.Render }},
		{title: "LAST ERROR", width: 0, priority: 3, cell: func(r row) string { return r.stats.LastError },
			style: func(row) func(...string) string { return th.Bad.Render }},
	}
}

// visibleColumns keeps the columns that fit w, dropping the least
// important first; LAST ERROR takes what is left.
func (m Model) visibleColumns(w int) []column {
	hasRx := false
	for _, r := range m.rows {
		hasRx = hasRx || r.rx != nil
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

func (m Model) viewTable(w, h int) string {
	cols := m.visibleColumns(w)
	var b strings.Builder
	head := "  "
	for _, c := range cols {
		head += fit(c.title, c.width, c.right) + " "
	}
	b.WriteString(m.th.TableHead.Render(strings.TrimRight(head, " ")))
	b.WriteByte('\n')
	if len(m.rows) == 0 {
		b.WriteString(m.th.Dim.Render("  no tracks yet: press p to publish one"))
		return b.String()
	}
	// Scroll so the selection stays visible; one line for totals.
	rowsH := max(h-2, 1)
	sel := m.selectedIndex()
	start := 0
	if sel >= rowsH {
		start = sel - rowsH + 1
	}
	end := min(start+rowsH, len(m.rows))
	for i := start; i < end; i++ {
		r := m.rows[i]
		marker := "  "
		if i == sel {
			marker = "› "
		}
		line := marker
		for _, c := range cols {
			cell := fit(c.cell(r), c.width, c.right)
			if f := c.style(r); f != nil {
				cell = f(cell)
			}
			line += cell + " "
		}
		line = strings.TrimRight(line, " ")
		if i == sel {
			line = m.th.Selected.Render(line)
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.WriteString(m.th.Totals.Render(m.totalsLine(cols)))
	return b.String()
}

func (m Model) totalsLine(cols []column) string {
	var t row
	t.stats.Name = fmt.Sprintf("TOTAL (%d)", len(m.rows))
	var rx session.ReceiveStats
	hasRx := false
	for _, r := range m.rows {
		t.fps += r.fps
		t.pps += r.pps
		t.bps += r.bps
		t.rxfps += r.rxfps
		t.stats.FramesPushed += r.stats.FramesPushed
		t.stats.FramesDropped += r.stats.FramesDropped
		t.stats.UnpublishedErrors += r.stats.UnpublishedErrors
		if r.rx != nil {
			hasRx = true
			rx.FramesLost += r.rx.FramesLost
			rx.FramesIncomplete += r.rx.FramesIncomplete
		}
	}
	if hasRx {
		t.rx = &rx
	}
	line := "  "
	for _, c := range cols {
		var cell string
		switch c.title {
		case "NAME", "FPS", "PPS", "BYTES/S", "PUSHED", "DROPPED", "UNPUB", "RX/S", "LOST":
			cell = c.cell(t)
		}
		line += fit(cell, c.width, c.right) + " "
	}
	return strings.TrimRight(line, " ")
}

func (m Model) viewDetail(w, h int) string {
	r, ok := m.selectedRow()
	if !ok {
		return m.th.Box.Width(w - 2).Render(m.th.Dim.Render("no track selected"))
	}
	st := r.stats
	th := m.th
	var lines []string
	state, style := m.stateCell(r)
	title := fmt.Sprintf("%s  handle %d  %s  %s", th.Bold.Render(st.Name), st.Handle, style(state), th.Dim.Render(orDash(st.SID)))
	if st.E2EE {
		title += "  " + th.OK.Render("E2EE")
	}
	lines = append(lines, title)
	lines = append(lines, fmt.Sprintf("frames pushed %d · sent %d · queued %d · dropped %d · packets %d · bytes %s · publish attempts %d · unpublished errors %d",
		st.FramesPushed, st.FramesSent, st.FramesQueued, st.FramesDropped, st.PacketsSent, formatBytes(float64(st.BytesSent)), st.PublishAttempts, st.UnpublishedErrors))
	var drops []string
	for reason, n := range st.DroppedBy {
		if n > 0 {
			drops = append(drops, fmt.Sprintf("%s %d", outgoing.DropReason(reason), n))
		}
	}
	if len(drops) > 0 {
		lines = append(lines, th.Bad.Render("dropped: "+strings.Join(drops, " · ")))
	} else {
		lines = append(lines, th.Dim.Render("dropped: none"))
	}
	if r.ui != nil {
		gen := "off"
		if r.ui.gen != nil {
			gen = "on"
		}
		lines = append(lines, fmt.Sprintf("generator %s: %s/s × %s · burst %d", gen, formatCount(r.ui.rate), formatBytes(float64(r.ui.size)), m.burstN))
	}
	if r.rx != nil {
		line := fmt.Sprintf("loopback: %d frames · %s · lost %d · incomplete %d · latency p50 %s p99 %s",
			r.rx.FramesReceived, formatBytes(float64(r.rx.BytesReceived)), r.rx.FramesLost, r.rx.FramesIncomplete,
			formatDuration(r.rx.LatencyP50), formatDuration(r.rx.LatencyP99))
		if r.rx.FramesCorrupt > 0 {
			line += th.Bad.Render(fmt.Sprintf(" · CORRUPT %d", r.rx.FramesCorrupt))
		}
		lines = append(lines, line)
	}
	if len(st.Timeline) > 0 {
		lines = append(lines, th.Bold.Render("timeline"))
		for _, c := range lastN(st.Timeline, 4) {
			lines = append(lines, fmt.Sprintf("  %s  %-12s %s %s", c.At.Format("15:04:05.000"), c.State, th.Dim.Render(orDash(c.SID)), c.Reason))
		}
	}
	if len(st.Errors) > 0 {
		lines = append(lines, th.Bold.Render("errors"))
		for _, e := range lastN(st.Errors, 3) {
			lines = append(lines, th.Bad.Render(fmt.Sprintf("  %s  %s", e.At.Format("15:04:05.000"), e.Err)))
		}
	}
	if r.failed != nil {
		lines = append(lines, th.Bad.Render("publish failed: "+r.failed.err.Error()))
	}
	if len(lines) > h-2 {
		lines = lines[:max(h-2, 1)]
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w-4, "…")
	}
	return th.Box.Width(w - 2).Render(strings.Join(lines, "\n"))
}

func lastN[T any](s []T, n int) []T {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (m Model) viewLogs(w, h int) string {
	lines := m.opts.Logs.Tail(max(h-2, 1))
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w-4, "…")
	}
	if len(lines) == 0 {
		lines = []string{m.th.Dim.Render("no log lines yet")}
	}
	return m.th.Box.Width(w - 2).Render(strings.Join(lines, "\n"))
}

// shortReason names why a publish failed in a word or two, for the table.
func shortReason(err error) string {
	var pe *outgoing.PublishError
	if !errors.As(err, &pe) {
		return "error"
	}
	switch pe.Reason {
	case outgoing.ReasonNotAllowed:
		return "not allowed"
	case outgoing.ReasonDuplicateName:
		return "duplicate"
	case outgoing.ReasonInvalidName:
		return "bad name"
	case outgoing.ReasonTimeout:
		return "timeout"
	case outgoing.ReasonLimitReached:
		return "limit"
	case outgoing.ReasonDisconnected:
		return "disconnected"
	case outgoing.ReasonCancelled:
		return "cancelled"
	case outgoing.ReasonE2EENotConfigured:
		return "no E2EE key"
	}
	return "rejected"
}
