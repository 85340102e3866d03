package series

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func track() report.Local {
	l := report.Local{Name: "telemetry", Rx: &report.Receive{}}
	for i := range 10 {
		// 1000-byte payloads in packets with a 24-byte header; all received.
		s := report.Second{Start: sec(i), Sent: uint64(100 + i), Bytes: uint64(1024 * (100 + i)), PayloadBytes: uint64(1000 * (100 + i)),
			Received: uint64(100 + i), RxBytes: uint64(1000 * (100 + i))}
		if i == 4 {
			s.DroppedBy[outgoing.DropQueueFull], s.DroppedBy[outgoing.DropRepublishing] = 7, 3
			s.Dropped, s.Lost = 10, 2
		}
		if i != 5 {
			s.LatencyP50, s.LatencyP95, s.LatencyP99, s.LatencyFrames = time.Millisecond, 5*time.Millisecond, 9*time.Millisecond, 100
		}
		l.History = append(l.History, s)
	}
	l.Timeline = []outgoing.StateChange{
		{At: sec(0), State: outgoing.StatePublished},
		{At: sec(4).Add(300 * time.Millisecond), State: outgoing.StateRepublishing},
		{At: sec(5), State: outgoing.StatePublished},
		{At: sec(12), State: outgoing.StateUnpublished}, // after the history: not charted yet
	}
	return l
}

// A local track's set: frames, bytes, drops by reason with loss, latency
// with a gap where no frame was measured; its republish and the
// connection's reconnect marked, oldest first.
func TestLocalSet(t *testing.T) {
	conn := []report.ConnEvent{
		{At: sec(0), State: report.Connected},
		{At: sec(4).Add(100 * time.Millisecond), State: report.Reconnecting},
		{At: sec(4).Add(900 * time.Millisecond), State: report.Connected, Reconnected: true},
	}
	s := Local(track(), conn)
	if s.Title != "telemetry" || s.Len != 10 || !s.Start.Equal(sec(0)) || len(s.Panels) != 4 {
		t.Fatalf("set %+v", s)
	}
	names := func(p Panel) (out []string) {
		for _, ser := range p.Series {
			if len(ser.Values) != s.Len {
				t.Fatalf("%s/%s has %d values", p.Title, ser.Name, len(ser.Values))
			}
			out = append(out, ser.Name)
		}
		return out
	}
	want := map[string][]string{
		TitleFrames:  {"sent", "received"},
		TitleBytes:   {"sent", "received"},
		TitleDrops:   {"queue full", "republishing", "lost"},
		TitleLatency: {"p50", "p95", "p99"},
	}
	for _, p := range s.Panels {
		if got := names(p); !slices.Equal(got, want[p.Title]) {
			t.Fatalf("%s: %v, want %v", p.Title, got, want[p.Title])
		}
	}
	if v := s.Panels[0].Series[0].Values[9]; v != 109 {
		t.Fatalf("frames sent in the last second: %v", v)
	}
	// Bytes sent and received in one measure, payload: a lossless second
	// draws the two lines on top of each other.
	if b := s.Panels[1]; b.Series[0].Values[9] != 109000 || b.Series[1].Values[9] != 109000 {
		t.Fatalf("bytes sent, received in the last second: %v, %v", b.Series[0].Values[9], b.Series[1].Values[9])
	}
	if v := s.Panels[2].Series[0].Values[4]; v != 7 {
		t.Fatalf("queue-full drops in second 4: %v", v)
	}
	for i, want := range []float64{0.001, 0.005, 0.009} {
		if lat := s.Panels[3].Series[i].Values; !math.IsNaN(lat[5]) || lat[4] != want {
			t.Fatalf("%s: %v, want %v in second 4", s.Panels[3].Series[i].Name, lat, want)
		}
	}
	var kinds []MarkKind
	for _, m := range s.Marks {
		kinds = append(kinds, m.Kind)
	}
	if !slices.Equal(kinds, []MarkKind{Reconnecting, Republishing, Reconnected, Republished}) {
		t.Fatalf("marks %v", s.Marks)
	}

	last := s.Last(5)
	if last.Len != 5 || !last.Start.Equal(sec(5)) || last.Panels[0].Series[0].Values[0] != 105 || len(last.Marks) != 1 {
		t.Fatalf("last 5 s: %+v", last)
	}
	if s.Len != 10 || s.Panels[0].Series[0].Values[0] != 100 {
		t.Fatal("Last changed its receiver")
	}
}

