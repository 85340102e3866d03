package logpane

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/logorigin"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/keys"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t   *testing.T
	buf *logbuf.Buffer
	p   *Model
	n   int
}

func newFixture(t *testing.T, capacity, w, h int) *fixture {
	buf := logbuf.New(capacity)
	p := New(common.Context{Theme: theme.Plain(), Now: func() time.Time { return t0 }}, keys.Default(), buf)
	p.SetSize(w, h)
	p.Focus()
	return &fixture{t: t, buf: buf, p: p}
}

// log stores a record at a fixed time, numbered.
func (f *fixture) log(lv slog.Level, origin logorigin.Origin, msg string, attrs ...any) {
	f.n++
	rec := slog.NewRecord(t0.Add(time.Duration(f.n)*time.Second), lv, msg, 0)
	rec.Add(attrs...)
	if origin != logorigin.DTTUI {
		rec.AddAttrs(slog.Any(logorigin.Key, origin))
	}
	_ = f.buf.Handler(slog.LevelDebug).Handle(context.Background(), rec)
}

func (f *fixture) lines(n int) {
	for range n {
		f.log(slog.LevelInfo, logorigin.DTTUI, fmt.Sprintf("line %03d", f.n+1))
	}
}

var named = map[string]tea.KeyType{"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd,
	"up": tea.KeyUp, "down": tea.KeyDown, "enter": tea.KeyEnter, "esc": tea.KeyEsc}

func (f *fixture) press(keys ...string) {
	for _, k := range keys {
		msg := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		if t, ok := named[k]; ok {
			msg = tea.KeyMsg{Type: t}
		}
		f.p.Update(msg)
	}
}

// view is the pane, plain, checked to fill its box exactly.
func (f *fixture) view() string {
	f.t.Helper()
	v := ansi.Strip(f.p.View())
	lines := strings.Split(v, "\n")
	if len(lines) != f.p.Height {
		f.t.Fatalf("%d lines, want %d:\n%s", len(lines), f.p.Height, v)
	}
	for _, l := range lines {
		if w := ansi.StringWidth(l); w != f.p.Width {
			f.t.Fatalf("line %q is %d cells, want %d", l, w, f.p.Width)
		}
	}
	return v
}

func TestFollowsTheNewest(t *testing.T) {
	f := newFixture(t, 500, 60, 8)
	f.lines(100)
	v := f.view()
	if !strings.Contains(v, "line 100") || strings.Contains(v, "line 094") || !strings.Contains(v, "following") {
		t.Fatalf("not following:\n%s", v)
	}
	f.lines(5)
	if v := f.view(); !strings.Contains(v, "line 105") || !strings.Contains(v, "100–105 of 105") {
		t.Fatalf("new lines not followed:\n%s", v)
	}
}

// Scrolling up stops following, and the view stays on the same records
// while new ones arrive; end follows again, and so does scrolling down
// to the newest.
func TestScrollHoldsItsPlace(t *testing.T) {
	f := newFixture(t, 500, 60, 8) // 6 lines of records
	f.lines(100)
	f.press("pgup")
	v := f.view()
	if f.p.Following() || !strings.Contains(v, "scrolled") || !strings.Contains(v, "line 090") || strings.Contains(v, "line 100") {
		t.Fatalf("pgup:\n%s", v)
	}
	f.lines(50)
	if v2 := f.view(); !strings.Contains(v2, "line 090") || strings.Contains(v2, "line 150") {
		t.Fatalf("the view moved with new lines:\n%s", v2)
	}
	f.press("up", "up")
	if v := f.view(); !strings.Contains(v, "line 088") {
		t.Fatalf("up:\n%s", v)
	}
	f.press("home")
	if v := f.view(); !strings.Contains(v, "line 001") || !strings.Contains(v, "1–6 of 150") {
		t.Fatalf("home:\n%s", v)
	}
	f.press("end")
	if v := f.view(); !f.p.Following() || !strings.Contains(v, "line 150") {
		t.Fatalf("end:\n%s", v)
	}
	f.press("pgup", "pgdown")
	if !f.p.Following() {
		t.Fatal("scrolling back down to the newest does not follow again")
	}
	f.press("f")
	f.lines(10)
	if v := f.view(); f.p.Following() || strings.Contains(v, "line 160") {
		t.Fatalf("f did not stop following:\n%s", v)
	}
	f.press("f")
	if v := f.view(); !strings.Contains(v, "line 160") {
		t.Fatalf("f did not follow again:\n%s", v)
	}
}

