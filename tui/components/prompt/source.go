package prompt

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/source"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/keys"
)

// SourceSubmitMsg is a file (or a directory, one frame per file) the user
// asked to push into a track; the prompt has closed.
type SourceSubmitMsg struct {
	Handle  uint16 // the track it was opened on
	Path    string
	Framing source.Framing
	// Paced: frames go at the track's rate; else as fast as the track
	// takes them (waiting for queue room: never dropped).
	Paced bool
}

// Source is the prompt that pushes a file's frames into the selected
// track: a path, the framing (tab cycles it) and the pace (shift+tab).
type Source struct {
	common.Size
	field
	ctx     common.Context
	keys    keys.KeyMap
	handle  uint16
	track   string
	framing source.Framing
	paced   bool
	// last is the path pushed last: the placeholder enter accepts, never
	// text the user would type after.
	last string
	// Rate and Chunk are the track's rate and frame size, for the labels
	// (paced frames go at Rate; chunks are Chunk bytes).
	Rate  float64
	Chunk int
}

// NewSource returns a closed source prompt.
func NewSource(ctx common.Context, k keys.KeyMap) *Source {
	in := textinput.New()
	in.Prompt = SourcePrompt
	in.Placeholder = sourceHint
	in.PlaceholderStyle = ctx.Theme.Dim
	in.CharLimit = 4096
	in.Cursor.SetMode(cursor.CursorStatic)
	return &Source{ctx: ctx, keys: k, field: field{input: in}}
}

// SourcePrompt is the source prompt's input prompt.
const SourcePrompt = "file: "

// sourceHint is the placeholder before any path was pushed.
const sourceHint = "path of a file, or of a directory"

// Open shows the prompt for the track with this handle and name (shown
// in the title), empty: the last path pushed is its placeholder, which
// enter on the empty field takes (as the publish prompt's suggestion);
// the framing and pace are kept from the last time.
func (m *Source) Open(handle uint16, track string, rate float64, chunk int) tea.Cmd {
	m.open, m.handle, m.track, m.Rate, m.Chunk = true, handle, track, rate, chunk
	m.input.Placeholder = sourceHint
	if m.last != "" {
		m.input.Placeholder = m.last
	}
	m.input.SetValue("")
	return m.input.Focus()
}

// ShortHelp implements help.KeyMap.
func (m *Source) ShortHelp() []key.Binding { return m.keys.SourceHelp() }

// FullHelp implements help.KeyMap.
func (m *Source) FullHelp() [][]key.Binding { return [][]key.Binding{m.keys.SourceHelp()} }

var _ common.Stateful = (*Source)(nil)

// framings is what tab cycles through; a directory is always one frame
// per file.
var framings = []source.Framing{source.Lines, source.LengthPrefixed, source.Chunks}

// Update implements common.Stateful: esc closes, tab changes the framing,
// shift+tab the pace, enter submits, other keys type.
func (m *Source) Update(msg tea.Msg) tea.Cmd {
	k, ok := m.keyFor(msg, m.keys.PromptCancel)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, m.keys.SourceFraming):
		for i, f := range framings {
			if f == m.framing {
				m.framing = framings[(i+1)%len(framings)]
				break
			}
		}
		return nil
	case key.Matches(k, m.keys.SourcePace):
		m.paced = !m.paced
		return nil
	case key.Matches(k, m.keys.SourceSubmit):
		path := strings.TrimSpace(m.input.Value())
		if path == "" {
			path = m.last
		}
		if path == "" {
			return func() tea.Msg {
				return RefusedMsg{Reason: "type the path of a file (or of a directory: one frame per file)"}
			}
		}
		m.Close()
		m.last = path
		sub := SourceSubmitMsg{Handle: m.handle, Path: path, Framing: m.framing, Paced: m.paced}
		return func() tea.Msg { return sub }
	}
	cmd, _ := m.typeKey(k)
	return cmd
}

// label says how the file is cut and paced, in one width whatever it
// says, so it never moves.
func (m *Source) label(long bool) string {
	f := m.framing.String()
	if m.framing == source.Chunks {
		f = "chunks of " + format.Bytes(float64(m.Chunk))
	}
	pace := "fast"
	if m.paced {
		pace = format.Count(m.Rate) + "/s"
	}
	if long {
		pace = "as fast as taken"
		if m.paced {
			pace = "at " + format.Count(m.Rate) + "/s"
		}
		return fmt.Sprintf("%-16s · %-16s", f, pace)
	}
	return fmt.Sprintf("%-16s %-6s", f, pace)
}

func (m *Source) plan() layout {
	title := fmt.Sprintf("Push a file into %q", m.track)
	return fieldPlan(m.Width, SourcePrompt, [2]string{title, "Push"}, [2]string{m.label(true), m.label(false)})
}

// SetSize implements common.Component.
func (m *Source) SetSize(w, h int) {
	m.Size.SetSize(w, h)
	m.input.Width = m.plan().name
}

// View implements common.Component.
func (m *Source) View() string {
	l := m.plan()
	return fieldView(m.ctx.Theme, m.Width, m.input, l, m.ctx.Theme.Info.Render(l.label))
}
