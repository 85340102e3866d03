package record

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"
	"go.uber.org/goleak"
)

// Frames offered from a reused buffer are written as they were offered,
// each SID resolved once; Close drains the queue, writes the summary and
// stops the goroutine; a frame over the queue's bound is dropped and
// counted, not waited for.
func TestRecorder(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := filepath.Join(t.TempDir(), "room.mcap")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	resolved := map[string]int{}
	ts := tracks()
	r := NewRecorder(context.Background(), w, func(_ context.Context, sid string) Track {
		resolved[sid]++ // the writer's goroutine only
		for _, tr := range ts {
			if tr.SID == sid {
				return *tr
			}
		}
		return Track{SID: sid, Name: sid}
	}, 4000)
	buf := make([]byte, 0, 4096)
	for i := range 300 {
		buf = append(buf[:0], frameOf(i%50)...) // at most 1814 bytes
		r.Offer(ts[i%3].SID, Frame{Arrival: t0.Add(time.Duration(i)), Payload: buf})
		clear(buf[:cap(buf)])
		for r.Counts().Written+r.Counts().Dropped < uint64(i+1) {
			time.Sleep(100 * time.Microsecond) // one at a time: nothing dropped for lack of room
		}
	}
	r.Offer(ts[0].SID, Frame{Arrival: t0, Payload: make([]byte, 5000)})
	c, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	r.Offer(ts[0].SID, Frame{Arrival: t0, Payload: []byte{1}}) // after Close: dropped
	if c.Written != 300 || c.Dropped != 1 || c.PerSID[ts[0].SID] != 100 || r.Counts().Dropped != 2 {
		t.Fatalf("counts %+v", c)
	}
	for sid, n := range resolved {
		if n != 1 {
			t.Errorf("%s resolved %d times", sid, n)
		}
	}
	i := 0
	err = Read(path, func(ch *Channel, m *mcap.Message) error {
		if !bytes.Equal(m.Data, frameOf(i%50)) || ch.Track.SID != ts[i%3].SID {
			t.Fatalf("frame %d differs", i)
		}
		i++
		return nil
	})
	if err != nil || i != 300 {
		t.Fatalf("read %d: %v", i, err)
	}
}

// A frame offered sealed is kept as Seal lays it out, its channel saying
// so; the same E2EE track kept decrypted says that instead; Unseal takes
// a sealed message apart and refuses one too short to be one.
func TestSealedChannel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := filepath.Join(t.TempDir(), "sealed.mcap")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	iv := [12]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	r := NewRecorder(context.Background(), w, func(_ context.Context, sid string) Track {
		return Track{SID: sid, Name: sid, Identity: "robot", E2EE: true, Sealed: sid == "DTR_s"}
	}, 0)
	r.OfferSealed("DTR_s", Frame{Arrival: t0, Payload: []byte("ciphertext+tag")}, 3, iv)
	r.Offer("DTR_d", Frame{Arrival: t0.Add(1), Payload: []byte("plaintext")})
	if c, err := r.Close(); err != nil || c.Written != 2 {
		t.Fatalf("%+v %v", c, err)
	}
	n := 0
	err = Read(path, func(ch *Channel, m *mcap.Message) error {
		n++
		if !ch.Track.E2EE || ch.Track.Sealed != (ch.Track.SID == "DTR_s") {
			t.Fatalf("channel %+v", ch.Track)
		}
		if !ch.Track.Sealed {
			if string(m.Data) != "plaintext" {
				t.Fatalf("decrypted message %q", m.Data)
			}
			return nil
		}
		ki, gotIV, ct, err := Unseal(m.Data)
		if err != nil || ki != 3 || gotIV != iv || string(ct) != "ciphertext+tag" || len(m.Data) != SealedHeader+len(ct) {
			t.Fatalf("sealed message %x: %v", m.Data, err)
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("read %d: %v", n, err)
	}
	if _, _, _, err := Unseal(make([]byte, SealedHeader-1)); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("a short message: %v", err)
	}
}

// A recorder whose writer cannot keep up holds at most maxQueued bytes of
// frames, whatever is offered: 200 MiB offered while the writer is held,
// the heap grows by the queue and not by what was offered; the rest is
// dropped and counted.
func TestRecorderMemoryIsBounded(t *testing.T) {
	const maxQueued, frame, offered = 16 << 20, 1 << 20, 200
	w, err := Create(filepath.Join(t.TempDir(), "held.mcap"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	r := NewRecorder(context.Background(), w, func(_ context.Context, sid string) Track {
		<-release // the writer is held at its first frame, as a stalled disk holds it
		return Track{SID: sid, Name: sid}
	}, maxQueued)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	payload := make([]byte, frame)
	for i := range offered {
		r.Offer("DTR_x", Frame{Arrival: t0.Add(time.Duration(i) * time.Millisecond), Payload: payload})
	}
	grew := int64(heap()) - int64(before)
	c := r.Counts()
	close(release)
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if c.Dropped != offered-maxQueued/frame || grew > maxQueued+4<<20 {
		t.Fatalf("%d of %d frames of 1 MiB dropped, the heap grew by %d MiB (queue %d MiB)", c.Dropped, offered, grew>>20, maxQueued>>20)
	}
	t.Logf("%d MiB offered, %d dropped, the heap grew by %.1f MiB", offered, c.Dropped, float64(grew)/(1<<20))
}
