// Package logpane shows the newest log lines (ours, the SDK's, pion's and
// the embedded SFU's) in a box.
package logpane

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/logbuf"
)

// Model draws the log pane.
type Model struct {
	common.Size
	ctx common.Context
	Buf *logbuf.Buffer
}

// MinHeight is the smallest log pane: its border and one line.
const MinHeight = 3

// New returns a log pane over buf.
func New(ctx common.Context, buf *logbuf.Buffer) *Model { return &Model{ctx: ctx, Buf: buf} }

// View implements common.Component.
func (m *Model) View() string {
	lines := m.Buf.Tail(max(m.Height-2, 1))
	for i, l := range lines {
		lines[i] = ansi.Truncate(format.OneLine(l), max(m.Width-4, 1), "…")
	}
	if len(lines) == 0 {
		lines = []string{m.ctx.Theme.Dim.Render("no log lines yet")}
	}
	return m.ctx.Theme.Box.Width(max(m.Width-2, 0)).Render(strings.Join(lines, "\n"))
}
