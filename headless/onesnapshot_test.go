package headless

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/dttui/dttui/clocksync"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"go.uber.org/goleak"

	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/metrics"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/components/detail"
	"github.com/dttui/dttui/tui/components/tracktable"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/theme"
)

// The one-snapshot test: one report.Snapshot, rendered by the track
// table, the detail pane, the JSON line and the metrics, shows the same
// numbers in each. Every figure is report's; the renderers only format.

// latencies records n values spread from lo to hi (ns).
func latencies(n int, lo, hi time.Duration) *histogram.Histogram {
	var h histogram.Histogram
	for i := range n {
		h.Record(int64(lo + (hi-lo)*time.Duration(i)/time.Duration(max(n-1, 1))))
	}
	return &h
}

// oneSnapshot is a session at one instant as the session would report
// it: two local tracks (sends, drops by reason, the loopback's receive
// figures with loss and latency), two room tracks (frames completed,
// lost and incomplete, latency, one another dttui's probe, one E2EE with
// decrypt failures) and the connection.
func oneSnapshot(start time.Time) report.Snapshot {
	at := start.Add(time.Minute)
	local := func(name string, h uint16, out outgoing.Counters, rx report.Receive, rate report.Rates, win, run *histogram.Histogram) report.Local {
		rx.Subscribed, rx.Grace, rx.UserTimestamps = true, 3*time.Second, rx.Frames
		lat := report.LatencyOf(win)
		lat.Window = report.LatencyWindow
		rate.Window, rate.ReceivedValid = report.RateWindow, true
		return report.Local{Handle: h, Name: name, State: outgoing.StatePublished, Since: start, SIDs: []string{"TR_" + name}, Stream: uint32(h),
			Out: out, Rx: &rx, Figures: report.Figures{Rate: rate, Latency: lat,
				Average:    report.Rates{Window: time.Minute, SentFPS: float64(out.FramesSent) / 60, ReceivedFPS: float64(rx.Frames) / 60, ReceivedValid: true},
				RunLatency: report.LatencyOf(run), RunLatencyHist: run}}
	}
	var dropsA, dropsB [outgoing.NumDropReasons]uint64
	dropsA[outgoing.DropQueueFull], dropsA[outgoing.DropStale], dropsA[outgoing.DropMemoryCap] = 9, 4, 2
	dropsB[outgoing.DropRepublishing] = 3
	a := local("telemetry", 1,
		outgoing.Counters{FramesPushed: 1200, FramesSent: 1180, FramesDropped: 15, FramesQueued: 5, PacketsSent: 2360, BytesSent: 1_234_567,
			DroppedBy: dropsA, UnpublishedErrors: 2, PublishAttempts: 1},
		// 1160 + 11 + 4 + 5 = 1180 sent.
		report.Receive{Frames: 1160, Bytes: 1_180_000, Lost: 11, InGrace: 4, Unfollowed: 5, Duplicates: 2, Late: 1, Incomplete: 3},
		report.Rates{SentFPS: 98, SentPPS: 196, SentBPS: 204_800, DroppedFPS: 1.5, ReceivedFPS: 97, ReceivedBPS: 99_000, LostFPS: 0.5},
		latencies(970, 4*time.Millisecond, 37*time.Millisecond), latencies(1160, 3*time.Millisecond, 52*time.Millisecond))
	b := local("pose", 2,
		outgoing.Counters{FramesPushed: 603, FramesSent: 600, FramesDropped: 3, PacketsSent: 600, BytesSent: 96_000, DroppedBy: dropsB, PublishAttempts: 2},
		report.Receive{Frames: 596, Bytes: 86_000, Lost: 3, InGrace: 1, Data: 0},
		report.Rates{SentFPS: 10, SentPPS: 10, SentBPS: 1_600, ReceivedFPS: 9.5, ReceivedBPS: 1_500, LostFPS: 0.2},
		latencies(100, 2*time.Millisecond, 9*time.Millisecond), latencies(596, time.Millisecond, 11*time.Millisecond))

	remote := func(info incoming.Info, st incoming.TrackStats, rate report.Rates, win *histogram.Histogram) report.Remote {
		st.Info, st.State, st.Since, st.Subscriptions = info, incoming.StateSubscribed, start, 1
		st.UserTimestamps, st.Latency = st.FramesCompleted, *latencies(int(st.FramesCompleted), 20*time.Millisecond, 140*time.Millisecond)
		lat := report.LatencyOf(win)
		lat.Window = report.LatencyWindow
		rate.Window, rate.ReceivedValid = report.RateWindow, true
		run := st.Latency
		return report.Remote{Stats: st, Figures: report.Figures{Rate: rate, Latency: lat, RunLatency: report.LatencyOf(&run), RunLatencyHist: &run,
			Average: report.Rates{Window: time.Minute, ReceivedFPS: float64(st.FramesCompleted) / 60, ReceivedValid: true}}}
	}
	gps := remote(incoming.Info{SID: "DTR_gps1", PubHandle: 4, Name: "gps", PublisherIdentity: "alice"},
		incoming.TrackStats{Handle: 5, Packets: 1800, Bytes: 1_900_000, PacketsLost: 9, PacketsDuplicate: 2, PacketsReordered: 6,
			FramesCompleted: 905, FramesLost: 4, FramesIncomplete: 3, FramesCut: 1, FrameBytes: 1_700_000},
		report.Rates{ReceivedFPS: 30, ReceivedBPS: 56_000, ReceivedPPS: 60, LostFPS: 0.3, PacketsLostPS: 0.4},
		latencies(300, 25*time.Millisecond, 130*time.Millisecond))
	// gps's publisher answered the clock exchange, chat's did not.
	gps.Stats.Clock = clocksync.Estimate{State: clocksync.Synced, Offset: 3 * time.Millisecond, Uncertainty: 400 * time.Microsecond}
	gps.Probe = &report.RemoteProbe{Sent: 912, Received: 905, Lost: 6, InGrace: 1, Duplicates: 1, Spans: 1,
		Latency: *latencies(905, 18*time.Millisecond, 95*time.Millisecond)}
	var failures [incoming.NumDecryptReasons]uint64
	failures[0], failures[incoming.NumDecryptReasons-1] = 2, 5
	chat := remote(incoming.Info{SID: "DTR_chat1", PubHandle: 2, Name: "chat", PublisherIdentity: "bob", Encryption: incoming.EncryptionGCM},
		incoming.TrackStats{Handle: 6, Packets: 240, Bytes: 48_000, PacketsLost: 1, FramesCompleted: 233, FramesLost: 2, FramesIncomplete: 1,
			FrameBytes: 40_000, FramesDecrypted: 226, DecryptFailures: failures},
		report.Rates{ReceivedFPS: 4, ReceivedBPS: 700, ReceivedPPS: 4, LostFPS: 0.1},
		latencies(40, 30*time.Millisecond, 60*time.Millisecond))
	chat.Stats.Clock = clocksync.Estimate{State: clocksync.TwoClocks}

	return report.Snapshot{At: at, Local: []report.Local{a, b}, Remote: []report.Remote{gps, chat}, Loopback: true,
		Connection: report.Status{State: report.Connected, RTT: 23 * time.Millisecond, Reconnects: 1, LocalDrops: 9, Room: "lab", Identity: "dttui-1", Since: start,
			Sender: report.Sender{Window: 262_144, InFlight: 65_536, DeliveryRate: 512_000, PathRTT: 2 * time.Millisecond, SCTPRTT: 7 * time.Millisecond,
				CongestionWindow: 131_072, ReceiverWindow: 1 << 20, WindowWaits: 17, PaceWaits: 3, Limit: 420_000, Backoffs: 2}}}
}

