package packetizer

import (
	"fmt"
	"testing"
)

var benchSizes = []int{256, 16 << 10, 1 << 20}

// BenchmarkPacketize serializes frames into the packetizer's reused buffer
// and hands each packet to a discarding emit, as the send path does.
// Compare with BenchmarkCopy at the same size: the ratio of their MB/s is
// the cost of packetizing over moving the bytes at all.
func BenchmarkPacketize(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			p, _ := NewPacketizer(1, MTU, NewClock(nil))
			f := Frame{Payload: make([]byte, size), Extensions: Extensions{HasUserTimestamp: true, UserTimestamp: 1}}
			var sink int
			emit := func(pkt []byte) error { sink += len(pkt); return nil }
			packets, _ := PacketCount(size, f.Extensions, MTU)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Packetize(f, emit); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*packets), "ns/packet")
			_ = sink
		})
	}
}

// BenchmarkCopy is the peer of BenchmarkPacketize: a plain copy of the same
// bytes, in MTU-sized chunks, into a reused buffer.
func BenchmarkCopy(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			src := make([]byte, size)
			dst := make([]byte, MTU)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for off := 0; off < size; off += MTU - BaseHeaderLen {
					copy(dst, src[off:min(off+MTU-BaseHeaderLen, size)])
				}
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
