package headless

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/localsfu"
	"github.com/dttui/dttui/source"
)

var (
	sfuOnce sync.Once
	sfuSrv  *localsfu.Server
	sfuErr  error
)

func sfu(t *testing.T) *localsfu.Server {
	t.Helper()
	sfuOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		sfuSrv, sfuErr = localsfu.Start(ctx, localsfu.Options{DataTrackTargetLatency: 5 * time.Second})
	})
	if sfuErr != nil {
		t.Fatal(sfuErr)
	}
	return sfuSrv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sfuSrv != nil {
		_ = sfuSrv.Close()
	}
	os.Exit(code)
}

func connect(t *testing.T, loopback bool) *session.Session {
	t.Helper()
	srv := sfu(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Loopback: loopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func parseLines(t *testing.T, out *bytes.Buffer) []Line {
	t.Helper()
	var lines []Line
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// Runs against the real embedded SFU: one streaming track, one that only
// publishes, and one whose name the SFU would reject. The final line is
// written after the close and accounts for every frame.
func TestRunPrintsJSONLinesThatAddUp(t *testing.T) {
	s := connect(t, true)
	runCtx, stop := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer stop()
	var out bytes.Buffer
	tracks := []Track{{Name: "stream", Rate: 200, Size: 512}, {Name: "idle"}, {Name: strings.Repeat("x", 300), Rate: 10, Size: 64}}
	res, err := Run(runCtx, s, tracks, &out, Options{Interval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	lines := parseLines(t, &out)
	if len(lines) < 3 || !lines[len(lines)-1].Final {
		t.Fatalf("%d lines, last final=%v", len(lines), len(lines) > 0 && lines[len(lines)-1].Final)
	}
	mid := lines[len(lines)-2]
	if mid.Connection.State != "connected" || len(mid.Tracks) != 2 || len(mid.Errors) != 1 || mid.Errors[0].Reason != "invalid name" {
		t.Fatalf("line %+v", mid)
	}
	if st := mid.Tracks[0]; st.Name != "stream" || st.FramesPerSec < 50 || st.State != "published" || st.SID == "" || st.WindowS <= 0 || st.WindowS > 1 {
		t.Fatalf("stream track %+v", st)
	}
	last := lines[len(lines)-1]
	final := last.Tracks[0]
	if final.Pushed == 0 || final.Pushed != final.Sent+final.Dropped+final.Queued || final.Queued != 0 {
		t.Fatalf("final counters do not add up: %+v", final)
	}
	if final.Rx == nil || final.Rx.Frames == 0 || final.Rx.Frames+final.Rx.Lost+final.Rx.InGrace+final.Rx.Unfollowed != final.Sent || final.Rx.InGrace != 0 {
		t.Fatalf("loopback figures do not add up: sent %d, rx %+v", final.Sent, final.Rx)
	}
	// Closed as asked: the session ended, with no error to report.
	if c := last.Connection; c.State != "disconnected" || c.Error != "" {
		t.Fatalf("final connection %+v: a clean end is not an error", c)
	}
	if idle := last.Tracks[1]; idle.Pushed != 0 || idle.State != "unpublished" {
		t.Fatalf("idle track %+v", idle)
	}
	if len(res.Failed) != 1 || len(res.Final.Local) != 2 {
		t.Fatalf("result %+v", res)
	}
}

// The final line's rates are over the whole run, between each track's
// first and last frame: within 10 % of the generator's rate on every one
// of 20 runs of 2 s (they were over the milliseconds since the previous
// line, and read 9 669 frames/s for a 10 frames/s track).
func TestFinalLineRatesOverTheRun(t *testing.T) {
	for run := range 20 {
		s := connect(t, false)
		ctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
		var out bytes.Buffer
		_, err := Run(ctx, s, []Track{{Name: "t", Rate: 10, Size: 100}}, &out, Options{})
		stop()
		if err != nil {
			t.Fatal(err)
		}
		lines := parseLines(t, &out)
		final := lines[len(lines)-1]
		if !final.Final || len(final.Tracks) != 1 {
			t.Fatalf("run %d: %+v", run, final)
		}
		tr := final.Tracks[0]
		if math.Abs(tr.FramesPerSec-10) > 1 || tr.Sent < 10 {
			t.Fatalf("run %d: final fps %.2f over %.2f s for a 10 fps track (%d frames)", run, tr.FramesPerSec, tr.WindowS, tr.Sent)
		}
	}
}

// Frames still queued when the exit flush gives up are dropped with their
// own reason, and the final line says so.
func TestExitFlushTimeoutIsCounted(t *testing.T) {
	s := connect(t, false)
	ctx, stop := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan struct{})
	var res Result
	go func() {
		defer close(done)
		var err error
		res, err = Run(ctx, s, []Track{{Name: "big", Rate: 2000, Size: 1 << 20}}, &out, Options{FlushTimeout: time.Nanosecond})
		if err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(300 * time.Millisecond) // the queue fills: 2 GB/s of frames
	stop()
	<-done
	lines := parseLines(t, &out)
	tr := lines[len(lines)-1].Tracks[0]
	if tr.DroppedBy["closed before sent"] == 0 || tr.Pushed != tr.Sent+tr.Dropped || tr.Queued != 0 {
		t.Fatalf("final %+v", tr)
	}
	if l := res.Final.Local[0]; l.Out.DroppedBy[outgoing.DropClosed] != tr.DroppedBy["closed before sent"] {
		t.Fatalf("result %+v", l.Out)
	}
}

// docs/headless.md's JSON example has the keys of a real line: every key a
// real line always has, and none a line cannot have (keys left out when
// empty may appear in either).
func TestReadmeExampleMatchesARealLine(t *testing.T) {
	_, example := readmeExample(t)
	var ex map[string]any
	if err := json.Unmarshal(example, &ex); err != nil {
		t.Fatalf("docs example is not JSON: %v\n%s", err, example)
	}
	s := connect(t, true)
	ctx, stop := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer stop()
	var out bytes.Buffer
	if _, err := Run(ctx, s, []Track{{Name: "bench", Rate: 100, Size: 1024}}, &out, Options{}); err != nil {
		t.Fatal(err)
	}
	first, _, _ := bytes.Cut(out.Bytes(), []byte("\n"))
	var real map[string]any
	if err := json.Unmarshal(first, &real); err != nil {
		t.Fatal(err)
	}
	omit := omitempty(reflect.TypeFor[Line](), "")
	// A key left out when empty, and whatever is under it (map keys too).
	optional := func(k string) bool {
		for p := k; p != ""; {
			if omit[p] {
				return true
			}
			i := strings.LastIndex(p, ".")
			if i < 0 {
				break
			}
			p = strings.TrimSuffix(p[:i], ".[]")
		}
		return false
	}
	have, want := keys(ex), keys(real)
	for _, k := range want {
		if !slices.Contains(have, k) && !optional(k) {
			t.Errorf("the docs example lacks %q", k)
		}
	}
	for _, k := range have {
		if !slices.Contains(want, k) && !optional(k) {
			t.Errorf("the docs example has %q, which no line has", k)
		}
	}
}

// docs/headless.md's JSON example is a line its command could have printed: its
// counters add up, and its rates are those of the --track the command
// above it asks for.
func TestReadmeExampleAddsUp(t *testing.T) {
	before, example := readmeExample(t)
	// The last shell block before the example is its command.
	cmds := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllSubmatch(before, -1)
	if cmds == nil {
		t.Fatal("no command before the docs' JSON example")
	}
	r := regexp.MustCompile(`--track \w+:(\d+)`).FindSubmatch(cmds[len(cmds)-1][1])
	if r == nil {
		t.Fatalf("no --track name:rate in %q", cmds[len(cmds)-1][1])
	}
	var rate float64
	if _, err := fmt.Sscan(string(r[1]), &rate); err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Elapsed float64 `json:"elapsed_s"`
		Tracks  []struct {
			FPS                           float64
			Pushed, Sent, Queued, Dropped uint64
			DroppedBy                     map[string]uint64 `json:"dropped_by"`
			Rx                            struct {
				FPS                      float64
				Frames, Lost, Unfollowed uint64
				InGrace                  uint64 `json:"in_grace"`
			}
		}
	}
	if err := json.Unmarshal(example, &ex); err != nil || len(ex.Tracks) != 1 {
		t.Fatalf("docs example: %v %+v", err, ex)
	}
	tr := ex.Tracks[0]
	var by uint64
	for _, n := range tr.DroppedBy {
		by += n
	}
	if tr.Pushed != tr.Sent+tr.Dropped+tr.Queued || by != tr.Dropped || tr.Rx.Frames+tr.Rx.Lost+tr.Rx.InGrace+tr.Rx.Unfollowed != tr.Sent {
		t.Errorf("the docs example's counters do not add up: %+v", tr)
	}
	// The generator starts once connected: a little under rate × elapsed.
	if want := rate * ex.Elapsed; float64(tr.Pushed) > want*1.02 || float64(tr.Pushed) < want*0.8 {
		t.Errorf("the docs example pushed %d frames in %.2f s; its command's %g frames/s would push about %.0f", tr.Pushed, ex.Elapsed, rate, want)
	}
	if math.Abs(tr.FPS-rate) > rate/10 || math.Abs(tr.Rx.FPS-rate) > rate/10 {
		t.Errorf("the docs example sends %g and receives %g frames/s; its command asks for %g", tr.FPS, tr.Rx.FPS, rate)
	}
}

// readmeExample returns docs/headless.md's JSON example of a headless line
// (its "…" elisions removed) and the page before it.
func readmeExample(t *testing.T) (before, example []byte) {
	t.Helper()
	readme, err := os.ReadFile("../docs/headless.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatchIndex(readme)
	if m == nil {
		t.Fatal("no JSON example in docs/headless.md")
	}
	return readme[:m[0]], bytes.ReplaceAll(readme[m[2]:m[3]], []byte("…"), nil)
}

// omitempty lists the key paths of t's JSON fields tagged omitempty.
func omitempty(t reflect.Type, prefix string) map[string]bool {
	out := map[string]bool{}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
		if prefix != "" && !strings.HasSuffix(prefix, "[].") {
			prefix += "[]."
		}
	}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if strings.Contains(opts, "omitempty") {
			out[prefix+name] = true
		}
		sub := prefix + name + "."
		if ft := f.Type; ft.Kind() == reflect.Slice {
			sub = prefix + name + ".[]."
		}
		for k := range omitempty(f.Type, sub) {
			out[k] = true
		}
	}
	return out
}

// keys lists every key path of a decoded JSON value (first element of arrays).
func keys(v any) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				out = append(out, prefix+k)
				walk(prefix+k+".", x[k])
			}
		case []any:
			if len(x) > 0 {
				walk(prefix+"[].", x[0])
			}
		}
	}
	walk("", v)
	return out
}

