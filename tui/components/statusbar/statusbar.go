// Package statusbar is the one-line message under the table; the root
// model clears it after a few seconds.
package statusbar

import (
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/format"
)

// Model draws the status line.
type Model struct {
	common.Size
	ctx   common.Context
	Text  string
	IsErr bool
}

// New returns a status bar.
func New(ctx common.Context) *Model { return &Model{ctx: ctx} }

// View implements common.Component.
func (m *Model) View() string {
	if m.Text == "" {
		return ""
	}
	style := m.ctx.Theme.Status
	if m.IsErr {
		style = m.ctx.Theme.StatusErr
	}
	// The text often carries an error from outside (a server's, the
	// SFU's): made safe here, whoever built it.
	return style.Render(ansi.Truncate(format.Outside(m.Text), m.Width, "…"))
}
