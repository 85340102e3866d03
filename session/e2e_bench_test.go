package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/session/rtc"
	"github.com/pion/webrtc/v4"
)

// BenchmarkE2E publishes probe frames through each SFU build (server
// defaults; sub-benchmarks "embedded" and "released") as fast as the
// `_data_track` channel takes them, to two subscribers at once: the
// publisher's loopback, and the room monitor of a second dttui session in
// the room (Config.Monitor, the incoming manager measuring from the
// packets alone). Then it reports what each got:
//
//	tx-MB/s          payload the publisher put on the data channel
//	rx-MB/s          payload reassembled at the loopback, rx-frames/s likewise
//	loss-%           frames sent but never reassembled at the loopback (the
//	                 channel has no retransmissions, and the SFU sheds
//	                 packets queued toward a subscriber beyond its 100 ms
//	                 target latency)
//	p50/p99-ms       push-to-reassembly latency of the loopback's frames
//	mon-rx-frames/s  frames the monitor completed, per second
//	mon-loss-%       frames sent but never completed at the monitor
//
// A full per-track queue makes the pusher wait, not drop: the figures are
// about the path, not the queue policy. At saturation the latency is
// mostly queueing (the per-track queue and the channel's buffer, full by
// construction); BenchmarkE2EPaced shows the path at a steady rate.
//
// Each receiver's rate runs from the first push to its own last arrival.
//
//	go test -run '^$' -bench 'E2E|DirectPion' -benchtime 3s -count 2 ./session/
func BenchmarkE2E(b *testing.B) {
	testsfu.Run(b, func(b *testing.B, kind testsfu.Kind) {
		for _, size := range []int{1 << 10, 64 << 10} {
			b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) { benchE2E(b, kind, size, 0) })
		}
	})
}

// BenchmarkE2EPaced pushes at a fixed rate well below the path's capacity
// (about 2 and 6.5 MB/s), as a steady test stream would: latency without
// queueing, and whether anything is lost when nothing is overloaded.
func BenchmarkE2EPaced(b *testing.B) {
	testsfu.Run(b, func(b *testing.B, kind testsfu.Kind) {
		for _, c := range []struct{ size, rate int }{{1 << 10, 2000}, {64 << 10, 100}} {
			b.Run(fmt.Sprintf("%dKiB@%dfps", c.size>>10, c.rate), func(b *testing.B) { benchE2E(b, kind, c.size, c.rate) })
		}
	})
}

// benchSrv holds one SFU per build with the server's default settings.
var benchSrv = map[testsfu.Kind]*sharedSFU{testsfu.Embedded: {}, testsfu.Released: {}}

// benchE2E pushes b.N frames of size bytes through a kind SFU, at rate
// frames/s (0: as fast as the channel takes them).
func benchE2E(b *testing.B, kind testsfu.Kind, size, rate int) {
	srv, err := benchSrv[kind].start(kind, testsfu.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Connect(ctx, Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Loopback: true, Logger: testLog})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	mon, err := Connect(ctx, Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: s.Status().Room,
		Monitor: true, Logger: testLog})
	if err != nil {
		b.Fatal(err)
	}
	defer mon.Close()
	name := fmt.Sprintf("bench-%d-%d", size, b.N)
	tr, err := s.Publish(ctx, name, false)
	if err != nil {
		b.Fatal(err)
	}
	for !rx(s, tr).Subscribed || !mon.MonitorHolds(tr.Info().SID) {
		if ctx.Err() != nil {
			b.Fatal("the loopback or the monitor never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The filler is written once; each frame copies it and stamps its own
	// header, so the pusher's CPU goes to the path being measured.
	stream := tr.Probe().Stream()
	template := probe.Encode(nil, probe.Header{Stream: stream}, size)
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
			probe.Encode(payload[:0], probe.Header{Stream: stream, Seq: seq, Sent: now}, probe.HeaderLen)
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
	// Let the tail arrive at both: until every frame is in, or delivery
	// has not moved for 500 ms. Each rate runs to its last arrival seen.
	var r report.Receive
	var m incoming.TrackStats
	loop, monitor := tail{}, tail{}
	for t0 := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		r = rx(s, tr)
		if rt, ok := mon.Monitor().Track(tr.Info().SID); ok {
			m = rt.Stats()
		}
		loopDone := loop.see(r.Frames, st.FramesSent, t0)
		if monDone := monitor.see(m.FramesCompleted, st.FramesSent, t0); loopDone && monDone {
			break
		}
	}
	lat := row(s, tr).Latency
	b.StopTimer()
	if r.Corrupt != 0 {
		b.Fatalf("%d corrupt frames", r.Corrupt)
	}
	if m.DecryptFailuresTotal() != 0 || m.FramesCompleted > st.FramesSent {
		b.Fatalf("monitor: %d frames of %d sent, %d decrypt failures", m.FramesCompleted, st.FramesSent, m.DecryptFailuresTotal())
	}
	elapsed, monElapsed := loop.last.Sub(start).Seconds(), monitor.last.Sub(start).Seconds()
	lossPct := func(got uint64) float64 {
		return 100 * float64(st.FramesSent-min(st.FramesSent, got)) / float64(max(st.FramesSent, 1))
	}
	b.ReportMetric(float64(st.FramesSent)*float64(size)/txElapsed/1e6, "tx-MB/s")
	b.ReportMetric(float64(r.Frames)/elapsed, "rx-frames/s")
	b.ReportMetric(float64(r.Bytes)/elapsed/1e6, "rx-MB/s")
	b.ReportMetric(lossPct(r.Frames), "loss-%")
	b.ReportMetric(float64(lat.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat.P99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(m.FramesCompleted)/monElapsed, "mon-rx-frames/s")
	b.ReportMetric(lossPct(m.FramesCompleted), "mon-loss-%")
}

// tail follows one receiver's count after the last push.
type tail struct {
	n    uint64
	last time.Time // when n last moved (or the wait began)
}

// see notes the count n at this poll; it reports whether the receiver
// is done: it has all want frames, or has not moved for 500 ms.
func (t *tail) see(n, want uint64, began time.Time) bool {
	now := time.Now()
	if t.last.IsZero() {
		t.last = began
	}
	if n != t.n {
		t.n, t.last = n, now
	}
	return n >= want || now.Sub(t.last) >= 500*time.Millisecond
}

// BenchmarkDirectPion is the peer for BenchmarkE2E: the same packets,
// packetizer, `_data_track` channel settings and backpressure, sent
// straight from one pion PeerConnection to another in this process, with
// no SFU in between. E2E/Direct is what the SFU hop (and the manager's
// queue) costs on this machine.
//
//	go test -run '^$' -bench 'E2E|DirectPion' -benchtime 3s -count 2 ./session/
func BenchmarkDirectPion(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) { benchDirect(b, size) })
	}
}