// With no tracks (or none published), "tracks" is an empty list, not null.
func TestNoTracksIsAnEmptyList(t *testing.T) {
	var out bytes.Buffer
	runCtx, stop := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer stop()
	if _, err := Run(runCtx, idleBackend{}, nil, &out, Options{Interval: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	n := 0
	for sc.Scan() {
		n++
		if !strings.Contains(sc.Text(), `"tracks":[]`) {
			t.Fatalf("line %d: %s", n, sc.Text())
		}
	}
	if n == 0 {
		t.Fatal("no lines")
	}
}

// idleBackend is connected and has nothing published.
type idleBackend struct{}

func (idleBackend) PublishWith(context.Context, session.PublishOptions) (*session.Track, error) {
	return nil, errors.New("not used")
}
func (idleBackend) Report(*report.Snapshot) report.Snapshot {
	return report.Snapshot{At: time.Now(), Connection: report.Status{State: report.Connected}}
}
func (idleBackend) Settle(context.Context)                               {}
func (idleBackend) WaitFollowed(context.Context, *session.Track) error   { return nil }
func (idleBackend) StoreSchema(context.Context, schema.ID, []byte) error { return nil }
func (idleBackend) Close() error                                         { return nil }

// A data source: every line of standard input becomes a frame, none
// dropped (the source waits for the track), all of them arriving at the
// loopback subscriber as the user's data.
func TestStdinSource(t *testing.T) {
	s := connect(t, true)
	var lines strings.Builder
	for i := range 500 {
		fmt.Fprintf(&lines, "{\"seq\":%d,\"pose\":[1.5,2.5,3.5]}\n", i)
	}
	ctx, stop := context.WithTimeout(context.Background(), 4*time.Second)
	defer stop()
	var out bytes.Buffer
	res, err := Run(ctx, s, []Track{{Name: "telemetry", Source: &source.Spec{Path: "-", ValidateJSON: true}, Stdin: strings.NewReader(lines.String()),
		Type: schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON}}}}, &out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sources) != 1 || res.Sources[0].Err != nil || res.Sources[0].Frames != 500 {
		t.Fatalf("source %+v", res.Sources)
	}
	lns := parseLines(t, &out)
	tr := lns[len(lns)-1].Tracks[0]
	if tr.Sent != 500 || tr.Dropped != 0 || tr.Rx == nil || tr.Rx.Data != 500 {
		t.Fatalf("final %+v rx %+v", tr, tr.Rx)
	}
	if tr.Type != "json" {
		t.Fatalf("the track's line says type %q, want json", tr.Type)
	}
}

