package session

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/impair"
	"github.com/dttui/dttui/internal/jsclient"
	"github.com/dttui/dttui/internal/relay"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/session/localsfu"
	"github.com/dttui/dttui/session/probe"
)

// pathCell is one path of the matrix: a frame size over a round trip, a
// loss share and a rate cap (0: none) on the way to the SFU.
type pathCell struct {
	size int
	rtt  time.Duration
	loss float64
	cap  int64
}

func (c pathCell) String() string {
	capName := "nocap"
	if c.cap > 0 {
		capName = fmt.Sprintf("cap%dMbit", c.cap/1e6)
	}
	return fmt.Sprintf("%dB/rtt%dms/loss%g%%/%s", c.size, c.rtt.Milliseconds(), 100*c.loss, capName)
}

// pathCells is the matrix: all of it with DTTUI_PATH_MATRIX=full (81
// cells, about an hour), one frame size's 27 cells with
// DTTUI_PATH_MATRIX=full:SIZE (1024, 16000 or 65536), else a quick corner
// of it.
func pathCells() []pathCell {
	sizes, rtts, losses, caps := []int{16000}, []time.Duration{50 * time.Millisecond}, []float64{0, 0.03}, []int64{5e6, 0}
	if m, ok := strings.CutPrefix(os.Getenv("DTTUI_PATH_MATRIX"), "full"); ok {
		sizes = []int{1 << 10, 16000, 64 << 10}
		if one, ok := strings.CutPrefix(m, ":"); ok {
			sizes = slices.DeleteFunc(sizes, func(n int) bool { return strconv.Itoa(n) != one })
		}
		rtts = []time.Duration{2 * time.Millisecond, 50 * time.Millisecond, 150 * time.Millisecond}
		losses = []float64{0, 0.01, 0.03}
		caps = []int64{5e6, 20e6, 0}
	}
	var out []pathCell
	for _, size := range sizes {
		for _, rtt := range rtts {
			for _, loss := range losses {
				for _, c := range caps {
					out = append(out, pathCell{size, rtt, loss, c})
				}
			}
		}
	}
	return out
}

// pathLadder is the steady rates tried for a size, lowest first, each
// half again the last.
func pathLadder(size int) []int {
	first, most := 100, 6400
	switch {
	case size >= 64<<10:
		first, most = 5, 400
	case size >= 16000:
		first, most = 10, 1000
	}
	var out []int
	for r := float64(first); int(r) <= most; r *= 1.5 {
		out = append(out, int(r))
	}
	return out
}

// pathStep is what one steady rate delivered to the subscriber.
type pathStep struct {
	rate          int
	sent, got     uint64        // frames handed to the network, frames at the subscriber
	fps           float64       // got per second
	p50, p99      float64       // ms, the subscriber's arrival minus the frame's timestamp
	early         uint64        // frames the publisher dropped before the network (dttui: with a reason)
	offered, shed uint64        // datagrams the relay was offered toward the SFU, and dropped (loss, cap)
	sender        string        // dttui's sender state at the end of the step
	sfuUp         sfuTrackStats // the SFU's own count of what it received
	sfuShed       uint64        // packets the SFU shed toward the subscriber
	networkLoss   float64       // 1 − got/sent
	secs          float64
	publisherName string
}

// pathStepSecs is how long each steady rate runs.
const pathStepSecs = 3

