package load

import (
	"github.com/dttui/dttui/budget"
	"github.com/dttui/dttui/report"
)

// Since is s counted from base on (a summary of the same run taken when
// its warmup ended): every track's counters and latency histogram minus
// base's, its frames/s over the frames sent after base, and the
// participants' reconnects after base. Levels (queued, in grace) and
// the run's shape stay as they are; a track base does not hold counts
// whole.
func (s Summary) Since(base *Summary) Summary {
	if base == nil {
		return s
	}
	type key struct{ p, t string }
	old := make(map[key]*TrackSummary, len(base.Tracks))
	for i := range base.Tracks {
		b := &base.Tracks[i]
		old[key{b.Participant, b.Track}] = b
	}
	out := s
	out.Tracks = make([]TrackSummary, len(s.Tracks))
	for i, t := range s.Tracks {
		if b := old[key{t.Participant, t.Track}]; b != nil {
			t.Pushed, t.Sent, t.Dropped = sub(t.Pushed, b.Pushed), sub(t.Sent, b.Sent), sub(t.Dropped, b.Dropped)
			by := map[string]uint64{}
			for r, n := range t.DroppedBy {
				if d := sub(n, b.DroppedBy[r]); d > 0 {
					by[r] = d
				}
			}
			t.DroppedBy = nil
			if len(by) > 0 {
				t.DroppedBy = by
			}
			t.setReceive(t.Receive().Rebase(b.Receive()))
			t.Expected, t.Arrivals = sub(t.Expected, b.Expected), sub(t.Arrivals, b.Arrivals)
			t.Latency.Sub(&b.Latency)
			t.Rx = RxCounters{Packets: sub(t.Rx.Packets, b.Rx.Packets), PacketsLost: sub(t.Rx.PacketsLost, b.Rx.PacketsLost),
				FramesCompleted: sub(t.Rx.FramesCompleted, b.Rx.FramesCompleted), FramesIncomplete: sub(t.Rx.FramesIncomplete, b.Rx.FramesIncomplete)}
			// The last frame before base opens the span: the n frames
			// after it over their n intervals, report's whole-run rate.
			t.SentFPS = 0
			if t.Sent > 0 && !b.lastSent.IsZero() {
				t.SentFPS = report.AverageRate(t.Sent+1, b.lastSent, t.lastSent)
			}
		}
		out.Tracks[i] = t
	}
	before := map[string]ParticipantState{}
	for _, p := range base.Participants {
		before[p.Identity] = p
	}
	out.Participants = make([]ParticipantState, len(s.Participants))
	for i, p := range s.Participants {
		b := before[p.Identity]
		p.Reconnects = max(p.Reconnects-b.Reconnects, 0)
		if p.Stalls != nil {
			n := *p.Stalls
			if b.Stalls != nil {
				n = max(n-*b.Stalls, 0)
			}
			p.Stalls = &n
		}
		out.Participants[i] = p
	}
	out.Foreign = sub(s.Foreign, base.Foreign)
	return out
}

func sub(a, b uint64) uint64 { return a - min(a, b) }

// BudgetSubjects is every track of the summary as budgets read it: loss and
// latency at the subscribers (when the run had any), frames/s sent,
// drops by reason, and its publisher's reconnects and stalls (when
// counted).
func (s *Summary) BudgetSubjects() []budget.Subject {
	reconnects := map[string]int{}
	stalls := map[string]*int{}
	for _, p := range s.Participants {
		reconnects[p.Identity], stalls[p.Identity] = p.Reconnects, p.Stalls
	}
	out := make([]budget.Subject, 0, len(s.Tracks))
	for i := range s.Tracks {
		t := &s.Tracks[i]
		subj := budget.Subject{Kind: budget.KindLoad, Track: t.Track, Label: t.Participant + "/" + t.Track,
			HasFPS: true, FPS: t.SentFPS, HasDrops: true, Dropped: t.Dropped, DroppedBy: t.DroppedBy,
			HasReconnects: true, Reconnects: reconnects[t.Participant]}
		if n := stalls[t.Participant]; n != nil {
			subj.HasStalls, subj.Stalls = true, *n
		}
		if t.Subscribers > 0 {
			loss := t.Loss()
			subj.HasLoss, subj.Lost, subj.Expected = true, loss.Lost, loss.Expected
			subj.HasLatency, subj.Latency = true, report.LatencyOf(&t.Latency)
		}
		out = append(out, subj)
	}
	return out
}