// Without a loopback subscriber there is nothing received to chart: no
// received, lost or latency curves, and one flat drop line.
func TestLocalWithoutLoopback(t *testing.T) {
	l := report.Local{Name: "x", Figures: report.Figures{History: []report.Second{{Start: sec(0), Sent: 3}, {Start: sec(1), Sent: 4}}}}
	s := Local(l, nil)
	if len(s.Panels) != 3 || len(s.Panels[0].Series) != 1 || s.Panels[2].Series[0].Name != "dropped" {
		t.Fatalf("%+v", s.Panels)
	}
	if e := Local(report.Local{}, nil); e.Len != 0 || len(e.Marks) != 0 {
		t.Fatalf("empty history: %+v", e)
	}
}

// The connection's set: RTT per second (a gap where none was measured),
// and its state changes.
func TestConnectionSet(t *testing.T) {
	snap := report.Snapshot{
		ConnHistory: []report.ConnSecond{{Start: sec(0), RTT: 2 * time.Millisecond}, {Start: sec(1)}, {Start: sec(2), RTT: time.Millisecond, Reconnects: 1}},
		ConnEvents: []report.ConnEvent{{At: sec(0), State: report.Connected}, {At: sec(1), State: report.Stalled},
			{At: sec(1).Add(500 * time.Millisecond), State: report.Reconnecting}, {At: sec(2), State: report.Connected, Reconnected: true}},
	}
	s := Connection(snap)
	rtt := s.Panels[0].Series[0].Values
	if s.Len != 3 || rtt[0] != 0.002 || !math.IsNaN(rtt[1]) || s.Panels[0].Title != TitleRTT {
		t.Fatalf("%+v", s)
	}
	if len(s.Marks) != 3 || s.Marks[0].Kind != Stalled || s.Marks[2].Kind != Reconnected || s.Marks[2].Kind.Glyph() != "R" {
		t.Fatalf("marks %+v", s.Marks)
	}
}

// A room track's set: frames and bytes received, frames lost, latency
// against two clocks with a gap where no frame carried a timestamp;
// marked with its republish (it replaces an earlier SID) and its
// unpublish, and the connection's events.
func TestRemoteSet(t *testing.T) {
	r := report.Remote{Stats: incoming.TrackStats{Info: incoming.Info{SID: "DTR_b", Name: "pose", PublisherIdentity: "robot"}, Replaces: "DTR_a"}}
	for i := range 10 {
		s := report.Second{Start: sec(i), Received: uint64(30 + i), RxBytes: uint64(3000 + i), Lost: uint64(i % 3)}
		if i != 7 {
			s.LatencyP50, s.LatencyP95, s.LatencyP99, s.LatencyFrames = 12*time.Millisecond, 20*time.Millisecond, 30*time.Millisecond, 30
		}
		r.History = append(r.History, s)
	}
	r.Stats.Timeline = []incoming.StateChange{
		{At: sec(1), State: incoming.StateSubscribing},
		{At: sec(1), State: incoming.StateSubscribed},
		{At: sec(8), State: incoming.StateUnpublished},
	}
	conn := []report.ConnEvent{{At: sec(3), State: report.Reconnecting}}
	s := Remote(r, conn)
	if s.Len != 10 || !s.Start.Equal(sec(0)) || len(s.Panels) != 4 {
		t.Fatalf("set %+v", s)
	}
	want := []struct {
		title string
		role  Role
		at3   float64
	}{{TitleFrames, Received, 33}, {TitleBytes, Received, 3003}, {TitleLost, Lost, 0}, {TitleLatencyTwoClocks, P50, 0.012}}
	for i, w := range want {
		p := s.Panels[i]
		if p.Title != w.title || p.Series[0].Role != w.role || p.Series[0].Values[3] != w.at3 {
			t.Fatalf("panel %d: %q %v %v, want %q %v %v", i, p.Title, p.Series[0].Role, p.Series[0].Values[3], w.title, w.role, w.at3)
		}
	}
	for i, w := range []struct {
		name string
		role Role
		at6  float64
	}{{"p50", P50, 0.012}, {"p95", P95, 0.020}, {"p99", P99, 0.030}} {
		ser := s.Panels[3].Series[i]
		if ser.Name != w.name || ser.Role != w.role || !math.IsNaN(ser.Values[7]) || ser.Values[6] != w.at6 {
			t.Fatalf("latency series %d: %s %v %v, want %s %v %v and NaN where no frame was timed", i, ser.Name, ser.Role, ser.Values, w.name, w.role, w.at6)
		}
	}
	var kinds []MarkKind
	for _, m := range s.Marks {
		kinds = append(kinds, m.Kind)
	}
	if !slices.Equal(kinds, []MarkKind{Republished, Reconnecting, Unpublished}) {
		t.Fatalf("marks %v", s.Marks)
	}
}
