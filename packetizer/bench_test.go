package packetizer

import (
	"runtime"
	"testing"
	"time"
)

var benchSizes = []struct {
	name string
	size int
}{{"256B", 256}, {"16KiB", 16 << 10}, {"1MiB", 1 << 20}}

// BenchmarkPacketize serializes one frame per op into the packetizer's
// reused buffer, handing each packet to a discarding emit as the send path
// does. In the same loop it copies the same bytes, in the same chunks, into
// a reused buffer: the cost of moving the bytes at all.
//
// ns/op, MB/s, B/op and allocs/op are the packetize path's, per frame;
// copy-MB/s is the plain copy's and x-copy is packetize speed over copy
// speed (the goal is at least 0.5 at 1 MiB). The two alternate within each
// iteration, in turns, so machine noise and cache warmth hit both alike;
// each is timed over at least 256 KiB so reading the clock is negligible.
func BenchmarkPacketize(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			size := bs.size
			p, _ := NewPacketizer(1, MTU, NewClock(nil))
			f := Frame{Payload: make([]byte, size), Extensions: Extensions{HasUserTimestamp: true, UserTimestamp: 1}}
			h := Header{Extensions: f.Extensions}
			room := MTU - h.Len()
			packets, _ := PacketCount(size, f.Extensions, MTU)
			dst := make([]byte, MTU)
			var sink int
			emit := func(pkt []byte) error { sink += len(pkt); return nil }
			reps := max(1, 256<<10/size)
			packetize := func() {
				for range reps {
					if err := p.Packetize(f, emit); err != nil {
						b.Fatal(err)
					}
				}
			}
			plainCopy := func() {
				for range reps {
					for off := 0; off < size; off += room {
						sink += copy(dst, f.Payload[off:min(off+room, size)])
					}
				}
			}
			var pktTime, copyTime time.Duration
			timed := func(fn func(), total *time.Duration) {
				t0 := time.Now()
				fn()
				*total += time.Since(t0)
			}
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			turn := false
			for b.Loop() {
				if turn = !turn; turn {
					timed(packetize, &pktTime)
					timed(plainCopy, &copyTime)
				} else {
					timed(plainCopy, &copyTime)
					timed(packetize, &pktTime)
				}
			}
			runtime.ReadMemStats(&after)
			frames := float64(b.N * reps)
			b.ReportMetric(float64(pktTime.Nanoseconds())/frames, "ns/op")
			b.ReportMetric(float64(size)*frames/pktTime.Seconds()/1e6, "MB/s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/frames, "allocs/op")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/frames, "B/op")
			b.ReportMetric(float64(pktTime.Nanoseconds())/(frames*float64(packets)), "ns/packet")
			b.ReportMetric(float64(size)*frames/copyTime.Seconds()/1e6, "copy-MB/s")
			b.ReportMetric(copyTime.Seconds()/pktTime.Seconds(), "x-copy")
			_ = sink
		})
	}
}

// BenchmarkDepacketize reassembles in-order frames with PushAt, the
// receive path: each payload byte is copied once, into a reused frame
// buffer (incoming's BenchmarkHandlePacket measures the whole path
// against a plain copy).
func BenchmarkDepacketize(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			p, _ := NewPacketizer(1, MTU, NewClock(nil))
			var pkts []Packet
			_ = p.Packetize(Frame{Payload: make([]byte, bs.size)}, func(pkt []byte) error {
				pk, err := Parse(append([]byte(nil), pkt...))
				pkts = append(pkts, pk)
				return err
			})
			d := NewDepacketizer(DepacketizerOptions{})
			b.SetBytes(int64(bs.size))
			b.ReportAllocs()
			var seq, frame uint16
			now := time.Now()
			for b.Loop() {
				for i := range pkts {
					pkts[i].Header.Sequence = seq
					pkts[i].Header.FrameNumber = frame
					seq++
					if _, ok := d.PushAt(&pkts[i], now); ok != (i == len(pkts)-1) {
						b.Fatalf("packet %d: complete=%v", i, ok)
					}
				}
				frame++
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	p, _ := NewPacketizer(1, MTU, NewClock(nil))
	var pkt []byte
	_ = p.Packetize(Frame{Payload: make([]byte, 1024), Extensions: Extensions{HasE2EE: true, HasUserTimestamp: true}},
		func(b []byte) error { pkt = append([]byte(nil), b...); return nil })
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
