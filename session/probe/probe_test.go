package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/dttui/dttui/schema"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	sent := time.Unix(1700000000, 123456789)
	for _, size := range []int{0, HeaderLen, 21, 1024, 16000} {
		for _, h := range []Header{{Stream: 0xdeadbeef, Seq: 42, Sent: sent}, {Stream: 1, Seq: maxSeq, Sent: sent}} {
			b := Encode(nil, h, size)
			if want := max(size, HeaderLen); len(b) != want {
				t.Fatalf("size %d: len %d, want %d", size, len(b), want)
			}
			got, ok := Decode(b)
			if !ok || got.Stream != h.Stream || got.Seq != h.Seq || !got.Sent.Equal(sent) {
				t.Fatalf("size %d: Decode = %+v %v, want %+v", size, got, ok, h)
			}
		}
	}
}

// The wire layout, byte for byte: a subscriber in another language can
// decode it from this test alone.
func TestEncodeLayout(t *testing.T) {
	b := Encode(nil, Header{Stream: 0x01020304, Seq: 0x0a0b0c0d0e0f, Sent: time.Unix(0, 0x1112131415161718)}, 22)
	want := []byte{'D', 'T', 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 20, 21}
	if !bytes.Equal(b, want) {
		t.Fatalf("layout\n got %x\nwant %x", b, want)
	}
}

func TestDecodeRejectsForeignPayload(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("DT"), []byte("DX\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), make([]byte, 64)} {
		if _, ok := Decode(b); ok {
			t.Fatalf("Decode(%x) ok, want not a probe", b)
		}
	}
}

// Every Source has its own stream, and every frame carries it.
func TestSourcesHaveDistinctStreams(t *testing.T) {
	seen := map[uint32]bool{}
	for range 1000 {
		s := NewSource(0, func([]byte, uint64) error { return nil }, nil)
		if s.Stream() == 0 || seen[s.Stream()] {
			t.Fatalf("stream %d repeated or zero", s.Stream())
		}
		seen[s.Stream()] = true
	}
	var got Header
	s := NewSource(77, func(p []byte, _ uint64) error { got, _ = Decode(p); return nil }, nil)
	_ = s.Push(64)
	if got.Stream != 77 {
		t.Fatalf("frame carries stream %d, want 77", got.Stream)
	}
}

func TestEncodeReusesBuffer(t *testing.T) {
	buf := make([]byte, 0, 100)
	b := Encode(buf, Header{Seq: 1, Sent: time.Now()}, 64)
	if &b[0] != &buf[:1][0] {
		t.Fatal("Encode allocated although dst had room")
	}
}

