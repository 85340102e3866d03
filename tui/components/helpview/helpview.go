// Package helpview draws the key help: the one-line footer, which always
// keeps its essential hints (help and quit), and the full help overlay,
// a stateful component that reflows its groups into as many columns as
// the width holds and scrolls when the height does not hold them.
package helpview

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/keys"
)

// Footer is the key line at the bottom of the screen.
type Footer struct {
	common.Size
	ctx common.Context
	// Keys are shown first to last while they fit; Essentials always
	// stay, at the end, however narrow the terminal.
	Keys, Essentials []key.Binding
}

// NewFooter returns a footer.
func NewFooter(ctx common.Context) *Footer { return &Footer{ctx: ctx} }

const sep = " • "

// View implements common.Component.
func (f *Footer) View() string {
	th := f.ctx.Theme
	item := func(b key.Binding) string {
		h := b.Help()
		return th.Bold.Render(h.Key) + " " + th.Dim.Render(h.Desc)
	}
	join := func(bs []key.Binding) string {
		var parts []string
		for _, b := range bs {
			if b.Enabled() && b.Help().Key != "" {
				parts = append(parts, item(b))
			}
		}
		return strings.Join(parts, th.Dim.Render(sep))
	}
	room := max(f.Width-2, 0) // the footer's padding
	tail := join(f.Essentials)
	var head []string
	for _, b := range f.Keys {
		if !b.Enabled() || b.Help().Key == "" {
			continue
		}
		next := append(head, item(b))
		line := strings.Join(next, th.Dim.Render(sep))
		if tail != "" {
			line += th.Dim.Render(sep) + tail
		}
		if ansi.StringWidth(line) > room {
			break
		}
		head = next
	}
	line := strings.Join(head, th.Dim.Render(sep))
	switch {
	case line == "":
		line = tail
	case tail != "":
		line += th.Dim.Render(sep) + tail
	}
	return th.Footer.Render(ansi.Truncate(line, room, "…"))
}

// Model is the full help overlay.
type Model struct {
	common.Size
	ctx    common.Context
	keys   keys.KeyMap
	open   bool
	offset int // first line shown

	// Figures shown under the keys.
	Burst       int
	DefaultRate float64
	DefaultSize int
	// The sparkline's window (seconds in the table and the detail pane)
	// and the span that makes a track "dropping".
	SparkTable, SparkDetail int
	DropWindow              string
}

// New returns a closed help overlay.
func New(ctx common.Context, k keys.KeyMap) *Model { return &Model{ctx: ctx, keys: k} }

// Open shows the help from its top; Close hides it.
func (m *Model) Open()        { m.open, m.offset = true, 0 }
func (m *Model) Close()       { m.open = false }
func (m *Model) IsOpen() bool { return m.open }

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding { return m.keys.OverlayHelp() }

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return m.keys.FullHelp() }

var _ common.Stateful = (*Model)(nil)

// Update implements common.Stateful: the arrows and page keys scroll when
// there is more than fits; any other key closes the help (and does
// nothing else).
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok || !m.open {
		return nil
	}
	page := max(m.Height-3, 1)
	maxOff := max(len(m.lines())-(m.Height-2), 0)
	if maxOff > 0 {
		switch {
		case key.Matches(k, m.keys.HelpUp):
			m.offset = max(m.offset-1, 0)
			return nil
		case key.Matches(k, m.keys.HelpDown):
			m.offset = min(m.offset+1, maxOff)
			return nil
		case key.Matches(k, m.keys.HelpPageUp):
			m.offset = max(m.offset-page, 0)
			return nil
		case key.Matches(k, m.keys.HelpPageDown):
			m.offset = min(m.offset+page, maxOff)
			return nil
		}
	}
	m.Close()
	return nil
}

// block is a group of the full help, laid out.
type block struct {
	title       string
	rows        [][2]string // key, description
	keyW, descW int
}

// gutter separates the columns.
const gutter = 2

// columns splits the blocks, in order, into the columns that fit inner
// cells with the fewest lines: as many columns as fit, each group whole.
func columns(blocks []block, inner int) [][]block {
	width := func(col []block) int {
		kw, w := 0, 0
		for _, b := range col {
			kw = max(kw, b.keyW)
		}
		for _, b := range col {
			w = max(w, ansi.StringWidth(b.title), kw+1+b.descW)
		}
		return w
	}
	height := func(col []block) int {
		h := len(col) - 1 // a blank line between groups
		for _, b := range col {
			h += 1 + len(b.rows)
		}
		return h
	}
	best, bestH := [][]block{blocks}, height(blocks)
	// Every split of the blocks into contiguous columns: a bit per gap.
	for mask := 1; mask < 1<<(len(blocks)-1); mask++ {
		var cols [][]block
		start := 0
		for i := 1; i <= len(blocks); i++ {
			if i == len(blocks) || mask&(1<<(i-1)) != 0 {
				cols = append(cols, blocks[start:i])
				start = i
			}
		}
		w, h := gutter*(len(cols)-1), 0
		for _, c := range cols {
			w += width(c)
			h = max(h, height(c))
		}
		if w <= inner && (h < bestH || h == bestH && len(cols) < len(best)) {
			best, bestH = cols, h
		}
	}
	return best
}

