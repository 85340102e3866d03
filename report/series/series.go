// Package series turns a report's per-second history into the charts
// every consumer draws (the TUI's chart pane, the HTML report of a
// headless run): panels of named series over time, one value per second,
// and the moments worth marking on the time axis (reconnects, republishes,
// state changes). What is charted, and how it is named, is decided here
// once, so the screen and the report show the same curves.
package series

import (
	"math"
	"slices"
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
)

// Unit is what a panel's values measure.
type Unit int

const (
	PerSecond      Unit = iota // frames per second
	BytesPerSecond             // bytes per second
	Duration                   // seconds of latency or round-trip time
)

// Role is what a series is: consumers colour a role alike everywhere.
type Role int

const (
	Sent Role = iota
	Received
	Dropped
	Lost
	P50
	P95
	P99
	RTT
)

// Series is one curve: a value per second from its Set's Start; NaN
// where the second has no value (no latency measured, say).
type Series struct {
	Name   string
	Role   Role
	Values []float64
}

// Panel is one chart: series sharing a unit and an axis.
type Panel struct {
	Title  string
	Unit   Unit
	Series []Series
}

// MarkKind is a moment worth seeing on the time axis.
type MarkKind int

const (
	Reconnecting MarkKind = iota // the connection was lost; reconnecting
	Reconnected                  // a reconnect completed
	Stalled                      // the data channel stopped making progress
	Disconnected                 // the connection was lost for good
	Republishing                 // the track waits for its republish
	Republished                  // the track was published again (new SID)
	Unpublished                  // the track was unpublished
)

var markNames = [...]string{"reconnecting", "reconnected", "stalled", "disconnected", "republishing", "republished", "unpublished"}

// Glyphs are one cell each, letters so they read without colour.
var markGlyphs = [...]string{"r", "R", "S", "D", "p", "P", "U"}

func (k MarkKind) String() string { return markNames[k] }

// Glyph is the mark's one-cell symbol on a time axis.
func (k MarkKind) Glyph() string { return markGlyphs[k] }

// Mark is a moment on the time axis.
type Mark struct {
	At   time.Time
	Kind MarkKind
}

// Set is everything charted about one row: its panels over the same
// seconds, and its marks.
type Set struct {
	Title  string
	Start  time.Time // the first second
	Len    int       // seconds; every series has Len values
	Panels []Panel
	Marks  []Mark // oldest first
}

// End is the end of the last second.
func (s Set) End() time.Time { return s.Start.Add(time.Duration(s.Len) * time.Second) }

// Last is the set cut to its last n seconds (its marks within them).
func (s Set) Last(n int) Set {
	if n >= s.Len {
		return s
	}
	cut := s.Len - n
	out := s
	out.Start, out.Len = s.Start.Add(time.Duration(cut)*time.Second), n
	out.Panels = make([]Panel, len(s.Panels))
	for i, p := range s.Panels {
		q := p
		q.Series = make([]Series, len(p.Series))
		for j, ser := range p.Series {
			ser.Values = ser.Values[cut:]
			q.Series[j] = ser
		}
		out.Panels[i] = q
	}
	out.Marks = nil
	for _, m := range s.Marks {
		if !m.At.Before(out.Start) {
			out.Marks = append(out.Marks, m)
		}
	}
	return out
}

// The panels' titles, as consumers find them.
const (
	TitleFrames  = "frames/s"
	TitleBytes   = "bytes/s"
	TitleDrops   = "dropped, lost /s"
	TitleLatency = "latency"
	TitleRTT     = "signal RTT"
	// TitleLost is a room track's loss panel: frames lost (never seen, or
	// given up incomplete).
	TitleLost = "frames lost /s"
	// TitleLatencyTwoClocks is a room track's latency when its publisher's
	// clock is not synced with ours: our clock against the publisher's.
	// Synced, the panel is TitleLatency (one-way).
	TitleLatencyTwoClocks = "latency (two clocks)"
)

