// Package prompt is the publish prompt: a name input with a suggested
// name as its placeholder, and the E2EE switch. It is a stateful
// component: the root model opens it and forwards it the keys while it is
// open; a submitted name comes back as a SubmitMsg.
package prompt

import (
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/textsafe"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/keys"
	"github.com/dttui/dttui/tui/theme"
)

// SubmitMsg is a name the user asked to publish; the prompt has closed.
type SubmitMsg struct {
	Name string
	E2EE bool
	// Type is the frame encoding chosen (zero: untyped). The generator
	// writes documents of it (probe.FormatFor).
	Type schema.Decl
}

// Encodings are what the prompt offers, in the order the switch cycles:
// the ones the generator can write, needing no schema.
var Encodings = []schema.FrameEncoding{{}, {WellKnown: schema.FrameJSON}, {WellKnown: schema.FrameCBOR}, {WellKnown: schema.FrameMsgpack}}

// encodingName is an encoding as the prompt shows it, all one width.
func encodingName(e schema.FrameEncoding) string {
	if e.IsZero() {
		return "untyped"
	}
	return fmt.Sprintf("%-7s", e.String())
}

// RefusedMsg says why a name cannot be published; the prompt stays open
// for the user to fix it.
type RefusedMsg struct{ Reason string }

// Model is the prompt.
type Model struct {
	common.Size
	field
	ctx           common.Context
	keys          keys.KeyMap
	e2ee          bool
	e2eeAvailable bool
	suggestion    string
	enc           int // index in Encodings
}

// field is what both prompts are made of: a text input, open or not.
type field struct {
	input textinput.Model
	open  bool
}

// Close hides the prompt.
func (f *field) Close() {
	f.open = false
	f.input.Blur()
}

// IsOpen says whether the prompt is shown and has the keys.
func (f *field) IsOpen() bool { return f.open }

// keyFor is msg as a key the open prompt acts on. Every prompt closes on
// cancel (esc), which is consumed here: ok is false then, as for anything
// that is not a key or reaches a closed prompt.
func (f *field) keyFor(msg tea.Msg, cancel key.Binding) (k tea.KeyMsg, ok bool) {
	k, ok = msg.(tea.KeyMsg)
	if !ok || !f.open {
		return k, false
	}
	if key.Matches(k, cancel) {
		f.Close()
		return k, false
	}
	return k, true
}

// Value is what the input holds.
func (f *field) Value() string { return f.input.Value() }

// SetValue replaces the input's text, the cursor at its end (tests, and a
// value given from elsewhere).
func (f *field) SetValue(s string) {
	f.input.SetValue(s)
	f.input.CursorEnd()
}

// typeKey gives k to the input. What textsafe.Line would escape (a
// pasted bidi override, say) never stays in it, so never reaches the
// screen: dropped says some was.
func (f *field) typeKey(k tea.KeyMsg) (cmd tea.Cmd, dropped bool) {
	f.input, cmd = f.input.Update(k)
	v, ok := textsafe.Typed(f.input.Value())
	if !ok {
		f.input.SetValue(v)
	}
	return cmd, !ok
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
	return &Model{ctx: ctx, keys: k, field: field{input: in}, e2eeAvailable: e2eeAvailable}
}

// Open shows the prompt, empty, with suggestion as the placeholder that
// enter accepts, and E2EE off.
func (m *Model) Open(suggestion string) tea.Cmd {
	m.open, m.e2ee, m.suggestion, m.enc = true, false, suggestion, 0
	m.input.Placeholder = suggestion
	m.input.SetValue("")
	return m.input.Focus()
}

// E2EE says whether the switch is on.
func (m *Model) E2EE() bool { return m.e2ee }

// Encoding is the frame encoding chosen.
func (m *Model) Encoding() schema.FrameEncoding { return Encodings[m.enc] }

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding { return m.keys.PromptHelp() }

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.keys.PromptHelp()} }

var _ common.Stateful = (*Model)(nil)