// lines is the help's content at the current width: the groups in
// columns, then the notes.
func (m *Model) lines() []string {
	th := m.ctx.Theme
	inner := max(m.Width-4, 1)
	var blocks []block
	for _, g := range m.keys.Groups() {
		b := block{title: g.Title}
		for _, k := range g.Keys {
			h := k.Help()
			if h.Key == "" {
				continue
			}
			b.rows = append(b.rows, [2]string{h.Key, h.Desc})
			b.keyW, b.descW = max(b.keyW, ansi.StringWidth(h.Key)), max(b.descW, ansi.StringWidth(h.Desc))
		}
		blocks = append(blocks, b)
	}
	cols := columns(blocks, inner)
	var rendered [][]string
	var widths []int
	for _, col := range cols {
		kw, w := 0, 0
		for _, b := range col {
			kw = max(kw, b.keyW)
		}
		for _, b := range col {
			w = max(w, ansi.StringWidth(b.title), kw+1+b.descW)
		}
		w = min(w, inner)
		var out []string
		for i, b := range col {
			if i > 0 {
				out = append(out, "")
			}
			out = append(out, th.Bold.Render(ansi.Truncate(b.title, w, "…")))
			for _, r := range b.rows {
				out = append(out, th.Bold.Render(format.Fit(r[0], kw, false))+" "+th.Dim.Render(ansi.Truncate(r[1], max(w-kw-1, 1), "…")))
			}
		}
		rendered, widths = append(rendered, out), append(widths, w)
	}
	height := 0
	for _, col := range rendered {
		height = max(height, len(col))
	}
	var out []string
	for y := range height {
		var line strings.Builder
		for x, col := range rendered {
			cell := ""
			if y < len(col) {
				cell = col[y]
			}
			if x < len(rendered)-1 {
				cell += strings.Repeat(" ", max(widths[x]-ansi.StringWidth(cell), 0)+gutter)
			}
			line.WriteString(cell)
		}
		out = append(out, strings.TrimRight(line.String(), " "))
	}
	notes := flowNotes(inner,
		fmt.Sprintf("%d frames: b waits for queue room, f pushes at once (the queue drops the rest)", m.Burst),
		fmt.Sprintf("generator %s/s × %s", format.Count(m.DefaultRate), format.Bytes(float64(m.DefaultSize))),
		"ctrl+c: quit from anywhere",
		fmt.Sprintf("SEND: frames sent in each second, last %d s (detail pane %d s; a room row: received)", m.SparkTable, m.SparkDetail),
		fmt.Sprintf("dropping, red DROPPED: frames dropped in the last %s", m.DropWindow),
		"logs: the table's keys work there; library INFO hidden until v",
		"charts: per second, on their own when the screen has room; marks r/R reconnecting/reconnected, p/P republishing/republished, U unpublished, S stalled, D disconnected",
	)
	out = append(out, "")
	for _, n := range notes {
		out = append(out, th.Dim.Render(n))
	}
	return out
}

// flowNotes is format.Flow, except that a note wider than the line wraps
// onto lines of its own instead of being cut: the help is there to be
// read to the end.
func flowNotes(w int, notes ...string) []string {
	var out, run []string
	flush := func() {
		out = append(out, format.Flow(w, " · ", run...)...)
		run = nil
	}
	for _, n := range notes {
		if ansi.StringWidth(n) <= w {
			run = append(run, n)
			continue
		}
		flush()
		out = append(out, strings.Split(ansi.Wrap(n, w, ""), "\n")...)
	}
	flush()
	return out
}

// View implements common.Component: the box fills the height given; when
// the content is taller, it scrolls and its border says so.
func (m *Model) View() string {
	lines := m.lines()
	h := max(m.Height-2, 1)
	maxOff := max(len(lines)-h, 0)
	off := min(m.offset, maxOff)
	end := min(off+h, len(lines))
	info := ""
	if maxOff > 0 {
		info = fmt.Sprintf("%d–%d of %d · ↑/↓ scroll", off+1, end, len(lines))
	}
	return common.TitledBox(m.ctx, m.Width, m.ctx.Theme.Title.Render("keys"), info, strings.Join(lines[off:end], "\n"), true)
}