func benchDirect(b *testing.B, size int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	offerer, answerer := pcPair(b, rtc.NewAPI(testLog, rtc.Network{}, true, nil))

	var mu sync.Mutex
	var frames, bytes uint64
	depkt := packetizer.NewDepacketizer(packetizer.DepacketizerOptions{})
	answerer.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			pkt, err := packetizer.Parse(m.Data)
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if f, ok := depkt.Push(pkt); ok {
				frames++
				bytes += uint64(len(f.Payload))
			}
		})
	})
	open := make(chan struct{})
	dc, err := rtc.NewDataChannel(offerer, open, nil)
	if err != nil {
		b.Fatal(err)
	}
	openDirect(b, ctx, offerer, answerer, open)

	pk, err := packetizer.NewPacketizer(1, packetizer.MTU, packetizer.NewClock(nil))
	if err != nil {
		b.Fatal(err)
	}
	closed := make(chan struct{})
	payload := probe.Encode(nil, probe.Header{}, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	var sent uint64
	for b.Loop() {
		err := pk.Packetize(packetizer.Frame{Payload: payload}, func(pkt []byte) error {
			return dc.Write(ctx, closed, nil, pkt)
		})
		if err != nil {
			b.Fatal(err)
		}
		sent++
	}
	got := func() (uint64, uint64) { mu.Lock(); defer mu.Unlock(); return frames, bytes }
	var rx tail
	for t0 := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		if n, _ := got(); rx.see(n, sent, t0) {
			break
		}
	}
	b.StopTimer()
	n, nb := got()
	elapsed := rx.last.Sub(start).Seconds()
	b.ReportMetric(float64(n)/elapsed, "rx-frames/s")
	b.ReportMetric(float64(nb)/elapsed/1e6, "rx-MB/s")
	b.ReportMetric(100*float64(sent-min(sent, n))/float64(max(sent, 1)), "loss-%")
}

// pcPair is two PeerConnections of api, closed when tb ends; signalDirect
// connects them.
func pcPair(tb testing.TB, api *webrtc.API) (offerer, answerer *webrtc.PeerConnection) {
	tb.Helper()
	var pcs [2]*webrtc.PeerConnection
	for i := range pcs {
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = pc.Close() })
		pcs[i] = pc
	}
	return pcs[0], pcs[1]
}

// openDirect negotiates offerer and answerer directly and waits until
// open (a data channel's) is closed.
func openDirect(tb testing.TB, ctx context.Context, offerer, answerer *webrtc.PeerConnection, open <-chan struct{}) {
	tb.Helper()
	if err := signalDirect(offerer, answerer); err != nil {
		tb.Fatal(err)
	}
	select {
	case <-open:
	case <-ctx.Done():
		tb.Fatal("data channel did not open")
	}
}

// signalDirect negotiates two local PeerConnections without trickle.
func signalDirect(offerer, answerer *webrtc.PeerConnection) error {
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		return err
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		return err
	}
	<-gathered
	return offerer.SetRemoteDescription(*answerer.LocalDescription())
}
