package load

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session"
)

// BenchmarkLoad runs load mode against the embedded SFU (in this process,
// as `go run ./cmd/dttui` runs it) with more and more publishers, each
// with one 100 frames/s × 1 KiB track, and one subscriber, for 10 s each:
// where delivery stops being whole on this machine. Per step:
//
//	sent-fps, delivered-fps   over the run (delivered: at the subscriber)
//	loss-%                    of the frames followed to the subscriber
//	p50-ms, p99-ms            push-to-arrival latency
//	cpu-%                     of one core, the whole process (SFU included)
//
// A CPU profile says where the time goes:
//
//	go test -run '^$' -bench 'Load$' -benchtime 1x -cpuprofile cpu.out ./load/
//	go tool pprof -top -tagfocus … cpu.out
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1, 16, 32, 64, 96, 128, 160} {
		b.Run(fmt.Sprintf("publishers=%d", n), func(b *testing.B) {
			for b.Loop() {
				benchLoad(b, testsfu.Embedded, n, 1, Track{Name: "t", Rate: 100, Size: 1024}, 10*time.Second)
			}
		})
	}
}

func benchLoad(b *testing.B, kind testsfu.Kind, pubs, subs int, tr Track, d time.Duration) {
	srv := testsfu.StartT(b, kind, testsfu.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cpu0 := cpuTime()
	start := time.Now()
	sum, err := Run(ctx, Config{
		Session:      session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret},
		Participants: pubs, Subscribers: subs, Ramp: 50, Tracks: []Track{tr},
	}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	wall := time.Since(start)
	cpu := cpuTime() - cpu0
	if p := sum.Problems(); len(p) > 0 {
		b.Fatalf("problems: %v", p)
	}
	tot := sum.Totals()
	secs := d.Seconds()
	b.ReportMetric(float64(tot.Sent)/secs, "sent-fps")
	b.ReportMetric(float64(tot.Delivered)/secs, "delivered-fps")
	loss, _ := tot.Loss().Ratio()
	lat := report.LatencyOf(&tot.Latency)
	b.ReportMetric(100*loss, "loss-%")
	b.ReportMetric(ms(int64(lat.P50)), "p50-ms")
	b.ReportMetric(ms(int64(lat.P99)), "p99-ms")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
}

// BenchmarkParticipantCost joins participants to a released SFU (another
// process, so what is measured is dttui alone), each publishing one idle
// track, and reports what one more participant costs this process:
// goroutines and live heap. Then the same for tracks: one participant
// publishing 64 more idle tracks, per track.
//
//	go test -run '^$' -bench 'Cost' -benchtime 1x ./load/
func BenchmarkParticipantCost(b *testing.B) {
	srv := testsfu.StartT(b, testsfu.Released, testsfu.Options{})
	cfg := session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: "cost"}
	const n = 16
	for b.Loop() {
		g0, h0 := goroutinesAndHeap()
		var ss []*session.Session
		for i := range n {
			c := cfg
			c.Identity = fmt.Sprintf("cost-%d", i)
			s, err := session.Connect(context.Background(), c)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Publish(context.Background(), "idle", false); err != nil {
				b.Fatal(err)
			}
			ss = append(ss, s)
		}
		g1, h1 := goroutinesAndHeap()
		b.ReportMetric(float64(g1-g0)/n, "goroutines/participant")
		b.ReportMetric(float64(h1-h0)/n/1024, "heap-KiB/participant")

		const tracks = 64
		for i := range tracks {
			if _, err := ss[0].Publish(context.Background(), fmt.Sprintf("more-%d", i), false); err != nil {
				b.Fatal(err)
			}
		}
		g2, h2 := goroutinesAndHeap()
		b.ReportMetric(float64(g2-g1)/tracks, "goroutines/track")
		b.ReportMetric(float64(h2-h1)/tracks/1024, "heap-KiB/track")
		for _, s := range ss {
			_ = s.Close()
		}
	}
}

func goroutinesAndHeap() (int, uint64) {
	time.Sleep(500 * time.Millisecond) // let connects and publishes settle
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSendCost is the CPU one track costs dttui per 1 000 frames/s
// sent: one participant publishes one track to a released SFU (another
// process) at 1 000 frames/s for 5 s, frame sizes 1 KiB and 16 000 B (one
// packet each), no loopback subscriber, and the process's CPU time over
// the run is reported per second of wall time (100 = one core).
//
//	go test -run '^$' -bench 'SendCost' -benchtime 1x -count 3 ./load/
func BenchmarkSendCost(b *testing.B) {
	srv := testsfu.StartT(b, testsfu.Released, testsfu.Options{})
	for _, size := range []int{1 << 10, 16000} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			for b.Loop() {
				benchSendCost(b, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: "sendcost-" + fmt.Sprint(size)}, size)
			}
		})
	}
}

func benchSendCost(b *testing.B, cfg session.Config, size int) {
	const rate, run = 1000, 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := session.Connect(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tr, err := s.Publish(ctx, "cost", false)
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, size)
	frames := int(run.Seconds()) * rate
	cpu0, start := cpuTime(), time.Now()
	for i := range frames {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		if err := tr.Push(ctx, payload, uint64(time.Now().UnixMilli())); err != nil {
			b.Fatal(err)
		}
	}
	if err := tr.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	st := tr.Stats()
	if st.FramesSent != uint64(frames) {
		b.Fatalf("sent %d of %d frames (dropped %d)", st.FramesSent, frames, st.FramesDropped)
	}
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%-per-1000fps")
	b.ReportMetric(float64(st.FramesSent)/wall.Seconds(), "sent-fps")
}
