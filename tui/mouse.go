package tui

import (
	tea "github.com/charmbracelet/bubbletea"
)

// wheelLines is how many lines a notch of the wheel scrolls the log pane
// (the table moves its selection a row a notch).
const wheelLines = 3

// mouseTarget is what is under the pointer.
type mouseTarget int

const (
	targetNone  mouseTarget = iota
	targetTable             // the track table, on a row or not
	targetLogs              // the log pane
)

// onMouse handles the mouse (Options.Mouse): a click selects the table
// row under it, or gives the log pane the keys; the wheel moves the
// table's selection or scrolls the log pane, whichever is under the
// pointer. In the room picker a click selects a room and the wheel moves
// through them. While a prompt or the help has the keys, the mouse does
// nothing: what they show is not under it.
func (m Model) onMouse(msg tea.MouseMsg) (tea.Model, tea.Cmd) {
	wheel := 0
	switch msg.Button {
	case tea.MouseButtonWheelUp:
		wheel = -1
	case tea.MouseButtonWheelDown:
		wheel = 1
	}
	click := msg.Action == tea.MouseActionPress && msg.Button == tea.MouseButtonLeft
	if m.quitting || wheel == 0 && !click {
		return m, nil
	}
	if m.pickerOpen() {
		p := m.pick.picker
		if wheel != 0 {
			p.Move(wheel)
		} else if !p.Typing() {
			p.Click(msg.Y - 1) // below the header
		}
		return m, nil
	}
	if m.typing() || m.help.IsOpen() || m.picking() {
		return m, nil
	}
	target, at := m.mouseAt(msg.Y)
	switch target {
	case targetTable:
		if m.logsFocused() {
			m.logs.Blur() // the table has the keys again, as after l
		}
		if wheel != 0 {
			m.move(wheel)
		} else if at >= 0 {
			m.move(at - m.tbl.selectedIndex())
		}
	case targetLogs:
		if wheel != 0 {
			m.logs.Wheel(wheel * wheelLines)
		} else {
			m.logs.Focus()
		}
	}
	return m, nil
}

// mouseAt says what line y of the screen shows, laid out as View lays it
// out, and for a table row its index in m.tbl.rows (-1: not a row).
func (m Model) mouseAt(y int) (mouseTarget, int) {
	w, h := m.width, m.height
	if w < MinWidth || h < MinHeight || m.b == nil && m.connErr != nil {
		return targetNone, -1
	}
	ctx := m.ctx()
	tt := m.tableView(ctx)
	l := m.layout(ctx, w, h-3, tt)
	y-- // the header line
	if y >= 0 && y < l.table {
		tt.SetSize(w, l.table)
		if i, ok := tt.RowAt(y); ok {
			return targetTable, i
		}
		return targetTable, -1
	}
	y -= l.table + l.filter + l.detail + l.charts
	if y >= 0 && y < l.logs {
		return targetLogs, y
	}
	return targetNone, -1
}
