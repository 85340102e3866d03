// Package logpane is the log pane: the records of dttui, the LiveKit SDK,
// pion and the embedded SFU, scrollable, followed, wrapped, filtered by
// level and origin, and searchable, with the embedded SFU's join details
// pinned at its top. It is a stateful component: the root model owns it
// and forwards it the keys while it has the focus.
package logpane

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/dttui/dttui/textsafe"

	"github.com/dttui/dttui/logorigin"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/keys"
	"github.com/dttui/dttui/tui/logbuf"
)

// MinHeight is the smallest log pane: its border and one line.
const MinHeight = 3

// Origins are the origins the filter knows, in the order of keys 1-4.
var Origins = [4]logorigin.Origin{logorigin.DTTUI, logorigin.SDK, logorigin.Pion, logorigin.SFU}

// Level is the level filter.
type Level int

// The level filters, in the order v cycles through them.
const (
	// LevelDefault shows dttui's records from INFO and the libraries'
	// from WARN: pion and the SFU log every state change at INFO.
	LevelDefault Level = iota
	LevelAll           // every record the buffer keeps
	LevelWarn          // warnings and errors
	LevelError         // errors only
	numLevels
)

func (l Level) String() string {
	return [...]string{"dttui info+, libraries warn+", "all levels", "warn+", "errors only"}[l]
}

func (l Level) admits(r *logbuf.Record) bool {
	switch l {
	case LevelDefault:
		if r.Origin != logorigin.DTTUI {
			return r.Level >= slog.LevelWarn
		}
		return r.Level >= slog.LevelInfo
	case LevelWarn:
		return r.Level >= slog.LevelWarn
	case LevelError:
		return r.Level >= slog.LevelError
	}
	return true
}

// anchor is a position in the records: a record and a line of it (a
// record wraps onto several).
type anchor struct {
	seq  uint64
	line int
}

// Model is the log pane.
type Model struct {
	common.Size
	ctx  common.Context
	keys keys.KeyMap
	buf  *logbuf.Buffer

	// Pinned lines stay above the records: how another client joins the
	// embedded SFU, which the records would scroll away.
	Pinned []string

	focused bool
	follow  bool   // the newest record stays in view
	top     anchor // the first line shown when not following
	wrap    bool
	level   Level
	off     [len(Origins)]bool // origins switched off

	input     textinput.Model
	searching bool   // the search input has the keys
	query     string // what is searched for (highlighted), "" for nothing
	current   uint64 // the match n/N is on (a Seq), 0 for none

	// The records as of the last look at the buffer, reused frame after
	// frame; shown are the indexes the filter lets through.
	recs  []logbuf.Record
	total uint64
	// texts caches each record's laid-out text, for the width it was
	// laid out at (scrolling and searching ask for it often).
	texts  map[uint64]*text
	textsW int
}

// New returns a log pane over buf, following, wrapped, with the default
// level filter.
func New(ctx common.Context, k keys.KeyMap, buf *logbuf.Buffer) *Model {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "search"
	in.CharLimit = 200
	in.Cursor.SetMode(cursor.CursorStatic) // no blink: no redraws for it
	return &Model{ctx: ctx, keys: k, buf: buf, follow: true, wrap: true, input: in}
}

// Focus gives the pane the keys; Blur takes them back.
func (m *Model) Focus()          { m.focused = true }
func (m *Model) Blur()           { m.focused, m.searching = false, false; m.input.Blur() }
func (m *Model) Focused() bool   { return m.focused }
func (m *Model) Searching() bool { return m.searching }

// Following says whether the newest record stays in view.
func (m *Model) Following() bool { return m.follow }

