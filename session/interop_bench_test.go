//go:build linux

package session

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/internal/jsclient"
	"github.com/dttui/dttui/internal/testsfu"
)

// BenchmarkInteropReceive measures dttui's receive path against
// livekit-client's, in one run through each SFU build (server defaults):
// a livekit-client publisher pushes b.N frames back to back (each
// awaited, as its API has it: as fast as its data channel takes them), or
// in the @fps cases at a fixed rate both subscribers should keep up with,
// and two subscribers receive them: a livekit-client in Chromium, and
// dttui's room monitor in a process of its own (this test binary, run as
// TestMonitorProcess), so neither the embedded SFU nor the harness is
// charged to it. Reported, per subscriber:
//
//	js-/dttui-rx-frames/s   frames received, over their own first-to-last span
//	js-/dttui-rx-pkts/s     packets received over that span (for the JS
//	                        subscriber, Chromium's count of `_data_track`
//	                        messages; for dttui, its monitor's)
//	js-/dttui-loss-%        frames pushed but not received (the SFU sheds
//	                        what a subscriber's channel cannot take within
//	                        its 100 ms target latency)
//	js-/dttui-cpu-ms/kframe processor time per 1000 frames received: node
//	                        and every Chromium process of the JS subscriber;
//	                        the whole monitor process for dttui
//	cpu-ratio               dttui's over the JS subscriber's
//	cpu-ratio-pkt           the same per packet received (a subscriber that
//	                        falls behind loses packets at the SFU and spends
//	                        work on frames it cannot complete)
//	tx-frames/s             what the publisher pushed
//
// The machine is shared by the SFU, both browsers and dttui: the rates
// are those of the whole path; the CPU ratio is the comparison.
//
//	go test -run '^$' -bench InteropReceive -benchtime 3s ./session/
func BenchmarkInteropReceive(b *testing.B) {
	testsfu.Run(b, func(b *testing.B, kind testsfu.Kind) {
		jsclient.Require(b)
		srv, err := benchSrv[kind].start(kind, testsfu.Options{})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		room := "bench-rx-" + randomSuffix()
		js := jsclient.StartAll(b, jsclient.Options{Name: "bench-pub"}, jsclient.Options{Name: "bench-sub"})
		pub, sub := js[0], js[1]
		for i, id := range []string{"bench-pub", "bench-sub"} {
			token, err := srv.Token(room, id)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := js[i].Join(ctx, jsclient.JoinOptions{URL: srv.URL, Token: token}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := sub.SubscribeAll(ctx, jsclient.SubscribeOptions{CountOnly: true}); err != nil {
			b.Fatal(err)
		}
		mon := startMonitorProcess(b, srv, room)
		for _, c := range []struct{ size, rate int }{{1 << 10, 0}, {64 << 10, 0}, {1 << 10, 1000}, {64 << 10, 30}} {
			name := fmt.Sprintf("%dKiB", c.size>>10)
			if c.rate > 0 {
				name += fmt.Sprintf("@%dfps", c.rate)
			}
			b.Run(name, func(b *testing.B) { benchInteropReceive(b, ctx, pub, sub, mon, c.size, c.rate) })
		}
	})
}

var benchTracks atomic.Uint64

func benchInteropReceive(b *testing.B, ctx context.Context, pub, sub *jsclient.Client, mon *monitorProcess, size, rate int) {
	name := fmt.Sprintf("flat-%d-%d", size, benchTracks.Add(1))
	if _, err := pub.Publish(ctx, name); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = pub.Unpublish(ctx, name) }()
	if _, err := sub.WaitSubscribed(ctx, "bench-pub", name); err != nil {
		b.Fatal(err)
	}
	for mon.track(b, name).State != incoming.StateSubscribed.String() {
		if ctx.Err() != nil {
			b.Fatal("the monitor never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	jsCPU0 := treeCPU(b, sub)
	monCPU0 := mon.stats(b).CPU
	dc0 := dcCount(b, ctx, sub, false)

	b.ResetTimer()
	r, err := pub.Push(ctx, jsclient.PushOptions{Track: name, Count: b.N, Rate: float64(rate), Size: size, UserTimestampNow: true})
	b.StopTimer()
	if err != nil || r.OK != b.N {
		b.Fatalf("push: %+v %v", r, err)
	}
	// Until both have every frame, or neither has moved for a second.
	var jc jsclient.TrackCounters
	var mt monitorTrack
	last, moved := uint64(0), time.Now()
	for {
		cs, err := sub.Counters(ctx)
		if err != nil {
			b.Fatal(err)
		}
		jc, _ = cs.Track(name)
		mt = mon.track(b, name)
		if jc.Frames == uint64(b.N) && mt.Frames == uint64(b.N) {
			break
		}
		if n := jc.Frames + mt.Frames; n != last {
			last, moved = n, time.Now()
		} else if time.Since(moved) > time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	jsCPU := treeCPU(b, sub) - jsCPU0
	monCPU := mon.stats(b).CPU - monCPU0
	jsPk := dcCount(b, ctx, sub, false) - dc0

	perSec := func(n uint64, span time.Duration) float64 {
		if n < 2 || span <= 0 {
			return 0
		}
		return float64(n-1) / span.Seconds()
	}
	jsSpan := time.Duration((jc.LastArrivalMs - jc.FirstArrivalMs) * float64(time.Millisecond))
	monSpan := time.Duration(mt.LastNs - mt.FirstNs)
	cpuPerK := func(cpu time.Duration, frames uint64) float64 {
		return float64(cpu.Microseconds()) / 1000 / float64(max(frames, 1)) * 1000
	}
	jsCost, monCost := cpuPerK(jsCPU, jc.Frames), cpuPerK(monCPU, mt.Frames)
	jsPkCost, monPkCost := cpuPerK(jsCPU, jsPk), cpuPerK(monCPU, mt.Packets)
	b.ReportMetric(float64(b.N)/(r.ElapsedMs/1000), "tx-frames/s")
	b.ReportMetric(perSec(jc.Frames, jsSpan), "js-rx-frames/s")
	b.ReportMetric(perSec(mt.Frames, monSpan), "dttui-rx-frames/s")
	b.ReportMetric(float64(jsPk)/max(jsSpan.Seconds(), 1e-9), "js-rx-pkts/s")
	b.ReportMetric(float64(mt.Packets)/max(monSpan.Seconds(), 1e-9), "dttui-rx-pkts/s")
	b.ReportMetric(100*float64(uint64(b.N)-min(jc.Frames, uint64(b.N)))/float64(b.N), "js-loss-%")
	b.ReportMetric(100*float64(uint64(b.N)-min(mt.Frames, uint64(b.N)))/float64(b.N), "dttui-loss-%")
	b.ReportMetric(jsCost, "js-cpu-ms/kframe")
	b.ReportMetric(monCost, "dttui-cpu-ms/kframe")
	b.ReportMetric(monCost/max(jsCost, 1e-9), "cpu-ratio")
	b.ReportMetric(monPkCost/max(jsPkCost, 1e-9), "cpu-ratio-pkt")
}

func treeCPU(b *testing.B, c *jsclient.Client) time.Duration {
	d, err := c.CPUTime()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// monitorProcessEnv carries the room TestMonitorProcess joins: URL, API
// key, secret and room, separated by spaces.
const monitorProcessEnv = "DTTUI_MONITOR_PROCESS"

// monitorProcess is a dttui session with the room monitor only, in a
// child process, answering "stats" on its stdin with a JSON line.
type monitorProcess struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// monitorStats is the child's answer.
type monitorStats struct {
	CPU    time.Duration  `json:"cpu"`
	Tracks []monitorTrack `json:"tracks"`
}

type monitorTrack struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Frames  uint64 `json:"frames"`
	Packets uint64 `json:"packets"`
	FirstNs int64  `json:"first_ns"`
	LastNs  int64  `json:"last_ns"`
}

func startMonitorProcess(b *testing.B, srv *testsfu.Server, room string) *monitorProcess {
	cmd := exec.Command(os.Args[0], "-test.run=^TestMonitorProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), monitorProcessEnv+"="+strings.Join([]string{srv.URL, srv.APIKey, srv.APISecret, room}, " "))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	m := &monitorProcess{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	m.out.Buffer(make([]byte, 64<<10), 16<<20)
	b.Cleanup(func() {
		_ = in.Close() // the child closes its session and exits
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("monitor process: %v", err)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			b.Error("monitor process did not exit: killed")
		}
	})
	m.stats(b) // connected
	return m
}

// stats asks the child for its figures.
func (m *monitorProcess) stats(b *testing.B) monitorStats {
	b.Helper()
	if _, err := io.WriteString(m.in, "stats\n"); err != nil {
		b.Fatal(err)
	}
	for m.out.Scan() {
		line, ok := strings.CutPrefix(m.out.Text(), "monitor-stats ")
		if !ok {
			continue // the test framework's own lines
		}
		var st monitorStats
		if err := json.Unmarshal([]byte(line), &st); err != nil {
			b.Fatal(err)
		}
		return st
	}
	b.Fatalf("monitor process gone: %v", m.out.Err())
	return monitorStats{}
}

func (m *monitorProcess) track(b *testing.B, name string) monitorTrack {
	for _, t := range m.stats(b).Tracks {
		if t.Name == name {
			return t
		}
	}
	return monitorTrack{}
}

// TestMonitorProcess is BenchmarkInteropReceive's dttui subscriber: a
// session with the room monitor only. It prints its connect as its first
// answer, then one line per "stats" on stdin, and leaves at EOF.
func TestMonitorProcess(t *testing.T) {
	env := os.Getenv(monitorProcessEnv)
	if env == "" {
		t.Skip("only runs as BenchmarkInteropReceive's child")
	}
	f := strings.Fields(env)
	if len(f) != 4 {
		t.Fatalf("%s=%q", monitorProcessEnv, env)
	}
	s, err := Connect(bounded(t, 30*time.Second), Config{URL: f[0], APIKey: f[1], APISecret: f[2], Room: f[3],
		Identity: "dttui-monitor", Monitor: true, Logger: testLog})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		st := monitorStats{CPU: selfCPU(t)}
		for _, ts := range s.Monitor().Snapshot() {
			st.Tracks = append(st.Tracks, monitorTrack{Name: ts.Name, State: ts.State.String(), Frames: ts.FramesCompleted,
				Packets: ts.Packets, FirstNs: ts.FirstPacketAt.UnixNano(), LastNs: ts.LastPacketAt.UnixNano()})
		}
		line, _ := json.Marshal(st)
		fmt.Printf("monitor-stats %s\n", line)
	}
}
