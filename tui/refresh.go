package tui

import (
	"cmp"
	"slices"
	"time"

	"github.com/dttui/dttui/incoming"
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

// roomColumn is the room section's column for the same order: by
// publisher (then the order announced), name, received bytes/s, frames
// lost.
func (s sortMode) roomColumn() tracktable.Sort {
	return [...]tracktable.Sort{{Column: tracktable.ColFrom}, {Column: tracktable.ColName},
		{Column: tracktable.ColBytes, Desc: true}, {Column: tracktable.ColLost, Desc: true}}[s]
}

// refresh takes the session's report and rebuilds the rows; it runs at
// the UI tick, so the cost of the display does not depend on the packet
// rate. Every figure comes from the report (rebased on the last reset):
// the UI computes none of its own.
func (m *Model) refresh() {
	if m.b != nil {
		m.snap = m.b.Report(m.base, m.scope())
		m.status = m.snap.Connection
	}
	m.buildRows()
}

// scope is what the screen draws of each track's history: the table's
// sparkline and the drop window of every row, and the whole history of
// the selected one (its chart and detail pane). While paused, the screen
// keeps the report it has, so it takes every row's whole history once:
// any row selected then has its charts.
func (m *Model) scope() report.Scope {
	if m.paused {
		return report.Scope{NoRun: true}
	}
	sc := report.Scope{History: max(tracktable.SparkColumns, int(DropWindow/time.Second)), NoRun: true}
	if r, ok := m.selectedRow(); ok {
		sc.Full = r.recordKey()
	}
	return sc
}

// buildRows makes the rows from the report last taken: the local tracks
// not removed, then the failed publishes, then the room's tracks not
// removed, narrowed by the filter.
func (m *Model) buildRows() {
	rows := make([]row, 0, len(m.snap.Local)+len(m.failed)+len(m.snap.Remote))
	m.all, m.roomAll = 0, 0
	for _, l := range m.snap.Local {
		if m.hidden[l.Handle] {
			continue
		}
		m.all++
		if !m.filter.Match(l.Name) {
			continue
		}
		r := row{Row: tracktable.Row{L: l, Dropping: dropping(l.Rate.DroppedFPS, l.History, func(s report.Second) uint64 { return s.Dropped }),
			Losing: dropping(l.Rate.LostFPS, l.History, func(s report.Second) uint64 { return s.Lost })}}
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
	inReport := 0
	for i := range m.snap.Remote {
		rt := &m.snap.Remote[i]
		if m.hiddenRemote[rt.SID()] {
			inReport++
			continue
		}
		m.roomAll++
		if !m.filter.Match(rt.Stats.Name) && !m.filter.Match(rt.Stats.PublisherIdentity) {
			continue
		}
		losing := dropping(rt.Rate.LostFPS+rt.Rate.PacketsLostPS, rt.History, func(s report.Second) uint64 { return s.Lost })
		rows = append(rows, row{seq: i, Row: tracktable.Row{R: rt, Dropping: losing && rt.Stats.State == incoming.StateSubscribed}})
	}
	if inReport < len(m.hiddenRemote) {
		// The monitor forgot some: forget them too.
		keep := map[string]bool{}
		for i := range m.snap.Remote {
			if sid := m.snap.Remote[i].SID(); m.hiddenRemote[sid] {
				keep[sid] = true
			}
		}
		m.hiddenRemote = keep
	}
	m.rows = rows
	m.sortRows()
	// Keep the selection on its track; if that row is gone, take the first.
	if len(m.rows) > 0 && m.rows[m.selectedIndex()].key() != m.selected {
		m.selected = m.rows[0].key()
	}
}

// dropping says whether a track dropped (or, in the room, lost) frames
// within the last DropWindow: in the last second (rate) or a complete
// second of the history before it (n of it).
func dropping(rate float64, hist []report.Second, n func(report.Second) uint64) bool {
	if rate > 0 {
		return true
	}
	secs := int(DropWindow / time.Second)
	for _, s := range hist[max(len(hist)-secs, 0):] {
		if n(s) > 0 {
			return true
		}
	}
	return false
}

func (m *Model) sortRows() {
	slices.SortStableFunc(m.rows, func(a, b row) int {
		// The room's rows after ours: a section of their own.
		if a.Room() != b.Room() {
			if b.Room() {
				return -1
			}
			return 1
		}
		if a.Room() {
			// Ties in the order the SFU announced the tracks.
			return cmp.Or(m.compareRoom(a.R, b.R), cmp.Compare(a.seq, b.seq))
		}
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

// compareRoom orders the room's rows: by publisher, name, received
// bytes/s, frames lost.
func (m *Model) compareRoom(a, b *report.Remote) int {
	switch m.sort {
	case sortName:
		return cmp.Compare(a.Stats.Name, b.Stats.Name)
	case sortRate:
		return cmp.Compare(b.Rate.ReceivedBPS, a.Rate.ReceivedBPS)
	case sortDrops:
		return cmp.Compare(b.Stats.LostFrames(), a.Stats.LostFrames())
	}
	return cmp.Compare(a.Stats.PublisherIdentity, b.Stats.PublisherIdentity)
}

// pendingRow reports whether r is a publish still waiting for the SFU.
func pendingRow(r row) bool {
	return !r.Room() && r.failed == nil && r.L.State == outgoing.StatePending
}
