package report

import (
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
)

// Rebase returns s with every figure counted from base on, as a display
// reset wants it: cumulative counters minus base's (per handle), errors,
// history and connection events before base.At left out. Levels (queued, in grace) stay as
// they are. Latency is rebased where it is computed (Recorder.Fill's
// since). A nil base returns s unchanged.
func (s Snapshot) Rebase(base *Snapshot) Snapshot {
	if base == nil {
		return s
	}
	old := make(map[uint16]*Local, len(base.Local))
	for i := range base.Local {
		old[base.Local[i].Handle] = &base.Local[i]
	}
	out := s
	from := base.At.Truncate(time.Second)
	out.ConnHistory = nil
	for _, sec := range s.ConnHistory {
		if !sec.Start.Before(from) {
			out.ConnHistory = append(out.ConnHistory, sec)
		}
	}
	out.Stalls = max(s.Stalls-base.Stalls, 0)
	for i := range out.Memory.Evicted { // Bytes and Peak are levels and stay
		out.Memory.Evicted[i] = sub(s.Memory.Evicted[i], base.Memory.Evicted[i])
		out.Memory.EvictedBytes[i] = sub(s.Memory.EvictedBytes[i], base.Memory.EvictedBytes[i])
	}
	out.ConnEvents = nil
	for _, ev := range s.ConnEvents {
		if !ev.At.Before(base.At) {
			out.ConnEvents = append(out.ConnEvents, ev)
		}
	}
	out.Local = make([]Local, len(s.Local))
	for i, l := range s.Local {
		if b := old[l.Handle]; b != nil {
			l.Out = subCounters(l.Out, b.Out)
			if l.Rx != nil && b.Rx != nil {
				rx := l.Rx.Rebase(*b.Rx)
				l.Rx = &rx
			}
			l.SFU = subSFU(l.SFU, b.SFU)
		}
		l.Errors = after(l.Errors, base)
		var hist []Second
		for _, sec := range l.History {
			if !sec.Start.Before(base.At.Truncate(time.Second)) {
				hist = append(hist, sec)
			}
		}
		l.History = hist
		out.Local[i] = l
	}
	oldRemote := make(map[string]*Remote, len(base.Remote))
	for i := range base.Remote {
		oldRemote[base.Remote[i].SID()] = &base.Remote[i]
	}
	out.Remote = make([]Remote, len(s.Remote))
	for i, r := range s.Remote {
		if b := oldRemote[r.SID()]; b != nil {
			r.Stats = subRemote(r.Stats, b.Stats)
			r.SFU = subSFU(r.SFU, b.SFU)
			r.Probe = subProbe(r.Probe, b.Probe)
			r.Schema.Checked = sub(r.Schema.Checked, b.Schema.Checked)
			r.Schema.Mismatches = sub(r.Schema.Mismatches, b.Schema.Mismatches)
			r.Schema.NotChecked = sub(r.Schema.NotChecked, b.Schema.NotChecked)
			if r.Schema.Mismatches == 0 {
				r.Schema.First = nil
			}
		}
		var hist []Second
		for _, sec := range r.History {
			if !sec.Start.Before(base.At.Truncate(time.Second)) {
				hist = append(hist, sec)
			}
		}
		r.History = hist
		var errs []incoming.ErrorEvent
		for _, e := range r.Stats.Errors {
			if e.At.After(base.At) {
				errs = append(errs, e)
			}
		}
		r.Stats.Errors = errs
		out.Remote[i] = r
	}
	return out
}

