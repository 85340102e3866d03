package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"github.com/dttui/dttui/internal/jsclient"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/session/probe"
)

// The proof chain of issue 24, on each SFU build, one file throughout:
//
//  1. In a room, livekit-client 2.23 in Chromium publishes "telemetry"
//     (untyped: its DataTrackOptions holds only a name), and a dttui
//     headless run publishes "pose", protobuf with its schema stored in
//     the room (frames from its standard input), and "probe", dttui's
//     untyped probe track.
//  2. `dttui record` records the room. The file verifies (record.Verify:
//     every CRC, the unindexed and indexed readers agreeing with each
//     other and the summary) with per-channel counts equal to what the
//     recorder's room monitor received; read back by both readers, every
//     frame is byte-exact and in order — the browser's each with its user
//     timestamp as the message's publish time, the probe's intact with
//     its sequence rising — and each channel declares its track's
//     encoding and schema blob.
//  3. That file, replayed into a fresh room, is received by
//     livekit-client in Chromium: a whole pass of every track, byte-exact
//     (SHA-256), with the recorded user timestamps; a dttui subscriber
//     there sees the recorded encodings declared and fetches the schema.
func TestRecordLivekitClientPublisher(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SFUs and Chromium")
	}
	jsclient.Require(t)
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		srv, room, ctx := e2eRoom(t, kind, "chain", 4*time.Minute)
		dir := t.TempDir()
		file := filepath.Join(dir, "chain.mcap")
		conn := []string{"--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret}

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
			recDone <- run(ctx, append([]string{"record", "--out", file, "--room", room, "--identity", "recorder", "--duration", "16s"}, conn...),
				env(nil), stdio{out: &recOut, err: &recErr})
		}()
		waitUntil(t, 20*time.Second, "the recorder joined", func() bool { return strings.Contains(recOut.String(), `"connected"`) })

		// dttui's publisher: pose from its standard input, and the probe.
		pose := recTracks(t)[0]
		fds := filepath.Join(dir, "duration.fds")
		if err := os.WriteFile(fds, pose.def, 0o644); err != nil {
			t.Fatal(err)
		}
		stdin, feed := io.Pipe()
		var pubOut, pubErr lockedBuffer
		pubDone := make(chan int, 1)
		go func() {
			pubDone <- run(ctx, append([]string{"--headless", "--room", room, "--identity", "robot", "--duration", "10s",
				"--track", "pose:stdin", "--framing", "pose=length-prefixed", "--encoding", "pose=protobuf",
				"--schema", "pose=protobuf:" + pose.typ.Schema.Name + ":" + fds, "--track", "probe:50:300"}, conn...),
				env(nil), stdio{in: stdin, out: &pubOut, err: &pubErr})
		}()
		// The recorder's monitor holds all three (its JSON lines say so).
		for _, name := range []string{"telemetry", "pose", "probe"} {
			held := regexp.MustCompile(`"name":"` + name + `","sid":"[^"]*","publisher":"[^"]*","state":"subscribed"`)
			waitUntil(t, 30*time.Second, "the recorder subscribed to "+name, func() bool { return held.MatchString(recOut.String()) })
		}

		const n, size = 100, 700
		fed := make(chan error, 1)
		go func() { // 100 pose frames at 50/s, beside the browser's
			for i := range n {
				p := pose.frame(i)
				pose.sent = append(pose.sent, p)
				if _, err := feed.Write(binary.BigEndian.AppendUint32(nil, uint32(len(p)))); err != nil {
					fed <- err
					return
				}
				if _, err := feed.Write(p); err != nil {
					fed <- err
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			fed <- feed.Close()
		}()
		ts0 := uint64(time.Now().UnixMilli())
		res, err := js.Push(ctx, jsclient.PushOptions{Track: tr.Name, Count: n, Rate: 50, Size: size, UserTimestamp: ts0, UserTimestampStep: 20})
		if err != nil || res.OK != n {
			t.Fatalf("livekit-client pushed %+v, %v", res, err)
		}
		if err := <-fed; err != nil {
			t.Fatal(err)
		}
		for what, done := range map[string]chan int{"the dttui publisher": pubDone, "record": recDone} {
			select {
			case code := <-done:
				if code != exitOK {
					t.Fatalf("%s: exit %d: %s%s", what, code, pubErr.String(), recErr.String())
				}
			case <-ctx.Done():
				t.Fatalf("%s did not end", what)
			}
		}

		// What the recorder's room monitor received, per track.
		var final struct {
			Final  bool `json:"final"`
			Remote []struct {
				Name   string `json:"name"`
				SID    string `json:"sid"`
				Frames uint64 `json:"frames"`
			} `json:"remote"`
		}
		lines := strings.Split(strings.TrimSpace(recOut.String()), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &final); err != nil || !final.Final || len(final.Remote) != 3 {
			t.Fatalf("final line %q: %v", lines[len(lines)-1], err)
		}
		monitor := map[string]uint64{}
		for _, r := range final.Remote {
			monitor[r.Name] = r.Frames
		}

		// The file checks out, as many messages per channel as the monitor received.
		v, err := record.Verify(file)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		for _, read := range []func(string, record.ReadFunc) error{record.ReadIndexed, record.Read} {
			got := map[string][]*mcap.Message{}
			chans := map[string]*record.Channel{}
			if err := read(file, func(c *record.Channel, m *mcap.Message) error {
				chans[c.Track.Name] = c
				msg := *m // the reader reuses m and its bytes for the next message
				msg.Data = bytes.Clone(m.Data)
				got[c.Track.Name] = append(got[c.Track.Name], &msg)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for name, c := range chans {
				if k := uint64(len(got[name])); k != monitor[name] || v.PerChannel[c.ID] != k {
					t.Fatalf("%s: %d messages read, %d verified, the recorder's monitor received %d", name, k, v.PerChannel[c.ID], monitor[name])
				}
			}
			if len(chans) != 3 || v.Messages != monitor["telemetry"]+monitor["pose"]+monitor["probe"] {
				t.Fatalf("%d channels, %d messages verified, the monitor received %v", len(chans), v.Messages, monitor)
			}

			// livekit-client's: untyped, byte-exact in order, each with its user timestamp.
			if c := chans["telemetry"].Track; c.Identity != "js-pub" || c.SID != tr.SID || c.E2EE || !c.Type.Frame.IsZero() ||
				chans["telemetry"].Record.MessageEncoding != record.UntypedEncoding {
				t.Fatalf("telemetry channel %+v", c)
			}
			if len(got["telemetry"]) < n*9/10 {
				t.Fatalf("%d of %d telemetry frames recorded", len(got["telemetry"]), n)
			}
			k := 0
			for _, m := range got["telemetry"] {
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

			// dttui's protobuf track: its encoding and schema blob, byte-exact in order.
			var pg [][]byte
			for _, m := range got["pose"] {
				pg = append(pg, m.Data)
			}
			if c := chans["pose"]; c.Track.Type != pose.typ || !bytes.Equal(c.Track.SchemaDef, pose.def) || c.Track.Identity != "robot" ||
				c.Record.MessageEncoding != "protobuf" || c.Schema == nil || c.Schema.Encoding != "protobuf" || c.Schema.Name != pose.typ.Schema.Name {
				t.Fatalf("pose channel %+v, schema %+v", c.Track, c.Schema)
			}
			if len(pg) < n*9/10 || !inOrderSubset(pg, pose.sent) {
				t.Fatalf("pose: %d of %d frames recorded; byte-exact in order: %v", len(pg), n, inOrderSubset(pg, pose.sent))
			}

			// dttui's probe: untyped, every frame intact, one stream, its sequence rising.
			if c := chans["probe"].Track; c.Identity != "robot" || !c.Type.Frame.IsZero() || len(got["probe"]) < 100 {
				t.Fatalf("probe channel %+v, %d frames", c, len(got["probe"]))
			}
			var first probe.Header
			for i, m := range got["probe"] {
				h, ok := probe.Decode(m.Data)
				if !ok || !probe.Intact(m.Data) || len(m.Data) != 300 || (i > 0 && (h.Stream != first.Stream || h.Seq <= first.Seq)) {
					t.Fatalf("probe frame %d (%d B) is not the next of the stream: %+v after %+v", i, len(m.Data), h, first)
				}
				if i == 0 {
					first = h
				}
				first.Seq = h.Seq
			}
		}
		var info, infoErr bytes.Buffer
		if code := run(ctx, []string{"mcap-info", file}, env(nil), stdio{out: &info, err: &infoErr}); code != exitOK ||
			!strings.Contains(info.String(), "verified:  ") {
			t.Fatalf("mcap-info: exit %d: %s%s", code, info.String(), infoErr.String())
		}
		t.Logf("monitor %v\n%s", monitor, info.String())

		// The same file, replayed into a fresh room, to livekit-client.
		want, declared := jsRecordedOf(t, file)
		jsReceivesReplay(t, ctx, kind, srv, room+"-replay", file, "player", want, declared)
	})
}
