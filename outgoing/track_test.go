package outgoing

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/dttui/dttui/e2ee"
	"github.com/dttui/dttui/packetizer"
)

func TestPushSendsPacketsWithExtensions(t *testing.T) {
	h := newHarness(t, Options{MTU: 100})
	tr := h.publish("x", "DTR_1")
	payload := bytes.Repeat([]byte{7}, 250)
	if err := tr.TryPush(payload, 1234); err != nil {
		t.Fatal(err)
	}
	if err := tr.TryPush([]byte("no timestamp"), 0); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	pkts := h.tr.parsed(t)
	// 250 bytes with a 24-byte header at MTU 100: 76+76+76+22.
	if len(pkts) != 5 {
		t.Fatalf("%d packets", len(pkts))
	}
	var got []byte
	for i, p := range pkts[:4] {
		if p.Header.Handle != tr.Handle() || p.Header.FrameNumber != 0 || !p.Header.Extensions.HasUserTimestamp || p.Header.Extensions.UserTimestamp != 1234 {
			t.Fatalf("packet %d: %+v", i, p.Header)
		}
		got = append(got, p.Payload...)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("payload differs")
	}
	if last := pkts[4]; last.Header.Marker != packetizer.MarkerSingle || last.Header.Extensions.HasUserTimestamp || last.Header.FrameNumber != 1 {
		t.Fatalf("second frame: %+v", last.Header)
	}
	s := tr.Stats()
	if s.FramesSent != 2 || s.PacketsSent != 5 || s.FramesPushed != 2 || s.FramesQueued != 0 {
		t.Fatalf("stats %+v", s)
	}
	var bytesOnWire uint64
	h.tr.mu.Lock()
	for _, p := range h.tr.packets {
		bytesOnWire += uint64(len(p))
	}
	h.tr.mu.Unlock()
	if s.BytesSent != bytesOnWire {
		t.Fatalf("BytesSent %d, wire %d", s.BytesSent, bytesOnWire)
	}
}

// With the transport stalled, the queue fills and further pushes are
// dropped at once with QueueFull; once it drains, everything adds up.
func TestQueueFullDropsNewestAndCountersAddUp(t *testing.T) {
	h := newHarness(t, Options{QueueCapacity: 4})
	tr := h.publish("x", "DTR_1")
	gate := make(chan struct{})
	h.tr.mu.Lock()
	h.tr.gate = gate
	h.tr.mu.Unlock()

	if err := tr.TryPush([]byte{0}, 0); err != nil {
		t.Fatal(err)
	}
	recv(t, h.tr.entered) // the sender holds frame 0 at the transport
	for i := 1; i <= 4; i++ {
		if err := tr.TryPush([]byte{byte(i)}, 0); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	err := tr.TryPush([]byte{5}, 0)
	var pe *PushError
	if !errors.Is(err, ErrQueueFull) || !errors.As(err, &pe) || pe.Drop != DropQueueFull {
		t.Fatalf("push into full queue: %v", err)
	}
	s := tr.Stats()
	if s.FramesQueued != 5 || s.DroppedBy[DropQueueFull] != 1 {
		t.Fatalf("stats while stalled %+v", s)
	}
	checkAddsUp(t, s)

	// Flush waits while packets are in flight.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("flush with frames in flight: %v", err)
	}
	close(gate)
	flush(t, tr)
	s = tr.Stats()
	if s.FramesSent != 5 || s.FramesDropped != 1 || s.FramesPushed != 6 {
		t.Fatalf("after drain %+v", s)
	}
	checkAddsUp(t, s)
	// Drop-newest: frames 0..4 went out in order.
	for i, p := range h.tr.parsed(t) {
		if p.Payload[0] != byte(i) {
			t.Fatalf("packet %d carries frame %d", i, p.Payload[0])
		}
	}
}

func TestFlushWithNothingPending(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_1")
	flush(t, tr)
}

func TestTransportErrorCountsDrop(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_1")
	h.tr.mu.Lock()
	h.tr.failErr = errBoom
	h.tr.mu.Unlock()
	if err := tr.TryPush([]byte{1}, 0); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	s := tr.Stats()
	if s.DroppedBy[DropTransportError] != 1 || s.FramesSent != 0 || s.LastError == "" {
		t.Fatalf("stats %+v", s)
	}
	checkAddsUp(t, s)
}

