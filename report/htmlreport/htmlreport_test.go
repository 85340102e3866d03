package htmlreport

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/report/series"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// run is a recorded two-minute run of two tracks: telemetry drops and
// loses frames for a while and is republished after a reconnect; the
// other's name is markup.
func run() Run {
	snap := report.Snapshot{At: at(120), Loopback: true,
		Connection: report.Status{State: report.Connected, Room: "lab", Identity: "ci", RTT: time.Millisecond, Reconnects: 1},
		ConnEvents: []report.ConnEvent{{At: at(0), State: report.Connected}, {At: at(60), State: report.Reconnecting},
			{At: at(62), State: report.Connected, Reconnected: true}}}
	for i := range 120 {
		snap.ConnHistory = append(snap.ConnHistory, report.ConnSecond{Start: at(i), RTT: time.Duration(800+i) * time.Microsecond})
	}
	for h, name := range []string{"telemetry", "<b>chat</b>"} {
		l := report.Local{Handle: uint16(h + 1), Name: name, State: outgoing.StatePublished, SIDs: []string{"DTR_a", "DTR_b"},
			Rx: &report.Receive{}, Timeline: []outgoing.StateChange{{At: at(0), State: outgoing.StatePublished},
				{At: at(60), State: outgoing.StateRepublishing}, {At: at(62), State: outgoing.StatePublished}}}
		for i := range 120 {
			s := report.Second{Start: at(i), Sent: uint64(100 + i*(h+1)), Bytes: uint64(1024 * (100 + i)), PayloadBytes: uint64(1000 * (100 + i)), Received: uint64(100 + i*(h+1)), RxBytes: uint64(1000 * (100 + i))}
			if h == 0 && i >= 30 && i < 40 {
				s.DroppedBy[outgoing.DropQueueFull] = uint64(i)
				s.Dropped, s.Lost = uint64(i), 2
				s.Received -= 2
			}
			if i != 61 {
				s.LatencyP50, s.LatencyP95, s.LatencyP99, s.LatencyFrames = time.Millisecond, time.Duration(i/2)*time.Millisecond, time.Duration(i)*time.Millisecond, 50
			}
			l.History = append(l.History, s)
			l.Out.FramesPushed += s.Sent + s.Dropped
			l.Out.FramesSent += s.Sent
			l.Out.FramesDropped += s.Dropped
			l.Out.DroppedBy[outgoing.DropQueueFull] += s.DroppedBy[outgoing.DropQueueFull]
		}
		snap.Local = append(snap.Local, l)
	}
	// A room track, another participant's, whose name and identity are
	// markup and a terminal escape.
	r := report.Remote{Stats: incoming.TrackStats{Info: incoming.Info{SID: "DTR_js", Name: "<i>pose</i>", PublisherIdentity: "robot\x1b[2J"},
		State: incoming.StateSubscribed, FramesCompleted: 3540, FramesLost: 60}}
	for i := range 120 {
		s := report.Second{Start: at(i), Received: 30, RxBytes: 3000, LatencyP50: 2 * time.Millisecond, LatencyP95: 6 * time.Millisecond, LatencyP99: 9 * time.Millisecond, LatencyFrames: 30}
		if i >= 50 && i < 60 {
			s.Received, s.RxBytes, s.Lost = 24, 2400, 6
		}
		r.History = append(r.History, s)
	}
	snap.Remote = append(snap.Remote, r)
	return Run{Title: "dttui run report", Started: at(0), Ended: at(121), Final: snap,
		Settings: []Setting{{"server", "ws://127.0.0.1:7880"}, {"tracks", "telemetry:100:1k, chat"}},
		Failed:   []Failure{{"dup", "duplicate name"}}}
}

