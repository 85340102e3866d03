// Package prompt is the publish prompt: a name input and the E2EE switch.
package prompt

import (
	"github.com/charmbracelet/bubbles/textinput"

	"github.com/dttui/dttui/tui/common"
)

// Model draws the prompt; the root model owns the input's focus and keys.
type Model struct {
	common.Size
	ctx           common.Context
	Input         *textinput.Model
	E2EE          bool
	E2EEAvailable bool
}

// New returns a prompt around input.
func New(ctx common.Context, input *textinput.Model) *Model { return &Model{ctx: ctx, Input: input} }

// Lines is the prompt's height.
const Lines = 3

// View implements common.Component.
func (m *Model) View() string {
	th := m.ctx.Theme
	e2ee := "E2EE off"
	if m.E2EE {
		e2ee = th.OK.Render("E2EE on")
	} else if !m.E2EEAvailable {
		e2ee = th.Dim.Render("E2EE off (no --e2ee-passphrase)")
	}
	return th.Box.Width(m.Width - 2).Render("Publish a data track   " + m.Input.View() + "   " + e2ee)
}
