package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/tui/logbuf"
)

// The focused log pane takes table rows only as far as its lines need
// them: at 140×40 with nine lines of log, every row stays in sight (the
// keys act on the selected one), and the box is not thirty lines of
// nothing.
func TestFocusedLogPaneTakesTheRoomItNeeds(t *testing.T) {
	buf := logbuf.New(100)
	seedLogs(buf)
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, buf))
	h.send(tea.WindowSizeMsg{Width: 140, Height: 40})
	for _, n := range []string{"alpha", "bravo", "charlie", "delta"} {
		publishNow(t, h, b, n)
	}
	h.send(press("l"))
	v := plain(h.m)
	for _, n := range []string{"alpha", "bravo", "charlie", "delta"} {
		if !strings.Contains(v, " "+n+" ") {
			t.Errorf("row %s out of sight with the log pane focused", n)
		}
	}
	box := 0
	for _, l := range strings.Split(v, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "│") {
			box++
		}
	}
	if want := h.m.logs.Want(140, 40) - 2; box > want+tableMin || box < 9 {
		t.Errorf("the pane has %d lines for %d lines of log:\n%s", box, want, v)
	}
	assertFits(t, h.m.View(), 140, 40)
}
