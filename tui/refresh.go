package tui

import (
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
		m.tbl.snap = m.b.Report(m.tbl.base, m.scope())
		m.status = m.tbl.snap.Connection
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

// buildRows rebuilds the table's rows from the report it holds, with
// the failed publishes, the tracks' UI state and the filter.
func (m *Model) buildRows() { m.tbl.build(m.rowInputs()) }

// rowInputs are what the table's rows are built from besides the report
// (tableHost).
func (m *Model) rowInputs() ([]failedRow, map[uint16]*trackUI, func(string) bool) {
	return m.failed, m.tracks, m.filter.Match
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

// pendingRow reports whether r is a publish still waiting for the SFU.
func pendingRow(r row) bool {
	return !r.Room() && r.failed == nil && r.L.State == outgoing.StatePending
}
