// Package roompicker is the room picker shown before connecting when no
// room was given and the credentials can list rooms: the server's rooms
// with their participant counts, the selected room's participants and
// their data tracks, `/` to filter, enter to join, `n` to type a new
// room's name. It is a stateful component: the root model owns it,
// forwards it the keys, and connects to the room a ChosenMsg names.
package roompicker

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/textsafe"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/keys"
)

// ChosenMsg is the room to join; Room "" is a new room with a generated
// name. The picker has closed.
type ChosenMsg struct{ Room string }

// maxNameBytes bounds a typed room name (the server takes longer ones,
// nobody types them).
const maxNameBytes = 256

// headLines are the title and the column header above the rooms.
const headLines = 2

// Model is the room picker.
type Model struct {
	common.Size
	ctx    common.Context
	keys   keys.KeyMap
	rooms  []session.RoomListing
	cursor int // index into the rooms the filter lets through
	top    int // first room line shown
	filter textinput.Model
	// filtering: the filter input has the keys.
	filtering bool
	name      textinput.Model
	naming    bool
}

// New returns a picker over rooms (the server's, busiest first).
func New(ctx common.Context, k keys.KeyMap, rooms []session.RoomListing) *Model {
	f := textinput.New()
	f.Prompt, f.CharLimit = "/", 256
	f.Cursor.SetMode(cursor.CursorStatic)
	n := textinput.New()
	n.Prompt, n.CharLimit, n.Placeholder = "new room: ", maxNameBytes, "a generated name"
	n.Cursor.SetMode(cursor.CursorStatic)
	return &Model{ctx: ctx, keys: k, rooms: rooms, filter: f, name: n}
}

// SetRooms replaces the rooms with a fresher listing; the cursor stays
// on the room it was on, if it is still there.
func (m *Model) SetRooms(rooms []session.RoomListing) {
	sel, had := m.Selected()
	m.rooms = rooms
	m.cursor = 0
	if had {
		for i, r := range m.visible() {
			if r.Name == sel.Name {
				m.cursor = i
			}
		}
	}
}

// Typing says a text input has the keys: runes are text, q included.
func (m *Model) Typing() bool { return m.filtering || m.naming }

// visible are the rooms the filter lets through: by room name, a
// participant's identity or a data track's name, ignoring case.
func (m *Model) visible() []session.RoomListing {
	q := strings.ToLower(m.filter.Value())
	if q == "" {
		return m.rooms
	}
	var out []session.RoomListing
	for _, r := range m.rooms {
		if matches(r, q) {
			out = append(out, r)
		}
	}
	return out
}

func matches(r session.RoomListing, q string) bool {
	if strings.Contains(strings.ToLower(r.Name), q) {
		return true
	}
	for _, p := range r.Participants {
		if strings.Contains(strings.ToLower(p.Identity), q) {
			return true
		}
		for _, t := range p.DataTracks {
			if strings.Contains(strings.ToLower(t), q) {
				return true
			}
		}
	}
	return false
}

// Selected is the room under the cursor (false: none, the filter lets
// none through).
func (m *Model) Selected() (session.RoomListing, bool) {
	v := m.visible()
	if len(v) == 0 {
		return session.RoomListing{}, false
	}
	return v[min(m.cursor, len(v)-1)], true
}

// Move moves the cursor by n rooms, within the list.
func (m *Model) Move(n int) {
	m.cursor = max(min(m.cursor+n, len(m.visible())-1), 0)
}

// Click selects the room on line y of the view (0 is its first line),
// and says whether there was one.
func (m *Model) Click(y int) bool {
	i := m.top + y - headLines
	if y < headLines || i < 0 || i >= len(m.visible()) || y-headLines >= m.listLines() {
		return false
	}
	m.cursor = i
	return true
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	if m.filtering {
		return m.keys.FilterHelp()
	}
	return m.keys.PickerHelp(m.naming)
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

var _ common.Stateful = (*Model)(nil)

// Update implements common.Stateful. A chosen room comes back as a
// ChosenMsg.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case m.naming:
		return m.updateName(k)
	case m.filtering:
		return m.updateFilter(k)
	}
	switch {
	case key.Matches(k, m.keys.Up):
		m.Move(-1)
	case key.Matches(k, m.keys.Down):
		m.Move(1)
	case key.Matches(k, m.keys.Filter):
		m.filtering = true
		m.filter.CursorEnd()
		return m.filter.Focus()
	case key.Matches(k, m.keys.FilterClear) && m.filter.Value() != "":
		m.filter.SetValue("")
		m.cursor = 0
	case key.Matches(k, m.keys.PickNew):
		m.naming = true
		return m.name.Focus()
	case key.Matches(k, m.keys.PickJoin):
		if r, ok := m.Selected(); ok {
			return choose(r.Name)
		}
	}
	return nil
}

func (m *Model) updateFilter(k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.FilterKeep):
		m.filtering = false
		m.filter.Blur()
		return nil
	case key.Matches(k, m.keys.FilterClear):
		m.filtering = false
		m.filter.Blur()
		m.filter.SetValue("")
		m.cursor = 0
		return nil
	}
	var cmd tea.Cmd
	m.filter, cmd = m.filter.Update(k)
	if v, ok := textsafe.Typed(m.filter.Value()); !ok {
		m.filter.SetValue(v)
	}
	m.cursor, m.top = 0, 0
	return cmd
}

