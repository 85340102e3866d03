package tui

import (
	"cmp"
	"slices"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/tui/components/tracktable"
)

type sortMode int

const (
	sortHandle sortMode = iota
	sortName
	sortRate
	sortDrops
	numSorts
)

func (s sortMode) String() string {
	return [...]string{"handle", "name", "rate", "drops"}[s]
}

// column is the table column the order follows, and its direction.
func (s sortMode) column() tracktable.Sort {
	return [...]tracktable.Sort{{Column: tracktable.ColHandle}, {Column: tracktable.ColName},
		{Column: tracktable.ColBytes, Desc: true}, {Column: tracktable.ColDropped, Desc: true}}[s]
}

// refresh takes the session's report and rebuilds the rows; it runs at
// the UI tick, so the cost of the display does not depend on the packet
// rate. Every figure comes from the report (rebased on the last reset):
// the UI computes none of its own.
func (m *Model) refresh() {
	if m.b != nil {
		m.snap = m.b.Report(m.base)
		m.status = m.snap.Connection
	}
	m.buildRows()
}

// buildRows makes the rows from the report last taken: the tracks not
// removed, then the failed publishes, narrowed by the filter.
func (m *Model) buildRows() {
	rows := make([]row, 0, len(m.snap.Local)+len(m.failed))
	m.all = 0
	for _, l := range m.snap.Local {
		if m.hidden[l.Handle] {
			continue
		}
		m.all++
		if !m.filter.Match(l.Name) {
			continue
		}
		r := row{Row: tracktable.Row{L: l, Dropping: dropping(l)}}
		if t := m.tracks[l.Handle]; t != nil {
			r.ui = t
		}
		rows = append(rows, r)
	}
	for i := range m.failed {
		f := &m.failed[i]
		if !m.filter.Match(f.name) {
			continue
		}
		rows = append(rows, row{failed: f, Row: tracktable.Row{L: report.Local{Handle: f.handle, Name: f.name, Since: f.at}, Failed: f.err}})
	}
	m.rows = rows
	m.sortRows()
	// Keep the selection on its track; if that row is gone, take the first.
	if len(m.rows) > 0 && m.rows[m.selectedIndex()].key() != m.selected {
		m.selected = m.rows[0].key()
	}
}

// dropping says whether the track dropped frames within the last
// DropWindow: in the last second (the rate) or a complete second of the
// history before it.
func dropping(l report.Local) bool {
	if l.Rate.DroppedFPS > 0 {
		return true
	}
	secs := int(DropWindow / time.Second)
	for _, s := range l.History[max(len(l.History)-secs, 0):] {
		if s.Dropped > 0 {
			return true
		}
	}
	return false
}

func (m *Model) sortRows() {
	slices.SortStableFunc(m.rows, func(a, b row) int {
		// Failed rows always last: they are history, not live tracks.
		if (a.failed == nil) != (b.failed == nil) {
			if a.failed == nil {
				return -1
			}
			return 1
		}
		switch m.sort {
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

// pendingRow reports whether r is a publish still waiting for the SFU.
func pendingRow(r row) bool { return r.failed == nil && r.L.State == outgoing.StatePending }

// ended says whether a row is over: a track unpublished, or a publish that
// failed. Only those can be removed from the table.
func ended(r row) bool {
	return r.failed != nil || r.L.State == outgoing.StateUnpublished
}