// Update implements common.Stateful: esc closes, tab switches E2EE, enter
// submits (the suggestion when the input is empty), other keys type.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := m.keyFor(msg, m.keys.PromptCancel)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, m.keys.PromptToggleE2E):
		m.e2ee = m.e2eeAvailable && !m.e2ee
		return nil
	case key.Matches(k, m.keys.PromptEncoding):
		m.enc = (m.enc + 1) % len(Encodings)
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
		e2ee, typ := m.e2ee, schema.Decl{Frame: Encodings[m.enc]}
		m.Close()
		return func() tea.Msg { return SubmitMsg{Name: name, E2EE: e2ee, Type: typ} }
	}
	cmd, dropped := m.typeKey(k)
	if dropped {
		// Never on screen, and never in a name: say so at once.
		return tea.Batch(cmd, func() tea.Msg {
			return RefusedMsg{Reason: "a track name cannot hold control, escape or bidi characters (the same rule as --track): dropped"}
		})
	}
	return cmd
}

// Check says, in words, why a name cannot be published ("" if it can):
// the rule --track applies (textsafe.CheckName), with the SFU's length
// limit.
func Check(name string) string {
	err := textsafe.CheckName(name, outgoing.MaxNameBytes)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, textsafe.ErrEmptyName):
		return fmt.Sprintf("a track needs a name (1–%d bytes)", outgoing.MaxNameBytes)
	case errors.Is(err, textsafe.ErrNameTooLong):
		return fmt.Sprintf("that name is %d bytes; the limit is %d", len(name), outgoing.MaxNameBytes)
	}
	return "that name cannot be published: " + err.Error()
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
	title, label string
	name         int // visible characters of the input
}

// fieldPlan fits a title, an input after its prompt and a label into
// width w (the whole box): the long labels give way before the input
// gets short. Each label keeps one width whatever it says, so the label
// never moves.
func fieldPlan(w int, prompt string, titles, labels [2]string) layout {
	inner := w - 4 // border and padding
	cursor := 1
	var l layout
	for _, l = range []layout{{title: titles[0], label: labels[0]}, {title: titles[0], label: labels[1]}, {title: titles[1], label: labels[1]}, {label: labels[1]}} {
		used := ansi.StringWidth(prompt) + cursor + len(gap) + ansi.StringWidth(l.label)
		if l.title != "" {
			used += ansi.StringWidth(l.title) + len(gap)
		}
		if l.name = inner - used; l.name >= minName {
			return l
		}
	}
	l.name = max(l.name, 1) // narrow: no title, the input gets what is left
	return l
}

// fieldView draws the box: the title, the input padded to its cells, the
// label (styled by the caller) after it.
func fieldView(th theme.Theme, w int, in textinput.Model, l layout, label string) string {
	field := ansi.StringWidth(in.Prompt) + l.name + 1 // prompt, text, cursor
	v := in.View()
	if vw := ansi.StringWidth(v); vw < field {
		v += strings.Repeat(" ", field-vw)
	} else {
		v = ansi.Truncate(v, field, "")
	}
	line := v + gap + label
	if l.title != "" {
		line = l.title + gap + line
	}
	// Cut anyway, never wrap.
	inner := max(w-4, 1)
	return th.Box.Width(max(w-2, 0)).Render(ansi.Truncate(line, inner, "…"))
}

// plan fits the publish prompt: the switches' label keeps one width
// whether on or off, whatever the encoding.
func plan(w int, e2eeOn, available bool, enc string) layout {
	e2eeLong, e2eeShort := "E2EE off", "E2EE off"
	switch {
	case e2eeOn:
		e2eeLong, e2eeShort = "E2EE on ", "E2EE on "
	case !available:
		e2eeLong = "E2EE off (no --e2ee-passphrase)"
	}
	return fieldPlan(w, InputPrompt, [2]string{longTitle, short}, [2]string{e2eeLong + " · " + enc, e2eeShort + " · " + enc})
}

// SetSize implements common.Component; the input scrolls within the
// width it leaves the name.
func (m *Model) SetSize(w, h int) {
	m.Size.SetSize(w, h)
	m.input.Width = plan(w, false, m.e2eeAvailable, encodingName(Encodings[0])).name
}

// View implements common.Component. The input takes the same cells
// whether it is empty (the suggestion shows), short or scrolling, so the
// switch after it stays put.
func (m *Model) View() string {
	th := m.ctx.Theme
	enc := encodingName(Encodings[m.enc])
	l := plan(m.Width, m.e2ee, m.e2eeAvailable, enc)
	// The label is the E2EE switch, then the encoding: style each part.
	sw, _ := strings.CutSuffix(l.label, " · "+enc)
	switch {
	case m.e2ee:
		sw = th.OK.Render(sw)
	case !m.e2eeAvailable:
		sw = th.Dim.Render(sw)
	}
	return fieldView(th, m.Width, m.input, l, sw+" · "+enc)
}