// Handles says whether the pane takes the key (while it has the focus):
// the root model gives the others to the table.
func (m *Model) Handles(msg tea.KeyMsg) bool {
	if m.searching {
		return true
	}
	l := m.keys.Log
	if key.Matches(msg, l.Next, l.Prev) {
		return m.query != "" // without a search, N is the table's (burst ÷10)
	}
	return key.Matches(msg, l.Up, l.Down, l.PageUp, l.PageDown, l.HalfUp, l.HalfDown, l.Top, l.Bottom,
		l.Follow, l.Wrap, l.Level, l.OriginsHelp, l.Search, l.Back)
}

var _ common.Stateful = (*Model)(nil)

// ShortHelp implements help.KeyMap: the footer while the pane has the keys.
func (m *Model) ShortHelp() []key.Binding { return m.keys.LogHelp(m.searching) }

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.keys.LogHelp(false)} }

// Update implements common.Stateful.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	m.refresh()
	if m.searching {
		return m.updateSearch(k)
	}
	l := m.keys.Log
	page := max(m.bodyHeight()-1, 1)
	switch {
	case key.Matches(k, l.Up):
		m.scrollUp(1)
	case key.Matches(k, l.Down):
		m.scrollDown(1)
	case key.Matches(k, l.PageUp):
		m.scrollUp(page)
	case key.Matches(k, l.PageDown):
		m.scrollDown(page)
	case key.Matches(k, l.HalfUp):
		m.scrollUp(max(page/2, 1))
	case key.Matches(k, l.HalfDown):
		m.scrollDown(max(page/2, 1))
	case key.Matches(k, l.Top):
		m.follow = false
		m.top = anchor{}
		if s := m.shown(); len(s) > 0 {
			m.top = anchor{seq: m.recs[s[0]].Seq}
		}
	case key.Matches(k, l.Bottom):
		m.follow = true
	case key.Matches(k, l.Follow):
		if m.follow {
			m.top, m.follow = m.firstShown(), false
		} else {
			m.follow = true
		}
	case key.Matches(k, l.Wrap):
		m.wrap = !m.wrap
		m.top.line = 0
	case key.Matches(k, l.Level):
		m.level = (m.level + 1) % numLevels
	case key.Matches(k, l.OriginsHelp):
		for i, b := range l.Origins {
			if key.Matches(k, b) {
				m.off[i] = !m.off[i]
			}
		}
	case key.Matches(k, l.Search):
		m.searching = true
		m.input.SetValue(m.query)
		m.input.CursorEnd()
		return m.input.Focus()
	case key.Matches(k, l.Next):
		m.jump(1)
	case key.Matches(k, l.Prev):
		m.jump(-1)
	case key.Matches(k, l.Back):
		if m.query != "" {
			m.query, m.current = "", 0 // first esc clears the search
		} else {
			m.Blur()
		}
	}
	return nil
}