// subRemote rebases a remote track's cumulative counters (and histograms)
// on base's.
func subRemote(s, b incoming.TrackStats) incoming.TrackStats {
	s.Packets = sub(s.Packets, b.Packets)
	s.Bytes = sub(s.Bytes, b.Bytes)
	s.PacketsIgnored = sub(s.PacketsIgnored, b.PacketsIgnored)
	s.SubscribeTimeouts = sub(s.SubscribeTimeouts, b.SubscribeTimeouts)
	s.PacketsLost = sub(s.PacketsLost, b.PacketsLost)
	s.PacketsDuplicate = sub(s.PacketsDuplicate, b.PacketsDuplicate)
	s.PacketsReordered = sub(s.PacketsReordered, b.PacketsReordered)
	s.PacketsLate = sub(s.PacketsLate, b.PacketsLate)
	s.FramesCompleted = sub(s.FramesCompleted, b.FramesCompleted)
	s.FramesIncomplete = sub(s.FramesIncomplete, b.FramesIncomplete)
	for i := range s.IncompleteBy {
		s.IncompleteBy[i] = sub(s.IncompleteBy[i], b.IncompleteBy[i])
	}
	for i := range s.Evicted {
		s.Evicted[i] = sub(s.Evicted[i], b.Evicted[i])
	}
	s.FramesLost = sub(s.FramesLost, b.FramesLost)
	s.FramesCut = sub(s.FramesCut, b.FramesCut)
	s.FrameBytes = sub(s.FrameBytes, b.FrameBytes)
	s.FrameSizes.Sub(&b.FrameSizes)
	s.FramesOverClientLimit = sub(s.FramesOverClientLimit, b.FramesOverClientLimit)
	s.FramesDecrypted = sub(s.FramesDecrypted, b.FramesDecrypted)
	for i := range s.DecryptFailures {
		s.DecryptFailures[i] = sub(s.DecryptFailures[i], b.DecryptFailures[i])
	}
	s.UserTimestamps = sub(s.UserTimestamps, b.UserTimestamps)
	s.Latency.Sub(&b.Latency)
	s.LatencyNegative = sub(s.LatencyNegative, b.LatencyNegative)
	return s
}

// subProbe rebases a remote track's probe account on base's (InGrace is
// a level and stays).
func subProbe(p, b *RemoteProbe) *RemoteProbe {
	if p == nil || b == nil {
		return p
	}
	q := *p
	q.Sent, q.Received, q.Lost, q.Cut = sub(p.Sent, b.Sent), sub(p.Received, b.Received), sub(p.Lost, b.Lost), sub(p.Cut, b.Cut)
	q.Duplicates, q.Late, q.Unfollowed = sub(p.Duplicates, b.Duplicates), sub(p.Late, b.Late), sub(p.Unfollowed, b.Unfollowed)
	q.Corrupt, q.Spans, q.Jumps = sub(p.Corrupt, b.Corrupt), sub(p.Spans, b.Spans), sub(p.Jumps, b.Jumps)
	q.PublisherDropped = sub(p.PublisherDropped, b.PublisherDropped)
	q.Latency.Sub(&b.Latency)
	return &q
}

func after(evs []outgoing.ErrorEvent, base *Snapshot) []outgoing.ErrorEvent {
	var kept []outgoing.ErrorEvent
	for _, e := range evs {
		if e.At.After(base.At) {
			kept = append(kept, e)
		}
	}
	return kept
}

func sub(a, b uint64) uint64 { return a - min(a, b) }

func subCounters(c, b outgoing.Counters) outgoing.Counters {
	c.FramesPushed = sub(c.FramesPushed, b.FramesPushed)
	c.FramesSent = sub(c.FramesSent, b.FramesSent)
	c.FramesDropped = sub(c.FramesDropped, b.FramesDropped)
	c.PacketsSent = sub(c.PacketsSent, b.PacketsSent)
	c.BytesSent = sub(c.BytesSent, b.BytesSent)
	for i := range c.DroppedBy {
		c.DroppedBy[i] = sub(c.DroppedBy[i], b.DroppedBy[i])
	}
	c.UnpublishedErrors = sub(c.UnpublishedErrors, b.UnpublishedErrors)
	c.SchemaMismatches = sub(c.SchemaMismatches, b.SchemaMismatches)
	return c
}

// Rebase is r counted from b on: its counters minus b's; its levels
// (InGrace, Subscribed) and Grace as they are.
func (r Receive) Rebase(b Receive) Receive {
	r.Frames = sub(r.Frames, b.Frames)
	r.Bytes = sub(r.Bytes, b.Bytes)
	r.Lost = sub(r.Lost, b.Lost)
	r.Duplicates = sub(r.Duplicates, b.Duplicates)
	r.Late = sub(r.Late, b.Late)
	r.Foreign = sub(r.Foreign, b.Foreign)
	r.Data = sub(r.Data, b.Data)
	r.Unfollowed = sub(r.Unfollowed, b.Unfollowed)
	r.Incomplete = sub(r.Incomplete, b.Incomplete)
	r.Corrupt = sub(r.Corrupt, b.Corrupt)
	r.UserTimestamps = sub(r.UserTimestamps, b.UserTimestamps)
	return r
}

// subSFU rebases the SFU's counts; its summary of the uplink stays (it is
// logged once, at the end).
func subSFU(s, b *SFUObserved) *SFUObserved {
	if s == nil || b == nil {
		return s
	}
	o := *s
	o.Shed, o.ShedAll, o.NotReady = sub(s.Shed, b.Shed), sub(s.ShedAll, b.ShedAll), sub(s.NotReady, b.NotReady)
	return &o
}
