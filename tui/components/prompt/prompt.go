// Package prompt is the publish prompt: a name input and the E2EE switch.
package prompt

import (
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/x/ansi"

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

// InputPrompt is the text input's prompt.
const InputPrompt = "name: "

const (
	gap       = "   "
	minName   = 24 // visible name characters worth giving up the long labels for
	longTitle = "Publish a data track"
	short     = "Publish"
)

type layout struct {
	title, e2ee string
	name        int // visible characters of the name
}

// plan fits the title, the input and the E2EE switch into width w (the
// whole box): the long labels give way before the name gets short.
func plan(w int, e2eeOn, available bool) layout {
	inner := w - 4 // border and padding
	e2eeLong, e2eeShort := "E2EE off", "E2EE off"
	switch {
	case e2eeOn:
		e2eeLong, e2eeShort = "E2EE on", "E2EE on"
	case !available:
		e2eeLong = "E2EE off (no --e2ee-passphrase)"
	}
	cursor := 1
	var l layout
	for _, l = range []layout{{title: longTitle, e2ee: e2eeLong}, {title: longTitle, e2ee: e2eeShort}, {title: short, e2ee: e2eeShort}, {e2ee: e2eeShort}} {
		used := len(InputPrompt) + cursor + len(gap) + ansi.StringWidth(l.e2ee)
		if l.title != "" {
			used += len(l.title) + len(gap)
		}
		if l.name = inner - used; l.name >= minName {
			return l
		}
	}
	l.name = max(l.name, 1) // narrow: no title, the name gets what is left
	return l
}

// InputWidth is the text input's Width (visible name characters) for a
// prompt w cells wide. Whether E2EE is on does not change it.
func InputWidth(w int, e2eeAvailable bool) int {
	return plan(w, false, e2eeAvailable).name
}

// View implements common.Component.
func (m *Model) View() string {
	th := m.ctx.Theme
	l := plan(m.Width, m.E2EE, m.E2EEAvailable)
	e2ee := l.e2ee
	switch {
	case m.E2EE:
		e2ee = th.OK.Render(e2ee)
	case !m.E2EEAvailable:
		e2ee = th.Dim.Render(e2ee)
	}
	line := m.Input.View() + gap + e2ee
	if l.title != "" {
		line = l.title + gap + line
	}
	// The input scrolls within its width; cut anyway, never wrap.
	inner := max(m.Width-4, 1)
	return th.Box.Width(max(m.Width-2, 0)).Render(ansi.Truncate(line, inner, "…"))
}
