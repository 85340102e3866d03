package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session/localsfu"
	"github.com/dttui/dttui/session/probe"
)

// BenchmarkE2E publishes probe frames through the embedded SFU (server
// defaults) to the loopback subscriber as fast as the `_data_track`
// channel takes them, then reports what the subscriber got:
//
//	tx-MB/s      payload the publisher put on the data channel
//	rx-MB/s      payload reassembled at the subscriber, rx-frames/s likewise
//	loss-%       frames sent but never reassembled (the channel has no
//	             retransmissions, and the SFU sheds packets queued toward a
//	             subscriber beyond its 100 ms target latency)
//	p50/p99-ms   push-to-reassembly latency of delivered frames
//
// A full per-track queue makes the pusher wait, not drop: the figures are
// about the path, not the queue policy. At saturation the latency is
// mostly queueing (the per-track queue and the channel's buffer, full by
// construction); BenchmarkE2EPaced shows the path at a steady rate.
//
//	go test -run '^$' -bench E2E -benchtime 5s ./session/
func BenchmarkE2E(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) { benchE2E(b, size, 0) })
	}
}

// BenchmarkE2EPaced pushes at a fixed rate well below the path's capacity
// (about 2 and 6.5 MB/s), as a steady test stream would: latency without
// queueing, and whether anything is lost when nothing is overloaded.
func BenchmarkE2EPaced(b *testing.B) {
	for _, c := range []struct{ size, rate int }{{1 << 10, 2000}, {64 << 10, 100}} {
		b.Run(fmt.Sprintf("%dKiB@%dfps", c.size>>10, c.rate), func(b *testing.B) { benchE2E(b, c.size, c.rate) })
	}
}

var (
	benchOnce sync.Once
	benchSrv  *localsfu.Server
	benchErr  error
)

// benchE2E pushes b.N frames of size bytes, at rate frames/s (0: as fast
// as the channel takes them).
func benchE2E(b *testing.B, size, rate int) {
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
	name := fmt.Sprintf("bench-%d-%d", size, b.N)
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
	// The filler is written once; each frame copies it and stamps its own
	// header, so the pusher's CPU goes to the path being measured.
	template := probe.Encode(nil, 0, time.Time{}, size)
	var seq uint64
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if rate > 0 {
			// An absolute schedule: late frames catch up, the mean rate holds.
			if d := time.Until(start.Add(time.Duration(seq) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d)
			}
		}
		payload := append([]byte(nil), template...)
		for {
			now := time.Now()
			probe.Encode(payload[:0], seq, now, probe.HeaderLen)
			err := tr.TryPush(payload, uint64(now.UnixMilli()))
			if err == nil {
				seq++
				break
			}
			if !errors.Is(err, outgoing.ErrQueueFull) {
				b.Fatal(err)
			}
			// The channel is the bottleneck: wait for it rather than spin
			// on a shared CPU. A refused frame stays ours to reuse.
			time.Sleep(100 * time.Microsecond)
		}
	}
	if err := tr.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	txElapsed := time.Since(start).Seconds()
	st := tr.Stats()
	// Let the tail arrive: wait until delivery stops moving.
	var r ReceiveStats
	for prev := uint64(1 << 63); ; {
		time.Sleep(200 * time.Millisecond)
		r = s.Received()[name]
		if r.FramesReceived+r.FramesLost >= st.FramesSent || r.FramesReceived == prev {
			break
		}
		prev = r.FramesReceived
	}
	elapsed := time.Since(start).Seconds()
	b.StopTimer()
	if r.FramesCorrupt != 0 {
		b.Fatalf("%d corrupt frames", r.FramesCorrupt)
	}
	b.ReportMetric(float64(st.FramesSent)*float64(size)/txElapsed/1e6, "tx-MB/s")
	b.ReportMetric(float64(r.FramesReceived)/elapsed, "rx-frames/s")
	b.ReportMetric(float64(r.BytesReceived)/elapsed/1e6, "rx-MB/s")
	lost := st.FramesSent - min(st.FramesSent, r.FramesReceived)
	b.ReportMetric(100*float64(lost)/float64(max(st.FramesSent, 1)), "loss-%")
	b.ReportMetric(float64(r.LatencyP50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.LatencyP99.Microseconds())/1000, "p99-ms")
}
