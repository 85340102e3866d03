package probe

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	sent := time.Unix(1700000000, 123456789)
	for _, size := range []int{0, HeaderLen, 21, 1024, 16000} {
		b := Encode(nil, 42, sent, size)
		if want := max(size, HeaderLen); len(b) != want {
			t.Fatalf("size %d: len %d, want %d", size, len(b), want)
		}
		seq, got, ok := Decode(b)
		if !ok || seq != 42 || !got.Equal(sent) {
			t.Fatalf("size %d: Decode = %d %v %v", size, seq, got, ok)
		}
	}
}

func TestDecodeRejectsForeignPayload(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("DTT1"), make([]byte, 64)} {
		if _, _, ok := Decode(b); ok {
			t.Fatalf("Decode(%x) ok, want not a probe", b)
		}
	}
}

func TestEncodeReusesBuffer(t *testing.T) {
	buf := make([]byte, 0, 100)
	b := Encode(buf, 1, time.Now(), 64)
	if &b[0] != &buf[:1][0] {
		t.Fatal("Encode allocated although dst had room")
	}
}

func TestSourceConsumesSequenceOnlyWhenAccepted(t *testing.T) {
	var seqs []uint64
	reject := true
	src := NewSource(func(p []byte, ts uint64) error {
		if reject {
			return errors.New("full")
		}
		seq, sent, ok := Decode(p)
		if !ok || uint64(sent.UnixMilli()) != ts {
			t.Fatalf("bad payload or timestamp: %v %d", ok, ts)
		}
		seqs = append(seqs, seq)
		return nil
	}, nil)
	if err := src.Push(64); err == nil {
		t.Fatal("want rejection")
	}
	reject = false
	n, err := src.Burst(3, 64)
	if n != 3 || err != nil {
		t.Fatalf("Burst = %d, %v", n, err)
	}
	if len(seqs) != 3 || seqs[0] != 0 || seqs[2] != 2 {
		t.Fatalf("seqs = %v, want 0 1 2", seqs)
	}
}

func TestGeneratorValidatesAndRuns(t *testing.T) {
	var pushed atomic.Int64
	src := NewSource(func([]byte, uint64) error { pushed.Add(1); return nil }, nil)
	if _, err := NewGenerator(src, 0, 64); !errors.Is(err, ErrBadRate) {
		t.Fatalf("rate 0: %v", err)
	}
	if _, err := NewGenerator(src, 10, 1); !errors.Is(err, ErrBadRate) {
		t.Fatalf("size 1: %v", err)
	}
	g, err := NewGenerator(src, 2000, 64)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	// Wait for progress rather than for a time: the assertion is that it
	// pushes at all and stops when told, not how fast.
	waitPushed(t, &pushed, 10)
	cancel()
	<-done
	n := pushed.Load()
	time.Sleep(20 * time.Millisecond)
	if pushed.Load() != n {
		t.Fatal("generator kept pushing after cancel")
	}
	if err := g.SetSize(128); err != nil || g.Size() != 128 {
		t.Fatal("SetSize")
	}
	if err := g.SetRate(5); err != nil || g.Rate() != 5 {
		t.Fatal("SetRate")
	}
}

func TestIntact(t *testing.T) {
	b := Encode(nil, 1, time.Now(), 5000)
	if !Intact(b) {
		t.Fatal("fresh payload not intact")
	}
	b[4000] ^= 1
	if Intact(b) || Intact(b[:10]) {
		t.Fatal("corruption not detected")
	}
}

// The doubling filler writes exactly what the byte loop wrote, at every
// length around the period boundaries.
func TestEncodeFillerMatchesPattern(t *testing.T) {
	for _, size := range []int{HeaderLen, HeaderLen + 1, 255, 256, 275, 276, 277, 531, 532, 533, 4096, 70001} {
		b := Encode(nil, 7, time.Unix(1, 0), size)
		for i := HeaderLen; i < len(b); i++ {
			if b[i] != byte(i) {
				t.Fatalf("size %d: byte %d = %d, want %d", size, i, b[i], byte(i))
			}
		}
	}
}

