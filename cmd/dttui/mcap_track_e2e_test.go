package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/schema"
)

// --track NAME:mcap=FILE:TOPIC plays one topic of a recording beside a
// probe track, on each SFU build: a subscriber receives its frames
// byte-exact, in order, declared with the channel's encoding and schema
// spread over the recorded span.
func TestMCAPTrackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SFUs")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "in.mcap")
	w, err := record.Create(file, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	typ := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON},
		Schema: schema.ID{Name: "status", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}}
	status := &record.Track{SID: "DTR_s", Name: "status", Identity: "robot", Type: typ, SchemaDef: []byte(`{"type":"object"}`)}
	other := &record.Track{SID: "DTR_o", Name: "other", Identity: "robot"}
	var want [][]byte
	start := time.Now()
	const n, gap = 40, 25 * time.Millisecond
	for i := range n {
		p := fmt.Appendf(nil, `{"i":%d}`, i)
		want = append(want, p)
		at := start.Add(time.Duration(i) * gap)
		if err := w.Write(status, record.Frame{Arrival: at, Payload: p}); err != nil {
			t.Fatal(err)
		}
		if err := w.Write(other, record.Frame{Arrival: at, Payload: []byte("not this")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		srv, room, ctx := e2eRoom(t, kind, "mcaptrack", time.Minute)
		sub, seen := watchRoom(t, ctx, srv, room)
		var out, errOut lockedBuffer
		code := run(ctx, []string{"--headless", "--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret, "--room", room,
			"--identity", "player", "--duration", "6s", "--track", "played:mcap=" + file + ":robot/status", "--track", "probe:20"}, env(nil), stdio{out: &out, err: &errOut})
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		var played incoming.Info
		probeSeen := false
		for _, ts := range sub.Monitor().Snapshot() {
			rt, _ := sub.Monitor().Track(ts.SID)
			switch rt.Info().Name {
			case "played":
				played = rt.Info()
			case "probe":
				probeSeen = ts.FramesCompleted > 0
			}
		}
		got := seen.of(played.SID)
		// At the recorded timing: the frames that arrived came over the
		// span they were recorded over (the first ones can go before the
		// watcher subscribed: CI saw 4 of 40 go, and a span of 860 ms for
		// the full 975).
		if st, ok := sub.Monitor().Track(played.SID); ok && len(got) > 1 {
			var first, last struct{ I int }
			if json.Unmarshal(got[0], &first) != nil || json.Unmarshal(got[len(got)-1], &last) != nil {
				t.Fatalf("frames %q … %q", got[0], got[len(got)-1])
			}
			s := st.Stats()
			recorded := time.Duration(last.I-first.I) * gap
			if span := s.LastPacketAt.Sub(s.FirstPacketAt); span < recorded*9/10 {
				t.Fatalf("frames %d to %d, recorded over %s, arrived over %s", first.I, last.I, recorded, span)
			}
		}
		if played.Type != typ || !probeSeen || len(got) < n*9/10 || !inOrderSubset(got, want) {
			t.Fatalf("played as %+v, %d of %d frames, byte-exact and in order: %v; the probe track arrived: %v; stdout:\n%s",
				played.Type, len(got), n, inOrderSubset(got, want), probeSeen, out.String())
		}
		if !strings.Contains(out.String(), `"played"`) {
			t.Errorf("the headless lines lack the track: %s", out.String())
		}
	})
}

// e2eRoom starts kind's SFU for t (frames held 5 s for a slow
// subscriber), names a fresh room, and bounds the test with ctx.
func e2eRoom(t *testing.T, kind testsfu.Kind, prefix string, d time.Duration) (*testsfu.Server, string, context.Context) {
	t.Helper()
	srv := testsfu.StartT(t, kind, testsfu.Options{DataTrackTargetLatency: 5 * time.Second})
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return srv, prefix + "-" + strconv.FormatInt(time.Now().UnixNano(), 36), ctx
}
