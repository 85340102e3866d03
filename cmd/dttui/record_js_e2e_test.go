package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"github.com/dttui/dttui/internal/jsclient"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/record"
)

// `dttui record` in a room where livekit-client 2.23 (Chromium) publishes:
// its track is recorded under its identity, every frame byte-exact in the
// order sent, as many as the recorder's room monitor received, each with
// the frame's user timestamp as its publish time; by the indexed and the
// unindexed reader alike. (livekit-client 2.23 publishes no frame
// encoding, so its track is recorded untyped.)
func TestRecordLivekitClientPublisher(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SFUs and Chromium")
	}
	jsclient.Require(t)
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		srv := testsfu.StartT(t, kind, testsfu.Options{DataTrackTargetLatency: 5 * time.Second})
		dir := t.TempDir()
		t.Setenv("XDG_CACHE_HOME", dir)
		file := filepath.Join(dir, "js.mcap")
		room := "recjs-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()

		js := jsclient.Start(t, jsclient.Options{Name: "js-pub-" + kind.String()})
		token, err := srv.Token(room, "js-pub")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Join(ctx, jsclient.JoinOptions{URL: srv.URL, Token: token}); err != nil {
			t.Fatal(err)
		}
		tr, err := js.Publish(ctx, "telemetry")
		if err != nil {
			t.Fatal(err)
		}

		var recOut, recErr lockedBuffer
		recDone := make(chan int, 1)
		go func() {
			recDone <- run(ctx, []string{"record", "--out", file, "--room", room, "--identity", "recorder", "--duration", "8s",
				"--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret}, env(nil), stdio{out: &recOut, err: &recErr})
		}()
		// The recorder's monitor holds the track once a JSON line says so.
		waitUntil(t, 20*time.Second, "the recorder subscribed", func() bool {
			return strings.Contains(recOut.String(), `"sid":"`+tr.SID+`"`) && strings.Contains(recOut.String(), `"subscribed"`)
		})

		const n, size = 100, 700
		ts0 := uint64(time.Now().UnixMilli())
		res, err := js.Push(ctx, jsclient.PushOptions{Track: tr.Name, Count: n, Rate: 50, Size: size, UserTimestamp: ts0, UserTimestampStep: 20})
		if err != nil || res.OK != n {
			t.Fatalf("livekit-client pushed %+v, %v", res, err)
		}
		var code int
		select {
		case code = <-recDone:
		case <-ctx.Done():
			t.Fatal("the recorder did not end")
		}
		if code != exitOK {
			t.Fatalf("record: exit %d: %s", code, recErr.String())
		}
		var final struct {
			Final  bool `json:"final"`
			Remote []struct {
				SID    string `json:"sid"`
				Frames uint64 `json:"frames"`
			} `json:"remote"`
		}
		lines := strings.Split(strings.TrimSpace(recOut.String()), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &final); err != nil || !final.Final {
			t.Fatalf("final line %q: %v", lines[len(lines)-1], err)
		}
		var monitor uint64
		for _, r := range final.Remote {
			if r.SID == tr.SID {
				monitor = r.Frames
			}
		}

		for _, read := range []func(string, record.ReadFunc) error{record.ReadIndexed, record.Read} {
			var got []*mcap.Message
			var ch record.Track
			if err := read(file, func(c *record.Channel, m *mcap.Message) error {
				if c.Track.SID == tr.SID {
					ch = c.Track
					// The reader reuses m and its bytes for the next message.
					msg := *m
					msg.Data = bytes.Clone(m.Data)
					got = append(got, &msg)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if uint64(len(got)) != monitor || len(got) < n*9/10 {
				t.Fatalf("%d frames recorded, the recorder's monitor received %d, %d sent", len(got), monitor, n)
			}
			if ch.Identity != "js-pub" || ch.Name != tr.Name || ch.E2EE || !ch.Type.Frame.IsZero() {
				t.Fatalf("channel %+v", ch)
			}
			// In order, byte-exact: frame k of the push is Pattern(first+k).
			k := 0
			for _, m := range got {
				for k < n && !bytes.Equal(m.Data, jsclient.Pattern(res.FirstIndex+uint64(k), size)) {
					k++
				}
				if k == n {
					t.Fatalf("a recorded frame (%d B, head % x) is none of the frames sent from index %d (head % x), or out of order", len(m.Data), m.Data[:12], res.FirstIndex, jsclient.Pattern(res.FirstIndex, 12))
				}
				if want := (ts0 + uint64(k)*20) * uint64(time.Millisecond); m.PublishTime != want {
					t.Fatalf("frame %d: publish time %d, want its user timestamp %d", k, m.PublishTime, want)
				}
				k++
			}
		}
	})
}