// The report is one file with nothing to fetch, and for every track and
// the connection, a chart per panel naming each of its series and, under
// it, the per-second figures they are drawn from, equal to the report's.
func TestReportHoldsEverySeries(t *testing.T) {
	r := run()
	var buf bytes.Buffer
	if err := Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	// Self-contained: no script, no link, nothing loaded from elsewhere.
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		if n.Data == "script" || n.Data == "link" || n.Data == "img" || n.Data == "iframe" {
			t.Fatalf("<%s> in a self-contained report", n.Data)
		}
		for _, a := range n.Attr {
			if (a.Key == "src" || a.Key == "href") && !strings.HasPrefix(a.Val, "#") {
				t.Fatalf("<%s %s=%q> refers outside the file", n.Data, a.Key, a.Val)
			}
		}
	})
	if !strings.Contains(buf.String(), "&lt;b&gt;chat&lt;/b&gt;") || strings.Contains(buf.String(), "<b>chat") {
		t.Fatal("a track's name is not escaped")
	}
	check := func(id string, set series.Set) {
		t.Helper()
		sec := byID(doc, id)
		if sec == nil {
			t.Fatalf("no section %q", id)
		}
		svgs := all(sec, "svg")
		if len(svgs) != len(set.Panels) {
			t.Fatalf("%s: %d charts for %d panels", id, len(svgs), len(set.Panels))
		}
		for i, p := range set.Panels {
			texts := text(svgs[i])
			for _, want := range append([]string{p.Title}, names(p)...) {
				if !strings.Contains(texts, want) {
					t.Fatalf("%s: chart %q lacks %q: %q", id, p.Title, want, texts)
				}
			}
			if paths := len(all(svgs[i], "path")); paths < len(p.Series) {
				t.Fatalf("%s: chart %q has %d paths for %d series", id, p.Title, paths, len(p.Series))
			}
		}
		data := all(sec, "table")
		rows := all(data[len(data)-1], "tr")
		if len(rows) != set.Len+1 {
			t.Fatalf("%s: %d data rows for %d seconds", id, len(rows)-1, set.Len)
		}
		col := 1
		for _, p := range set.Panels {
			for _, ser := range p.Series {
				if h := text(all(rows[0], "th")[col]); h != p.Title+": "+ser.Name {
					t.Fatalf("%s: column %d is %q", id, col, h)
				}
				for i, v := range ser.Values {
					cell := text(all(rows[i+1], "td")[col])
					got, err := strconv.ParseFloat(cell, 64)
					if math.IsNaN(v) && cell == "" {
						continue
					}
					if err != nil || got != v {
						t.Fatalf("%s: %s/%s second %d is %q, want %v", id, p.Title, ser.Name, i, cell, v)
					}
				}
				col++
			}
		}
	}
	check("connection", series.Connection(r.Final))
	for _, l := range r.Final.Local {
		set := series.Local(l, r.Final.ConnEvents)
		check(fmt.Sprintf("track-%d", l.Handle), set)
		if len(set.Marks) != 4 { // reconnecting, republishing, reconnected, republished
			t.Fatalf("%s: marks %v", l.Name, set.Marks)
		}
	}
	// The room's track: its charts, series and figures, its outside
	// names made safe.
	check("room-1", series.Remote(r.Final.Remote[0], r.Final.ConnEvents))
	room := text(byID(doc, "room-1"))
	for _, want := range []string{"Room track <i>pose</i> from robot\\x1b[2J (DTR_js)", "frames received 3540", "frames lost 60"} {
		if !strings.Contains(room, want) {
			t.Fatalf("the room track's section lacks %q: %q", want, room[:min(len(room), 400)])
		}
	}
	if strings.Contains(buf.String(), "<i>pose") || strings.Contains(buf.String(), "\x1b") {
		t.Fatal("a room track's name or identity reached the page raw")
	}
	// The figures the telemetry section states are the report's.
	fig := text(all(byID(doc, "track-1"), "div")[0])
	for _, want := range []string{"frames pushed " + strconv.FormatUint(r.Final.Local[0].Out.FramesPushed, 10), "dropped: queue full 345"} {
		if !strings.Contains(fig, want) {
			t.Fatalf("figures lack %q: %q", want, fig)
		}
	}
	if !strings.Contains(buf.String(), "The charts cover the whole run") || !strings.Contains(buf.String(), "duplicate name") {
		t.Fatal("coverage or failures missing")
	}
}

