package tui

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

func click(y int) tea.MouseMsg {
	return tea.MouseMsg{X: 4, Y: y, Action: tea.MouseActionPress, Button: tea.MouseButtonLeft}
}

func wheel(y, notches int) []tea.MouseMsg {
	b := tea.MouseButtonWheelDown
	if notches < 0 {
		b, notches = tea.MouseButtonWheelUp, -notches
	}
	var out []tea.MouseMsg
	for range notches {
		out = append(out, tea.MouseMsg{X: 4, Y: y, Action: tea.MouseActionPress, Button: b})
	}
	return out
}

// lineOf is the screen line that holds s (-1: none).
func lineOf(m Model, s string) int {
	for i, l := range strings.Split(plain(m), "\n") {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

// mouseHarness is a connected model with five tracks and a log long
// enough to scroll, at 100×40.
func mouseHarness(t *testing.T) *harness {
	t.Helper()
	b := newFakeBackend()
	c := &clock{t: t0}
	b.now = c.now
	logs := logbuf.New(200)
	for i := range 60 {
		logAt(logs, t0.Add(time.Duration(i)*time.Second), slog.LevelInfo, "", fmt.Sprintf("log line %02d", i))
	}
	h := newHarness(t, New(b, Options{Theme: theme.Plain(), Now: c.now, Logs: logs, Tick: time.Hour, Mouse: true}))
	h.send(tea.WindowSizeMsg{Width: 100, Height: 40})
	publishTracks(t, h, b, 10, 256, "alpha", "bravo", "charlie", "delta", "echo")
	steady(h, b, c, 10, map[string]float64{"alpha": 10, "bravo": 10, "charlie": 10, "delta": 10, "echo": 10}, 256)
	return h
}

func selectedName(m Model) string {
	r, _ := m.selectedRow()
	return r.Name()
}

// A click on a row selects it; a click on the header or the totals
// changes nothing; the wheel over the table moves the selection a row a
// notch, within the rows.
func TestMouseSelectsAndScrollsTheTable(t *testing.T) {
	h := mouseHarness(t)
	for _, name := range []string{"delta", "alpha", "echo"} {
		h.send(click(lineOf(h.m, name)))
		if got := selectedName(h.m); got != name {
			t.Fatalf("click on %s selected %s:\n%s", name, got, plain(h.m))
		}
	}
	h.send(click(lineOf(h.m, "NAME")))
	h.send(click(0)) // the header line
	if got := selectedName(h.m); got != "echo" {
		t.Fatalf("a click off the rows selected %s", got)
	}
	y := lineOf(h.m, "charlie")
	for _, w := range wheel(y, -2) {
		h.send(w)
	}
	if got := selectedName(h.m); got != "charlie" {
		t.Fatalf("two notches up from echo: %s", got)
	}
	for _, w := range wheel(y, 9) {
		h.send(w)
	}
	if got := selectedName(h.m); got != "echo" {
		t.Fatalf("the wheel past the last row: %s", got)
	}
}

// The wheel over the log pane scrolls it (up stops following, down to
// the newest follows again); a click gives it the keys, a click on the
// table takes them back and selects the row.
func TestMouseScrollsAndFocusesTheLogPane(t *testing.T) {
	h := mouseHarness(t)
	h.send(press("l")) // open, with the keys: the table is down to its selected row
	h.send(click(lineOf(h.m, "echo")))
	h.send(click(lineOf(h.m, "bravo"))) // the table has its rows back
	if h.m.logsFocused() || selectedName(h.m) != "bravo" || !h.m.showLogs {
		t.Fatalf("click on the table: logs focused %v, selected %s\n%s", h.m.logsFocused(), selectedName(h.m), plain(h.m))
	}
	y := lineOf(h.m, "log line 59")
	if y < 0 || !h.m.logs.Following() {
		t.Fatalf("the log pane does not show the newest line:\n%s", plain(h.m))
	}
	for _, w := range wheel(y, -2) {
		h.send(w)
	}
	if h.m.logs.Following() || lineOf(h.m, "log line 59") >= 0 || selectedName(h.m) != "bravo" {
		t.Fatalf("two notches up: following %v, selected %s\n%s", h.m.logs.Following(), selectedName(h.m), plain(h.m))
	}
	for _, w := range wheel(y, 5) {
		h.send(w)
	}
	if !h.m.logs.Following() || lineOf(h.m, "log line 59") < 0 {
		t.Fatalf("wheel down to the newest does not follow again:\n%s", plain(h.m))
	}
	h.send(click(y))
	if !h.m.logsFocused() {
		t.Fatal("a click on the log pane did not give it the keys")
	}
}

// While a prompt has the keys the mouse does nothing.
func TestMouseIgnoredWhilePromptOpen(t *testing.T) {
	h := mouseHarness(t)
	h.send(press("p"))
	y := lineOf(h.m, "alpha")
	h.send(click(y))
	for _, w := range wheel(y, -3) {
		h.send(w)
	}
	if got := selectedName(h.m); got != "echo" || !h.m.prompt.IsOpen() {
		t.Fatalf("with the prompt open the mouse selected %s (prompt open %v)", got, h.m.prompt.IsOpen())
	}
}

// In the room picker a click selects a room, the wheel moves through
// them, and enter joins the one clicked.
func TestMouseInRoomPicker(t *testing.T) {
	h, c := pickerHarness(t, listed(pickerRooms), 100, 24)
	for _, w := range wheel(5, 2) {
		h.send(w)
	}
	if sel, _ := h.m.pick.picker.Selected(); !strings.HasPrefix(sel.Name, "evil") {
		t.Fatalf("two notches down: %q", sel.Name)
	}
	h.send(click(lineOf(h.m, "archive")))
	h.send(click(lineOf(h.m, "ROOM"))) // the column header: nothing
	h.send(press("enter"))
	h.until("connected", 5*time.Second, func(m Model) bool { return m.b != nil })
	if got := c.asked(); len(got) != 1 || got[0] != "archive" {
		t.Fatalf("joined %q", got)
	}
}

// At every height, with local and room rows, the row a click lands on is
// the row drawn on that line: the table's own layout, not a copy of it.
func TestMouseRowMatchesTheScreenAtEveryHeight(t *testing.T) {
	i := slices.IndexFunc(scenarios, func(sc scenario) bool { return sc.name == "room_table" })
	for hgt := MinHeight; hgt <= 40; hgt++ {
		m := buildScenario(t, scenarios[i], 120, hgt, theme.Plain())
		lines := strings.Split(plain(m), "\n")
		rows := 0
		for y, line := range lines {
			target, at := m.mouseAt(y)
			if target != targetTable || at < 0 {
				continue
			}
			rows++
			if name := m.tbl.rows[at].Name(); !strings.Contains(line, " "+name+" ") {
				t.Fatalf("height %d, line %d %q: mouseAt says row %q", hgt, y, line, name)
			}
			next, _ := m.Update(click(y))
			if got := selectedName(next.(Model)); got != m.tbl.rows[at].Name() {
				t.Fatalf("height %d: clicked %q, selected %q", hgt, m.tbl.rows[at].Name(), got)
			}
		}
		if rows == 0 {
			t.Fatalf("height %d: no row under any line:\n%s", hgt, strings.Join(lines, "\n"))
		}
	}
}