// The ring lets old records go; a view anchored on one of them moves to
// the oldest still held.
func TestAnchorOnALostRecord(t *testing.T) {
	f := newFixture(t, 20, 60, 8)
	f.lines(20)
	f.press("home")
	f.lines(30)
	if v := f.view(); !strings.Contains(v, "line 031") || !strings.Contains(v, "1–6 of 20") {
		t.Fatalf("view on a lost record:\n%s", v)
	}
}

// By default the libraries' INFO lines are hidden and dttui's shown; v
// cycles through every level, warnings and errors only; 1-4 switch the
// origins off and on.
func TestLevelAndOriginFilters(t *testing.T) {
	f := newFixture(t, 100, 100, 12)
	f.log(slog.LevelInfo, logorigin.DTTUI, "own info")
	f.log(slog.LevelInfo, logorigin.Pion, "pion info")
	f.log(slog.LevelWarn, logorigin.Pion, "pion warn")
	f.log(slog.LevelInfo, logorigin.SFU, "sfu info")
	f.log(slog.LevelError, logorigin.SDK, "sdk error")
	f.log(slog.LevelInfo, logorigin.SDK, "sdk info")
	shows := func(want ...string) {
		t.Helper()
		v := f.view()
		for _, m := range []string{"own info", "pion info", "pion warn", "sfu info", "sdk error", "sdk info"} {
			if strings.Contains(v, m) != slices.Contains(want, m) {
				t.Fatalf("want only %q:\n%s", want, v)
			}
		}
	}
	shows("own info", "pion warn", "sdk error")
	if v := f.view(); !strings.Contains(v, "3 hidden") || !strings.Contains(v, "WRN pion") || !strings.Contains(v, "ERR sdk") {
		t.Fatalf("default filter:\n%s", v)
	}
	f.press("v")
	shows("own info", "pion info", "pion warn", "sfu info", "sdk error", "sdk info")
	f.press("v")
	shows("pion warn", "sdk error")
	f.press("v")
	shows("sdk error")
	f.press("v", "v", "3") // around to every level; pion off
	shows("own info", "sfu info", "sdk error", "sdk info")
	if v := f.view(); !strings.Contains(v, "only dttui+sdk+sfu") {
		t.Fatalf("origin filter not in the title:\n%s", v)
	}
	f.press("1", "2", "4")
	if v := f.view(); !strings.Contains(v, "6 lines hidden by the filter") || !strings.Contains(v, "no sources") {
		t.Fatalf("everything filtered:\n%s", v)
	}
}

// Wrapped, a long record is whole over several lines, its continuation
// under the message; unwrapped, it is one line cut with "…".
func TestWrap(t *testing.T) {
	f := newFixture(t, 100, 50, 10)
	f.log(slog.LevelWarn, logorigin.DTTUI, "a message long enough to need three lines at this width, at least", "key", "the end")
	v := f.view()
	for _, w := range []string{"a message", "three lines", "at least", `key="the`, `end"`} {
		if !strings.Contains(v, w) {
			t.Fatalf("%q missing when wrapped:\n%s", w, v)
		}
	}
	if !strings.Contains(v, "│                    ") { // the continuation lines start under the message
		t.Fatalf("continuation not indented:\n%s", v)
	}
	f.press("w")
	v = f.view()
	if strings.Contains(v, "the end") || !strings.Contains(v, "…") || !strings.Contains(v, "no wrap") {
		t.Fatalf("unwrapped:\n%s", v)
	}
}

