package headless

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/localsfu"
)

// Runs against the real embedded SFU: one streaming track, one that only
// publishes, and one whose name the SFU would reject.
func TestRunPrintsJSONLinesThatAddUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := localsfu.Start(ctx, localsfu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	runCtx, stop := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer stop()
	var out bytes.Buffer
	tracks := []Track{{Name: "stream", Rate: 200, Size: 512}, {Name: "idle"}, {Name: strings.Repeat("x", 300), Rate: 10, Size: 64}}
	if err := Run(runCtx, s, tracks, &out, Options{Interval: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	var lines []Line
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) < 3 || !lines[len(lines)-1].Final {
		t.Fatalf("%d lines, last final=%v", len(lines), len(lines) > 0 && lines[len(lines)-1].Final)
	}
	mid := lines[len(lines)-2]
	if mid.Connection.State != "connected" || len(mid.Tracks) != 2 || len(mid.Errors) != 1 || !strings.Contains(mid.Errors[0].Error, "invalid name") {
		t.Fatalf("line %+v", mid)
	}
	if st := mid.Tracks[0]; st.Name != "stream" || st.FramesPerSec < 50 || st.State != "published" || st.SID == "" {
		t.Fatalf("stream track %+v", st)
	}
	final := lines[len(lines)-1].Tracks[0]
	if final.Pushed == 0 || final.Pushed != final.Sent+final.Dropped || final.Queued != 0 {
		t.Fatalf("final counters do not add up: %+v", final)
	}
	if final.Rx == nil || final.Rx.Frames == 0 {
		t.Fatalf("loopback saw nothing: %+v", final.Rx)
	}
	if idle := lines[len(lines)-1].Tracks[1]; idle.Pushed != 0 || idle.State != "published" {
		t.Fatalf("idle track %+v", idle)
	}
}

// With no tracks (or none published), "tracks" is an empty list, not null.
func TestNoTracksIsAnEmptyList(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	runCtx, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stop()
	if err := Run(runCtx, idleBackend{}, nil, &out, Options{Interval: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	n := 0
	for sc.Scan() {
		n++
		if !strings.Contains(sc.Text(), `"tracks":[]`) {
			t.Fatalf("line %d: %s", n, sc.Text())
		}
	}
	if n == 0 {
		t.Fatal("no lines")
	}
}

// idleBackend is connected and has nothing published.
type idleBackend struct{}

func (idleBackend) Publish(context.Context, string, bool) (*outgoing.LocalTrack, error) {
	return nil, errors.New("not used")
}
func (idleBackend) Status() session.Status                    { return session.Status{State: session.StateConnected} }
func (idleBackend) Received() map[string]session.ReceiveStats { return nil }
