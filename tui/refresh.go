package tui

import (
	"cmp"
	"slices"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
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

// refresh polls the backend and rebuilds the rows; it runs at the UI tick,
// so the cost of the display does not depend on the packet rate.
func (m *Model) refresh() {
	now := m.opts.Now()
	var snap []outgoing.TrackStats
	var rx map[string]session.ReceiveStats
	if m.b != nil {
		m.status = m.b.Status()
		snap = m.b.Snapshot()
		rx = m.b.Received()
	}
	rows := make([]row, 0, len(snap)+len(m.failed))
	for _, st := range snap {
		r := row{Row: tracktable.Row{Stats: st}}
		if t := m.tracks[st.Handle]; t != nil {
			r.ui = t
			r.FPS = t.fps.Observe(st.FramesSent, now)
			r.PPS = t.pps.Observe(st.PacketsSent, now)
			r.BPS = t.bps.Observe(st.BytesSent, now)
			r.RecentDrops = t.drops.Observe(st.FramesDropped, now)
			t.spark.Add(r.BPS, now)
			r.Stats = subtract(st, t.baseline)
			if got, ok := rx[st.Name]; ok && st.State != outgoing.StatePending {
				r.RxFPS = t.rxfps.Observe(got.FramesReceived, now)
				got = subtractRx(got, t.rxBaseline)
				r.Rx = &got
			}
		}
		rows = append(rows, r)
	}
	for i := range m.failed {
		f := &m.failed[i]
		rows = append(rows, row{failed: f, Row: tracktable.Row{Failed: f.err,
			Stats: outgoing.TrackStats{Name: f.name, Since: f.at, LastError: reasonText(f.err)}}})
	}
	m.rows = rows
	m.sortRows()
	// Keep the selection on its track; if that row is gone, take the first.
	if len(m.rows) > 0 && m.rows[m.selectedIndex()].key() != m.selected {
		m.selected = m.rows[0].key()
	}
}

func subtract(s, base outgoing.TrackStats) outgoing.TrackStats {
	if base.Handle != s.Handle {
		return s
	}
	s.FramesPushed -= min(base.FramesPushed, s.FramesPushed)
	s.FramesSent -= min(base.FramesSent, s.FramesSent)
	s.PacketsSent -= min(base.PacketsSent, s.PacketsSent)
	s.BytesSent -= min(base.BytesSent, s.BytesSent)
	s.FramesDropped -= min(base.FramesDropped, s.FramesDropped)
	for i := range s.DroppedBy {
		s.DroppedBy[i] -= min(base.DroppedBy[i], s.DroppedBy[i])
	}
	s.UnpublishedErrors -= min(base.UnpublishedErrors, s.UnpublishedErrors)
	return s
}

func subtractRx(r, base session.ReceiveStats) session.ReceiveStats {
	r.FramesReceived -= min(base.FramesReceived, r.FramesReceived)
	r.BytesReceived -= min(base.BytesReceived, r.BytesReceived)
	r.FramesLost -= min(base.FramesLost, r.FramesLost)
	r.FramesIncomplete -= min(base.FramesIncomplete, r.FramesIncomplete)
	return r
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
			return cmp.Compare(a.Stats.Name, b.Stats.Name)
		case sortRate:
			return cmp.Compare(b.BPS, a.BPS)
		case sortDrops:
			return cmp.Compare(b.Stats.FramesDropped, a.Stats.FramesDropped)
		}
		return cmp.Compare(a.Stats.Handle, b.Stats.Handle)
	})
}