func (m *Model) updateName(k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.PromptCancel):
		m.naming = false
		m.name.Blur()
		m.name.SetValue("")
		return nil
	case key.Matches(k, m.keys.PickCreate):
		return choose(m.name.Value())
	}
	var cmd tea.Cmd
	m.name, cmd = m.name.Update(k)
	// What the server could not show back safely is not typed (a pasted
	// bidi override): what is joined is what the header will show.
	if v, ok := textsafe.Typed(m.name.Value()); !ok {
		m.name.SetValue(v)
	}
	return cmd
}

func choose(room string) tea.Cmd { return func() tea.Msg { return ChosenMsg{Room: room} } }

// detailLines is how many lines the selected room's participants take:
// a title and a line each, at most half the view.
func (m *Model) detailLines() int {
	r, ok := m.Selected()
	if !ok || m.Height < headLines+4 {
		return 0
	}
	n := 1 + max(len(r.Participants), 1)
	return min(n, (m.Height-headLines)/2)
}

// bottomLines are the name input or the refusal under the list.
func (m *Model) bottomLines() int {
	if m.naming || m.filtering || m.filter.Value() != "" {
		return 1
	}
	return 0
}

// listLines is the room lines' share of the height.
func (m *Model) listLines() int {
	return max(m.Height-headLines-m.detailLines()-m.bottomLines(), 1)
}

// SetSize implements common.Component; the list scrolls to keep the
// selected room in view (a click then picks the room it is on).
func (m *Model) SetSize(w, h int) {
	m.Size.SetSize(w, h)
	m.top = m.scrollTop()
}

// scrollTop is the first room line shown: the last one, moved as little
// as keeps the selected room in view and the list full.
func (m *Model) scrollTop() int {
	list := m.listLines()
	top := min(max(m.top, m.cursor-list+1), m.cursor)
	return max(min(top, len(m.visible())-list), 0)
}

// View implements common.Component: a title, the rooms (the selected one
// marked), the selected room's participants with their data tracks, and
// the filter or the name input. Every name is the server's text, shown
// sanitized.
func (m *Model) View() string {
	th := m.ctx.Theme
	w := max(m.Width, 0)
	v := m.visible()
	lines := []string{th.Title.Render(fmt.Sprintf(" Rooms on the server: %d", len(m.rooms))) + th.Dim.Render(" — pick one to join, or n for a new one")}
	nameW := 4
	for _, r := range v {
		nameW = max(nameW, ansi.StringWidth(format.Outside(r.Name)))
	}
	nameW = min(nameW, max(w/2, 8))
	lines = append(lines, th.Dim.Render(fmt.Sprintf("   %-*s  %12s  %11s", nameW, "ROOM", "PARTICIPANTS", "DATA TRACKS")))

	list := m.listLines()
	top := m.scrollTop()
	for i := top; i < len(v) && i < top+list; i++ {
		r := v[i]
		tracks := fmt.Sprint(r.DataTracks())
		if !r.Listed {
			tracks = "?"
		}
		name := ansi.Truncate(format.Outside(r.Name), nameW, "…")
		line := fmt.Sprintf("%s%s  %12d  %11s", name, strings.Repeat(" ", nameW-ansi.StringWidth(name)), r.NumParticipants, tracks)
		if i == m.cursor {
			line = th.Selected.Render(" ▸ " + line)
		} else {
			line = "   " + line
		}
		lines = append(lines, line)
	}
	if len(v) == 0 {
		lines = append(lines, th.Dim.Render("   no room matches /"+format.Outside(m.filter.Value())))
	}
	for len(lines) < headLines+list {
		lines = append(lines, "")
	}
	if d := m.detailLines(); d > 0 {
		lines = append(lines, m.detail(d)...)
	}
	switch {
	case m.naming:
		lines = append(lines, " "+m.name.View())
	case m.filtering:
		lines = append(lines, " "+m.filter.View()+"  "+th.Dim.Render(fmt.Sprintf("%d of %d rooms", len(v), len(m.rooms))))
	case m.filter.Value() != "":
		lines = append(lines, " "+th.Info.Render("filter /"+format.Outside(m.filter.Value()))+"  "+th.Dim.Render(fmt.Sprintf("%d of %d rooms · esc clears", len(v), len(m.rooms))))
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "…")
	}
	return strings.Join(lines, "\n")
}

// detail is the selected room's participants, each with its data tracks,
// in n lines.
func (m *Model) detail(n int) []string {
	th := m.ctx.Theme
	r, _ := m.Selected()
	out := []string{th.Dim.Render(" in ") + format.Outside(r.Name) + th.Dim.Render(":")}
	switch {
	case !r.Listed:
		out = append(out, th.Dim.Render(fmt.Sprintf("   %d participants (not listed)", r.NumParticipants)))
	case len(r.Participants) == 0:
		out = append(out, th.Dim.Render("   nobody"))
	}
	idW := 0
	for _, p := range r.Participants {
		idW = max(idW, ansi.StringWidth(format.Outside(p.Identity)))
	}
	idW = min(idW, 24)
	for i, p := range r.Participants {
		if len(out) == n-1 && i < len(r.Participants)-1 {
			out = append(out, th.Dim.Render(fmt.Sprintf("   … and %d more", len(r.Participants)-i)))
			break
		}
		id := ansi.Truncate(format.Outside(p.Identity), idW, "…")
		tracks := th.Dim.Render("no data tracks")
		if len(p.DataTracks) > 0 {
			names := make([]string, len(p.DataTracks))
			for j, t := range p.DataTracks {
				names[j] = format.Outside(t)
			}
			tracks = strings.Join(names, ", ")
		}
		out = append(out, "   "+id+strings.Repeat(" ", idW-ansi.StringWidth(id))+"  "+tracks)
	}
	return out[:min(len(out), n)]
}