// A run longer than the history kept says what the charts cover.
func TestReportSaysWhatALongRunCovers(t *testing.T) {
	r := run()
	r.Ended = r.Started.Add(42 * time.Minute)
	var buf bytes.Buffer
	if err := Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "cover the last 15m0s of this 42m0s run") {
		t.Fatalf("no coverage note:\n%s", buf.String()[:600])
	}
}

func names(p series.Panel) (out []string) {
	for _, s := range p.Series {
		out = append(out, s.Name)
	}
	return out
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func all(n *html.Node, tag string) (out []*html.Node) {
	walk(n, func(m *html.Node) {
		if m.Type == html.ElementNode && m.Data == tag {
			out = append(out, m)
		}
	})
	return out
}

func byID(n *html.Node, id string) (found *html.Node) {
	walk(n, func(m *html.Node) {
		for _, a := range m.Attr {
			if a.Key == "id" && a.Val == id && found == nil {
				found = m
			}
		}
	})
	return found
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(m *html.Node) {
		if m.Type == html.TextNode {
			b.WriteString(m.Data)
		}
	})
	return b.String()
}

// A run that ended by leaving the room says so; a connection lost says
// what it was and why.
func TestReportSaysHowTheConnectionEnded(t *testing.T) {
	for _, c := range []struct {
		status report.Status
		want   string
	}{
		{report.Status{State: report.Disconnected}, "left the room"},
		{report.Status{State: report.Disconnected, Err: errors.New("could not reconnect within 30s")}, "could not reconnect within 30s"},
	} {
		r := run()
		r.Final.Connection = c.status
		var buf bytes.Buffer
		if err := Write(&buf, r); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), c.want) || (c.status.Err != nil) != strings.Contains(buf.String(), ">disconnected<") {
			t.Fatalf("%+v: no %q, or the wrong state", c.status, c.want)
		}
	}
}

// A room track's latency figures say what they compare, from its
// publisher's clock: one-way within the uncertainty when synced, two
// clocks when not; and the chart's title agrees.
func TestRoomLatencySaysItsClock(t *testing.T) {
	for _, c := range []struct {
		clock     clocksync.Estimate
		want, not string
		title     string
	}{
		{clocksync.Estimate{State: clocksync.Synced, Offset: 750 * time.Millisecond, Uncertainty: 400 * time.Microsecond},
			"latency p50 / p95 / p99 / max (one-way, clocks synced ±0.4ms)", "two clocks", series.TitleLatency},
		{clocksync.Estimate{State: clocksync.TwoClocks},
			"latency p50 / p95 / p99 / max (our clock minus the publisher&#39;s timestamp: two clocks)", "synced ±", series.TitleLatencyTwoClocks},
	} {
		r := run()
		rm := &r.Final.Remote[0]
		rm.Stats.Clock = c.clock
		rm.RunLatency = report.Latency{Frames: 3540, P50: 2 * time.Millisecond, P95: 5 * time.Millisecond, P99: 9 * time.Millisecond, Max: 12 * time.Millisecond}
		var buf bytes.Buffer
		if err := Write(&buf, r); err != nil {
			t.Fatal(err)
		}
		doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		sec := byID(doc, "room-1")
		var b bytes.Buffer
		if err := html.Render(&b, sec); err != nil {
			t.Fatal(err)
		}
		got := b.String()
		if !strings.Contains(got, c.want+"</span> <b>2ms / 5ms / 9ms / 12ms (3540 frames)</b>") || strings.Contains(got, c.not) {
			t.Errorf("%v: want %q, not %q, in\n%s", c.clock, c.want, c.not, got)
		}
		if svgs := all(sec, "svg"); !strings.Contains(text(svgs[len(svgs)-1]), c.title) {
			t.Errorf("%v: latency chart titled %q", c.clock, text(svgs[len(svgs)-1]))
		}
	}
}
