package record

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/schema"
)

// benchFrames are 64 MiB of frames of 1 to 32 KiB, half random bytes and
// half repeated text: telemetry compresses some, not all.
func benchFrames() [][]byte {
	var out [][]byte
	total := 0
	x := uint64(0x9E3779B97F4A7C15)
	for i := 0; total < 64<<20; i++ {
		b := make([]byte, 1<<10+(i*7919)%(31<<10))
		for j := range b {
			if j < len(b)/2 {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				b[j] = byte(x)
			} else {
				b[j] = "telemetry,"[j%10]
			}
		}
		out = append(out, b)
		total += len(b)
	}
	return out
}

// BenchmarkRecordVsRaw writes the same frames through a recording
// (zstd chunks, indexes, summary: Writer.Write and Close) and raw to a
// file (buffered, then synced the same way: not at all), and reports
// both rates, their ratio and the recording's allocations per frame,
// measured in the same run. Target: 100 MB/s of frames recorded.
func BenchmarkRecordVsRaw(b *testing.B) {
	frames := benchFrames()
	var size int64
	for _, f := range frames {
		size += int64(len(f))
	}
	dir := b.TempDir()
	tr := &Track{SID: "DTR_b", Name: "bulk", Identity: "robot", Type: schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameCBOR}}}
	var recTime, rawTime time.Duration
	var mallocs uint64
	var ms runtime.MemStats
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		path := filepath.Join(dir, "b.mcap")
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		start := time.Now()
		w, err := Create(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		at := time.Now()
		for i, f := range frames {
			if err := w.Write(tr, Frame{Arrival: at.Add(time.Duration(i) * time.Microsecond), Payload: f}); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		recTime += time.Since(start)
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - before

		start = time.Now()
		f, err := os.Create(filepath.Join(dir, "b.raw"))
		if err != nil {
			b.Fatal(err)
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		for _, p := range frames {
			if _, err := bw.Write(p); err != nil {
				b.Fatal(err)
			}
		}
		if err := bw.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		rawTime += time.Since(start)
	}
	mb := float64(size) * float64(b.N) / 1e6
	b.ReportMetric(mb/recTime.Seconds(), "record-MB/s")
	b.ReportMetric(mb/rawTime.Seconds(), "raw-MB/s")
	b.ReportMetric(rawTime.Seconds()/recTime.Seconds(), "record/raw")
	b.ReportMetric(float64(mallocs)/float64(b.N*len(frames)), "allocs/frame")
}

// OfferedRate is the rate BenchmarkRecorderOffer offers frames at: the
// issue's target of 100 MB/s of incoming frames recorded without a drop.
const offeredRate = 100e6 // bytes/s

// BenchmarkRecorderOffer records through the receive path's own route:
// Recorder.Offer (a copy into the queue, the writer's goroutine behind it)
// into a zstd-chunked file, the 64 MiB of BenchmarkRecordVsRaw's frames.
// "100MBps" offers them at offeredRate, as a room would deliver them, and
// fails on any frame dropped (the queue full at DefaultMaxQueued); "max"
// offers them as fast as the loop goes and reports what was written and
// dropped. Both report the rate written, MB/s from the first offer to
// Close's return (the summary written).
func BenchmarkRecorderOffer(b *testing.B) {
	frames := benchFrames()
	var size int64
	for _, f := range frames {
		size += int64(len(f))
	}
	tr := Track{SID: "DTR_b", Name: "bulk", Identity: "robot", Type: schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameCBOR}}}
	for _, tc := range []struct {
		name string
		rate float64 // bytes/s offered; 0: flat out
	}{{"100MBps", offeredRate}, {"max", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			var took, offering time.Duration
			var written, dropped uint64
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				w, err := Create(filepath.Join(dir, "b.mcap"), Options{})
				if err != nil {
					b.Fatal(err)
				}
				r := NewRecorder(context.Background(), w, func(context.Context, string) Track { return tr }, 0)
				start := time.Now()
				var offered int64
				for _, f := range frames {
					if tc.rate > 0 { // not ahead of the offered rate
						if ahead := time.Duration(float64(offered)/tc.rate*1e9) - time.Since(start); ahead > time.Millisecond {
							time.Sleep(ahead)
						}
					}
					r.Offer(tr.SID, Frame{Arrival: time.Now(), Payload: f})
					offered += int64(len(f))
				}
				offering += time.Since(start)
				c, err := r.Close()
				took += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				written, dropped = written+c.Written, dropped+c.Dropped
				if tc.rate > 0 && c.Dropped != 0 {
					b.Fatalf("%d of %d frames dropped at %.0f MB/s offered", c.Dropped, len(frames), tc.rate/1e6)
				}
			}
			mb := float64(size) * float64(b.N) / 1e6
			b.ReportMetric(mb/offering.Seconds(), "offered-MB/s")
			// Frames are 1–32 KiB: the share of bytes written is near that of frames.
			b.ReportMetric(mb*float64(written)/float64(written+dropped)/took.Seconds(), "written-MB/s")
			b.ReportMetric(float64(dropped)/float64(b.N), "dropped/op")
		})
	}
}

// BenchmarkReplayPacing1kHz paces 1 000 messages logged 1 ms apart (one
// second a run) and reports how far from its due time each wait
// returned, p50 and p99 of |actual − scheduled| in µs: with the default
// spin, and sleeping throughout (Spin 0), in the same run. Target: p99
// ≤ 1 ms on a quiet machine.
func BenchmarkReplayPacing1kHz(b *testing.B) {
	for _, tc := range []struct {
		name string
		spin time.Duration
		fine func(time.Duration)
	}{
		{"default", DefaultSpin, fineSleep},         // NewPacer's: 2 ms of nanosleep steps
		{"yield", DefaultSpin, nil},                 // 2 ms of runtime.Gosched
		{"yield500us", 500 * time.Microsecond, nil}, // the pacer before: 500 µs of Gosched
		{"sleep", 0, nil},                           // runtime timers throughout
	} {
		b.Run(tc.name, func(b *testing.B) {
			var off histogram.Histogram
			ctx := context.Background()
			for range b.N {
				p := NewPacer(1)
				p.Spin, p.Fine = tc.spin, tc.fine
				for i := range 1000 {
					at := uint64(i) * uint64(time.Millisecond)
					if err := p.Wait(ctx, at); err != nil {
						b.Fatal(err)
					}
					off.Record(max(int64(p.Late(at)), -int64(p.Late(at))))
				}
			}
			b.ReportMetric(float64(off.Quantile(0.5))/1e3, "p50-µs")
			b.ReportMetric(float64(off.Quantile(0.99))/1e3, "p99-µs")
			b.ReportMetric(0, "ns/op")
		})
	}
}