// A bad line stops the source with where and why; the frames before it
// were sent and are counted.
func TestStdinSourceBadLine(t *testing.T) {
	s := connect(t, false)
	ctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	var out bytes.Buffer
	var logged bytes.Buffer
	warn := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := Run(ctx, s, []Track{{Name: "t", Source: &source.Spec{Path: "-", ValidateJSON: true}, Stdin: strings.NewReader("{}\n{}\n{oops\n{}\n")}}, &out, Options{Logger: warn})
	if err != nil {
		t.Fatal(err)
	}
	var fe *source.FrameError
	if len(res.Sources) != 1 || !errors.As(res.Sources[0].Err, &fe) || fe.Where != "line 3" || res.Sources[0].Frames != 2 {
		t.Fatalf("source %+v", res.Sources)
	}
	if l := res.Final.Local[0]; l.Out.FramesSent != 2 || l.Out.FramesPushed != 2 {
		t.Fatalf("counters %+v", l.Out)
	}
	// The error is on the final line, and not logged besides: the caller
	// writes its one stderr line from the Result.
	lns := parseLines(t, &out)
	final := lns[len(lns)-1]
	if len(final.Errors) != 1 || final.Errors[0].Reason != "data" || !strings.Contains(final.Errors[0].Error, "line 3") {
		t.Fatalf("final line's errors %+v", final.Errors)
	}
	if logged.Len() > 0 {
		t.Fatalf("logged besides: %s", logged.String())
	}
}

