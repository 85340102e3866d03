package budget

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/internal/junitcheck"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
)

func mustParse(t *testing.T, ss ...string) []Expr {
	t.Helper()
	var out []Expr
	for _, s := range ss {
		e, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// injected is a run's report: two tracks of ours, one room track.
func injected() report.Snapshot {
	tele := report.Local{Handle: 1, Name: "telemetry", State: outgoing.StatePublished,
		Rx: &report.Receive{Frames: 995, Lost: 5}}
	tele.Out.FramesSent, tele.Out.FramesDropped = 1000, 7
	tele.Out.DroppedBy[outgoing.DropQueueFull] = 7
	tele.Average.SentFPS = 49.9
	tele.RunLatency = report.Latency{Frames: 995, P50: time.Millisecond, P95: 30 * time.Millisecond, P99: 58 * time.Millisecond, Max: 90 * time.Millisecond}
	chat := report.Local{Handle: 2, Name: "chat", State: outgoing.StatePublished, Rx: &report.Receive{Frames: 100}}
	chat.Average.SentFPS = 5
	chat.RunLatency = report.Latency{Frames: 100, P50: time.Millisecond, P95: 2 * time.Millisecond, P99: 3 * time.Millisecond, Max: 4 * time.Millisecond}
	pending := report.Local{Handle: 3, Name: "late", State: outgoing.StatePending}
	room := report.Remote{Stats: incoming.TrackStats{Info: incoming.Info{SID: "TR_1", Name: "poses", PublisherIdentity: "robot"},
		FramesCompleted: 90, FramesLost: 10}}
	room.Average.ReceivedFPS = 30
	room.RunLatency = report.Latency{Frames: 90, P50: 5 * time.Millisecond, P95: 8 * time.Millisecond, P99: 9 * time.Millisecond, Max: 10 * time.Millisecond}
	return report.Snapshot{Local: []report.Local{tele, chat, pending}, Remote: []report.Remote{room},
		Connection: report.Status{Reconnects: 1}, Stalls: 0}
}

func TestEvaluate(t *testing.T) {
	subs := FromSnapshot(injected())
	if len(subs) != 3 {
		t.Fatalf("%d subjects: %+v", len(subs), subs)
	}
	type want struct {
		label  string
		value  float64
		broken bool
	}
	for _, tc := range []struct {
		expr string
		want []want
	}{
		{"loss>0.5%", []want{{"telemetry", 0.005, false}, {"chat", 0, false}, {"robot/poses", 0.1, true}}},
		{"loss>=0.5%", []want{{"telemetry", 0.005, true}, {"chat", 0, false}, {"robot/poses", 0.1, true}}},
		{"telemetry:p99>40ms", []want{{"telemetry", 58e6, true}}},
		{"p95>25ms", []want{{"telemetry", 30e6, true}, {"chat", 2e6, false}, {"robot/poses", 8e6, false}}},
		{"chat:max>5ms", []want{{"chat", 4e6, false}}},
		{"fps<45", []want{{"telemetry", 49.9, false}, {"chat", 5, true}, {"robot/poses", 30, true}}},
		{"poses:fps<25", []want{{"robot/poses", 30, false}}},
		// Drops are ours: a room track has none to judge.
		{"dropped[queue full]>0", []want{{"telemetry", 7, true}, {"chat", 0, false}}},
		{"dropped[stale]>0", []want{{"telemetry", 0, false}, {"chat", 0, false}}},
		{"telemetry:reconnects>0", []want{{"telemetry", 1, true}}},
		{"chat:stalls>0", []want{{"chat", 0, false}}},
		// Nothing measures it: broken, without a track.
		{"nosuch:loss>1%", []want{{"-", 0, true}}},
	} {
		vs := Evaluate(mustParse(t, tc.expr), subs)
		if len(vs) != len(tc.want) {
			t.Errorf("%s: %d verdicts %+v", tc.expr, len(vs), vs)
			continue
		}
		for i, w := range tc.want {
			v := vs[i]
			if v.Label() != w.label || v.Broken != w.broken || (v.Subject != nil && v.Value != w.value) {
				t.Errorf("%s #%d: %s value %v broken %v; want %+v", tc.expr, i, v.Label(), v.Value, v.Broken, w)
			}
		}
	}
}

// A track with nothing to measure fails its budget: a CI job must not
// pass on figures that were never taken.
func TestUnmeasuredIsBroken(t *testing.T) {
	s := []Subject{{Kind: KindLocal, Track: "t", Label: "t", HasLoss: true, HasLatency: true}}
	for _, v := range Evaluate(mustParse(t, "loss>1%", "p99>1s"), s) {
		if !v.Broken || v.Measured || !strings.Contains(v.String(), "not measured") || v.JSON().Value != nil {
			t.Errorf("%s: broken %v measured %v json %+v", v, v.Broken, v.Measured, v.JSON())
		}
	}
}

func TestVerdictLinesAndJSON(t *testing.T) {
	vs := Evaluate(mustParse(t, "telemetry:p99>40ms", "loss>0.5%", "nosuch:fps<1"), FromSnapshot(injected()))
	if got := vs[0].String(); got != "budget telemetry:p99>40ms: FAIL: telemetry p99 58ms" {
		t.Errorf("line %q", got)
	}
	if got := vs[3].String(); got != "budget loss>0.5%: FAIL: robot/poses loss 10%" {
		t.Errorf("line %q", got)
	}
	if got := vs[4].String(); got != `budget nosuch:fps<1: FAIL: no track "nosuch" measures fps` {
		t.Errorf("line %q", got)
	}
	b, _ := json.Marshal(JSONs(vs[:2]))
	want := `[{"budget":"telemetry:p99\u003e40ms","track":"telemetry","kind":"local","value":58,"threshold":40,"unit":"ms","verdict":"fail"},` +
		`{"budget":"loss\u003e0.5%","track":"telemetry","kind":"local","value":0.5,"threshold":0.5,"unit":"%","verdict":"pass"}]`
	if string(b) != want {
		t.Errorf("json\n%s\nwant\n%s", b, want)
	}
	// Names from outside reach a terminal made safe.
	evil := []Subject{{Kind: KindRoom, Track: "x", Label: "p\x1b[31m/x", HasFPS: true}}
	if s := Evaluate(mustParse(t, "fps<1"), evil)[0].String(); strings.ContainsRune(s, 0x1b) {
		t.Errorf("escape in %q", s)
	}
}

// The JUnit file holds one test case per track and budget, a failure for
// each broken one, the figures in its output, and passes the schema.
func TestJUnit(t *testing.T) {
	subs := FromSnapshot(injected())
	subs[2].Label = "robot<&\"]]>/poses" // XML's special characters, from outside
	vs := Evaluate(mustParse(t, "telemetry:p99>40ms", "fps<4"), subs)
	var buf bytes.Buffer
	run := Run{Name: "dttui headless", Started: time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC), Elapsed: 12345 * time.Millisecond,
		Warmup: 2 * time.Second, Subjects: subs, Verdicts: vs}
	if err := WriteJUnit(&buf, run); err != nil {
		t.Fatal(err)
	}
	junitcheck.Validate(t, buf.Bytes())
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suite    struct {
			Cases []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
				Out string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	cs := doc.Suite.Cases
	if doc.Tests != 4 || doc.Failures != 1 || len(cs) != 4 {
		t.Fatalf("%d tests, %d failures:\n%s", doc.Tests, doc.Failures, buf.Bytes())
	}
	if cs[0].Name != "telemetry:p99>40ms" || cs[0].Classname != "dttui.local.telemetry" || cs[0].Failure == nil ||
		!strings.Contains(cs[0].Failure.Message, "p99 58ms") ||
		!strings.Contains(cs[0].Out, "latency over 995 frames: p50 1ms, p95 30ms, p99 58ms, max 90ms") ||
		!strings.Contains(cs[0].Out, "loss: 5 of 1000 frames (0.5%)") || !strings.Contains(cs[0].Out, "dropped: 7, queue full 7") ||
		!strings.Contains(cs[0].Out, "warmup of 2s") {
		t.Errorf("case 0: %+v", cs[0])
	}
	if cs[3].Classname != `dttui.room.robot<&"]]>/poses` || cs[3].Failure != nil || !strings.Contains(cs[3].Out, "frames/s: 30.0") {
		t.Errorf("case 3: %+v", cs[3])
	}
}

func TestMarkdown(t *testing.T) {
	subs := FromSnapshot(injected())
	subs[0].Label = "tele|metry" // a pipe would break the table
	vs := Evaluate(mustParse(t, "telemetry:p99>40ms", "chat:loss>1%"), subs)
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, Run{Name: "dttui headless", Subjects: subs, Verdicts: vs}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"### dttui headless: 1 of 2 budgets broken\n",
		"| ❌ fail | telemetry:p99&#62;40ms | tele&#124;metry | 58ms |\n",
		"| ✅ pass | chat:loss&#62;1% | chat | 0% |\n",
		"| tele&#124;metry | local | 0.5% (5/1000) | 49.9 | 1ms | 30ms | 58ms | 90ms | 7 |\n",
		"| robot/poses | room | 10% (10/100) | 30.0 | 5ms | 8ms | 9ms | 10ms | - |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(md), "\n") {
		if strings.HasPrefix(line, "|") && strings.Count(line, "|") != 5 && strings.Count(line, "|") != 10 {
			t.Errorf("a row with %d cells: %q", strings.Count(line, "|")-1, line)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		m    Metric
		v    float64
		want string
	}{
		{P50, 638980, "639µs"}, {P99, 9175040, "9.18ms"}, {Max, 58e6, "58ms"}, {P95, 1.2345e9, "1.23s"}, {P50, 900, "900ns"},
		{Loss, 0.005, "0.5%"}, {Loss, 0.0446, "4.46%"}, {Loss, 1, "100%"}, {Loss, 0, "0%"},
		{FPS, 49.94, "49.9"}, {Dropped, 7, "7"},
	} {
		if got := Format(tc.m, tc.v); got != tc.want {
			t.Errorf("Format(%s, %v) = %q, want %q", tc.m, tc.v, got, tc.want)
		}
	}
}

// A budget that could not be evaluated — nothing arrived to measure its
// latency on, or no track measures it — is a skipped test case with why,
// not a pass nor a failure, counted in the suite's skipped attribute; it
// still breaks the run.
func TestJUnitSkipsWhatWasNotMeasured(t *testing.T) {
	subs := []Subject{
		{Kind: KindRoom, Track: "quiet", Label: "bob/quiet", HasLatency: true, HasFPS: true},
		{Kind: KindLocal, Track: "telemetry", Label: "telemetry", HasLatency: true, HasFPS: true, FPS: 50,
			Latency: report.Latency{Frames: 100, P50: time.Millisecond, P95: 2 * time.Millisecond, P99: 3 * time.Millisecond, Max: 4 * time.Millisecond}},
	}
	vs := Evaluate(mustParse(t, "p99>40ms", "nosuch:fps<1", "fps<45"), subs)
	if n := len(Broken(vs)); n != 3 { // quiet's p99, nosuch's fps, quiet's fps (0)
		t.Fatalf("%d broken of %+v", n, vs)
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, Run{Name: "dttui headless", Elapsed: time.Second, Subjects: subs, Verdicts: vs}); err != nil {
		t.Fatal(err)
	}
	junitcheck.Validate(t, buf.Bytes())
	var doc struct {
		Suite struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Skipped  int `xml:"skipped,attr"`
			Cases    []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Skipped   *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Suite
	// p99 on both tracks, nosuch's fps, fps on both tracks.
	if s.Tests != 5 || s.Skipped != 2 || s.Failures != 1 {
		t.Fatalf("%d tests, %d skipped, %d failures:\n%s", s.Tests, s.Skipped, s.Failures, buf.Bytes())
	}
	want := map[string]string{
		"dttui.room.bob/quiet p99>40ms": "not measured: nothing arrived to measure it on",
		"dttui.budget nosuch:fps<1":     `no track "nosuch" measures fps`,
	}
	for _, c := range s.Cases {
		key := c.Classname + " " + c.Name
		msg, skip := want[key]
		switch {
		case skip && (c.Skipped == nil || c.Skipped.Message != msg || c.Failure != nil):
			t.Errorf("%s: skipped %+v failure %v, want skipped %q", key, c.Skipped, c.Failure != nil, msg)
		case !skip && c.Skipped != nil:
			t.Errorf("%s skipped: %q", key, c.Skipped.Message)
		}
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, Run{Name: "dttui headless", Subjects: subs, Verdicts: vs}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(md.String(), "⚠️ not measured"); n != 2 {
		t.Errorf("%d rows not measured in the summary:\n%s", n, md.String())
	}
}

// A room track's loss is its frames that never arrived whole: the
// incomplete ones count, as in the table, the JSON and the metrics.
func TestRoomLossCountsIncompleteFrames(t *testing.T) {
	room := report.Remote{Stats: incoming.TrackStats{Info: incoming.Info{SID: "TR_1", Name: "poses", PublisherIdentity: "robot"},
		FramesCompleted: 90, FramesLost: 4, FramesIncomplete: 6}}
	subs := FromSnapshot(report.Snapshot{Remote: []report.Remote{room}})
	if len(subs) != 1 || subs[0].Lost != 10 || subs[0].Expected != 100 {
		t.Fatalf("subjects %+v; want lost 10 of 100", subs)
	}
}
