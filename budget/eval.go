package budget

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/textsafe"
)

// Kind is what a subject is.
type Kind string

const (
	// KindLocal is a track this run published, measured by its loopback
	// subscriber.
	KindLocal Kind = "local"
	// KindRoom is another participant's track, measured by the room
	// monitor.
	KindRoom Kind = "room"
	// KindLoad is one publisher's track in a load run, measured by its
	// subscribers.
	KindLoad Kind = "load"
)

// Subject is one track's figures as budgets read them. Each Has… says the
// run measures that kind of figure for the track at all (a room track has
// no drops of ours; a track without a subscriber has no loss): a budget
// on a figure no track has is broken, as one that cannot be checked.
type Subject struct {
	Kind Kind
	// Track is the name Expr.Track matches; Label says which track it is
	// (publisher/name for a room track, participant/name in a load run).
	Track, Label string

	HasLoss bool
	// Lost of Expected frames (Expected 0: nothing to measure loss on).
	Lost, Expected uint64

	HasFPS bool
	FPS    float64

	HasLatency bool
	Latency    report.Latency // Frames 0: none arrived

	HasDrops  bool
	Dropped   uint64
	DroppedBy map[string]uint64

	HasReconnects bool
	Reconnects    int
	HasStalls     bool
	Stalls        int
}

// loss is s's loss as report defines its ratio.
func (s *Subject) loss() report.Loss { return report.Loss{Lost: s.Lost, Expected: s.Expected} }

// value is what s measured of e's metric: whether the metric applies to
// s, and whether there was anything to measure.
func (s *Subject) value(e Expr) (v float64, applies, measured bool) {
	switch m := e.Metric; {
	case m == Loss:
		r, ok := s.loss().Ratio()
		return r, s.HasLoss, ok
	case m == FPS:
		return s.FPS, s.HasFPS, true
	case m.Latency():
		l := s.Latency
		d := map[Metric]time.Duration{P50: l.P50, P95: l.P95, P99: l.P99, Max: l.Max}[m]
		return float64(d), s.HasLatency, l.Frames > 0
	case m == Dropped:
		if e.Reason != "" {
			return float64(s.DroppedBy[e.Reason]), s.HasDrops, true
		}
		return float64(s.Dropped), s.HasDrops, true
	case m == Reconnects:
		return float64(s.Reconnects), s.HasReconnects, true
	case m == Stalls:
		return float64(s.Stalls), s.HasStalls, true
	}
	return 0, false, false
}

// Verdict is one budget judged on one track (or on none, when no track
// measures what it names).
type Verdict struct {
	Budget Expr
	// Subject is the track judged; nil when none was.
	Subject *Subject
	// Value is what was measured, in the metric's unit (see Expr.Value);
	// Measured false when there was nothing to measure.
	Value    float64
	Measured bool
	// Broken: the budget's condition held, or it could not be checked.
	Broken bool
}

// Evaluate judges every budget on every subject it names, in the order
// given. A budget that names no subject measuring its metric gets one
// broken verdict without a subject.
func Evaluate(budgets []Expr, subjects []Subject) []Verdict {
	var out []Verdict
	for _, e := range budgets {
		n := 0
		for i := range subjects {
			s := &subjects[i]
			if e.Track != "" && s.Track != e.Track {
				continue
			}
			v, applies, measured := s.value(e)
			if !applies {
				continue
			}
			n++
			out = append(out, Verdict{Budget: e, Subject: s, Value: v, Measured: measured,
				Broken: !measured || e.Op.holds(v, e.Value)})
		}
		if n == 0 {
			out = append(out, Verdict{Budget: e, Broken: true})
		}
	}
	return out
}

// Evaluated says whether v's budget was judged on a measured value; one
// that was not (no track measures it, or nothing arrived to measure) is
// broken, but a JUnit report calls it skipped, not failed.
func (v Verdict) Evaluated() bool { return v.Subject != nil && v.Measured }

// Broken lists the broken verdicts.
func Broken(vs []Verdict) []Verdict {
	var out []Verdict
	for _, v := range vs {
		if v.Broken {
			out = append(out, v)
		}
	}
	return out
}

// Label is the track judged, made safe for a terminal, or "-".
func (v Verdict) Label() string {
	if v.Subject == nil {
		return "-"
	}
	return textsafe.Line(v.Subject.Label)
}

// Measurement is the value in words ("58.1ms", "0.52%"), or why there is none.
func (v Verdict) Measurement() string {
	switch {
	case v.Subject == nil && v.Budget.Track != "":
		return fmt.Sprintf("no track %q measures %s", textsafe.Line(v.Budget.Track), v.Budget.Metric)
	case v.Subject == nil:
		return fmt.Sprintf("no track measures %s", v.Budget.Metric)
	case !v.Measured:
		return "not measured: nothing arrived to measure it on"
	}
	return Format(v.Budget.Metric, v.Value)
}