// A run that ends when its data ends (a pipe read at once) waits for the
// frames on their way: each one sent is received, lost or in its grace
// period, and its rates are over the time the run took, not the instant
// the frames took to leave.
func TestRunEndingWithItsDataAccountsForEveryFrame(t *testing.T) {
	s := connect(t, true)
	var lines strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&lines, "%d\n", i)
	}
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	var out bytes.Buffer
	_, err := Run(ctx, s, []Track{{Name: "t", Source: &source.Spec{Path: "-", ValidateJSON: true}, Stdin: strings.NewReader(lines.String()),
		Type: schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON}}}}, &out, Options{EndWithSources: true})
	if err != nil {
		t.Fatal(err)
	}
	lns := parseLines(t, &out)
	final := lns[len(lns)-1]
	tr := final.Tracks[0]
	if tr.Sent != 1000 || tr.Rx == nil || tr.Rx.Frames+tr.Rx.Data+tr.Rx.Lost+tr.Rx.InGrace+tr.Rx.Unfollowed != tr.Sent {
		t.Fatalf("sent %d, rx %+v", tr.Sent, tr.Rx)
	}
	if tr.WindowS != final.Elapsed || math.Abs(tr.FramesPerSec-float64(tr.Sent)/final.Elapsed) > 1e-6 {
		t.Fatalf("rates over %v s at %v frames/s; the run took %v s", tr.WindowS, tr.FramesPerSec, final.Elapsed)
	}
}

// A pure room monitor (no tracks of its own) prints what another
// participant's track delivers, measured from the packets.
func TestMonitorOnlyRun(t *testing.T) {
	srv := sfu(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	mon, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: pub.Status().Room, Monitor: true})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := pub.Publish(ctx, "from-the-other", false)
	if err != nil {
		t.Fatal(err)
	}
	probed, err := pub.Publish(ctx, "probed", false)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithTimeout(ctx, 3*time.Second)
	defer stop()
	done := make(chan struct{})
	var out bytes.Buffer
	go func() {
		defer close(done)
		if _, err := Run(runCtx, mon, nil, &out, Options{Interval: 500 * time.Millisecond}); err != nil {
			t.Error(err)
		}
	}()
	// Push once the monitor holds the subscription (its handle, and its
	// data channel open: the SFU drops what it cannot send yet), so every
	// frame counts.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if mon.MonitorHolds(tr.Info().SID) && mon.MonitorHolds(probed.Info().SID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the monitor never subscribed")
		}
	}
	for range 30 {
		for tr.Push(ctx, []byte(`{"ok":true}`), uint64(time.Now().UnixMilli())) != nil {
		}
	}
	for range 20 {
		if err := probed.Probe().PushWait(ctx, 100); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	lines := parseLines(t, &out)
	last := lines[len(lines)-1]
	if len(last.Tracks) != 0 || len(last.Remote) != 2 {
		t.Fatalf("final line %+v", last)
	}
	// The room's memory account: nothing held once every frame completed.
	if m := last.Memory; m == nil || m.BudgetBytes != incoming.DefaultMaxHeldBytes || m.HeldBytes != 0 ||
		m.Evicted != (EvictedLine{}) {
		t.Fatalf("memory %+v", last.Memory)
	}
	var r, p RemoteLine
	for _, x := range last.Remote {
		switch x.Name {
		case "from-the-other":
			r = x
		case "probed":
			p = x
		}
	}
	if r.Name != "from-the-other" || r.Publisher != pub.Status().Identity || r.Frames != 30 || r.PacketsLost != 0 || r.LatencyFrames != 30 || r.Probe != nil ||
		!strings.HasPrefix(r.Clock, "synced ±") || r.ClockUncertaintyMs <= 0 {
		t.Fatalf("remote %+v", r)
	}
	// Another dttui's probe frames are also followed by their own numbers.
	if p.Frames != 20 || p.Probe == nil || *p.Probe != (ProbeLine{Sent: 20, Received: 20, P50ms: p.Probe.P50ms, P95ms: p.Probe.P95ms, P99ms: p.Probe.P99ms}) || p.Probe.P99ms <= 0 {
		t.Fatalf("probed %+v, probe %+v", p, p.Probe)
	}
	// The final line's rates are over the frames' own span; every frame
	// is one packet.
	if r.Packets != 30 || r.WindowS <= 0 || r.FramesPerSec <= 0 || math.Abs(r.PacketsPerSec/r.FramesPerSec-1) > 1e-9 {
		t.Fatalf("final remote rates %+v", r)
	}
}

