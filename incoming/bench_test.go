package incoming

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/packetizer"
)

// BenchmarkHandlePacket measures the receive path per packet: parse,
// route by handle, reassemble (one copy into the frame buffer), measure
// (counters, size and latency histograms), decrypt for E2EE, and an
// OnFrame that counts. Frames carry the user timestamp, as dttui's probes
// do. In the same loop, in alternating turns, it copies the same payload
// bytes into a frame buffer (and, for E2EE, opens it with the same key):
// the least any receiver must do.
//
// ns/packet, allocs/packet and B/packet are the receive path's; MB/s and
// copy-MB/s are payload speeds, and x-copy is the path's speed over the
// peer's. Goal: ≤ 200 ns and 0 allocations per packet up to 64 KiB
// (without E2EE: AES-GCM alone takes longer than that for a full packet).
func BenchmarkHandlePacket(b *testing.B) {
	key, err := outgoing.NewE2EEKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}} {
		for _, mode := range []string{"plain", "e2ee"} {
			b.Run(size.name+"/"+mode, func(b *testing.B) {
				benchHandlePacket(b, size.n, mode == "e2ee", key)
			})
		}
	}
}

func benchHandlePacket(b *testing.B, size int, e2ee bool, key *outgoing.E2EEKey) {
	payload := make([]byte, size)
	ts := uint64(time.Now().UnixMilli())
	var pkts [][]byte
	in := info("DTR_a", 1, "bench")
	opts := Options{}
	if e2ee {
		in.Encryption = EncryptionGCM
		opts.Opener = key
		pkts = publishThroughOutgoing(b, key, [][]byte{payload}, ts, 1)
	} else {
		pkts = newStream().packets(b, 1, payload, packetizer.Extensions{HasUserTimestamp: true, UserTimestamp: ts})
	}
	frames := 0
	opts.OnFrame = func(*RemoteTrack, Frame) { frames++ }
	m := NewManager(&fakeTransport{}, opts)
	m.HandleJoin("me", []Participant{part("alice", "PA_1", 1, in)})
	m.HandleSubscriberHandles(map[uint16]string{1: "DTR_a"})

	var offs []int // payload offset of each packet, for the copy
	for _, p := range pkts {
		pk, err := packetizer.Parse(p)
		if err != nil {
			b.Fatal(err)
		}
		offs = append(offs, len(p)-len(pk.Payload))
	}
	frameBuf := make([]byte, 0, size+16)
	var seq, frame uint16
	reps := max(1, 256<<10/size)
	receive := func() {
		now := time.Now() // the caller reads the clock: its cost is not the path's
		for range reps {
			for _, p := range pkts {
				binary.BigEndian.PutUint16(p[4:], seq)
				binary.BigEndian.PutUint16(p[6:], frame)
				seq++
				m.HandlePacket(p, now)
			}
			frame++
		}
	}
	sink := 0
	var ext packetizer.E2EE
	plain := make([]byte, 0, size)
	plainCopy := func() {
		for range reps {
			buf := frameBuf[:0]
			for i, p := range pkts {
				buf = append(buf, p[offs[i]:]...)
			}
			if e2ee { // the least an E2EE receiver does: copy, then open
				pk, _ := packetizer.Parse(pkts[0])
				ext = pk.Header.Extensions.E2EE
				out, err := key.OpenFrame(plain[:0], buf, &ext)
				if err != nil {
					b.Fatal(err)
				}
				sink += len(out)
			}
			sink += len(buf)
		}
	}
	var rxTime, copyTime time.Duration
	timed := func(fn func(), total *time.Duration) {
		t0 := time.Now()
		fn()
		*total += time.Since(t0)
	}
	receive() // warm up: buffers grow once
	frames = 0
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	turn := false
	for b.Loop() {
		if turn = !turn; turn {
			timed(receive, &rxTime)
			timed(plainCopy, &copyTime)
		} else {
			timed(plainCopy, &copyTime)
			timed(receive, &rxTime)
		}
	}
	runtime.ReadMemStats(&after)
	n := float64(b.N * reps)
	if frames != b.N*reps {
		b.Fatalf("%d frames completed of %d", frames, b.N*reps)
	}
	np := n * float64(len(pkts))
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(rxTime.Nanoseconds())/np, "ns/packet")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/np, "allocs/packet")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/np, "B/packet")
	b.ReportMetric(float64(size)*n/rxTime.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(size)*n/copyTime.Seconds()/1e6, "copy-MB/s")
	b.ReportMetric(copyTime.Seconds()/rxTime.Seconds(), "x-copy")
	b.ReportMetric(float64(len(pkts)), "packets/frame")
	_ = sink
}
