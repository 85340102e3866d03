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

	mu      sync.Mutex
	packets [][]byte
	gate    chan struct{} // nil: writes pass; else each write waits for a token or ctx
	failErr error
	entered chan struct{} // signalled when a write starts waiting at the gate
}

func newFake() *fakeTransport {
	return &fakeTransport{publishes: make(chan PublishRequest, 64), unpublishes: make(chan uint16, 64), entered: make(chan struct{}, 1024)}
}

func (f *fakeTransport) SendPublishRequest(r PublishRequest) error { f.publishes <- r; return nil }
func (f *fakeTransport) SendUnpublishRequest(h uint16) error       { f.unpublishes <- h; return nil }

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

// fakeTimer is an injectable publish timeout the test fires by hand.
type fakeTimer struct{ ch chan time.Time }

func (ft *fakeTimer) after(time.Duration) <-chan time.Time { return ft.ch }
func (ft *fakeTimer) fire()                                { ft.ch <- time.Time{} }

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
	h := &harness{t: t, tr: newFake(), timer: &fakeTimer{ch: make(chan time.Time, 1)}}
	opts.After = h.timer.after
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