func TestSourceConsumesSequenceOnlyWhenAccepted(t *testing.T) {
	var seqs []uint64
	reject := true
	src := NewSource(0, func(p []byte, ts uint64) error {
		if reject {
			return errors.New("full")
		}
		h, ok := Decode(p)
		if !ok || uint64(h.Sent.UnixMilli()) != ts {
			t.Fatalf("bad payload or timestamp: %v %d", ok, ts)
		}
		seqs = append(seqs, h.Seq)
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
	src := NewSource(0, func([]byte, uint64) error { pushed.Add(1); return nil }, nil)
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
	b := Encode(nil, Header{Seq: 1, Sent: time.Now()}, 5000)
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
		b := Encode(nil, Header{Seq: 7, Sent: time.Unix(1, 0)}, size)
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
	src := NewSource(0, func(p []byte, _ uint64) error {
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
	if h, ok := Decode(bufs[1]); !ok || h.Seq != 0 || h.Stream != src.Stream() || !Intact(bufs[1]) {
		t.Fatalf("reused payload: %+v ok %v intact %v", h, ok, Intact(bufs[1]))
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
	src := NewSource(0, func([]byte, uint64) error {
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
	src := NewSource(0, func([]byte, uint64) error {
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
	src := NewSource(0, func([]byte, uint64) error {
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
		buf = Encode(buf, Header{Seq: 1, Sent: time.Unix(1, 0)}, MaxSize)
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

// boundedQueue is a track's queue as outgoing has it: TryPush refuses a
// frame when it is full, Push waits for room (or ctx) and counts nothing
// when ctx ends first.
type boundedQueue struct {
	q      chan []byte
	pushed int // frames counted by the track (taken or refused)
}

func (b *boundedQueue) tryPush(p []byte, _ uint64) error {
	b.pushed++
	select {
	case b.q <- p:
		return nil
	default:
		return errors.New("queue full")
	}
}

func (b *boundedQueue) push(ctx context.Context, p []byte, _ uint64) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case b.q <- p:
		b.pushed++
		return nil
	}
}

// Deliver waits for room for every frame: a burst far larger than the
// queue arrives whole and in sequence, where Burst drops all but the
// queue's worth.
func TestDeliverWaitsForRoom(t *testing.T) {
	flood := &boundedQueue{q: make(chan []byte, 4)}
	src := NewSource(0, flood.tryPush, nil)
	if acc, err := src.Burst(100, 64); acc != 4 || err == nil {
		t.Fatalf("burst into a full queue: accepted %d, err %v", acc, err)
	}

	bq := &boundedQueue{q: make(chan []byte, 4)}
	src = NewSource(0, bq.tryPush, nil).WithWait(bq.push)
	got := make(chan []uint64, 1)
	go func() { // the sender: drains the queue
		var seqs []uint64
		for p := range bq.q {
			h, _ := Decode(p)
			seqs = append(seqs, h.Seq)
		}
		got <- seqs
	}()
	acc, att, err := src.Deliver(context.Background(), 100, 64)
	close(bq.q)
	seqs := <-got
	if acc != 100 || att != 100 || err != nil || bq.pushed != 100 || len(seqs) != 100 {
		t.Fatalf("accepted %d attempted %d err %v counted %d received %d", acc, att, err, bq.pushed, len(seqs))
	}
	for i, s := range seqs {
		if s != uint64(i) {
			t.Fatalf("frame %d has sequence %d", i, s)
		}
	}
}

// When ctx ends while a frame waits for room, that frame was never pushed:
// not attempted, no sequence number used, nothing counted by the track.
func TestDeliverStopsWhileWaiting(t *testing.T) {
	bq := &boundedQueue{q: make(chan []byte, 3)}
	src := NewSource(0, bq.tryPush, nil).WithWait(bq.push)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var acc, att int
	var err error
	go func() {
		defer close(done)
		acc, att, err = src.Deliver(ctx, 10, 64)
	}()
	for len(bq.q) < 3 { // the queue fills; the fourth frame waits
		runtime.Gosched()
	}
	cancel()
	<-done
	if acc != 3 || att != 3 || err != nil || bq.pushed != 3 {
		t.Fatalf("accepted %d attempted %d err %v counted %d", acc, att, err, bq.pushed)
	}
	// The next frame takes sequence 3: the abandoned one used none.
	<-bq.q
	if err := src.PushWait(context.Background(), 64); err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 3; want++ {
		if h, _ := Decode(<-bq.q); h.Seq != want {
			t.Fatalf("sequence %d, want %d: the abandoned frame took a number", h.Seq, want)
		}
	}
	if _, _, err := NewSource(0, bq.tryPush, nil).Deliver(context.Background(), 1, 64); !errors.Is(err, ErrCannotWait) {
		t.Fatalf("a source without a wait: %v", err)
	}
}

// Every format writes a frame of the size asked for that its own decoder
// reads as a document, that Decode finds the header in, and that Intact
// checks byte for byte.
func TestFormats(t *testing.T) {
	h := Header{Stream: 0xdeadbeef, Seq: 1<<40 + 7, Sent: time.Unix(1700000000, 123456789)}
	for _, f := range []Format{Binary, JSON, CBOR, MessagePack} {
		for _, size := range []int{0, MinSizeOf(f), 100, 1000, 70000} {
			b := EncodeFormat(f, nil, h, size)
			if len(b) != max(size, MinSizeOf(f)) {
				t.Fatalf("%s %d: %d bytes", f, size, len(b))
			}
			got, ok := Decode(b)
			if !ok || got.Stream != h.Stream || got.Seq != h.Seq || !got.Sent.Equal(h.Sent) {
				t.Fatalf("%s %d: decoded %+v %v", f, size, got, ok)
			}
			if !Intact(b) {
				t.Fatalf("%s %d: not intact", f, size)
			}
			var v any
			var err error
			switch f {
			case JSON:
				err = json.Unmarshal(b, &v)
			case CBOR:
				err = cbor.Unmarshal(b, &v)
			case MessagePack:
				err = msgpack.Unmarshal(b, &v)
			}
			if err != nil {
				t.Fatalf("%s %d: not a document of its encoding: %v", f, size, err)
			}
			if len(b) > MinSizeOf(f)+1 {
				c := bytes.Clone(b)
				c[len(c)-len(layouts[f].suffix)-1] ^= 1
				if Intact(c) {
					t.Fatalf("%s %d: a changed filler byte passes", f, size)
				}
			}
		}
	}
}

// A track declaring an encoding the generator cannot write refuses its
// frames, and no generator starts on it.
func TestSourceRefusesWhatItCannotWrite(t *testing.T) {
	var pushed int
	src := NewSource(1, func([]byte, uint64) error { pushed++; return nil }, nil).WithFormat(schema.FrameEncoding{WellKnown: schema.FrameProtobuf})
	if err := src.Push(100); !errors.Is(err, ErrNoFormat) || pushed != 0 {
		t.Fatalf("push: %v, %d pushed", err, pushed)
	}
	if _, err := NewGenerator(src, 10, 100); !errors.Is(err, ErrNoFormat) {
		t.Fatalf("generator: %v", err)
	}
	src = NewSource(1, func(b []byte, _ uint64) error { pushed++; return json.Unmarshal(b, new(any)) }, nil).WithFormat(schema.FrameEncoding{WellKnown: schema.FrameJSON})
	for range 3 {
		if err := src.Push(64); err != nil {
			t.Fatal(err)
		}
	}
}

// A tick never holds more frames than a track's queue takes at once,
// where the clock allows (rates up to tickFrames per minTick).
func TestGeneratorTickHoldsFewFrames(t *testing.T) {
	for _, rate := range []float64{1, 50, 1000, 1600, 4000, 8000, 20000, MaxRate} {
		tick := tickFor(rate)
		if tick < minTick || tick > maxTick {
			t.Fatalf("%v frames/s: tick %v outside [%v, %v]", rate, tick, minTick, maxTick)
		}
		if per := rate * tick.Seconds(); rate <= tickFrames/minTick.Seconds() && per > tickFrames+1e-9 {
			t.Fatalf("%v frames/s: %.1f frames a tick; want at most %d", rate, per, tickFrames)
		}
	}
}
