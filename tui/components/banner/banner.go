// Package banner is a boxed message in place of the table: why the
// connection failed, and what the user can do.
package banner

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/format"
)

// Model draws a banner.
type Model struct {
	common.Size
	ctx   common.Context
	Title string // bold, on the first line
	Text  string // wrapped to the width
	Hint  string // dim, on the last line
}

// New returns a banner.
func New(ctx common.Context) *Model { return &Model{ctx: ctx} }

// View implements common.Component: at most Height lines, the hint kept
// when the text is cut.
func (m *Model) View() string {
	th := m.ctx.Theme
	inner := max(m.Width-4, 1)
	lines := []string{th.Bad.Render(ansi.Truncate(format.Outside(m.Title), inner, "…"))}
	for _, l := range strings.Split(ansi.Wrap(format.Outside(m.Text), inner, ""), "\n") {
		lines = append(lines, ansi.Truncate(l, inner, "…"))
	}
	room := max(m.Height-2, 1)
	hint := th.Dim.Render(ansi.Truncate(m.Hint, inner, "…"))
	if len(lines)+1 > room {
		lines = lines[:max(room-1, 1)]
	}
	if len(lines) < room {
		lines = append(lines, hint)
	}
	return th.Box.Width(max(m.Width-2, 0)).Render(strings.Join(lines, "\n"))
}
