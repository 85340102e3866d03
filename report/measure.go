package report

import (
	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/outgoing"
)

// Measured is s counted from base on, the figures a run's budgets are
// judged on after its warmup: Rebase's counters, the connection's
// reconnects and stalls after base, every track's whole-run latency over
// the frames that arrived after base (RunLatency minus base's), and its
// Average rates as the frames sent (received, for a remote track) from
// base to end over the time between them: end is the report when the run
// stopped pushing (s, the final one, also counts the exit flush and the
// frames still on their way then). A nil base returns s unchanged: the
// whole run; a nil end takes s.
func (s Snapshot) Measured(base, end *Snapshot) Snapshot {
	if base == nil {
		return s
	}
	if end == nil {
		end = &s
	}
	out := s.Rebase(base)
	out.Connection.Reconnects = max(s.Connection.Reconnects-base.Connection.Reconnects, 0)
	rated := end.Rebase(base)
	span := end.At.Sub(base.At)
	atEnd := make(map[uint16]*Local, len(rated.Local))
	for i := range rated.Local {
		atEnd[rated.Local[i].Handle] = &rated.Local[i]
	}
	remoteAtEnd := make(map[string]*Remote, len(rated.Remote))
	for i := range rated.Remote {
		remoteAtEnd[rated.Remote[i].SID()] = &rated.Remote[i]
	}
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
		// rated's counters are rebased: what happened from base to end.
		a := Rates{Window: span}
		if e := atEnd[l.Handle]; e != nil && span > 0 {
			a.SentFPS = float64(e.Out.FramesSent) / span.Seconds()
			a.SentPPS = float64(e.Out.PacketsSent) / span.Seconds()
			a.SentBPS = float64(e.Out.BytesSent) / span.Seconds()
			a.DroppedFPS = float64(e.Out.FramesDropped) / span.Seconds()
			if e.Rx != nil {
				a.ReceivedFPS = float64(e.Rx.Frames) / span.Seconds()
				a.ReceivedBPS = float64(e.Rx.Bytes) / span.Seconds()
				a.LostFPS = float64(e.Rx.Lost) / span.Seconds()
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
		if e := remoteAtEnd[r.SID()]; e != nil && span > 0 {
			st := &e.Stats
			a.ReceivedFPS = float64(st.FramesCompleted) / span.Seconds()
			a.ReceivedBPS = float64(st.FrameBytes) / span.Seconds()
			a.ReceivedPPS = float64(st.Packets) / span.Seconds()
			a.LostFPS = float64(st.LostFrames()) / span.Seconds()
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
