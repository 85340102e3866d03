package incoming

import (
	"runtime"
	"testing"
	"time"

	"github.com/dttui/dttui/e2ee"
	"github.com/dttui/dttui/internal/threadcpu"
	"github.com/dttui/dttui/packetizer"
)

// BenchmarkHandlePacket measures the receive path per packet: parse,
// route by handle, reassemble (one copy into the frame buffer), measure
// (counters, size and latency histograms), decrypt for E2EE, and an
// OnFrame that counts. Frames carry the user timestamp, as dttui's probes
// do. In the same loop, in turns, it runs the least any receiver must do
// with the same bytes: copy each packet's payload into a frame buffer
// and, for E2EE, open the frame with the same key (timed apart, so
// AES-GCM's own cost shows per byte).
//
//	ns/packet           the path's CPU time per packet
//	copy-ns/packet      the copy's, per packet
//	over-peer-ns/packet ns/packet minus the peer's (copy, and open for
//	                    E2EE): what the path adds to the least work
//	x-peer              the peer's time over the path's (1 = no overhead)
//	gcm-ns/B            AES-GCM open alone, per ciphertext byte (E2EE)
//	wall-ns/packet      the path's wall-clock time per packet
//	allocs/packet, B/packet, packets/frame
//
// Times are the benchmark thread's CPU time (internal/threadcpu; wall
// time where there is no such clock): on a shared machine the wall clock
// also counts the time other processes ran, which inflates every figure
// by the load. wall-ns/packet shows it. Each timed turn covers at least
// 4 MiB of payload or 4096 packets, so reading the clock (a system call)
// is below 1 %.
//
// Goal: ≤ 200 ns and 0 allocations per packet up to 64 KiB, each payload
// byte copied once; that copy alone is bounded by the machine's memory
// bandwidth (copy-ns/packet), so over-peer-ns/packet is what the path
// itself decides.
//
//	go test -run '^$' -bench HandlePacket -count 6 ./incoming/
func BenchmarkHandlePacket(b *testing.B) {
	key, err := e2ee.NewKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"16001B", 16001}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}} {
		for _, mode := range []string{"plain", "e2ee"} {
			b.Run(size.name+"/"+mode, func(b *testing.B) {
				benchHandlePacket(b, size.n, mode == "e2ee", key)
			})
		}
	}
}

// cpuTimer accumulates the CPU time (or, without a thread clock, the
// wall time) of the calls it times, and their wall time.
type cpuTimer struct {
	cpu, wall time.Duration
}

func (c *cpuTimer) time(fn func()) {
	w0 := time.Now()
	c0, _ := threadcpu.Now()
	fn()
	c1, ok := threadcpu.Now()
	wall := time.Since(w0)
	c.wall += wall
	if ok {
		c.cpu += c1 - c0
	} else {
		c.cpu += wall
	}
}

func benchHandlePacket(b *testing.B, size int, encrypted bool, key *e2ee.Key) {
	payload := make([]byte, size)
	var k *e2ee.Key
	if encrypted {
		k = key
	}
	frames := 0
	r := newReceiver(b, payload, uint64(time.Now().UnixMilli()), k, func(*RemoteTrack, *Frame) { frames++ })
	pkts := r.pkts
	var offs []int // payload offset of each packet, for the copy
	var ext packetizer.E2EE
	for i, p := range pkts {
		pk, err := packetizer.Parse(p)
		if err != nil {
			b.Fatal(err)
		}
		offs = append(offs, len(p)-len(pk.Payload))
		if i == 0 {
			ext = pk.Header.Extensions.E2EE
		}
	}
	frameBuf := make([]byte, 0, size+16)
	for i, p := range pkts {
		frameBuf = append(frameBuf, p[offs[i]:]...)
	}
	ciphertext := append([]byte(nil), frameBuf...)
	reps := max(1, 4<<20/size, 4096/len(pkts))
	receive := func() {
		now := time.Now() // the caller reads the clock: its cost is not the path's
		for range reps {
			r.feed(now)
		}
	}
	sink := 0
	plainCopy := func() {
		for range reps {
			buf := frameBuf[:0]
			for i, p := range pkts {
				buf = append(buf, p[offs[i]:]...)
			}
			sink += len(buf)
		}
	}
	plain := make([]byte, 0, size)
	open := func() {
		for range reps {
			out, err := key.OpenFrame(plain[:0], ciphertext, &ext)
			if err != nil {
				b.Fatal(err)
			}
			sink += len(out)
		}
	}
	turns := []func(){receive, plainCopy}
	if encrypted {
		turns = append(turns, open)
	}
	var rx, cp, op cpuTimer
	timers := []*cpuTimer{&rx, &cp, &op}

	runtime.LockOSThread() // the thread clock must stay this goroutine's
	defer runtime.UnlockOSThread()
	receive() // warm up: buffers grow once
	frames = 0
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	turn := 0
	for b.Loop() {
		// Each starts a turn in rotation, so machine noise and cache
		// warmth hit all alike.
		for i := range turns {
			j := (turn + i) % len(turns)
			timers[j].time(turns[j])
		}
		turn++
	}
	runtime.ReadMemStats(&after)
	n := float64(b.N * reps)
	if frames != b.N*reps {
		b.Fatalf("%d frames completed of %d", frames, b.N*reps)
	}
	np := n * float64(len(pkts))
	peer := cp.cpu + op.cpu
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(rx.cpu.Nanoseconds())/np, "ns/packet")
	b.ReportMetric(float64(cp.cpu.Nanoseconds())/np, "copy-ns/packet")
	b.ReportMetric(float64((rx.cpu-peer).Nanoseconds())/np, "over-peer-ns/packet")
	b.ReportMetric(peer.Seconds()/rx.cpu.Seconds(), "x-peer")
	if encrypted {
		b.ReportMetric(float64(op.cpu.Nanoseconds())/(n*float64(len(ciphertext))), "gcm-ns/B")
	}
	b.ReportMetric(float64(rx.wall.Nanoseconds())/np, "wall-ns/packet")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/np, "allocs/packet")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/np, "B/packet")
	b.ReportMetric(float64(len(pkts)), "packets/frame")
	_ = sink
}
