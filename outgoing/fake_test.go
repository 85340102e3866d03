package outgoing

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/packetizer"
)

// fakeTransport records what the manager asks of the session. Writes can be
// held at a gate to simulate a full data channel.
type fakeTransport struct {
	publishes   chan PublishRequest
	unpublishes chan uint16

	mu       sync.Mutex
	packets  [][]byte
	gate     chan struct{} // nil: writes pass; else each write waits for a token or ctx
	failErr  error
	pubErr   error         // returned by SendPublishRequest, which then sends nothing
	unpubErr error         // returned by SendUnpublishRequest, which then sends nothing
	entered  chan struct{} // signalled when a write starts waiting at the gate
	delay    time.Duration // QueueDelay's answer
}

func (f *fakeTransport) QueueDelay() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.delay
}

func newFake() *fakeTransport {
	return &fakeTransport{publishes: make(chan PublishRequest, 64), unpublishes: make(chan uint16, 64), entered: make(chan struct{}, 1024)}
}

func (f *fakeTransport) SendPublishRequest(r PublishRequest) error {
	return sendOrFail(f, &f.pubErr, f.publishes, r)
}

func (f *fakeTransport) SendUnpublishRequest(h uint16) error {
	return sendOrFail(f, &f.unpubErr, f.unpublishes, h)
}

// sendOrFail returns *fail if it is set, else records v.
func sendOrFail[T any](f *fakeTransport, fail *error, ch chan T, v T) error {
	f.mu.Lock()
	err := *fail
	f.mu.Unlock()
	if err != nil {
		return err
	}
	ch <- v
	return nil
}

// set changes the fake's behaviour under its lock.
func (f *fakeTransport) set(change func(f *fakeTransport)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func (f *fakeTransport) WritePacket(ctx context.Context, pkt []byte) error {
	f.mu.Lock()
	gate, failErr := f.gate, f.failErr
	f.mu.Unlock()
	if failErr != nil {
		return failErr
	}
	if gate != nil {
		f.entered <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	f.packets = append(f.packets, append([]byte(nil), pkt...))
	f.mu.Unlock()
	return nil
}

func (f *fakeTransport) parsed(t *testing.T) []packetizer.Packet {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []packetizer.Packet
	for _, b := range f.packets {
		p, err := packetizer.Parse(b)
		if err != nil {
			t.Fatalf("transport got an invalid packet: %v", err)
		}
		out = append(out, p)
	}
	return out
}

// fakeTimer stands in for Options.After: every timer the manager arms is
// queued, with the duration it was armed with, for the test to fire by hand.
type fakeTimer struct {
	t     *testing.T
	armed chan *armedTimer
}

type armedTimer struct {
	d  time.Duration
	ch chan time.Time
}

func (ft *fakeTimer) after(d time.Duration) <-chan time.Time {
	a := &armedTimer{d: d, ch: make(chan time.Time, 1)}
	ft.armed <- a
	return a.ch
}

// next waits for the manager to arm its next timer.
func (ft *fakeTimer) next() *armedTimer {
	ft.t.Helper()
	return recv(ft.t, ft.armed)
}

// fire waits for the next timer to be armed and fires it.
func (ft *fakeTimer) fire() { ft.t.Helper(); ft.next().fire() }

func (a *armedTimer) fire() { a.ch <- time.Time{} }

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second): // a bound so a broken test fails instead of hanging
		t.Fatal("timed out waiting for the manager")
		panic("unreachable")
	}
}

func none[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %v", v)
	default:
	}
}

type harness struct {
	t     *testing.T
	tr    *fakeTransport
	m     *Manager
	timer *fakeTimer
}

func newHarness(t *testing.T, opts Options) *harness {
	h := &harness{t: t, tr: newFake(), timer: &fakeTimer{t: t, armed: make(chan *armedTimer, 64)}}
	opts.After = h.timer.after
	if opts.PaceShare == 0 {
		// Pacing arms timers of its own; only the tests about it want them.
		opts.PaceShare = -1
	}
	h.m = NewManager(h.tr, opts)
	t.Cleanup(h.m.Close)
	return h
}

type pubResult struct {
	tr  *LocalTrack
	err error
}

// publishAsync starts a publish and returns the request the SFU would see.
func (h *harness) publishAsync(ctx context.Context, o PublishOptions) (PublishRequest, <-chan pubResult) {
	res := make(chan pubResult, 1)
	go func() {
		tr, err := h.m.Publish(ctx, o)
		res <- pubResult{tr, err}
	}()
	return recv(h.t, h.tr.publishes), res
}

// publish runs a publish to success with the given SID.
func (h *harness) publish(name, sid string) *LocalTrack {
	h.t.Helper()
	req, res := h.publishAsync(context.Background(), PublishOptions{Name: name})
	h.m.HandlePublishResponse(Info{Handle: req.Handle, SID: sid, Name: name})
	r := recv(h.t, res)
	if r.err != nil {
		h.t.Fatal(r.err)
	}
	h.timer.next() // the publish timeout it armed
	return r.tr
}

func flush(t *testing.T, tr *LocalTrack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func checkAddsUp(t *testing.T, s TrackStats) {
	t.Helper()
	if s.FramesPushed != s.FramesSent+s.FramesDropped+s.FramesQueued {
		t.Fatalf("pushed %d != sent %d + dropped %d + queued %d", s.FramesPushed, s.FramesSent, s.FramesDropped, s.FramesQueued)
	}
}

var errBoom = errors.New("boom")

// fakeClock is an injectable Options.Now the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lastReason is the reason of the track's latest state change.
func lastReason(tr *LocalTrack) string {
	tl := tr.Stats().Timeline
	if len(tl) == 0 {
		return ""
	}
	return tl[len(tl)-1].Reason
}

// closeNow closes the manager and fails the test if Close does not return
// (a goroutine the manager owns did not stop).
func (h *harness) closeNow() {
	h.t.Helper()
	done := make(chan struct{})
	go func() { h.m.Close(); close(done) }()
	recv(h.t, done)
}

// answerLate feeds in a publish answer nobody waits for and checks that
// the manager undoes it with an unpublish request.
func (h *harness) answerLate(handle uint16) {
	h.t.Helper()
	h.m.HandlePublishResponse(Info{Handle: handle, SID: "DTR_late", Name: "late"})
	if got := recv(h.t, h.tr.unpublishes); got != handle {
		h.t.Fatalf("late answer: unpublish for %d, want %d", got, handle)
	}
}

// republish runs Republish for one track and returns the timer its
// request armed.
func (h *harness) republish(tr *LocalTrack) *armedTimer {
	h.t.Helper()
	h.m.Republish()
	if req := recv(h.t, h.tr.publishes); req.Handle != tr.Handle() {
		h.t.Fatalf("republish request %+v", req)
	}
	return h.timer.next()
}
