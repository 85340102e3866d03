package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
)

func snapshot() report.Snapshot {
	var lat histogram.Histogram
	for _, ms := range []int64{1, 2, 3, 40} {
		lat.Record(ms * int64(time.Millisecond))
	}
	l := report.Local{Handle: 3, Name: "pose", State: outgoing.StatePublished,
		Out: outgoing.Counters{FramesPushed: 12, FramesSent: 7, FramesDropped: 5, PacketsSent: 7, BytesSent: 700},
		Rx:  &report.Receive{Frames: 6, Lost: 1}}
	l.Out.DroppedBy[outgoing.DropQueueFull] = 3
	l.Out.DroppedBy[outgoing.DropSchemaMismatch] = 2
	l.Out.SchemaMismatches = 2
	l.RunLatencyHist = &lat
	r := report.Remote{Stats: incoming.TrackStats{Info: incoming.Info{SID: "DTR_r", Name: "cam-meta", PublisherIdentity: "robot"},
		Handle: 2, Packets: 11, PacketsLost: 1, FramesCompleted: 9, Latency: lat,
		Clock: clocksync.Estimate{State: clocksync.Synced, Uncertainty: 400 * time.Microsecond}}, Schema: report.SchemaCheck{Checked: 9, Mismatches: 4}}
	return report.Snapshot{At: time.Now(), Connection: report.Status{State: report.Connected, RTT: 2 * time.Millisecond, Reconnects: 1},
		Local: []report.Local{l}, Remote: []report.Remote{r}}
}