// BenchmarkPathMatrix puts dttui and livekit-client 2.23 (headless
// Chromium) on one shaped path to the released SFU — both on relayed
// candidates only, through internal/relay, whose forwarded datagrams
// cross a delay of RTT/2 each way and, toward the SFU, the loss and the
// rate cap — and finds, per cell and per publisher, the highest steady
// rate a livekit-client subscriber (on a clean path) receives with at most
// 1 % of the frames handed to the network lost, climbing a ladder of
// rates half again each step. Frames dttui drops before the network (its
// queue, with a reason) are not network loss; they are not delivered
// either, and the rate reported is what arrived. Each cell starts both
// publishers afresh (freshPublishers).
//
//	dttui-fps, js-fps   the highest such rate, frames/s at the subscriber
//	x                   dttui-fps / js-fps
//	p-p50-ms, p-p99-ms  latency at that rate (subscriber clock − frame timestamp, one machine)
//
//	go test -run '^$' -bench PathMatrix -benchtime 1x -timeout 120m ./session/                        # a quick corner
//	DTTUI_PATH_MATRIX=full go test -run '^$' -bench PathMatrix -benchtime 1x -timeout 120m ./session/ # 81 cells
//	DTTUI_PATH_MATRIX=full:16000 …                                                                      # one size's 27
func BenchmarkPathMatrix(b *testing.B) {
	jsclient.Require(b)
	testsfu.Require(b, testsfu.Released)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Hour)
	defer cancel()
	up, down := impair.NewShaper(31), impair.NewShaper(32)
	r, err := relay.Start(up, down)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	srv := testsfu.StartT(b, testsfu.Released, testsfu.Options{TURN: []localsfu.TURN{r.TURN()}})
	room := "matrix-" + randomSuffix()
	jsSub := jsInRoom(ctx, b, srv, room, "jssub")[0]
	if _, err := jsSub.SubscribeAll(ctx, jsclient.SubscribeOptions{Counters: true, BufferSize: 1 << 14}); err != nil {
		b.Fatal(err)
	}
	rig := pathRig{srv: srv, tap: sfuStats(b, srv), up: up}

	var table []string
	for _, c := range pathCells() {
		b.Run(c.String(), func(b *testing.B) {
			for b.Loop() {
				now := time.Now()
				up.Set(now, impair.Spec{Delay: c.rtt / 2, Loss: c.loss, Rate: c.cap, Queue: queueFor(c.cap)})
				down.Set(now, impair.Spec{Delay: c.rtt / 2, Dir: impair.Down})
				s, jsPub := freshPublishers(ctx, b, srv, room)
				best := map[string]pathStep{}
				for _, pub := range []string{"dttui", "js"} {
					best[pub] = climb(ctx, b, c, pub, rig, s, jsPub, jsSub)
				}
				d, j := best["dttui"], best["js"]
				b.ReportMetric(d.fps, "dttui-fps")
				b.ReportMetric(j.fps, "js-fps")
				b.ReportMetric(d.fps/max(j.fps, 0.001), "x")
				b.ReportMetric(d.p50, "dttui-p50-ms")
				b.ReportMetric(d.p99, "dttui-p99-ms")
				b.ReportMetric(j.p50, "js-p50-ms")
				b.ReportMetric(j.p99, "js-p99-ms")
				table = append(table, fmt.Sprintf("| %s | %.0f (p50 %.0f, p99 %.0f ms) | %.0f (p50 %.0f, p99 %.0f ms) | %.2f× |",
					c, d.fps, d.p50, d.p99, j.fps, j.p50, j.p99, d.fps/max(j.fps, 0.001)))
			}
		})
	}
	b.Logf("\n| cell | dttui frames/s | livekit-client frames/s | dttui / livekit-client |\n| --- | --- | --- | --- |\n%s", strings.Join(table, "\n"))
}

// freshPublishers starts both publishers afresh on the cell's path, each
// closed when the cell ends: a dttui session (with its loopback, as dttui
// runs) and livekit-client's page in a browser of its own. One session
// that crossed every cell kept the cells' congestion limit, and its least
// round trips for 10 s, so a cell measured the one before it as much as
// its own (1 KiB over 150 ms and 5 Mbit/s: 38 frames/s after the
// 3 %-loss cells, 495 alone).
func freshPublishers(ctx context.Context, b *testing.B, srv *testsfu.Server, room string) (*Session, *jsclient.Client) {
	b.Helper()
	s, err := Connect(ctx, Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: room, RelayOnly: true, Loopback: true, Logger: testLog})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	jsPub := jsclient.Start(b, jsclient.Options{Name: "jspub"})
	tok, err := srv.Token(room, "jspub")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := jsPub.Join(ctx, jsclient.JoinOptions{URL: srv.URL, Token: tok, RelayOnly: true}); err != nil {
		b.Fatal(err)
	}
	return s, jsPub
}

// queueFor is the rate cap's queue: 50 ms at the rate (the default).
func queueFor(rate int64) int {
	if rate == 0 {
		return 0
	}
	return impair.DefaultQueue(rate)
}

// climb runs pub at each rate of the ladder until one loses more than 1 %
// of what it handed to the network, or delivers no more than the step
// below, and returns the step that delivered most within the 1 %.
// pathRig is what the matrix reads its second observers from: the SFU
// (its log) and the relay's shaper toward it.
type pathRig struct {
	srv *testsfu.Server
	tap *sfuStatsTap
	up  *impair.Shaper
}