// Local charts a local track: frames and bytes per second sent (and
// received by the loopback subscriber), drops by reason and loss per
// second, latency p50/p95/p99 per second; marked with its republishes and
// unpublish and the connection's events (conn, from the same snapshot).
func Local(l report.Local, conn []report.ConnEvent) Set {
	h := l.History
	s := Set{Title: l.Name, Len: len(h)}
	if len(h) > 0 {
		s.Start = h[0].Start
	}
	rx := l.Rx != nil
	col := func(f func(report.Second) float64) []float64 {
		v := make([]float64, len(h))
		for i, sec := range h {
			v[i] = f(sec)
		}
		return v
	}
	frames := Panel{Title: TitleFrames, Unit: PerSecond, Series: []Series{
		{Name: "sent", Role: Sent, Values: col(func(s report.Second) float64 { return float64(s.Sent) })}}}
	bytes := Panel{Title: TitleBytes, Unit: BytesPerSecond, Series: []Series{
		// Payload bytes, as the loopback counts what it receives: with
		// packet bytes, a lossless stream of small frames would show sent
		// far above received.
		{Name: "sent", Role: Sent, Values: col(func(s report.Second) float64 { return float64(s.PayloadBytes) })}}}
	if rx {
		frames.Series = append(frames.Series, Series{Name: "received", Role: Received, Values: col(func(s report.Second) float64 { return float64(s.Received) })})
		bytes.Series = append(bytes.Series, Series{Name: "received", Role: Received, Values: col(func(s report.Second) float64 { return float64(s.RxBytes) })})
	}
	// Drops by reason: a series for each reason the history has, named by
	// it, so the chart says why as well as when. With none, one flat
	// "dropped" line.
	drops := Panel{Title: TitleDrops, Unit: PerSecond}
	for r := range outgoing.NumDropReasons {
		v := col(func(s report.Second) float64 { return float64(s.DroppedBy[r]) })
		if slices.ContainsFunc(v, func(x float64) bool { return x > 0 }) {
			drops.Series = append(drops.Series, Series{Name: r.String(), Role: Dropped, Values: v})
		}
	}
	if len(drops.Series) == 0 {
		drops.Series = append(drops.Series, Series{Name: "dropped", Role: Dropped, Values: col(func(s report.Second) float64 { return float64(s.Dropped) })})
	}
	if rx {
		drops.Series = append(drops.Series, Series{Name: "lost", Role: Lost, Values: col(func(s report.Second) float64 { return float64(s.Lost) })})
	}
	s.Panels = []Panel{frames, bytes, drops}
	if rx {
		s.Panels = append(s.Panels, Panel{Title: TitleLatency, Unit: Duration, Series: []Series{
			{Name: "p50", Role: P50, Values: latencies(h, func(s report.Second) time.Duration { return s.LatencyP50 })},
			{Name: "p95", Role: P95, Values: latencies(h, func(s report.Second) time.Duration { return s.LatencyP95 })},
			{Name: "p99", Role: P99, Values: latencies(h, func(s report.Second) time.Duration { return s.LatencyP99 })}}})
	}
	published := false
	for _, ch := range l.Timeline {
		switch ch.State {
		case outgoing.StatePublished:
			if published {
				s.Marks = append(s.Marks, Mark{At: ch.At, Kind: Republished})
			}
			published = true
		case outgoing.StateRepublishing:
			s.Marks = append(s.Marks, Mark{At: ch.At, Kind: Republishing})
		case outgoing.StateUnpublished:
			s.Marks = append(s.Marks, Mark{At: ch.At, Kind: Unpublished})
		}
	}
	s.Marks = append(s.Marks, connMarks(conn)...)
	s.Marks = within(s, s.Marks)
	return s
}

