package tui

import (
	"errors"
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/tui/keys"
)

// The table's state on its own, no model around it: the selection stays
// within the rows and on its track across a rebuild, a removed row is
// gone from the next one (and the selection with it), and the order
// cycles through every sort.
func TestTableKeepsItsSelection(t *testing.T) {
	tb := newTable(sortHandle)
	everything := func(string) bool { return true }
	tb.snap = report.Snapshot{Local: []report.Local{
		{Handle: 3, Name: "c", State: outgoing.StatePublished},
		{Handle: 1, Name: "a", State: outgoing.StatePublished},
		{Handle: 2, Name: "b", State: outgoing.StateUnpublished},
	}}
	tb.build(nil, nil, everything)
	if r, ok := tb.selectedRow(); !ok || r.L.Handle != 1 || len(tb.rows) != 3 || tb.all != 3 {
		t.Fatalf("first build: %d rows, selected %+v", len(tb.rows), r.L)
	}
	if tb.move(-1) {
		t.Fatal("moved above the first row")
	}
	if !tb.move(1) || tb.rows[tb.selectedIndex()].L.Handle != 2 {
		t.Fatal("did not move down")
	}
	if !tb.move(10) || tb.move(1) || tb.rows[tb.selectedIndex()].L.Handle != 3 {
		t.Fatal("not bounded by the last row")
	}
	tb.build(nil, nil, everything)
	if r, _ := tb.selectedRow(); r.L.Handle != 3 {
		t.Fatalf("the rebuild lost the selection: %d", r.L.Handle)
	}
	r, _ := tb.selectedRow()
	tb.hide(r)
	tb.build(nil, nil, everything)
	if r, _ := tb.selectedRow(); len(tb.rows) != 2 || tb.all != 2 || r.L.Handle != 1 {
		t.Fatalf("after removing 3: %d rows, selected %d", len(tb.rows), r.L.Handle)
	}
	seen := map[sortMode]bool{}
	for range numSorts {
		tb.cycleSort()
		seen[tb.sort] = true
	}
	if len(seen) != int(numSorts) || tb.sort != sortHandle {
		t.Fatalf("the sorts cycled through %v", seen)
	}
}

// tableHostStub is a tableHost without a session: it forgets what is
// asked but the handles in stays, and records the moves and the flashes.
type tableHostStub struct {
	failed  []failedRow
	stays   map[uint16]bool
	moved   int
	flashed []string
}

func (h *tableHostStub) rowInputs() ([]failedRow, map[uint16]*trackUI, func(string) bool) {
	return h.failed, nil, func(string) bool { return true }
}

func (h *tableHostStub) forget(r row) error {
	switch {
	case r.failed != nil:
		h.failed = slices.DeleteFunc(h.failed, func(f failedRow) bool { return f.name == r.failed.name })
	case !r.Room() && h.stays[r.L.Handle]:
		return errors.New("still recording")
	}
	return nil
}

func (h *tableHostStub) forgetFailed() int {
	n := len(h.failed)
	h.failed = nil
	return n
}

func (h *tableHostStub) selectionMoved() { h.moved++ }

func (h *tableHostStub) flash(text string, _ bool) tea.Cmd {
	h.flashed = append(h.flashed, text)
	return nil
}

// The table's keys on the table alone, no model around it: ↑/↓ move the
// selection (the host told only when it moved), s cycles the order, x
// removes the selected ended row and nothing else, X every ended row the
// host lets go; other messages are not the table's.
func TestTableTakesItsKeys(t *testing.T) {
	k := keys.Default()
	h := &tableHostStub{failed: []failedRow{{name: "f", handle: 9, err: errors.New("refused"), at: t0}}, stays: map[uint16]bool{4: true}}
	tb := newTable(sortHandle)
	tb.snap = report.Snapshot{
		Local: []report.Local{
			{Handle: 1, Name: "d", State: outgoing.StatePublished},
			{Handle: 2, Name: "c", State: outgoing.StateUnpublished},
			{Handle: 3, Name: "b", State: outgoing.StatePublished},
			{Handle: 4, Name: "a", State: outgoing.StateUnpublished},
		},
		Remote: []report.Remote{{Stats: incoming.TrackStats{Info: incoming.Info{SID: "TR_gone", Name: "r"}, State: incoming.StateUnpublished}}},
	}
	tb.build(h.rowInputs())
	send := func(s string) bool {
		t.Helper()
		handled, _ := tb.Update(press(s), k, h)
		return handled
	}
	names := func() (out []string) {
		for _, r := range tb.rows {
			out = append(out, r.Name())
		}
		return out
	}
	selected := func() string {
		r, _ := tb.selectedRow()
		return r.Name()
	}
	if !send("down") || !send("j") || selected() != "b" || h.moved != 2 {
		t.Fatalf("down twice: selected %q, %d moves", selected(), h.moved)
	}
	if !send("k") || !send("up") || !send("up") || selected() != "d" || h.moved != 4 {
		t.Fatalf("up past the top: selected %q, %d moves (want 4: the last did not move)", selected(), h.moved)
	}
	if !send("s") || tb.sort != sortName || !slices.Equal(names(), []string{"a", "b", "c", "d", "f", "r"}) || selected() != "d" {
		t.Fatalf("s: order %s, rows %v, selected %q", tb.sort, names(), selected())
	}
	if !send("x") || len(tb.rows) != 6 || !strings.Contains(h.flashed[len(h.flashed)-1], "u unpublishes") {
		t.Fatalf("x on a published track: rows %v, flashed %q", names(), h.flashed)
	}
	send("k") // c: unpublished
	if !send("x") || !tb.hidden[2] || !slices.Equal(names(), []string{"a", "b", "d", "f", "r"}) {
		t.Fatalf("x on c: rows %v, hidden %v", names(), tb.hidden)
	}
	if last := h.flashed[len(h.flashed)-1]; last != `removed "c" from the table` {
		t.Fatalf("x on c flashed %q", last)
	}
	// X: the failed publish and the room track go; a stays, the host
	// could not forget it.
	if !send("X") || !slices.Equal(names(), []string{"a", "b", "d"}) || !tb.hiddenRemote["TR_gone"] || tb.hidden[4] || len(h.failed) != 0 {
		t.Fatalf("X: rows %v, hidden %v %v, failed %d", names(), tb.hidden, tb.hiddenRemote, len(h.failed))
	}
	if last := h.flashed[len(h.flashed)-1]; last != "removed 2 ended row(s) from the table" {
		t.Fatalf("X flashed %q", last)
	}
	if send("p") || send("q") {
		t.Fatal("the table took a key that is not its own")
	}
	if handled, _ := tb.Update(tea.WindowSizeMsg{Width: 80, Height: 24}, k, h); handled {
		t.Fatal("the table took a message that is not a key")
	}
}