// tableCells is each row of a rendered table by its first cell (the
// name), each cell by its column's title: a right-aligned cell ends where
// its title ends; its text is what lies after the previous title, past
// the previous (left-aligned) cell's text.
func tableCells(t *testing.T, view string) map[string]map[string]string {
	t.Helper()
	rows := map[string]map[string]string{}
	var head []rune
	for _, line := range strings.Split(ansi.Strip(view), "\n") {
		rl := []rune(line)
		if strings.HasPrefix(line, "  NAME") {
			head = rl
			continue
		}
		if head == nil || len(strings.Fields(line)) == 0 || strings.HasPrefix(line, "──") {
			continue
		}
		name := strings.Fields(strings.TrimPrefix(line, "›"))[0]
		if strings.HasPrefix(name, "TOTAL") || strings.HasPrefix(name, "ROOM") {
			name = strings.SplitN(name, " ", 2)[0]
		}
		cells := map[string]string{}
		prevEnd := 0
		for i := 0; i < len(head); {
			if head[i] == ' ' {
				i++
				continue
			}
			j := i
			for j < len(head) && head[j] != ' ' {
				j++
			}
			title := string(head[i:j])
			if j <= len(rl) {
				parts := strings.Split(string(rl[prevEnd:j]), "  ")
				cells[title] = strings.TrimSpace(parts[len(parts)-1])
			}
			prevEnd, i = j, j
		}
		rows[name] = cells
	}
	return rows
}

