package tui

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/tui/components/tracktable"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/keys"
)

// table is the main table's state: the report its rows come from, the
// reset's base, the rows (filtered, in order), the rows the user removed,
// the order and the selection. The root model owns one, gives it the keys
// while the table has them (Update) and refreshes its report; the
// tracktable component draws it.
type table struct {
	// snap is the report the rows were built from; base the report at the
	// last reset (nil: none), from which every figure counts.
	snap report.Snapshot
	base *report.Snapshot
	rows []row
	// hidden are the ended tracks the user removed from the table (x):
	// handles are never reused, so a hidden handle is that track only.
	hidden map[uint16]bool
	// hiddenRemote are the room's tracks removed (x), by SID, until the
	// room monitor's report no longer has them.
	hiddenRemote map[string]bool
	// all and roomAll are how many local and room rows there are before
	// the filter.
	all, roomAll int
	selected     string // row key, stable across re-sorts
	sort         sortMode
}

func newTable(sort sortMode) table {
	return table{hidden: map[uint16]bool{}, hiddenRemote: map[string]bool{}, sort: sort}
}

// tableHost is what the table's keys reach beyond the table: the records
// of the rows it removes, what its rows are built from besides the report,
// and the status line. The root model is the host; a test can be one.
type tableHost interface {
	// rowInputs are build's: the failed publishes, the tracks' UI state
	// and the filter.
	rowInputs() ([]failedRow, map[uint16]*trackUI, func(string) bool)
	// forget drops an ended row's record: a track's from the session, a
	// room track's from the room monitor, a failed publish from the list.
	// The table hides the row only once it is gone.
	forget(r row) error
	// forgetFailed drops every failed publish, the filter's too, and says
	// how many there were.
	forgetFailed() int
	// selectionMoved runs after a key moved the selection.
	selectionMoved()
	flash(text string, isErr bool) tea.Cmd
}

// Update takes the keys that act on the table alone: ↑/↓ move the
// selection, s cycles the order, x and X remove ended rows. handled says
// msg was one of them; the root model handles the others.
func (t *table) Update(msg tea.Msg, k keys.KeyMap, h tableHost) (handled bool, cmd tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return false, nil
	}
	switch {
	case key.Matches(km, k.Up):
		if t.move(-1) {
			h.selectionMoved()
		}
	case key.Matches(km, k.Down):
		if t.move(1) {
			h.selectionMoved()
		}
	case key.Matches(km, k.Sort):
		t.cycleSort()
	case key.Matches(km, k.Remove):
		return true, t.remove(k, h)
	case key.Matches(km, k.RemoveAll):
		return true, t.removeAll(h)
	default:
		return false, nil
	}
	return true, nil
}

// remove takes the selected ended row off the table (x): an unpublished
// local track, a failed publish, or a room track that was unpublished
// (its publisher unpublished it or left), which the room monitor then
// forgets.
func (t *table) remove(k keys.KeyMap, h tableHost) tea.Cmd {
	r, ok := t.selectedRow()
	if !ok || !r.Ended() {
		why := "x removes an unpublished or failed row; u unpublishes a track first"
		if ok && r.Room() {
			why = "x removes a room track once it is unpublished; " + k.Subscribe.Help().Key + " unsubscribes from it"
		}
		return h.flash(why, true)
	}
	if err := t.drop(r, h); err != nil {
		return h.flash(fmt.Sprintf("%q stays: %s", r.Name(), format.Outside(err.Error())), true)
	}
	t.build(h.rowInputs())
	return h.flash(fmt.Sprintf("removed %q from the table", r.Name()), false)
}

// removeAll takes every ended row off the table (X), the filter's too.
func (t *table) removeAll(h tableHost) tea.Cmd {
	n := 0
	for _, l := range t.snap.Local {
		if !t.hidden[l.Handle] && l.State == outgoing.StateUnpublished {
			if t.drop(row{Row: tracktable.Row{L: l}}, h) == nil {
				n++
			}
		}
	}
	for i := range t.snap.Remote {
		rt := &t.snap.Remote[i]
		if !t.hiddenRemote[rt.SID()] && rt.Stats.State == incoming.StateUnpublished {
			if t.drop(row{Row: tracktable.Row{R: rt}}, h) == nil {
				n++
			}
		}
	}
	n += h.forgetFailed()
	t.build(h.rowInputs())
	if n == 0 {
		return h.flash("no unpublished or failed rows to remove", false)
	}
	return h.flash(fmt.Sprintf("removed %d ended row(s) from the table", n), false)
}

// drop has the host forget an ended row, then hides a track's row (a
// failed publish is gone with its entry in the list).
func (t *table) drop(r row, h tableHost) error {
	if err := h.forget(r); err != nil {
		return err
	}
	if r.failed == nil {
		t.hide(r)
	}
	return nil
}

// hide takes an ended row off the table: a local track until the next
// report, which no longer has it; a room track until the monitor forgets
// it.
func (t *table) hide(r row) {
	if r.Room() {
		t.hiddenRemote[r.R.SID()] = true
		return
	}
	t.hidden[r.L.Handle] = true
}