// A room track's "lost" is one figure (incoming.TrackStats.LostFrames):
// the JSON line and the metrics say what the table says, frames no packet
// arrived for and frames given up incomplete alike.
func TestRoomLostIsOneFigure(t *testing.T) {
	var r report.Remote
	r.Stats.SID, r.Stats.Name = "DTR_x", "x"
	r.Stats.FramesLost, r.Stats.FramesIncomplete, r.Stats.FramesCut = 3, 4, 5
	l := remoteLine(r, true)
	if l.FramesLost != 7 || l.Incomplete != 4 || l.FramesLost != r.Stats.LostFrames() {
		t.Fatalf("JSON frames_lost %d, incomplete %d; want 7 and 4 (the table's lost)", l.FramesLost, l.Incomplete)
	}
}

// A room track's clock is on its JSON line: what its latency compares,
// in words and as figures.
func TestRoomClockInJSON(t *testing.T) {
	var r report.Remote
	r.Stats.Clock = clocksync.Estimate{State: clocksync.Synced, Offset: -1050250 * time.Microsecond, Uncertainty: 420 * time.Microsecond}
	if l := remoteLine(r, true); l.Clock != "synced ±0.4ms" || l.ClockOffsetMs != -1050.25 || l.ClockUncertaintyMs != 0.42 {
		t.Fatalf("synced: %q offset %v ± %v", l.Clock, l.ClockOffsetMs, l.ClockUncertaintyMs)
	}
	r.Stats.Clock = clocksync.Estimate{State: clocksync.TwoClocks}
	b, err := json.Marshal(remoteLine(r, true))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"clock":"two clocks"`) || strings.Contains(s, "clock_offset_ms") {
		t.Fatalf("two clocks: %s", s)
	}
}

// hangingPublish answers no publish: it waits for its context, as a
// publish in flight when the user presses Ctrl+C.
type hangingPublish struct{ idleBackend }

func (hangingPublish) PublishWith(ctx context.Context, _ session.PublishOptions) (*session.Track, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("publish: %w", ctx.Err())
}

// A run stopped by its caller (a signal) while a publish is in flight
// ends with no failed track: the publish was cut, not refused. A run
// whose own deadline (--duration) ends it mid-publish still says so.
func TestStopDuringPublishIsNoFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	var out bytes.Buffer
	res, err := Run(ctx, hangingPublish{}, []Track{{Name: "a", Rate: 10}, {Name: "b", Rate: 10}}, &out, Options{Interval: time.Hour})
	if err != nil || len(res.Failed) != 0 {
		t.Fatalf("stopped mid-publish: failed %+v, %v", res.Failed, err)
	}
	dctx, stop := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer stop()
	res, err = Run(dctx, hangingPublish{}, []Track{{Name: "a", Rate: 10}}, &out, Options{Interval: time.Hour})
	if err != nil || len(res.Failed) != 1 {
		t.Fatalf("deadline mid-publish: failed %+v, %v; want the track", res.Failed, err)
	}
}