// Every figure of the report is exported under its documented name, with
// the track's labels, and the latency histograms count every frame.
func TestCollectorRendersTheReport(t *testing.T) {
	c := NewCollector(snapshot, func() int64 { return 1234 })
	want := `
# HELP dttui_frames_dropped_total Frames not sent, by reason.
# TYPE dttui_frames_dropped_total counter
dttui_frames_dropped_total{handle="3",reason="closed before sent",track="pose"} 0
dttui_frames_dropped_total{handle="3",reason="congested",track="pose"} 0
dttui_frames_dropped_total{handle="3",reason="disconnected",track="pose"} 0
dttui_frames_dropped_total{handle="3",reason="encrypt error",track="pose"} 0
dttui_frames_dropped_total{handle="3",reason="memory cap",track="pose"} 0
dttui_frames_dropped_total{handle="3",reason="packetize error",track="pose"} 0
dttui_frames_dropped_total{handle="3",reason="queue full",track="pose"} 3
dttui_frames_dropped_total{handle="3",reason="republishing",track="pose"} 0
dttui_frames_dropped_total{handle="3",reason="schema mismatch",track="pose"} 2
dttui_frames_dropped_total{handle="3",reason="stale",track="pose"} 0
dttui_frames_dropped_total{handle="3",reason="transport error",track="pose"} 0
dttui_frames_dropped_total{handle="3",reason="unpublished",track="pose"} 0
# HELP dttui_frames_sent_total Frames whose every packet was handed to the data channel.
# TYPE dttui_frames_sent_total counter
dttui_frames_sent_total{handle="3",track="pose"} 7
# HELP dttui_frames_lost_total Followed frames not received within the grace period.
# TYPE dttui_frames_lost_total counter
dttui_frames_lost_total{handle="3",track="pose"} 1
# HELP dttui_schema_mismatches_total Pushed frames that did not match the track's schema (sent, or dropped with reason schema mismatch).
# TYPE dttui_schema_mismatches_total counter
dttui_schema_mismatches_total{handle="3",track="pose"} 2
# HELP dttui_remote_schema_mismatches_total Frames that did not match the schema the track declares.
# TYPE dttui_remote_schema_mismatches_total counter
dttui_remote_schema_mismatches_total{publisher="robot",sid="DTR_r",track="cam-meta"} 4
# HELP dttui_remote_packets_lost_total Packets lost, from the sequence numbers.
# TYPE dttui_remote_packets_lost_total counter
dttui_remote_packets_lost_total{publisher="robot",sid="DTR_r",track="cam-meta"} 1
# HELP dttui_remote_clock_synced 1 when the publisher answered dttui's clock exchange: its latency is one-way, its offset taken out.
# TYPE dttui_remote_clock_synced gauge
dttui_remote_clock_synced{publisher="robot",sid="DTR_r",track="cam-meta"} 1
# HELP dttui_remote_clock_uncertainty_seconds Bound on the error of the clock offset taken out of the latency (0 unless synced).
# TYPE dttui_remote_clock_uncertainty_seconds gauge
dttui_remote_clock_uncertainty_seconds{publisher="robot",sid="DTR_r",track="cam-meta"} 0.0004
# HELP dttui_connection_state 1 for the connection's current state (connecting, connected, stalled, reconnecting, disconnected).
# TYPE dttui_connection_state gauge
dttui_connection_state{state="connected"} 1
dttui_connection_state{state="connecting"} 0
dttui_connection_state{state="disconnected"} 0
dttui_connection_state{state="reconnecting"} 0
dttui_connection_state{state="stalled"} 0
# HELP dttui_queued_bytes Payload bytes queued for sending over all local tracks.
# TYPE dttui_queued_bytes gauge
dttui_queued_bytes 1234
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "dttui_frames_dropped_total", "dttui_frames_sent_total",
		"dttui_frames_lost_total", "dttui_remote_packets_lost_total", "dttui_schema_mismatches_total", "dttui_remote_schema_mismatches_total",
		"dttui_remote_clock_synced", "dttui_remote_clock_uncertainty_seconds", "dttui_connection_state", "dttui_queued_bytes"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "dttui_latency_seconds", "dttui_remote_latency_seconds"); n != 2 {
		t.Fatalf("%d latency histograms", n)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

// Serve answers scrapes at /metrics and stops with its context.
func TestServe(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	done, err := Serve(ctx, ln, NewCollector(snapshot, nil))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `dttui_latency_seconds_bucket{handle="3",track="pose",le="0.005"} 3`) ||
		!strings.Contains(string(body), `dttui_latency_seconds_count{handle="3",track="pose"} 4`) {
		t.Fatalf("scrape:\n%s", body)
	}
	// The Go runtime's and the process's standard collectors.
	want := []string{"go_goroutines ", "go_memstats_heap_alloc_bytes ", "go_gc_duration_seconds"}
	if runtime.GOOS == "linux" {
		want = append(want, "process_resident_memory_bytes ", "process_cpu_seconds_total ", "process_open_fds ")
	}
	for _, w := range want {
		if !strings.Contains(string(body), "\n"+w) {
			t.Errorf("scrape lacks %s", w)
		}
	}
	cancel()
	<-done
	http.DefaultClient.CloseIdleConnections()
}

// The room monitor's memory budget: what is held against it, and the
// partial frames evicted to keep within it, by reason; nothing without
// the monitor.
func TestCollectorRendersTheRoomMemory(t *testing.T) {
	snap := snapshot()
	c := NewCollector(func() report.Snapshot { return snap }, nil)
	if n := testutil.CollectAndCount(c, "dttui_room_held_bytes", "dttui_room_evicted_frames_total"); n != 0 {
		t.Fatalf("%d room memory series without the monitor", n)
	}
	snap.Memory = incoming.Held{Bytes: 1000, Peak: 3000, Budget: 4096, PerParticipant: 1024, TracksRefused: 12}
	snap.Memory.Evicted[incoming.EvictParticipantShare], snap.Memory.EvictedBytes[incoming.EvictParticipantShare] = 7, 7000
	want := `
# HELP dttui_room_held_bytes Memory other participants' partial frames hold now.
# TYPE dttui_room_held_bytes gauge
dttui_room_held_bytes 1000
# HELP dttui_room_held_budget_bytes The budget room_held_bytes is kept within (--max-held-bytes).
# TYPE dttui_room_held_budget_bytes gauge
dttui_room_held_budget_bytes 4096
# HELP dttui_room_evicted_frames_total Partial frames given up to keep within the budget, by reason (room budget, participant share, idle).
# TYPE dttui_room_evicted_frames_total counter
dttui_room_evicted_frames_total{reason="idle"} 0
dttui_room_evicted_frames_total{reason="participant share"} 7
dttui_room_evicted_frames_total{reason="room budget"} 0
# HELP dttui_room_tracks_refused Tracks published now that the monitor does not follow: past its track cap or a participant's share of it.
# TYPE dttui_room_tracks_refused gauge
dttui_room_tracks_refused 12
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "dttui_room_held_bytes", "dttui_room_held_budget_bytes",
		"dttui_room_evicted_frames_total", "dttui_room_tracks_refused"); err != nil {
		t.Fatal(err)
	}
}

