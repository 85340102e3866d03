// Package filter is the table's name filter, k9s-style: `/` opens a
// one-line input, the rows narrow as the user types, enter keeps the
// filter and gives the keys back to the table, esc clears it. It is a
// stateful component: the root model opens it, forwards it the keys while
// it is editing, and asks Match for each row.
package filter

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/dttui/dttui/textsafe"

	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/keys"
)

// ChangedMsg says the filter's text changed: the rows are to be narrowed
// again.
type ChangedMsg struct{}

// Model is the filter.
type Model struct {
	common.Size
	ctx     common.Context
	keys    keys.KeyMap
	input   textinput.Model
	editing bool

	// Shown, Of: how many rows match, of how many, for the bar (set
	// before SetSize, which sizes the input around them).
	Shown, Of int
}

// New returns an empty filter.
func New(ctx common.Context, k keys.KeyMap) *Model {
	in := textinput.New()
	in.Prompt = "/"
	in.CharLimit = 256
	in.Cursor.SetMode(cursor.CursorStatic)
	return &Model{ctx: ctx, keys: k, input: in}
}

// Edit opens the input on the current filter.
func (m *Model) Edit() tea.Cmd {
	m.editing = true
	m.input.CursorEnd()
	return m.input.Focus()
}

// Editing says the input has the keys.
func (m *Model) Editing() bool { return m.editing }

// Active says a filter narrows the rows (or is being typed).
func (m *Model) Active() bool { return m.editing || m.input.Value() != "" }

// Value is the filter's text.
func (m *Model) Value() string { return m.input.Value() }

// SetValue replaces the filter's text.
func (m *Model) SetValue(s string) {
	m.input.SetValue(s)
	m.input.CursorEnd()
}

// Clear removes the filter and closes the input.
func (m *Model) Clear() {
	m.input.SetValue("")
	m.editing = false
	m.input.Blur()
}

// Match says whether a row named name passes: every row without a
// filter, else those whose name holds the text, ignoring case.
func (m *Model) Match(name string) bool {
	q := m.input.Value()
	return q == "" || strings.Contains(strings.ToLower(name), strings.ToLower(q))
}

// ShortHelp implements help.KeyMap: the keys while editing.
func (m *Model) ShortHelp() []key.Binding { return m.keys.FilterHelp() }

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.keys.FilterHelp()} }

var _ common.Stateful = (*Model)(nil)

// Update implements common.Stateful: enter keeps the filter and closes
// the input, esc clears it, other keys edit it.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok || !m.editing {
		return nil
	}
	changed := func() tea.Msg { return ChangedMsg{} }
	switch {
	case key.Matches(k, m.keys.FilterKeep):
		m.editing = false
		m.input.Blur()
		return nil
	case key.Matches(k, m.keys.FilterClear):
		m.Clear()
		return changed
	}
	before := m.input.Value()
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	if v, ok := textsafe.Typed(m.input.Value()); !ok {
		m.input.SetValue(v) // a pasted bidi override is not typed text
	}
	if m.input.Value() != before {
		return tea.Batch(cmd, changed)
	}
	return cmd
}

// Lines is the bar's height.
const Lines = 1

// SetSize implements common.Component, after Shown and Of are set: while
// editing, the input is as wide as its text until the bar is full; then
// it scrolls.
func (m *Model) SetSize(w, h int) {
	m.Size.SetSize(w, h)
	if !m.editing {
		return
	}
	room := max(m.Width-ansi.StringWidth(m.counts())-6, 1)
	m.input.Width = 0
	if ansi.StringWidth(m.input.Value()) >= room {
		m.input.Width = room
	}
}

// counts says how many rows the filter lets through, of how many.
func (m *Model) counts() string { return fmt.Sprintf("%d of %d rows", m.Shown, m.Of) }

// View implements common.Component: the input while editing, else the
// filter in force, with how many rows it lets through.
func (m *Model) View() string {
	th := m.ctx.Theme
	count := th.Dim.Render(m.counts())
	var line string
	if m.editing {
		line = m.input.View() + "  " + count
	} else {
		line = th.Info.Render("filter /"+m.input.Value()) + "  " + count + th.Dim.Render("  · / edits · esc clears")
	}
	return ansi.Truncate(" "+line, max(m.Width, 0), "…")
}