// Remote charts a room track (another participant's, as the room monitor
// receives it): frames and bytes per second received, frames lost per
// second, and latency p50/p95/p99 per second — one-way when the
// publisher's clock is synced with ours, else our clock against its user
// timestamps, so the clocks' offset is part of it;
// marked with its unpublish, its republish after the publisher
// reconnected, and the connection's events (conn).
func Remote(r report.Remote, conn []report.ConnEvent) Set {
	h := r.History
	s := Set{Title: r.Stats.PublisherIdentity + "/" + r.Stats.Name + " " + r.Stats.SID, Len: len(h)}
	if len(h) > 0 {
		s.Start = h[0].Start
	}
	col := func(f func(report.Second) float64) []float64 {
		v := make([]float64, len(h))
		for i, sec := range h {
			v[i] = f(sec)
		}
		return v
	}
	s.Panels = []Panel{
		{Title: TitleFrames, Unit: PerSecond, Series: []Series{
			{Name: "received", Role: Received, Values: col(func(s report.Second) float64 { return float64(s.Received) })}}},
		{Title: TitleBytes, Unit: BytesPerSecond, Series: []Series{
			{Name: "received", Role: Received, Values: col(func(s report.Second) float64 { return float64(s.RxBytes) })}}},
		{Title: TitleLost, Unit: PerSecond, Series: []Series{
			{Name: "lost", Role: Lost, Values: col(func(s report.Second) float64 { return float64(s.Lost) })}}},
		{Title: remoteLatencyTitle(r.Stats.Clock), Unit: Duration, Series: []Series{
			{Name: "p50", Role: P50, Values: latencies(h, func(s report.Second) time.Duration { return s.LatencyP50 })},
			{Name: "p95", Role: P95, Values: latencies(h, func(s report.Second) time.Duration { return s.LatencyP95 })},
			{Name: "p99", Role: P99, Values: latencies(h, func(s report.Second) time.Duration { return s.LatencyP99 })}}},
	}
	if r.Stats.Replaces != "" && len(r.Stats.Timeline) > 0 {
		s.Marks = append(s.Marks, Mark{At: r.Stats.Timeline[0].At, Kind: Republished})
	}
	for _, ch := range r.Stats.Timeline {
		if ch.State == incoming.StateUnpublished {
			s.Marks = append(s.Marks, Mark{At: ch.At, Kind: Unpublished})
		}
	}
	s.Marks = append(s.Marks, connMarks(conn)...)
	s.Marks = within(s, s.Marks)
	return s
}

// latencies is a latency column of a history, in seconds; NaN for a
// second without a measured frame.
func latencies(h []report.Second, f func(report.Second) time.Duration) []float64 {
	v := make([]float64, len(h))
	for i, sec := range h {
		v[i] = math.NaN()
		if sec.LatencyFrames > 0 {
			v[i] = f(sec).Seconds()
		}
	}
	return v
}

// ConnectionTitle is the connection's set's title.
const ConnectionTitle = "connection"

// Connection charts the connection: the signal round-trip time per
// second, marked with its state changes and reconnects.
func Connection(snap report.Snapshot) Set {
	h := snap.ConnHistory
	s := Set{Title: ConnectionTitle, Len: len(h)}
	if len(h) > 0 {
		s.Start = h[0].Start
	}
	rtt := make([]float64, len(h))
	for i, sec := range h {
		rtt[i] = math.NaN()
		if sec.RTT > 0 {
			rtt[i] = sec.RTT.Seconds()
		}
	}
	s.Panels = []Panel{{Title: TitleRTT, Unit: Duration, Series: []Series{{Name: "rtt", Role: RTT, Values: rtt}}}}
	s.Marks = within(s, connMarks(snap.ConnEvents))
	return s
}

// connMarks marks the connection's changes that matter to a chart: the
// connection lost, stalled, back, or gone.
func connMarks(evs []report.ConnEvent) []Mark {
	var out []Mark
	for _, ev := range evs {
		switch {
		case ev.Reconnected:
			out = append(out, Mark{At: ev.At, Kind: Reconnected})
		case ev.State == report.Reconnecting:
			out = append(out, Mark{At: ev.At, Kind: Reconnecting})
		case ev.State == report.Stalled:
			out = append(out, Mark{At: ev.At, Kind: Stalled})
		case ev.State == report.Disconnected:
			out = append(out, Mark{At: ev.At, Kind: Disconnected})
		}
	}
	return out
}

// within keeps the marks inside the set's seconds, oldest first.
func within(s Set, marks []Mark) []Mark {
	var out []Mark
	for _, m := range marks {
		if s.Len > 0 && !m.At.Before(s.Start) && m.At.Before(s.End()) {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b Mark) int { return a.At.Compare(b.At) })
	return out
}

// remoteLatencyTitle is a room track's latency panel title: one-way
// when its publisher's clock c is synced, two clocks otherwise.
func remoteLatencyTitle(c clocksync.Estimate) string {
	if c.State == clocksync.Synced {
		return TitleLatency
	}
	return TitleLatencyTwoClocks
}

// RemoteLatencyBasis says what a room track's latency figures compare,
// for its publisher's clock c: "one-way, clocks synced ±0.4ms", or our
// clock against the publisher's (two clocks, their offset part of it).
// The words every renderer puts beside those figures, defined once.
func RemoteLatencyBasis(c clocksync.Estimate) string {
	if c.State == clocksync.Synced {
		return "one-way, clocks " + c.String()
	}
	return "our clock minus the publisher's timestamp: two clocks"
}
