package tui

import (
	"testing"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
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
