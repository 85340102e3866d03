package record

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// OpenTopic yields one topic's messages in file order with their log
// times, its track typed as recorded; FindTopic names the topics when
// none or a wrong one is asked of a file with several, and refuses a
// sealed topic; a reader closed early leaves nothing running.
func TestOpenTopic(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := filepath.Join(t.TempDir(), "room.mcap")
	w, err := Create(path, Options{ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	ts := tracks()
	ts[1].Sealed = true
	var want [][]byte
	var times []uint64
	for i := range 90 {
		tr := ts[i%3]
		at := t0.Add(time.Duration(i) * time.Millisecond)
		if err := w.Write(tr, Frame{Arrival: at, Payload: frameOf(i)}); err != nil {
			t.Fatal(err)
		}
		if tr == ts[0] {
			want, times = append(want, frameOf(i)), append(times, uint64(at.UnixNano()))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ch, err := FindTopic(path, "robot/pose")
	if err != nil || ch.Track.Type != ts[0].Type || !bytes.Equal(ch.Track.SchemaDef, ts[0].SchemaDef) {
		t.Fatalf("%+v %v", ch, err)
	}
	for topic, msg := range map[string]string{"": "3 topics (robot/pose, dttui/probe, robot/blob): name one",
		"robot/nope": `no messages on topic "robot/nope"`, "dttui/probe": "recorded encrypted"} {
		if _, err := FindTopic(path, topic); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("topic %q: %v, want %q", topic, err, msg)
		}
	}
	r, err := OpenTopic(context.Background(), path, "robot/pose")
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		b, err := r.Next()
		if err != nil || !bytes.Equal(b, want[i]) || r.LogTime() != times[i] {
			t.Fatalf("message %d: %v, log time %d want %d", i, err, r.LogTime(), times[i])
		}
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last: %v", err)
	}
	_ = r.Close()
	r, err = OpenTopic(context.Background(), path, "robot/blob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_ = r.Close() // mid-file
}