// A refused frame's buffer is reused for the next push of the same size,
// with a fresh header and the filler intact.
func TestSourceReusesRefusedPayload(t *testing.T) {
	var bufs [][]byte
	refuse := true
	src := NewSource(func(p []byte, _ uint64) error {
		bufs = append(bufs, p)
		if refuse {
			return errors.New("full")
		}
		return nil
	}, nil)
	_ = src.Push(1000)
	refuse = false
	if err := src.Push(1000); err != nil {
		t.Fatal(err)
	}
	if &bufs[0][0] != &bufs[1][0] {
		t.Fatal("refused payload not reused")
	}
	if seq, _, ok := Decode(bufs[1]); !ok || seq != 0 || !Intact(bufs[1]) {
		t.Fatalf("reused payload: seq %d ok %v intact %v", seq, ok, Intact(bufs[1]))
	}
	// An accepted payload belongs to the track: never reused.
	_ = src.Push(1000)
	if &bufs[2][0] == &bufs[1][0] {
		t.Fatal("accepted payload reused")
	}
}

func TestBurstContextStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	src := NewSource(func([]byte, uint64) error {
		n++
		if n == 5 {
			cancel()
		}
		return nil
	}, nil)
	acc, att, err := src.BurstContext(ctx, 1000, 64)
	if acc != 5 || att != 5 || err != nil || n != 5 {
		t.Fatalf("accepted %d attempted %d err %v pushes %d", acc, att, err, n)
	}
}

// Stop returns only when the generator's goroutine has: nothing is pushed
// after it, even at the maximum rate with a second's worth of frames due.
func TestGeneratorStopWaits(t *testing.T) {
	var pushed atomic.Int64
	var stopped atomic.Bool
	var late atomic.Int64
	src := NewSource(func([]byte, uint64) error {
		if stopped.Load() {
			late.Add(1)
		}
		pushed.Add(1)
		return nil
	}, nil)
	g, err := NewGenerator(src, MaxRate, 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Start: %v", err)
	}
	waitPushed(t, &pushed, 100)
	g.Stop()
	stopped.Store(true)
	time.Sleep(20 * time.Millisecond)
	if late.Load() != 0 {
		t.Fatalf("%d pushes after Stop returned", late.Load())
	}
	g.Stop() // idempotent
}

// Run checks ctx between frames: cancelled in the middle of a large batch
// (one push cancels), it pushes no further frame.
func TestGeneratorRunChecksContextPerFrame(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var pushed atomic.Int64
	src := NewSource(func([]byte, uint64) error {
		if pushed.Add(1) == 3 {
			cancel()
		}
		return nil
	}, nil)
	g, err := NewGenerator(src, MaxRate, 64)
	if err != nil {
		t.Fatal(err)
	}
	g.Run(ctx)
	if pushed.Load() != 3 {
		t.Fatalf("pushed %d frames, want 3 (stop at the cancel)", pushed.Load())
	}
}

func BenchmarkEncode4MiB(b *testing.B) {
	buf := make([]byte, MaxSize)
	b.SetBytes(MaxSize)
	for b.Loop() {
		buf = Encode(buf, 1, time.Unix(1, 0), MaxSize)
	}
}

func waitPushed(t *testing.T, pushed *atomic.Int64, n int64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for pushed.Load() < n {
		select {
		case <-deadline:
			t.Fatalf("generator pushed %d frames, want %d", pushed.Load(), n)
		case <-time.After(time.Millisecond):
		}
	}
}

func TestSubscriberLimit(t *testing.T) {
	for _, e2ee := range []bool{false, true} {
		max := SubscriberMaxSize(e2ee)
		if got := Packets(max, e2ee); got != 128 {
			t.Errorf("e2ee=%v: the largest frame JS reassembles (%d B) takes %d packets, want 128", e2ee, max, got)
		}
		if got := Packets(max+1, e2ee); got != 129 {
			t.Errorf("e2ee=%v: one byte more takes %d packets, want 129", e2ee, got)
		}
	}
	if got := SubscriberMaxSize(false); got != 2_044_928 {
		t.Errorf("SubscriberMaxSize(false) = %d, want 2 044 928 (128 × 15 976)", got)
	}
	if got := SubscriberMaxSize(true); got != 2_042_864 {
		t.Errorf("SubscriberMaxSize(true) = %d, want 2 042 864 (128 × 15 960 − 16)", got)
	}
	for _, c := range []struct{ size, packets int }{{MinSize, 1}, {15976, 1}, {15977, 2}, {16000, 2}, {64 << 10, 5}, {1 << 20, 66}, {MaxSize, 263}} {
		if got := Packets(c.size, false); got != c.packets {
			t.Errorf("Packets(%d) = %d, want %d", c.size, got, c.packets)
		}
	}
}
