package session

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session/localsfu"
	"github.com/dttui/dttui/session/probe"
)

// BenchmarkE2E publishes probe frames through the embedded SFU to the
// loopback subscriber as fast as the data channel takes them (a full queue
// makes the pusher yield, not drop), then reports what was delivered:
// frames/s and MB/s at the subscriber, loss, and latency percentiles.
//
//	go test -run '^$' -bench E2E -benchtime 3s ./session/
func BenchmarkE2E(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) { benchE2E(b, size) })
	}
}

// The benchmark runs against an SFU with the server's default settings
// (the shared test SFU queues more generously toward subscribers).
var (
	benchOnce sync.Once
	benchSrv  *localsfu.Server
	benchErr  error
)

func benchE2E(b *testing.B, size int) {
	benchOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		benchSrv, benchErr = localsfu.Start(ctx, localsfu.Options{})
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	srv := benchSrv
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Connect(ctx, Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Loopback: true, Logger: testLog})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	name := fmt.Sprintf("bench-%d", size)
	tr, err := s.Publish(ctx, name, false)
	if err != nil {
		b.Fatal(err)
	}
	for !s.Received()[name].Subscribed {
		if ctx.Err() != nil {
			b.Fatal("loopback never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	src := probe.NewSource(tr.TryPush, nil)
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		for {
			err := src.Push(size)
			if err == nil {
				break
			}
			if !errors.Is(err, outgoing.ErrQueueFull) {
				b.Fatal(err)
			}
			runtime.Gosched()
		}
	}
	if err := tr.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	sent := tr.Stats().FramesSent
	// Let the tail arrive: wait until delivery stops moving.
	var r ReceiveStats
	for prev := uint64(1 << 63); ; {
		time.Sleep(200 * time.Millisecond)
		r = s.Received()[name]
		if r.FramesReceived+r.FramesLost >= sent || r.FramesReceived == prev {
			break
		}
		prev = r.FramesReceived
	}
	elapsed := time.Since(start).Seconds()
	b.StopTimer()
	b.ReportMetric(float64(r.FramesReceived)/elapsed, "rx-frames/s")
	b.ReportMetric(float64(r.BytesReceived)/elapsed/1e6, "rx-MB/s")
	lost := sent - min(sent, r.FramesReceived)
	b.ReportMetric(100*float64(lost)/float64(max(sent, 1)), "loss-%")
	b.ReportMetric(float64(r.LatencyP50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.LatencyP99.Microseconds())/1000, "p99-ms")
}