// / searches as the query is typed, from the newest match when following;
// enter keeps it, n and N go to the next and previous match, wrapping
// around; esc clears it, and a second esc gives the keys back.
func TestSearch(t *testing.T) {
	f := newFixture(t, 100, 70, 6) // 4 lines of records
	for i := range 30 {
		msg := fmt.Sprintf("line %02d", i+1)
		if i%10 == 4 {
			msg += " ICE checking"
		}
		f.log(slog.LevelInfo, logorigin.DTTUI, msg)
	}
	f.press("/")
	if !f.p.Searching() || !strings.Contains(f.view(), "/") {
		t.Fatal("/ did not open the search")
	}
	f.p.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("ice")}) // typed, keys read together included
	v := f.view()
	if !strings.Contains(v, "/ice 3/3") || !strings.Contains(v, "line 25 ICE") {
		t.Fatalf("incremental search from the newest:\n%s", v)
	}
	f.press("enter")
	if f.p.Searching() {
		t.Fatal("enter did not close the input")
	}
	f.press("N")
	if v := f.view(); !strings.Contains(v, "/ice 2/3") || !strings.Contains(v, "line 15 ICE") || f.p.Following() {
		t.Fatalf("N:\n%s", v)
	}
	f.press("N", "N")
	if v := f.view(); !strings.Contains(v, "/ice 3/3") {
		t.Fatalf("N does not wrap around:\n%s", v)
	}
	f.press("n")
	if v := f.view(); !strings.Contains(v, "/ice 1/3") || !strings.Contains(v, "line 05 ICE") {
		t.Fatalf("n:\n%s", v)
	}
	// Scrolled, a new search starts from the top of the view.
	f.press("/", "esc", "home", "down", "/", "i", "c", "e", "enter")
	if v := f.view(); !strings.Contains(v, "/ice 1/3") {
		t.Fatalf("search from the top of a scrolled view:\n%s", v)
	}
	f.press("/", "x", "y", "z", "enter")
	if v := f.view(); !strings.Contains(v, "no match") {
		t.Fatalf("no match not said:\n%s", v)
	}
	f.press("esc")
	if v := f.view(); strings.Contains(v, "/") || !f.p.Focused() {
		t.Fatalf("first esc should clear the search only:\n%s", v)
	}
	f.press("esc")
	if f.p.Focused() {
		t.Fatal("second esc kept the focus")
	}
}

// The join details stay at the top whatever the scroll position.
func TestPinnedStayOnTop(t *testing.T) {
	f := newFixture(t, 100, 80, 10)
	f.p.Pinned = []string{"embedded SFU ws://127.0.0.1:7880 · API key k", "join: lk room join"}
	f.lines(50)
	for _, k := range []string{"", "pgup", "home"} {
		if k != "" {
			f.press(k)
		}
		lines := strings.Split(f.view(), "\n")
		if !strings.Contains(lines[1], "embedded SFU") || !strings.Contains(lines[2], "join: lk room join") {
			t.Fatalf("after %q the pinned lines are not on top:\n%s", k, strings.Join(lines, "\n"))
		}
	}
}

// Library text cannot drive the terminal: control characters in messages
// and values are shown as visible escapes (textsafe.Line).
func TestControlCharactersAreReplaced(t *testing.T) {
	f := newFixture(t, 10, 80, 5)
	f.log(slog.LevelWarn, logorigin.SFU, "evil \x1b[2J\x1b]0;title\a", "v", "\x1b[31mred")
	v := f.p.View()
	if strings.Contains(v, "\x1b[2J") || strings.Contains(v, "\x1b]0") || strings.Contains(v, "\a") || strings.Contains(v, "\x1b[31mred") {
		t.Fatalf("control characters reached the view: %q", v)
	}
	if !strings.Contains(v, `evil \x1b[2J\x1b]0;title\x07`) {
		t.Fatalf("replacement missing: %q", v)
	}
}

// Every size, with wrapping, pinned lines and a search open, fills its box
// exactly (view checks it).
func TestFitsEverySize(t *testing.T) {
	for _, sz := range [][2]int{{20, 3}, {30, 4}, {50, 15}, {80, 24}, {140, 40}} {
		f := newFixture(t, 100, sz[0], sz[1])
		f.p.Pinned = []string{strings.Repeat("pinned ", 20)}
		f.log(slog.LevelWarn, logorigin.Pion, strings.Repeat("long words ", 40), "k", strings.Repeat("v", 200))
		f.lines(10)
		f.view()
		f.press("pgup", "/", "w", "o")
		f.view()
		f.press("enter", "w", "home")
		f.view()
	}
}
