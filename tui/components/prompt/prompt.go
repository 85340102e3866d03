// Package prompt is the publish prompt: a name input with a suggested
// name as its placeholder, and the E2EE switch. It is a stateful
// component: the root model opens it and forwards it the keys while it is
// open; a submitted name comes back as a SubmitMsg.
package prompt

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/keys"
)

// SubmitMsg is a name the user asked to publish; the prompt has closed.
type SubmitMsg struct {
	Name string
	E2EE bool
}

// RefusedMsg says why a name cannot be published; the prompt stays open
// for the user to fix it.
type RefusedMsg struct{ Reason string }

// Model is the prompt.
type Model struct {
	common.Size
	ctx           common.Context
	keys          keys.KeyMap
	input         textinput.Model
	open          bool
	e2ee          bool
	e2eeAvailable bool
	suggestion    string
}

// New returns a closed prompt. e2eeAvailable says a passphrase is
// configured, so the switch can be turned on.
func New(ctx common.Context, k keys.KeyMap, e2eeAvailable bool) *Model {
	in := textinput.New()
	// Longer than the SFU allows, so an over-long name is refused with its
	// length rather than silently cut.
	in.CharLimit = 4 * outgoing.MaxNameBytes
	in.Prompt = InputPrompt
	in.PlaceholderStyle = ctx.Theme.Dim
	// A steady cursor: a blinking one redraws the screen twice a second
	// for nothing.
	in.Cursor.SetMode(cursor.CursorStatic)
	return &Model{ctx: ctx, keys: k, input: in, e2eeAvailable: e2eeAvailable}
}

// Open shows the prompt, empty, with suggestion as the placeholder that
// enter accepts, and E2EE off.
func (m *Model) Open(suggestion string) tea.Cmd {
	m.open, m.e2ee, m.suggestion = true, false, suggestion
	m.input.Placeholder = suggestion
	m.input.SetValue("")
	return m.input.Focus()
}

// Close hides the prompt.
func (m *Model) Close() {
	m.open = false
	m.input.Blur()
}

// IsOpen says whether the prompt is shown and has the keys.
func (m *Model) IsOpen() bool { return m.open }

// Value is what the input holds; SetValue replaces it (tests, and a name
// given from elsewhere).
func (m *Model) Value() string { return m.input.Value() }

// SetValue replaces the input's text, the cursor at its end.
func (m *Model) SetValue(s string) {
	m.input.SetValue(s)
	m.input.CursorEnd()
}

// E2EE says whether the switch is on.
func (m *Model) E2EE() bool { return m.e2ee }

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding { return m.keys.PromptHelp() }

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.keys.PromptHelp()} }

var _ common.Stateful = (*Model)(nil)

// Update implements common.Stateful: esc closes, tab switches E2EE, enter
// submits (the suggestion when the input is empty), other keys type.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok || !m.open {
		return nil
	}
	switch {
	case key.Matches(k, m.keys.PromptCancel):
		m.Close()
		return nil
	case key.Matches(k, m.keys.PromptToggleE2E):
		m.e2ee = m.e2eeAvailable && !m.e2ee
		return nil
	case key.Matches(k, m.keys.PromptSubmit):
		name := m.input.Value()
		if name == "" {
			name = m.suggestion
		}
		name = strings.TrimSpace(name)
		if why := Check(name); why != "" {
			return func() tea.Msg { return RefusedMsg{Reason: why} }
		}
		e2ee := m.e2ee
		m.Close()
		return func() tea.Msg { return SubmitMsg{Name: name, E2EE: e2ee} }
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return cmd
}

// Check says, in words, why the SFU would refuse a name ("" if not).
func Check(name string) string {
	switch {
	case name == "":
		return fmt.Sprintf("a track needs a name (1–%d bytes)", outgoing.MaxNameBytes)
	case len(name) > outgoing.MaxNameBytes:
		return fmt.Sprintf("that name is %d bytes; the limit is %d", len(name), outgoing.MaxNameBytes)
	}
	return ""
}

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
// whole box): the long labels give way before the name gets short. The
// switch's label keeps one width whether on or off, so it never moves.
func plan(w int, e2eeOn, available bool) layout {
	inner := w - 4 // border and padding
	e2eeLong, e2eeShort := "E2EE off", "E2EE off"
	switch {
	case e2eeOn:
		e2eeLong, e2eeShort = "E2EE on ", "E2EE on "
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

// SetSize implements common.Component; the input scrolls within the
// width it leaves the name.
func (m *Model) SetSize(w, h int) {
	m.Size.SetSize(w, h)
	m.input.Width = plan(w, false, m.e2eeAvailable).name
}

// View implements common.Component. The input takes the same cells
// whether it is empty (the suggestion shows), short or scrolling, so the
// switch after it stays put.
func (m *Model) View() string {
	th := m.ctx.Theme
	l := plan(m.Width, m.e2ee, m.e2eeAvailable)
	e2ee := l.e2ee
	switch {
	case m.e2ee:
		e2ee = th.OK.Render(e2ee)
	case !m.e2eeAvailable:
		e2ee = th.Dim.Render(e2ee)
	}
	field := len(InputPrompt) + l.name + 1 // prompt, name, cursor
	in := m.input.View()
	if w := ansi.StringWidth(in); w < field {
		in += strings.Repeat(" ", field-w)
	} else {
		in = ansi.Truncate(in, field, "")
	}
	line := in + gap + e2ee
	if l.title != "" {
		line = l.title + gap + line
	}
	// Cut anyway, never wrap.
	inner := max(m.Width-4, 1)
	return th.Box.Width(max(m.Width-2, 0)).Render(ansi.Truncate(line, inner, "…"))
}