// A hostile room's text reaches the scrape escaped (no ESC, C1 or bidi
// override for a terminal showing it) and cut; a room of more tracks
// than MaxRemoteTracks exports that many and says how many it left out,
// so a scrape's size does not grow with the room (issue 20.6, 20.7: 13 008
// series, 1.46 MB, raw ESC bytes for 500 tracks).
func TestCollectorBoundsAndEscapesTheRoom(t *testing.T) {
	snap := snapshot()
	hostile := "\x1b]52;c;cHduZWQ=\x07\x1b[2J\u202e\u009b" + strings.Repeat("x", 10_000)
	base := snap.Remote[0]
	snap.Remote = nil
	for i := range 3 * MaxRemoteTracks {
		r := base
		r.Stats.Name, r.Stats.PublisherIdentity, r.Stats.SID = hostile, hostile, fmt.Sprintf("DTR_%d%s", i, hostile)
		snap.Remote = append(snap.Remote, r)
	}
	c := NewCollector(func() report.Snapshot { return snap }, nil)
	if n := testutil.CollectAndCount(c, "dttui_remote_frames_received_total"); n != MaxRemoteTracks {
		t.Fatalf("%d remote tracks exported, want %d", n, MaxRemoteTracks)
	}
	want := fmt.Sprintf(`
# HELP dttui_metrics_remote_tracks_dropped Room tracks left out of this scrape to keep it within its size (at most %d exported).
# TYPE dttui_metrics_remote_tracks_dropped gauge
dttui_metrics_remote_tracks_dropped %d
`, MaxRemoteTracks, 2*MaxRemoteTracks)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "dttui_metrics_remote_tracks_dropped"); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, c)
	for _, bad := range []string{"\x1b", "\u202e", "\u009b", "\x07"} {
		if strings.Contains(body, bad) {
			t.Fatalf("the scrape carries %q raw", bad)
		}
	}
	if !strings.Contains(body, `\\x1b]52;c;cHduZWQ=\\x07`) {
		t.Fatalf("the name is not shown escaped:\n%s", body[:min(len(body), 2000)])
	}
	if len(body) > 4<<20 {
		t.Fatalf("a scrape of %d bytes", len(body))
	}
}

// scrape serves c on loopback and returns one scrape's body.
func scrape(t *testing.T, c *Collector) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done, err := Serve(ctx, ln, c)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-done; http.DefaultClient.CloseIdleConnections() }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Many scrapes at once render at most MaxScrapesInFlight reports at a
// time; the others are refused at once or wait for a connection, and all
// end (issue 20.6: 200 concurrent scrapes took 2.75 GB).
func TestConcurrentScrapesAreBounded(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var inFlight, most atomic.Int32
	release := make(chan struct{})
	src := func() report.Snapshot {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		inFlight.Add(-1)
		return snapshot()
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done, err := Serve(ctx, ln, NewCollector(src, nil))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var wg sync.WaitGroup
	var ok, refused atomic.Int32
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get("http://" + ln.Addr().String() + "/metrics")
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				ok.Add(1)
			case http.StatusServiceUnavailable:
				refused.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // every scrape has come in
	close(release)
	wg.Wait()
	cancel()
	<-done
	if m := most.Load(); m > MaxScrapesInFlight || m == 0 {
		t.Fatalf("%d scrapes rendered at once, the bound is %d", m, MaxScrapesInFlight)
	}
	if ok.Load() == 0 || refused.Load() == 0 || ok.Load()+refused.Load() != 40 {
		t.Fatalf("%d answered, %d refused of 40", ok.Load(), refused.Load())
	}
}

// A room track's lost frames are the table's and the JSON's
// (incoming.TrackStats.LostFrames): incomplete ones included.
func TestRemoteLostIsTheTablesFigure(t *testing.T) {
	snap := snapshot()
	snap.Remote[0].Stats.FramesLost, snap.Remote[0].Stats.FramesIncomplete = 3, 4
	c := NewCollector(func() report.Snapshot { return snap }, nil)
	want := `
# HELP dttui_remote_frames_lost_total Frames that never arrived whole (no packet, or not all: incomplete counts those).
# TYPE dttui_remote_frames_lost_total counter
dttui_remote_frames_lost_total{publisher="robot",sid="DTR_r",track="cam-meta"} 7
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "dttui_remote_frames_lost_total"); err != nil {
		t.Fatal(err)
	}
}