// cycleSort takes the next order.
func (t *table) cycleSort() {
	t.sort = (t.sort + 1) % numSorts
	t.sortRows()
}

// move selects the row d rows away (bounded by the ends); it says
// whether the selection changed.
func (t *table) move(d int) bool {
	if len(t.rows) == 0 {
		return false
	}
	i := t.selectedIndex()
	i = min(max(i+d, 0), len(t.rows)-1)
	if t.rows[i].key() == t.selected {
		return false
	}
	t.selected = t.rows[i].key()
	return true
}

func (t *table) selectedIndex() int {
	for i, r := range t.rows {
		if r.key() == t.selected {
			return i
		}
	}
	return 0
}

func (t *table) selectedRow() (row, bool) {
	if len(t.rows) == 0 {
		return row{}, false
	}
	return t.rows[t.selectedIndex()], true
}

// build makes the rows from the report last taken: the local tracks not
// removed (with their UI state from tracks), then the failed publishes,
// then the room's tracks not removed, narrowed by match.
func (t *table) build(failed []failedRow, tracks map[uint16]*trackUI, match func(string) bool) {
	rows := make([]row, 0, len(t.snap.Local)+len(failed)+len(t.snap.Remote))
	t.all, t.roomAll = 0, 0
	for _, l := range t.snap.Local {
		if t.hidden[l.Handle] {
			continue
		}
		t.all++
		if !match(l.Name) {
			continue
		}
		r := row{Row: tracktable.Row{L: l, Dropping: dropping(l.Rate.DroppedFPS, l.History, func(s report.Second) uint64 { return s.Dropped }),
			Losing: dropping(l.Rate.LostFPS, l.History, func(s report.Second) uint64 { return s.Lost })}}
		if ui := tracks[l.Handle]; ui != nil {
			r.ui = ui
		}
		rows = append(rows, r)
	}
	for i := range failed {
		f := &failed[i]
		if !match(f.name) {
			continue
		}
		rows = append(rows, row{failed: f, Row: tracktable.Row{L: report.Local{Handle: f.handle, Name: f.name, Since: f.at}, Failed: f.err}})
	}
	inReport := 0
	for i := range t.snap.Remote {
		rt := &t.snap.Remote[i]
		if t.hiddenRemote[rt.SID()] {
			inReport++
			continue
		}
		t.roomAll++
		if !match(rt.Stats.Name) && !match(rt.Stats.PublisherIdentity) {
			continue
		}
		losing := dropping(rt.Rate.LostFPS+rt.Rate.PacketsLostPS, rt.History, func(s report.Second) uint64 { return s.Lost })
		rows = append(rows, row{seq: i, Row: tracktable.Row{R: rt, Dropping: losing && rt.Stats.State == incoming.StateSubscribed}})
	}
	if inReport < len(t.hiddenRemote) {
		// The monitor forgot some: forget them too.
		keep := map[string]bool{}
		for i := range t.snap.Remote {
			if sid := t.snap.Remote[i].SID(); t.hiddenRemote[sid] {
				keep[sid] = true
			}
		}
		t.hiddenRemote = keep
	}
	t.rows = rows
	t.sortRows()
	// Keep the selection on its track; if that row is gone, take the first.
	if len(t.rows) > 0 && t.rows[t.selectedIndex()].key() != t.selected {
		t.selected = t.rows[0].key()
	}
}

func (t *table) sortRows() {
	slices.SortStableFunc(t.rows, func(a, b row) int {
		// The room's rows after ours: a section of their own.
		if a.Room() != b.Room() {
			if b.Room() {
				return -1
			}
			return 1
		}
		if a.Room() {
			// Ties in the order the SFU announced the tracks.
			return cmp.Or(t.compareRoom(a.R, b.R), cmp.Compare(a.seq, b.seq))
		}
		// Failed rows always last: they are history, not live tracks.
		if (a.failed == nil) != (b.failed == nil) {
			if a.failed == nil {
				return -1
			}
			return 1
		}
		switch t.sort {
		case sortName:
			return cmp.Compare(a.L.Name, b.L.Name)
		case sortRate:
			return cmp.Compare(b.L.Rate.SentBPS, a.L.Rate.SentBPS)
		case sortDrops:
			return cmp.Compare(b.L.Out.FramesDropped, a.L.Out.FramesDropped)
		}
		return cmp.Compare(a.L.Handle, b.L.Handle)
	})
}

// compareRoom orders the room's rows: by publisher, name, received
// bytes/s, frames lost.
func (t *table) compareRoom(a, b *report.Remote) int {
	switch t.sort {
	case sortName:
		return cmp.Compare(a.Stats.Name, b.Stats.Name)
	case sortRate:
		return cmp.Compare(b.Rate.ReceivedBPS, a.Rate.ReceivedBPS)
	case sortDrops:
		return cmp.Compare(b.Stats.LostFrames(), a.Stats.LostFrames())
	}
	return cmp.Compare(a.Stats.PublisherIdentity, b.Stats.PublisherIdentity)
}