func climb(ctx context.Context, b *testing.B, c pathCell, pub string, rig pathRig, s *Session, jsPub, jsSub *jsclient.Client) pathStep {
	var best pathStep
	fails := 0
	for _, rate := range pathLadder(c.size) {
		up0 := rig.up.CountsOf(impair.Up)
		st := pathRun(ctx, b, c, pub, rate, rig, s, jsPub, jsSub)
		up1 := rig.up.CountsOf(impair.Up)
		st.offered, st.shed = up1.Datagrams-up0.Datagrams, up1.DroppedTotal()-up0.DroppedTotal()
		b.Logf("%s %s @%d/s: sent %d (%d dropped early), got %d = %.1f/s, network loss %.2f %%, p50 %.1f p99 %.1f ms; the relay dropped %d of %d datagrams; the SFU lost %d of %d packets up and shed %d toward the subscriber%s",
			c, pub, rate, st.sent, st.early, st.got, st.fps, 100*st.networkLoss, st.p50, st.p99, st.shed, st.offered,
			st.sfuUp.PacketsLost, st.sfuUp.Packets, st.sfuShed, st.sender)
		if st.networkLoss <= 0.01 && st.fps > best.fps {
			best, fails = st, 0
			continue
		}
		if fails++; fails == 2 {
			break
		}
	}
	return best
}

// pathRun publishes a fresh track from pub and runs it at rate for
// pathStepSecs, then reads what the subscriber got of it.
func pathRun(ctx context.Context, b *testing.B, c pathCell, pub string, rate int, rig pathRig, s *Session, jsPub, jsSub *jsclient.Client) pathStep {
	name := fmt.Sprintf("%s-%d-%s", pub, rate, randomSuffix())
	st := pathStep{rate: rate, publisherName: pub}
	start := time.Now()
	switch pub {
	case "dttui":
		tr, err := s.Publish(ctx, name, false)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jsSub.WaitSubscribed(ctx, "", name); err != nil {
			b.Fatal(err)
		}
		g, err := probe.NewGenerator(tr.Probe(), float64(rate), c.size)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if err := g.Start(ctx); err != nil {
			b.Fatal(err)
		}
		time.Sleep(pathStepSecs * time.Second)
		if sd := s.Status().Sender; sd.Window > 0 {
			st.sender = fmt.Sprintf("; sender: window %d B, delivery %.0f kB/s, pace %.0f kB/s, limit %.0f kB/s after %d back-offs, cwnd %d B, SCTP RTT %v, path RTT %v",
				sd.Window, sd.DeliveryRate/1e3, sd.PaceRate/1e3, sd.Limit/1e3, sd.Backoffs, sd.CongestionWindow, sd.SCTPRTT.Round(time.Millisecond), sd.PathRTT.Round(time.Millisecond))
		}
		g.Stop()
		_ = tr.Flush(ctx)
		ts := tr.Stats()
		st.sent, st.early = ts.FramesSent, ts.FramesDropped
		st.secs = time.Since(start).Seconds()
		counted(ctx, b, jsSub, name, &st)
		sid := tr.Info().SID
		_ = tr.Unpublish(ctx)
		st.sfuUp, st.sfuShed = rig.tap.wait(b, name, 5*time.Second), shedToward(b, rig.srv, "jssub", []string{sid})
	default:
		info, err := jsPub.Publish(ctx, name)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jsSub.WaitSubscribed(ctx, "", name); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		res, err := jsPub.Push(ctx, jsclient.PushOptions{Track: name, Count: pathStepSecs * rate, Rate: float64(rate), Size: c.size, UserTimestampNow: true})
		if err != nil {
			b.Fatal(err)
		}
		st.sent, st.early = uint64(res.OK), uint64(res.Failed)
		st.secs = max(time.Since(start).Seconds(), pathStepSecs)
		counted(ctx, b, jsSub, name, &st)
		_ = jsPub.Unpublish(ctx, name)
		st.sfuUp, st.sfuShed = rig.tap.wait(b, name, 5*time.Second), shedToward(b, rig.srv, "jssub", []string{info.SID})
	}
	return st
}

// counted fills st from the subscriber's counters of track name once they
// have settled.
func counted(ctx context.Context, b *testing.B, sub *jsclient.Client, name string, st *pathStep) {
	cs := settleJS(ctx, b, sub, []string{name}, time.Second)
	tc, _ := cs.Track(name)
	st.got = tc.Frames
	st.fps = float64(tc.Frames) / st.secs
	if st.sent > 0 {
		st.networkLoss = 1 - float64(min(st.got, st.sent))/float64(st.sent)
	}
	if tc.LatencyMs != nil {
		st.p50, st.p99 = tc.LatencyMs.P50, tc.LatencyMs.P99
	}
}
