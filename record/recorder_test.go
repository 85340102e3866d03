package record

import (
	"bytes"
	"context"
	"path/filepath"
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
