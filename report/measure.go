package report

import (
	"time"

	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/outgoing"
)

// Measured is s counted from base on, the figures a run's budgets are
// judged on after its warmup: Rebase's counters, the connection's
// reconnects and stalls after base, every track's whole-run latency over
// the frames that arrived after base (RunLatency minus base's), and its
// Average rates as the frames sent (received, for a remote track) after
// base over the time from base.At to end, the moment the run stopped
// pushing. A nil base returns s unchanged: the whole run.
func (s Snapshot) Measured(base *Snapshot, end time.Time) Snapshot {
	if base == nil {
		return s
	}
	out := s.Rebase(base)
	out.Connection.Reconnects = max(s.Connection.Reconnects-base.Connection.Reconnects, 0)
	span := end.Sub(base.At)
	old := make(map[uint16]*Local, len(base.Local))
	for i := range base.Local {
		old[base.Local[i].Handle] = &base.Local[i]
	}
	for i := range out.Local {
		l := &out.Local[i]
		var b *Figures
		if o := old[l.Handle]; o != nil {
			b = &o.Figures
		}
		l.RunLatency, l.RunLatencyHist = latencySince(&l.Figures, b)
		// out's counters are already rebased: what happened after base.
		a := Rates{Window: span}
		if span > 0 {
			a.SentFPS = float64(l.Out.FramesSent) / span.Seconds()
			a.SentPPS = float64(l.Out.PacketsSent) / span.Seconds()
			a.SentBPS = float64(l.Out.BytesSent) / span.Seconds()
			a.DroppedFPS = float64(l.Out.FramesDropped) / span.Seconds()
			if l.Rx != nil {
				a.ReceivedFPS = float64(l.Rx.Frames) / span.Seconds()
				a.ReceivedBPS = float64(l.Rx.Bytes) / span.Seconds()
				a.LostFPS = float64(l.Rx.Lost) / span.Seconds()
				a.ReceivedValid = true
			}
		}
		l.Average = a
	}
	oldRemote := make(map[string]*Remote, len(base.Remote))
	for i := range base.Remote {
		oldRemote[base.Remote[i].SID()] = &base.Remote[i]
	}
	for i := range out.Remote {
		r := &out.Remote[i]
		var b *Figures
		if o := oldRemote[r.SID()]; o != nil {
			b = &o.Figures
		}
		r.RunLatency, r.RunLatencyHist = latencySince(&r.Figures, b)
		a := Rates{Window: span}
		if span > 0 {
			st := &r.Stats
			a.ReceivedFPS = float64(st.FramesCompleted) / span.Seconds()
			a.ReceivedBPS = float64(st.FrameBytes) / span.Seconds()
			a.ReceivedPPS = float64(st.Packets) / span.Seconds()
			a.LostFPS = float64(st.FramesLost) / span.Seconds()
			a.PacketsLostPS = float64(st.PacketsLost) / span.Seconds()
			a.ReceivedValid = true
		}
		r.Average = a
	}
	return out
}

// latencySince is f's whole-run latency minus base's: the frames that
// arrived after base was taken. Without a histogram in f (a Scope with
// NoRun) there is none.
func latencySince(f, base *Figures) (Latency, *histogram.Histogram) {
	if f.RunLatencyHist == nil {
		return Latency{}, nil
	}
	h := *f.RunLatencyHist
	if base != nil && base.RunLatencyHist != nil {
		h.Sub(base.RunLatencyHist)
	}
	return latencyOf(&h, 0), &h
}

// DropsByName is c's drops by reason, keyed by the reason's name, without
// the reasons that dropped nothing (nil when none did): the JSON's and
// the budgets' view of them.
func DropsByName(c outgoing.Counters) map[string]uint64 {
	var out map[string]uint64
	for r, n := range c.DroppedBy {
		if n > 0 {
			if out == nil {
				out = map[string]uint64{}
			}
			out[outgoing.DropReason(r).String()] = n
		}
	}
	return out
}

// LatencyOf is a latency histogram's (ns) figures: its count, p50, p95,
// p99 and max (Window 0: however long it covers).
func LatencyOf(h *histogram.Histogram) Latency { return latencyOf(h, 0) }