// items are a detail pane's figures: its text split at " · " and lines,
// the box's borders and the drops' heading off.
func items(view string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(ansi.Strip(view), "\n") {
		line = strings.Trim(line, "│╭╮╰╯─ ")
		for _, it := range strings.Split(line, " · ") {
			// The first drop reason follows its heading: "dropped: stale 4".
			out[strings.TrimPrefix(strings.TrimSpace(it), "dropped: ")] = true
		}
	}
	return out
}

// scrape serves c as `--metrics` does and reads one scrape: each series
// (name{labels}, as the text format writes it) to its value.
func scrape(t *testing.T, c *metrics.Collector) map[string]float64 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := metrics.Serve(ctx, ln, c)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-done }()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// series names one series as the text format writes it: labels in the
// order of their names.
func series(name string, labels ...string) string {
	type kv struct{ k, v string }
	var ls []kv
	for i := 0; i+1 < len(labels); i += 2 {
		ls = append(ls, kv{labels[i], labels[i+1]})
	}
	slices.SortFunc(ls, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	var parts []string
	for _, l := range ls {
		parts = append(parts, fmt.Sprintf("%s=%q", l.k, l.v))
	}
	if len(parts) == 0 {
		return metrics.Namespace + "_" + name
	}
	return metrics.Namespace + "_" + name + "{" + strings.Join(parts, ",") + "}"
}

// fromMS is one of the JSON's millisecond figures as a duration.
func fromMS(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func TestOneSnapshotSameNumbersEverywhere(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent()) // the metrics server and the scrape end with the test
	start := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	snap := oneSnapshot(start)
	ctx := common.Context{Theme: theme.Plain(), Now: func() time.Time { return snap.At }}

	// The JSON line, through its encoding: the live line (window figures)
	// and the final one (whole-run figures).
	decode := func(final bool) Line {
		b, err := json.Marshal(lineOf(snap, start, nil, final))
		if err != nil {
			t.Fatal(err)
		}
		var l Line
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	live, final := decode(false), decode(true)
	if len(live.Tracks) != 2 || len(live.Remote) != 2 {
		t.Fatalf("JSON: %d tracks, %d remote; want 2, 2", len(live.Tracks), len(live.Remote))
	}

	// The table: every row, and the totals.
	table := tracktable.New(ctx)
	table.Room, table.Loopback = true, true
	for _, l := range snap.Local {
		table.Rows = append(table.Rows, tracktable.Row{L: l, HasTrack: true})
	}
	for i := range snap.Remote {
		table.Rows = append(table.Rows, tracktable.Row{R: &snap.Remote[i]})
	}
	table.SetSize(200, 20)
	view := table.View()
	cells := tableCells(t, view)

	got := scrape(t, metrics.NewCollector(func() report.Snapshot { return snap }, nil))
	metric := func(name string, labels ...string) float64 {
		t.Helper()
		k := series(name, labels...)
		v, ok := got[k]
		if !ok {
			t.Fatalf("metrics: no %s", k)
		}
		return v
	}
	check := func(where, what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s %s: %q, want %q", where, what, got, want)
		}
	}
	num := func(v uint64) string { return format.Count(float64(v)) }
	u := func(v float64) uint64 { return uint64(v) }

	var jsonFPS, jsonBPS, jsonPPS float64
	var jsonPushed, jsonDropped, jsonLost uint64
	for i, l := range snap.Local {
		js, fin := live.Tracks[i], final.Tracks[i]
		row := cells[l.Name]
		if row == nil {
			t.Fatalf("table: no row %q in\n%s", l.Name, view)
		}
		lv := []string{"track", l.Name, "handle", strconv.Itoa(int(l.Handle))}
		// Sends: the JSON's counts, the metrics' counters, the table's cells.
		check("JSON", l.Name+" pushed", num(js.Pushed), num(l.Out.FramesPushed))
		check("table", l.Name+" PUSHED", row["PUSHED"], num(js.Pushed))
		check("metrics", l.Name+" pushed", num(u(metric("frames_pushed_total", lv...))), num(js.Pushed))
		check("metrics", l.Name+" sent", num(u(metric("frames_sent_total", lv...))), num(js.Sent))
		check("table", l.Name+" DROPPED", row["DROPPED"], num(js.Dropped))
		check("table", l.Name+" UNPUB", row["UNPUB"], num(js.UnpublishedErrors))
		check("table", l.Name+" FPS", row["FPS"], format.Count(js.FramesPerSec))
		check("table", l.Name+" PPS", row["PPS"], format.Count(js.PacketsPerSec))
		check("table", l.Name+" BYTES/S", row["BYTES/S"], format.Bytes(js.BytesPerSec)+"/s")
		var dropped uint64
		for reason := range outgoing.NumDropReasons {
			n := u(metric("frames_dropped_total", append(lv, "reason", reason.String())...))
			check("JSON", l.Name+" dropped "+reason.String(), num(js.DroppedBy[reason.String()]), num(n))
			dropped += n
		}
		check("metrics", l.Name+" dropped (by reason, summed)", num(dropped), num(js.Dropped))
		// The loopback: received, lost, latency.
		rx := js.Rx
		if rx == nil {
			t.Fatalf("JSON: %s has no rx", l.Name)
		}
		check("table", l.Name+" RX/S", row["RX/S"], format.Count(rx.FramesPerSec))
		check("table", l.Name+" LOST", row["LOST"], num(rx.Lost))
		check("table", l.Name+" P50", row["P50"], format.Duration(fromMS(rx.P50ms)))
		check("table", l.Name+" P99", row["P99"], format.Duration(fromMS(rx.P99ms)))
		check("metrics", l.Name+" received", num(u(metric("frames_received_total", lv...))), num(rx.Frames))
		check("metrics", l.Name+" lost", num(u(metric("frames_lost_total", lv...))), num(rx.Lost))
		check("metrics", l.Name+" in grace", num(u(metric("frames_in_grace", lv...))), num(rx.InGrace))
		check("metrics", l.Name+" unfollowed", num(u(metric("frames_unfollowed_total", lv...))), num(rx.Unfollowed))
		check("metrics", l.Name+" duplicates", num(u(metric("frames_duplicate_total", lv...))), num(rx.Duplicates))
		check("metrics", l.Name+" latency frames (whole run)", num(u(metric("latency_seconds_count", lv...))), num(fin.Rx.LatencyFrames))

		pane := detail.New(ctx)
		pane.Row = &tracktable.Row{L: l, HasTrack: true}
		pane.Sender = snap.Connection.Sender
		pane.SetSize(200, 60)
		det := items(pane.View())
		for _, want := range []string{
			fmt.Sprintf("frames pushed %d", js.Pushed), fmt.Sprintf("sent %d", js.Sent), fmt.Sprintf("queued %d", js.Queued),
			fmt.Sprintf("dropped %d", js.Dropped), fmt.Sprintf("unpublished errors %d", js.UnpublishedErrors),
			fmt.Sprintf("loopback: received %d", rx.Frames), fmt.Sprintf("lost %d", rx.Lost),
			fmt.Sprintf("in grace %d (%s)", rx.InGrace, format.Duration(time.Duration(rx.GraceS*float64(time.Second)))),
			fmt.Sprintf("incomplete %d", rx.Incomplete), fmt.Sprintf("duplicates %d", rx.Duplicates), fmt.Sprintf("late %d", rx.Late),
			fmt.Sprintf("unfollowed %d", rx.Unfollowed),
			"latency p50 " + format.Duration(fromMS(rx.P50ms)), "p95 " + format.Duration(fromMS(rx.P95ms)), "p99 " + format.Duration(fromMS(rx.P99ms)),
			"sender: window " + format.Bytes(float64(live.Connection.Sender.WindowBytes)),
			fmt.Sprintf("waits: window %d", live.Connection.Sender.WindowWaits),
		} {
			if !det[want] {
				t.Errorf("detail pane of %s: no %q in\n%s", l.Name, want, pane.View())
			}
		}
		for reason, n := range js.DroppedBy {
			if want := fmt.Sprintf("%s %d", reason, n); !det[want] {
				t.Errorf("detail pane of %s: no %q", l.Name, want)
			}
		}
		jsonFPS, jsonBPS, jsonPPS = jsonFPS+js.FramesPerSec, jsonBPS+js.BytesPerSec, jsonPPS+js.PacketsPerSec
		jsonPushed, jsonDropped, jsonLost = jsonPushed+js.Pushed, jsonDropped+js.Dropped, jsonLost+rx.Lost
	}
	// The TOTAL line is the JSON's tracks summed.
	tot := cells["TOTAL"]
	check("table", "TOTAL FPS", tot["FPS"], format.Count(jsonFPS))
	check("table", "TOTAL BYTES/S", tot["BYTES/S"], format.Bytes(jsonBPS)+"/s")
	check("table", "TOTAL PPS", tot["PPS"], format.Count(jsonPPS))
	check("table", "TOTAL PUSHED", tot["PUSHED"], num(jsonPushed))
	check("table", "TOTAL DROPPED", tot["DROPPED"], num(jsonDropped))
	check("table", "TOTAL LOST", tot["LOST"], num(jsonLost))

	var roomFPS, roomBPS float64
	var roomLost, roomPLost, roomDecrypt uint64
	for i, r := range snap.Remote {
		js, fin := live.Remote[i], final.Remote[i]
		row := cells[r.Stats.Name]
		if row == nil {
			t.Fatalf("table: no row %q in\n%s", r.Stats.Name, view)
		}
		rv := []string{"track", r.Stats.Name, "sid", r.SID(), "publisher", r.Stats.PublisherIdentity}
		// Room loss: frames that never arrived whole, one figure.
		check("JSON", js.Name+" frames_lost", num(js.FramesLost), num(r.Stats.LostFrames()))
		check("table", js.Name+" LOST", row["LOST"], num(js.FramesLost))
		check("metrics", js.Name+" frames lost", num(u(metric("remote_frames_lost_total", rv...))), num(js.FramesLost))
		check("metrics", js.Name+" incomplete", num(u(metric("remote_frames_incomplete_total", rv...))), num(js.Incomplete))
		check("metrics", js.Name+" frames", num(u(metric("remote_frames_received_total", rv...))), num(js.Frames))
		check("metrics", js.Name+" cut", num(u(metric("remote_frames_cut_total", rv...))), num(js.Cut))
		check("table", js.Name+" PLOST", row["PLOST"], num(js.PacketsLost))
		check("metrics", js.Name+" packets lost", num(u(metric("remote_packets_lost_total", rv...))), num(js.PacketsLost))
		check("table", js.Name+" FPS", row["FPS"], format.Count(js.FramesPerSec))
		check("table", js.Name+" PPS", row["PPS"], format.Count(js.PacketsPerSec))
		check("table", js.Name+" BYTES/S", row["BYTES/S"], format.Bytes(js.BytesPerSec)+"/s")
		// Latency on two clocks is marked so in the table; synced is not.
		check("JSON", js.Name+" clock", js.Clock, r.Stats.Clock.String())
		mark := tracktable.TwoClocks
		if r.Stats.Clock.State == clocksync.Synced {
			mark = ""
		}
		check("table", js.Name+" P50", row["P50"], format.Duration(fromMS(js.P50ms))+mark)
		check("table", js.Name+" P95", row["P95"], format.Duration(fromMS(js.P95ms))+mark)
		check("table", js.Name+" P99", row["P99"], format.Duration(fromMS(js.P99ms))+mark)
		check("metrics", js.Name+" latency frames (whole run)", num(u(metric("remote_latency_seconds_count", rv...))), num(fin.LatencyFrames))
		check("metrics", js.Name+" decrypt failures", num(u(metric("remote_decrypt_failures_total", rv...))), num(js.DecryptFailures))
		if r.Stats.E2EE() {
			check("table", js.Name+" DECRYPT", row["DECRYPT"], num(js.DecryptFailures))
		}

		pane := detail.New(ctx)
		pane.Row = &tracktable.Row{R: &snap.Remote[i]}
		pane.SetSize(200, 60)
		det := items(pane.View())
		want := []string{
			fmt.Sprintf("frames received %d", js.Frames), fmt.Sprintf("lost %d", js.FramesLost), fmt.Sprintf("of them incomplete %d", js.Incomplete),
			fmt.Sprintf("packets %d", js.Packets), fmt.Sprintf("lost %d", js.PacketsLost),
			fmt.Sprintf("now %s frames/s", format.Count(js.FramesPerSec)),
			"latency p50 " + format.Duration(fromMS(js.P50ms)), "p95 " + format.Duration(fromMS(js.P95ms)), "p99 " + format.Duration(fromMS(js.P99ms)),
		}
		if p := js.Probe; p != nil {
			// Another dttui's probe: its latency from its own send time.
			want = append(want, fmt.Sprintf("received %d", p.Received), fmt.Sprintf("in grace %d", p.InGrace),
				"latency p50 "+format.Duration(fromMS(p.P50ms)), "p95 "+format.Duration(fromMS(p.P95ms)), "p99 "+format.Duration(fromMS(p.P99ms)))
			check("JSON", js.Name+" probe p99", format.Duration(fromMS(p.P99ms)), format.Duration(r.Probe.Percentiles().P99))
		}
		for _, w := range want {
			if !det[w] {
				t.Errorf("detail pane of %s: no %q in\n%s", js.Name, w, pane.View())
			}
		}
		roomFPS, roomBPS = roomFPS+js.FramesPerSec, roomBPS+js.BytesPerSec
		roomLost, roomPLost, roomDecrypt = roomLost+js.FramesLost, roomPLost+js.PacketsLost, roomDecrypt+js.DecryptFailures
	}
	room := cells["ROOM"]
	check("table", "ROOM FPS", room["FPS"], format.Count(roomFPS))
	check("table", "ROOM BYTES/S", room["BYTES/S"], format.Bytes(roomBPS)+"/s")
	check("table", "ROOM LOST", room["LOST"], num(roomLost))
	check("table", "ROOM PLOST", room["PLOST"], num(roomPLost))
	check("table", "ROOM DECRYPT", room["DECRYPT"], num(roomDecrypt))

	// The connection.
	c := live.Connection
	check("JSON", "rtt", format.Duration(fromMS(c.RTTms)), format.Duration(snap.Connection.RTT))
	check("metrics", "rtt", format.Duration(time.Duration(metric("connection_rtt_seconds")*float64(time.Second))), format.Duration(fromMS(c.RTTms)))
	check("metrics", "reconnects", strconv.Itoa(int(metric("connection_reconnects_total"))), strconv.Itoa(c.Reconnects))
	check("JSON", "local drops", num(c.LocalDrops), num(snap.Connection.LocalDrops))
	check("metrics", "local drops", num(u(metric("connection_local_drops_total"))), num(c.LocalDrops))
	check("metrics", "connected", strconv.Itoa(int(metric("connection_state", "state", "connected"))), "1")
	check("metrics", "sender window", strconv.Itoa(int(metric("sender_window_bytes"))), strconv.Itoa(c.Sender.WindowBytes))
	check("metrics", "window waits", num(u(metric("sender_waits_total", "for", "window"))), num(c.Sender.WindowWaits))
	check("metrics", "pace waits", num(u(metric("sender_waits_total", "for", "pace"))), num(c.Sender.PaceWaits))
	check("JSON", "sender limit", format.Bytes(c.Sender.LimitBps), format.Bytes(snap.Connection.Sender.Limit))
	check("metrics", "sender limit", format.Bytes(metric("sender_limit_bytes_per_second")), format.Bytes(c.Sender.LimitBps))
	check("metrics", "back-offs", num(u(metric("sender_backoffs_total"))), num(c.Sender.Backoffs))
}