// String is the verdict in one line, as stderr shows a broken one.
func (v Verdict) String() string {
	verdict := "pass"
	if v.Broken {
		verdict = "FAIL"
	}
	if v.Subject == nil || !v.Measured {
		return fmt.Sprintf("budget %s: %s: %s", textsafe.Line(v.Budget.Text), verdict, v.Measurement())
	}
	return fmt.Sprintf("budget %s: %s: %s %s %s", textsafe.Line(v.Budget.Text), verdict, v.Label(), v.Budget.Metric, v.Measurement())
}

// Format writes a metric's value in its unit: loss as a percentage,
// latency as a duration, rates with one decimal, counts whole.
func Format(m Metric, v float64) string {
	switch {
	case m == Loss:
		s := strconv.FormatFloat(v*100, 'f', 3, 64) // 0.001 % is a frame in 100 000
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		return s + "%"
	case m.Latency():
		// Three significant digits: 58.1ms, 639µs, 1.21s.
		d := time.Duration(v)
		unit := time.Duration(1)
		for x := d; x >= 1000; x /= 10 {
			unit *= 10
		}
		return d.Round(unit).String()
	case m == FPS:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
}

// JSON is a verdict on the final JSON line.
type JSON struct {
	Budget string `json:"budget"`
	// Track is the track judged ("" when none measures the metric).
	Track string `json:"track"`
	Kind  Kind   `json:"kind,omitempty"`
	// Value is the measured value in Unit, null when nothing was measured;
	// Threshold the budget's, in the same unit.
	Value     *float64 `json:"value"`
	Threshold float64  `json:"threshold"`
	Unit      string   `json:"unit"`
	Verdict   string   `json:"verdict"` // "pass" or "fail"
}

// Unit is the unit JSON values of m are in.
func (m Metric) Unit() string {
	switch {
	case m == Loss:
		return "%"
	case m.Latency():
		return "ms"
	case m == FPS:
		return "fps"
	}
	return "count"
}

// inUnit converts a value of m to its JSON unit.
func inUnit(m Metric, v float64) float64 {
	switch {
	case m == Loss:
		return v * 100
	case m.Latency():
		return v / 1e6
	}
	return v
}

// JSON is v as on the final line.
func (v Verdict) JSON() JSON {
	j := JSON{Budget: textsafe.Line(v.Budget.Text), Threshold: inUnit(v.Budget.Metric, v.Budget.Value),
		Unit: v.Budget.Metric.Unit(), Verdict: "pass"}
	if v.Broken {
		j.Verdict = "fail"
	}
	if v.Subject != nil {
		j.Track, j.Kind = textsafe.Line(v.Subject.Label), v.Subject.Kind
	}
	if v.Subject != nil && v.Measured {
		x := inUnit(v.Budget.Metric, v.Value)
		j.Value = &x
	}
	return j
}

// JSONs is every verdict as on the final line ([] for none).
func JSONs(vs []Verdict) []JSON {
	out := make([]JSON, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.JSON())
	}
	return out
}

// FromSnapshot is every track of a run's report as budgets read it: our
// tracks (those that got as far as a publication), with loss and latency
// when a loopback subscriber measured them, and the room's tracks. fps
// is the Average rate: over the whole run, or, for a Measured snapshot,
// over the measured time.
func FromSnapshot(s report.Snapshot) []Subject {
	var out []Subject
	conn := func(sub *Subject) {
		sub.HasReconnects, sub.Reconnects = true, s.Connection.Reconnects
		sub.HasStalls, sub.Stalls = true, s.Stalls
	}
	for _, l := range s.Local {
		if l.State == outgoing.StatePending {
			continue
		}
		sub := Subject{Kind: KindLocal, Track: l.Name, Label: l.Name, HasFPS: true, FPS: l.Average.SentFPS,
			HasDrops: true, Dropped: l.Out.FramesDropped, DroppedBy: report.DropsByName(l.Out)}
		if rx := l.Rx; rx != nil {
			loss := rx.Loss()
			sub.HasLoss, sub.Lost, sub.Expected = true, loss.Lost, loss.Expected
			sub.HasLatency, sub.Latency = true, l.RunLatency
		}
		conn(&sub)
		out = append(out, sub)
	}
	for _, r := range s.Remote {
		st := r.Stats
		sub := Subject{Kind: KindRoom, Track: st.Name, Label: st.PublisherIdentity + "/" + st.Name,
			HasFPS: true, FPS: r.Average.ReceivedFPS, HasLoss: true, HasLatency: true, Latency: r.RunLatency}
		loss := r.Loss()
		sub.Lost, sub.Expected = loss.Lost, loss.Expected
		conn(&sub)
		out = append(out, sub)
	}
	return out
}
