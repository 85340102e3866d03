package prompt

import (
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/impair"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/keys"
)

// ImpairSubmitMsg is the impairment the user asked for; the prompt has
// closed.
type ImpairSubmitMsg struct{ Spec impair.Spec }

// Impair is the prompt that changes the impairment of our own path
// (--impair's syntax): enter applies what was typed, or the current spec
// again when nothing was; "off" clears it.
type Impair struct {
	common.Size
	field
	ctx  common.Context
	keys keys.KeyMap
}

// ImpairPrompt is the impairment prompt's input prompt.
const ImpairPrompt = "impair: "

// NewImpair returns a closed impairment prompt.
func NewImpair(ctx common.Context, k keys.KeyMap) *Impair {
	in := textinput.New()
	in.Prompt = ImpairPrompt
	in.PlaceholderStyle = ctx.Theme.Dim
	in.CharLimit = 256
	in.Cursor.SetMode(cursor.CursorStatic)
	return &Impair{ctx: ctx, keys: k, field: field{input: in}}
}

// Open shows the prompt with the spec in force as its placeholder.
func (m *Impair) Open(current impair.Spec) tea.Cmd {
	m.open = true
	m.input.Placeholder = "delay=50ms,loss=1%,rate=5Mbit … or off"
	if !current.IsZero() {
		m.input.Placeholder = current.String()
	}
	m.input.SetValue("")
	return m.input.Focus()
}

// ShortHelp implements help.KeyMap.
func (m *Impair) ShortHelp() []key.Binding { return m.keys.ImpairHelp() }

// FullHelp implements help.KeyMap.
func (m *Impair) FullHelp() [][]key.Binding { return [][]key.Binding{m.keys.ImpairHelp()} }

var _ common.Stateful = (*Impair)(nil)

// Update implements common.Stateful: esc closes, enter applies (a spec
// that does not parse keeps the prompt open and says where), other keys
// type.
func (m *Impair) Update(msg tea.Msg) tea.Cmd {
	k, ok := m.keyFor(msg, m.keys.PromptCancel)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, m.keys.ImpairSubmit):
		text := strings.TrimSpace(m.input.Value())
		if text == "" {
			text = m.input.Placeholder
		}
		sp, err := impair.Parse(text)
		if err != nil {
			return func() tea.Msg { return RefusedMsg{Reason: err.Error()} }
		}
		m.Close()
		return func() tea.Msg { return ImpairSubmitMsg{Spec: sp} }
	}
	cmd, _ := m.typeKey(k)
	return cmd
}

func (m *Impair) plan() layout {
	return fieldPlan(m.Width, ImpairPrompt, [2]string{"Impair our path", "Impair"}, [2]string{"enter applies · off clears", "off clears"})
}

// SetSize implements common.Component.
func (m *Impair) SetSize(w, h int) {
	m.Size.SetSize(w, h)
	m.input.Width = m.plan().name
}

// View implements common.Component.
func (m *Impair) View() string {
	l := m.plan()
	return fieldView(m.ctx.Theme, m.Width, m.input, l, m.ctx.Theme.Info.Render(l.label))
}