// Frames queued behind a stalled transport when the track is unpublished
// are dropped with reason "unpublished", not lost.
func TestUnpublishDropsQueuedFrames(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_1")
	h.tr.mu.Lock()
	h.tr.gate = make(chan struct{})
	h.tr.mu.Unlock()
	for i := range 3 {
		if err := tr.TryPush([]byte{byte(i)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	recv(t, h.tr.entered)
	h.m.HandleUnpublishResponse(tr.Handle()) // SFU-initiated, mid-send
	flush(t, tr)
	s := tr.Stats()
	if s.DroppedBy[DropUnpublished] != 3 || s.FramesSent != 0 {
		t.Fatalf("stats %+v", s)
	}
	checkAddsUp(t, s)
}

func TestE2EERoundTrip(t *testing.T) {
	key, err := e2ee.NewKeyFromBytes(bytes.Repeat([]byte{9}, 16))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{E2EE: key, MTU: 200})
	req, res := h.publishAsync(context.Background(), PublishOptions{Name: "secret", E2EE: true})
	if !req.E2EE {
		t.Fatal("request does not ask for E2EE")
	}
	h.m.HandlePublishResponse(Info{Handle: req.Handle, SID: "DTR_e", Name: "secret", E2EE: true})
	tr := recv(t, res).tr
	plain := bytes.Repeat([]byte("attack at dawn "), 40)
	for range 2 {
		if err := tr.TryPush(append([]byte(nil), plain...), 0); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, tr)
	pkts := h.tr.parsed(t)
	frames := map[uint16][]byte{}
	exts := map[uint16]packetizer.E2EE{}
	for _, p := range pkts {
		if !p.Header.Extensions.HasE2EE {
			t.Fatal("packet without E2EE extension")
		}
		fn := p.Header.FrameNumber
		if prev, ok := exts[fn]; ok && prev != p.Header.Extensions.E2EE {
			t.Fatal("E2EE extension differs within a frame")
		}
		exts[fn] = p.Header.Extensions.E2EE
		frames[fn] = append(frames[fn], p.Payload...)
	}
	if exts[0].IV == exts[1].IV {
		t.Fatal("IV reused across frames")
	}
	for fn, ct := range frames {
		if bytes.Contains(ct, []byte("attack")) {
			t.Fatal("plaintext on the wire")
		}
		got, err := key.Open(nil, ct, exts[fn])
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("frame %d: decrypt %v", fn, err)
		}
	}
}

// A stalled transport must not grow memory: once the queue is full,
// pushes are dropped and counted, not buffered, and cost no allocation.
func TestStalledTransportDoesNotGrowMemory(t *testing.T) {
	const capacity = 16
	h := newHarness(t, Options{QueueCapacity: capacity})
	tr := h.publish("x", "DTR_1")
	gate := make(chan struct{})
	h.tr.set(func(f *fakeTransport) { f.gate = gate })
	payload := make([]byte, 1024)
	if err := tr.TryPush(payload, 0); err != nil {
		t.Fatal(err)
	}
	recv(t, h.tr.entered) // the sender holds frame 0 at the transport
	for range capacity {
		if err := tr.TryPush(payload, 0); err != nil {
			t.Fatal(err)
		}
	}
	const runs = 10_000
	allocs := testing.AllocsPerRun(runs, func() {
		if !errors.Is(tr.TryPush(payload, 0), ErrQueueFull) {
			t.Fatal("push into a full queue accepted")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per dropped push", allocs)
	}
	s := tr.Stats()
	if len(tr.queue) != capacity || s.FramesQueued != capacity+1 || s.DroppedBy[DropQueueFull] != runs+1 {
		t.Fatalf("queue %d, stats %+v", len(tr.queue), s)
	}
	checkAddsUp(t, s)
	close(gate)
	flush(t, tr)
}

// Flush returns once the last frame in flight is done, however many wait
// and however the last frame ends.
func TestFlushWaitersWakeOnLastFrame(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_1")
	gate := make(chan struct{})
	h.tr.set(func(f *fakeTransport) { f.gate = gate })
	for range 3 {
		if err := tr.TryPush([]byte{1}, 0); err != nil {
			t.Fatal(err)
		}
	}
	recv(t, h.tr.entered)
	done := make(chan error, 4)
	for range cap(done) {
		go func() { done <- tr.Flush(context.Background()) }()
	}
	gate <- struct{}{} // frame 0 goes out, frame 1 waits at the gate
	recv(t, h.tr.entered)
	none(t, done)
	gate <- struct{}{}
	recv(t, h.tr.entered)
	h.m.HandleUnpublishResponse(tr.Handle()) // frame 2 ends dropped
	for range cap(done) {
		if err := recv(t, done); err != nil {
			t.Fatal(err)
		}
	}
	s := tr.Stats()
	if s.FramesSent != 2 || s.DroppedBy[DropUnpublished] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// A Flush racing the last frame's completion never misses it.
func TestFlushRacesCompletion(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_1")
	for i := range 2000 {
		if err := tr.TryPush([]byte{byte(i)}, 0); err != nil {
			t.Fatal(err)
		}
		flush(t, tr)
	}
	if s := tr.Stats(); s.FramesSent != 2000 {
		t.Fatalf("stats %+v", s)
	}
}

// Pushes racing an unpublish from several goroutines: afterwards every
// frame is either sent or dropped with a reason, none stuck in the queue.
func TestConcurrentPushesDuringUnpublishAddUp(t *testing.T) {
	for round := range 20 {
		h := newHarness(t, Options{QueueCapacity: 8})
		tr := h.publish("race", "DTR_r")
		done := make(chan struct{})
		for range 4 {
			go func() {
				defer func() { done <- struct{}{} }()
				for range 200 {
					_ = tr.TryPush([]byte{1, 2, 3}, 0)
				}
			}()
		}
		h.m.HandleUnpublishResponse(tr.Handle()) // the SFU pulls it mid-stream
		for range 4 {
			<-done
		}
		flush(t, tr)
		s := tr.Stats()
		if s.FramesPushed != 800 || s.FramesQueued != 0 || s.FramesPushed != s.FramesSent+s.FramesDropped {
			t.Fatalf("round %d: %+v", round, s)
		}
	}
}

// Frames queued before a rejoin started are dropped by the sender as
// republishing: the SFU forgot their handle.
func TestRepublishingDropsQueuedFrames(t *testing.T) {
	h := newHarness(t, Options{})
	tr := h.publish("x", "DTR_1")
	gate := make(chan struct{})
	h.tr.set(func(f *fakeTransport) { f.gate = gate })
	for i := range 3 {
		if err := tr.TryPush([]byte{byte(i)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	recv(t, h.tr.entered) // frame 0 is at the transport; 1 and 2 are queued
	h.m.BeginRepublish()
	if err := tr.TryPush([]byte{3}, 0); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("push while republishing: %v", err)
	}
	close(gate)
	flush(t, tr)
	s := tr.Stats()
	if s.FramesSent != 1 || s.DroppedBy[DropRepublishing] != 3 || s.FramesQueued != 0 {
		t.Fatalf("stats %+v", s)
	}
	checkAddsUp(t, s)
	if p := h.tr.parsed(t); len(p) != 1 || p[0].Payload[0] != 0 {
		t.Fatalf("sent %+v", p)
	}
}

// The counters are independent (queued counts enqueues and dequeues, not
// pushed minus the rest), so the identity is a check. A snapshot reads the
// counters one by one, so mid-stream a frame moving from queued to sent
// can be seen in both or neither; at every quiescent point under load from
// concurrent pushers the identity holds exactly, and mid-stream no counter
// ever goes down.
func TestStatsAddUpWhileRunning(t *testing.T) {
	const pushers, rounds, perRound = 4, 20, 500
	h := newHarness(t, Options{QueueCapacity: 4})
	tr := h.publish("x", "DTR_1")
	var total uint64
	var last Counters
	for round := range rounds {
		var wg sync.WaitGroup
		for range pushers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perRound {
					_ = tr.TryPush([]byte{byte(round)}, 0)
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for running := true; running; {
			select {
			case <-done:
				running = false
			default:
			}
			c := tr.Counters()
			if c.FramesPushed < last.FramesPushed || c.FramesSent < last.FramesSent || c.FramesDropped < last.FramesDropped {
				t.Fatalf("round %d: a counter went down: %+v after %+v", round, c, last)
			}
			last = c
		}
		flush(t, tr)
		total += pushers * perRound
		s := tr.Stats()
		checkAddsUp(t, s)
		if s.FramesPushed != total || s.FramesQueued != 0 || s.FramesSent == 0 {
			t.Fatalf("round %d: %+v", round, s.Counters)
		}
	}
}

// With the transport stalled the sender holds one frame and the queue is
// full: the state is still, and every push past it is dropped and counted.
func TestStatsAddUpStalled(t *testing.T) {
	h := newHarness(t, Options{QueueCapacity: 4})
	tr := h.publish("x", "DTR_1")
	gate := make(chan struct{})
	h.tr.set(func(f *fakeTransport) { f.gate = gate })
	_ = tr.TryPush([]byte{1}, 0)
	recv(t, h.tr.entered) // the first frame is at the transport
	for range 99 {
		_ = tr.TryPush([]byte{1}, 0)
	}
	s := tr.Stats()
	checkAddsUp(t, s)
	if s.FramesSent != 0 || s.FramesQueued != 5 || s.DroppedBy[DropQueueFull] != 95 {
		t.Fatalf("stalled: %+v", s.Counters)
	}
	close(gate)
	flush(t, tr)
	s = tr.Stats()
	checkAddsUp(t, s)
	if s.FramesSent != 5 || s.FramesQueued != 0 {
		t.Fatalf("after the stall: %+v", s.Counters)
	}
}
