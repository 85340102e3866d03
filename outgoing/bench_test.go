package outgoing

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/dttui/dttui/e2ee"
)

type discardTransport struct{}

func (discardTransport) SendPublishRequest(PublishRequest) error           { return nil }
func (discardTransport) SendUnpublishRequest(uint16) error                 { return nil }
func (discardTransport) WritePacket(ctx context.Context, pkt []byte) error { return nil }

// stallTransport holds every write until ctx ends, as a full data channel.
type stallTransport struct{ discardTransport }

func (stallTransport) WritePacket(ctx context.Context, pkt []byte) error {
	<-ctx.Done()
	return ctx.Err()
}

func benchTrack(b *testing.B, tr Transport) (*Manager, *LocalTrack) {
	return benchTrackWith(b, tr, nil)
}

// benchTrackWith publishes a track, with E2EE if key is not nil.
func benchTrackWith(b *testing.B, tr Transport, key *e2ee.Key) (*Manager, *LocalTrack) {
	m := NewManager(tr, Options{E2EE: key})
	b.Cleanup(m.Close)
	res := make(chan *LocalTrack, 1)
	go func() {
		t, err := m.Publish(context.Background(), PublishOptions{Name: "bench", E2EE: key != nil})
		if err != nil {
			panic(err)
		}
		res <- t
	}()
	for {
		m.mu.Lock()
		_, ok := m.pending[1]
		m.mu.Unlock()
		if ok {
			break
		}
		runtime.Gosched()
	}
	m.HandlePublishResponse(Info{Handle: 1, SID: "DTR_b", Name: "bench", E2EE: key != nil})
	return m, <-res
}

// BenchmarkTryPush1KB pushes 1 KiB frames through a track into a
// discarding transport and waits for all of them to be packetized and
// written: ns/op is the full per-frame send cost, not just the enqueue.
func BenchmarkTryPush1KB(b *testing.B) {
	_, tr := benchTrack(b, discardTransport{})
	benchPushAll(b, tr)
}

// BenchmarkTryPush1KBE2EE is BenchmarkTryPush1KB with every frame sealed.
func BenchmarkTryPush1KBE2EE(b *testing.B) {
	key, err := e2ee.NewKeyFromBytes(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	_, tr := benchTrackWith(b, discardTransport{}, key)
	benchPushAll(b, tr)
}

func benchPushAll(b *testing.B, tr *LocalTrack) {
	payload := make([]byte, 1024)
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		for {
			err := tr.TryPush(payload, 1)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrQueueFull) {
				b.Fatal(err)
			}
			runtime.Gosched() // queue full: let the sender catch up
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTryPushStalled pushes into a track whose transport never
// drains: every push past the queue is dropped and counted, and memory
// must stay flat (see B/op).
func BenchmarkTryPushStalled(b *testing.B) {
	_, tr := benchTrack(b, stallTransport{})
	payload := make([]byte, 1024)
	b.ReportAllocs()
	for b.Loop() {
		_ = tr.TryPush(payload, 1)
	}
	s := tr.Stats()
	if s.FramesPushed != s.FramesSent+s.FramesDropped+s.FramesQueued {
		b.Fatalf("counters do not add up: %+v", s)
	}
}