// updateSearch types into the search input: matches are highlighted and,
// as the query grows, the view goes to the newest match (when following)
// or the first from the top of the view.
func (m *Model) updateSearch(k tea.KeyMsg) tea.Cmd {
	l := m.keys.Log
	switch {
	case key.Matches(k, l.SearchDone):
		m.searching = false
		m.input.Blur()
		return nil
	case key.Matches(k, l.SearchNo):
		m.searching = false
		m.input.Blur()
		m.query, m.current = "", 0
		return nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	if v, ok := textsafe.Typed(m.input.Value()); !ok {
		m.input.SetValue(v) // a pasted bidi override is not typed text
	}
	if q := m.input.Value(); q != m.query {
		m.query, m.current = q, 0
		switch {
		case q == "":
		case m.follow:
			// Looking at the newest: the newest match first; N goes back.
			m.jumpFrom(m.total, -1, true)
		default:
			m.jumpFrom(m.firstShown().seq, 1, true)
		}
	}
	return cmd
}

// SearchValue is what the search input holds (tests and the footer).
func (m *Model) SearchValue() string { return m.input.Value() }

// refresh takes the buffer's records when new ones came.
func (m *Model) refresh() {
	if t := m.buf.Total(); t != m.total || m.recs == nil {
		m.recs = m.buf.Append(m.recs[:0])
		m.total = t
	}
}

// admits says whether the filters let a record through.
func (m *Model) admits(r *logbuf.Record) bool {
	for i, o := range Origins {
		if r.Origin == o && m.off[i] {
			return false
		}
	}
	return m.level.admits(r)
}

// shown are the indexes of the records the filters let through.
func (m *Model) shown() []int {
	out := make([]int, 0, len(m.recs))
	for i := range m.recs {
		if m.admits(&m.recs[i]) {
			out = append(out, i)
		}
	}
	return out
}

// SetSize implements common.Component; the search input scrolls within
// the text width.
func (m *Model) SetSize(w, h int) {
	m.Size.SetSize(w, h)
	m.input.Width = max(m.inner()-len(m.input.Prompt)-1, 1)
}

// inner is the text width inside the border and padding.
func (m *Model) inner() int { return max(m.Width-4, 1) }

// bodyHeight is how many lines the records get: the box less its border,
// the pinned lines and the search input.
func (m *Model) bodyHeight() int {
	h := max(m.Height-2, 1)
	if m.searching {
		h--
	}
	return max(h-len(m.pinnedLines(h)), 0)
}

// pinnedLines are the pinned lines wrapped to the width, at most a
// quarter of the pane (at least one line of records stays).
func (m *Model) pinnedLines(h int) []string {
	var out []string
	for _, p := range m.Pinned {
		p = format.Outside(p) // the room's name is the server's
		for _, r := range wrapRanges(p, m.inner(), m.inner()-2) {
			l := p[r[0]:r[1]]
			if r[0] > 0 {
				l = "  " + l
			}
			out = append(out, l)
		}
	}
	// A quarter of the pane at most: a small pane (50×15) keeps its
	// records readable under one truncated pinned line.
	limit := min(max(h/4, 1), h-1)
	if limit <= 0 {
		return nil
	}
	if len(out) > limit {
		out = out[:limit]
		out[limit-1] = ansi.Truncate(out[limit-1], m.inner()-1, "") + "…"
	}
	return out
}

// Want is the height the pane needs at width w to show every record the
// filters let through, with its border, pinned lines and search input, up
// to most (and at least MinHeight): a pane with nine lines does not take
// thirty from the table.
func (m *Model) Want(w, most int) int {
	m.refresh()
	m.Width = w
	h := 2 + len(m.pinnedLines(max(most-2, 1)))
	if m.searching {
		h++
	}
	shown := m.shown()
	if len(shown) == 0 {
		h++ // the line saying why there is none
	}
	for _, i := range shown {
		if h >= most {
			break
		}
		h += m.lineCount(&m.recs[i])
	}
	return max(MinHeight, min(h, most))
}

// lineCount is how many lines record r takes at the current width.
func (m *Model) lineCount(r *logbuf.Record) int {
	if !m.wrap {
		return 1
	}
	t := m.text(r)
	return len(wrapRanges(t.s, m.inner(), m.inner()-t.indent))
}

// index finds the position in shown of the first record at or after seq.
func (m *Model) index(shown []int, seq uint64) int {
	i, _ := slices.BinarySearchFunc(shown, seq, func(idx int, s uint64) int {
		switch r := m.recs[idx].Seq; {
		case r < s:
			return -1
		case r > s:
			return 1
		}
		return 0
	})
	return i
}

// firstShown is where the view starts now: the anchor, or, following,
// the line a page above the newest.
func (m *Model) firstShown() anchor {
	shown := m.shown()
	if len(shown) == 0 {
		return anchor{}
	}
	if !m.follow {
		i := m.index(shown, m.top.seq)
		if i >= len(shown) {
			i = len(shown) - 1
		}
		a := anchor{seq: m.recs[shown[i]].Seq}
		if m.recs[shown[i]].Seq == m.top.seq {
			a.line = min(m.top.line, m.lineCount(&m.recs[shown[i]])-1)
		}
		return a
	}
	// Walk back from the end a page of lines, whole records only: a
	// record that does not fit whole is left out rather than shown by
	// its tail (the newest, taller than the page, shows its head).
	need := max(m.bodyHeight(), 1)
	for i := len(shown) - 1; i >= 0; i-- {
		n := m.lineCount(&m.recs[shown[i]])
		switch {
		case n > need && i == len(shown)-1:
			return anchor{seq: m.recs[shown[i]].Seq}
		case n > need:
			return anchor{seq: m.recs[shown[i+1]].Seq}
		case n == need:
			return anchor{seq: m.recs[shown[i]].Seq}
		}
		need -= n
	}
	return anchor{seq: m.recs[shown[0]].Seq}
}

// Wheel scrolls n lines: toward older records for n < 0 (which stops
// following), newer for n > 0 (following again at the newest), as the
// mouse wheel does.
func (m *Model) Wheel(n int) {
	m.refresh()
	if n < 0 {
		m.scrollUp(-n)
	} else if n > 0 {
		m.scrollDown(n)
	}
}

// scrollUp moves the view n lines toward older records; it stops
// following.
func (m *Model) scrollUp(n int) {
	a := m.firstShown()
	m.follow = false
	shown := m.shown()
	i := m.index(shown, a.seq)
	for n > 0 && i < len(shown) {
		if a.line >= n {
			a.line -= n
			break
		}
		n -= a.line + 1
		if i == 0 {
			a.line = 0
			break
		}
		i--
		a = anchor{seq: m.recs[shown[i]].Seq, line: m.lineCount(&m.recs[shown[i]]) - 1}
	}
	m.top = a
}

// scrollDown moves the view n lines toward newer records; reaching the
// newest, it follows again.
func (m *Model) scrollDown(n int) {
	if m.follow {
		return
	}
	a := m.firstShown()
	shown := m.shown()
	i := m.index(shown, a.seq)
	for n > 0 && i < len(shown) {
		left := m.lineCount(&m.recs[shown[i]]) - a.line
		if n < left {
			a.line += n
			break
		}
		n -= left
		if i++; i < len(shown) {
			a = anchor{seq: m.recs[shown[i]].Seq}
		}
	}
	m.top = a
	if m.atEnd() {
		m.follow = true
	}
}

// atEnd says whether the newest line is in view from the anchor.
func (m *Model) atEnd() bool {
	shown := m.shown()
	i := m.index(shown, m.top.seq)
	if i >= len(shown) {
		return true
	}
	lines := -m.top.line
	for ; i < len(shown); i++ {
		if lines += m.lineCount(&m.recs[shown[i]]); lines > max(m.bodyHeight(), 1) {
			return false
		}
	}
	return true
}

// matches says whether record r holds the query (case-insensitively).
func (m *Model) matches(r *logbuf.Record) bool {
	return m.query != "" && strings.Contains(m.text(r).lower, strings.ToLower(m.query))
}

// jump moves to the next (dir 1) or previous (-1) match after the current
// one, or after the top of the view, wrapping around.
func (m *Model) jump(dir int) {
	if m.query == "" {
		return
	}
	from := m.current
	if from == 0 {
		from = m.firstShown().seq
		if dir > 0 {
			from-- // the record at the top counts
		}
	}
	m.jumpFrom(from, dir, false)
}

// jumpFrom shows the first match after seq (dir 1) or before it (dir
// -1), or at it when inclusive, wrapping around, at the top of the view
// (or in the last page, which then follows).
func (m *Model) jumpFrom(seq uint64, dir int, inclusive bool) {
	shown := m.shown()
	n := len(shown)
	if n == 0 {
		return
	}
	start := m.index(shown, seq) // the first at or after seq
	at := start < n && m.recs[shown[start]].Seq == seq
	switch {
	case dir > 0 && at && !inclusive:
		start++
	case dir < 0 && !(at && inclusive):
		start-- // the last before seq
	}
	for k := 0; k < n; k++ {
		i := ((start+dir*k)%n + n) % n
		r := &m.recs[shown[i]]
		if m.matches(r) {
			m.current = r.Seq
			m.follow = false
			m.top = anchor{seq: r.Seq}
			if m.atEnd() {
				m.follow = true
			}
			return
		}
	}
	m.current = 0
}

// countMatches counts the shown records holding the query, and the
// current match's rank among them (1-based, 0 if none).
func (m *Model) countMatches(shown []int) (n, rank int) {
	for _, i := range shown {
		r := &m.recs[i]
		if m.matches(r) {
			n++
			if r.Seq == m.current {
				rank = n
			}
		}
	}
	return n, rank
}

// View implements common.Component.
func (m *Model) View() string {
	m.refresh()
	th := m.ctx.Theme
	w, ih := m.inner(), max(m.Height-2, 1)
	if m.searching {
		ih = max(ih-1, 0)
	}
	pinned := m.pinnedLines(ih)
	bh := m.bodyHeight()
	shown := m.shown()

	var lines []string
	for _, p := range pinned {
		lines = append(lines, th.Info.Render(p))
	}
	body := m.body(shown, bh)
	if len(body) == 0 && bh > 0 {
		switch {
		case len(m.recs) == 0:
			body = []string{th.Dim.Render("no log lines yet")}
		default:
			body = []string{th.Dim.Render(ansi.Truncate(fmt.Sprintf("%d lines hidden by the filter (v level, 1-4 sources)", len(m.recs)), w, "…"))}
		}
	}
	lines = append(lines, body...)
	for len(lines) < len(pinned)+bh {
		lines = append(lines, "")
	}
	if m.searching {
		lines = append(lines, ansi.Truncate(m.input.View(), w, ""))
	}
	title, info := m.border(shown, bh)
	return common.TitledBox(m.ctx, m.Width, title, info, strings.Join(lines, "\n"), m.focused)
}

// body is the records' lines from the view's start, at most h.
func (m *Model) body(shown []int, h int) []string {
	if len(shown) == 0 {
		return nil
	}
	a := m.firstShown()
	var out []string
	for i := m.index(shown, a.seq); i < len(shown) && len(out) < h; i++ {
		r := &m.recs[shown[i]]
		ls := m.render(r)
		if r.Seq == a.seq {
			ls = ls[min(a.line, len(ls)-1):]
		}
		out = append(out, ls...)
	}
	return out[:min(len(out), h)]
}

// part is a piece of the top border; the ones with the highest drop go
// first when the border is too short for all.
type part struct {
	text string
	drop int
	left bool // in the title, else on the right
}

// border is the top border's title (what the pane shows) and info (the
// search, what the filter hides, where the view is), fitted to the width.
func (m *Model) border(shown []int, h int) (title, info string) {
	th := m.ctx.Theme
	name := th.Bold.Render("logs")
	if m.focused {
		name = th.Title.Render("logs")
	}
	parts := []part{{text: name, left: true}}
	if m.follow {
		parts = append(parts, part{text: th.OK.Render("following"), drop: 2, left: true})
	} else {
		parts = append(parts, part{text: th.Warn.Render("scrolled"), drop: 1, left: true})
	}
	lv := part{text: m.level.String(), drop: 7, left: true} // the default goes first
	if m.level != LevelDefault {
		lv.drop = 3
	}
	parts = append(parts, lv)
	var on []string
	for i, o := range Origins {
		if !m.off[i] {
			on = append(on, string(o))
		}
	}
	switch len(on) {
	case len(Origins):
	case 0:
		parts = append(parts, part{text: th.Warn.Render("no sources"), drop: 3, left: true})
	default:
		parts = append(parts, part{text: th.Warn.Render("only " + strings.Join(on, "+")), drop: 3, left: true})
	}
	if !m.wrap {
		parts = append(parts, part{text: "no wrap", drop: 4, left: true})
	}
	if m.query != "" {
		q := format.Outside(m.query)
		n, rank := m.countMatches(shown)
		s := fmt.Sprintf("/%s %d/%d", q, rank, n)
		if n == 0 {
			s = th.Warn.Render("/" + q + " no match")
		}
		parts = append(parts, part{text: s, drop: 1})
	}
	if hidden := len(m.recs) - len(shown); hidden > 0 {
		parts = append(parts, part{text: th.Dim.Render(fmt.Sprintf("%d hidden", hidden)), drop: 6})
	}
	if len(shown) > 0 {
		first := m.index(shown, m.firstShown().seq) + 1
		last, lines := first, 0
		for i := first - 1; i < len(shown) && lines < h; i++ {
			lines += m.lineCount(&m.recs[shown[i]])
			last = i + 1
		}
		parts = append(parts, part{text: fmt.Sprintf("%d–%d of %d", first, last, len(shown)), drop: 2})
	}
	sep := th.Dim.Render(" · ")
	join := func(left bool) string {
		var out []string
		for _, p := range parts {
			if p.left == left {
				out = append(out, p.text)
			}
		}
		return strings.Join(out, sep)
	}
	for {
		title, info = join(true), join(false)
		if common.TitleFits(m.Width, ansi.StringWidth(title), ansi.StringWidth(info)) || len(parts) == 1 {
			return title, info
		}
		worst := 1
		for i, p := range parts {
			if p.drop >= parts[worst].drop && i > 0 {
				worst = i
			}
		}
		parts = slices.Delete(parts, worst, worst+1)
	}
}

// text is a record on one line, plain, with where its parts are for
// styling, and the column continuation lines start at.
type text struct {
	s      string
	lower  string // s in lower case, for the search
	spans  []span
	indent int
}

type span struct {
	start, end int
	style      *lipgloss.Style
}

// text lays record r out: time, level, origin, message, attributes.
// Text from outside (messages and values from libraries and servers) is
// put on one line and stripped of control characters here, whatever the
// handlers upstream did.
func (m *Model) text(r *logbuf.Record) *text {
	if m.textsW != m.inner() || m.texts == nil {
		m.texts, m.textsW = map[uint64]*text{}, m.inner()
	}
	if t, ok := m.texts[r.Seq]; ok {
		return t
	}
	if len(m.texts) > 2*len(m.recs)+64 {
		clear(m.texts) // records the ring let go
	}
	t := m.layout(r)
	m.texts[r.Seq] = t
	return t
}

func (m *Model) layout(r *logbuf.Record) *text {
	th := m.ctx.Theme
	var b strings.Builder
	var spans []span
	add := func(s string, st *lipgloss.Style) {
		start := b.Len()
		b.WriteString(s)
		if st != nil {
			spans = append(spans, span{start, b.Len(), st})
		}
	}
	clock := "15:04:05.000"
	if m.inner() < 70 {
		clock = "15:04:05"
	}
	dim := th.Dim
	add(r.Time.Format(clock), &dim)
	b.WriteByte(' ')
	lv, lvStyle := levelWord(r.Level, m.ctx)
	add(lv, &lvStyle)
	b.WriteByte(' ')
	add(fmt.Sprintf("%-5s", r.Origin), &dim)
	b.WriteByte(' ')
	indent := b.Len()
	if m.inner()-indent < 24 {
		indent = 0 // too narrow to indent: continuation lines start at the edge
	}
	add(format.Outside(r.Message), nil)
	for _, a := range r.Attrs {
		b.WriteByte(' ')
		add(format.Outside(a.Key)+"="+attrValue(a.Value), &dim)
	}
	return &text{s: b.String(), lower: strings.ToLower(b.String()), spans: spans, indent: indent}
}

func levelWord(lv slog.Level, ctx common.Context) (string, lipgloss.Style) {
	th := ctx.Theme
	switch {
	case lv >= slog.LevelError:
		return "ERR", th.Bad
	case lv >= slog.LevelWarn:
		return "WRN", th.Warn
	case lv >= slog.LevelInfo:
		return "INF", th.Info
	}
	return "DBG", th.Dim
}

// attrValue is a value as slog's text handler writes it: quoted when it
// has spaces, quotes or an equals sign, or is empty.
func attrValue(v slog.Value) string {
	s := format.Outside(v.String())
	if s == "" || strings.ContainsAny(s, " \"=") {
		return strconv.Quote(s)
	}
	return s
}

// render is record r's lines, styled, with search matches marked: wrapped
// to the width, or one line cut with "…" when wrap is off.
func (m *Model) render(r *logbuf.Record) []string {
	t := m.text(r)
	w := m.inner()
	var ranges [][2]int
	if m.wrap {
		ranges = wrapRanges(t.s, w, w-t.indent)
	} else {
		ranges = [][2]int{{0, len(t.s)}}
	}
	marks := m.matchSpans(t.s, r.Seq == m.current)
	out := make([]string, len(ranges))
	for i, rg := range ranges {
		line := paint(t.s, rg[0], rg[1], t.spans, marks)
		if i > 0 {
			line = strings.Repeat(" ", t.indent) + line
		}
		if !m.wrap && ansi.StringWidth(line) > w {
			line = ansi.Truncate(line, w-1, "") + "…"
		}
		out[i] = line
	}
	return out
}

// matchSpans are where the query occurs in s.
func (m *Model) matchSpans(s string, current bool) []span {
	if m.query == "" {
		return nil
	}
	st := m.ctx.Theme.Match
	if current {
		st = m.ctx.Theme.CurrentMatch
	}
	// ToLower keeps byte offsets for ASCII; for other text, match on the
	// text as it is.
	hay, needle := s, m.query
	if isASCII(s) && isASCII(needle) {
		hay, needle = strings.ToLower(s), strings.ToLower(needle)
	}
	var out []span
	for off := 0; ; {
		i := strings.Index(hay[off:], needle)
		if i < 0 || needle == "" {
			return out
		}
		out = append(out, span{off + i, off + i + len(needle), &st})
		off += i + len(needle)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// paint styles s[a:b]: the marks (search matches) over the spans.
func paint(s string, a, b int, spans, marks []span) string {
	cuts := []int{a, b}
	for _, set := range [][]span{spans, marks} {
		for _, sp := range set {
			for _, c := range []int{sp.start, sp.end} {
				if c > a && c < b {
					cuts = append(cuts, c)
				}
			}
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	styleAt := func(pos int) *lipgloss.Style {
		for _, set := range [][]span{marks, spans} {
			for _, sp := range set {
				if pos >= sp.start && pos < sp.end {
					return sp.style
				}
			}
		}
		return nil
	}
	var out strings.Builder
	for i := 0; i+1 < len(cuts); i++ {
		seg := s[cuts[i]:cuts[i+1]]
		if st := styleAt(cuts[i]); st != nil {
			seg = st.Render(seg)
		}
		out.WriteString(seg)
	}
	return out.String()
}

// wrapRanges breaks s into lines of at most first cells (the first line)
// and rest cells (the others), at spaces where it can: byte ranges into
// s, the spaces at breaks left out.
func wrapRanges(s string, first, rest int) [][2]int {
	first, rest = max(first, 1), max(rest, 1)
	var out [][2]int
	start, col, limit, space := 0, 0, first, -1
	for i, r := range s {
		rw := 1
		if r >= 0x80 {
			rw = ansi.StringWidth(string(r))
		}
		if col+rw > limit && i > start {
			end, next := i, i
			if space > start {
				end, next = space, space+1
			}
			out = append(out, [2]int{start, end})
			start, limit, space = next, rest, -1
			col = ansi.StringWidth(s[start:i])
		}
		if r == ' ' {
			space = i
		}
		col += rw
	}
	return append(out, [2]int{start, len(s)})
}
