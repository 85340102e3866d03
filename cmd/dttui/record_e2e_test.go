package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dttui/dttui/headless"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/session"
)

// recTrack is one track the test publisher sends, and what it sent.
type recTrack struct {
	name  string
	typ   schema.Decl
	def   []byte
	frame func(i int) []byte
	sent  [][]byte
}

func recTracks(t *testing.T) []*recTrack {
	fds, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(durationpb.File_google_protobuf_duration_proto)}})
	if err != nil {
		t.Fatal(err)
	}
	return []*recTrack{
		{name: "pose", typ: schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameProtobuf},
			Schema: schema.ID{Name: "google.protobuf.Duration", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingProtobuf}}}, def: fds,
			frame: func(i int) []byte {
				b, _ := proto.Marshal(durationpb.New(time.Duration(i+1) * time.Millisecond))
				return b
			}},
		{name: "status", typ: schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON}},
			frame: func(i int) []byte { return fmt.Appendf(nil, `{"i":%d,"mode":"auto"}`, i) }},
		{name: "raw", frame: func(i int) []byte {
			b := fmt.Appendf(nil, "raw-%d-", i)
			for j := range 200 + i%300 {
				b = append(b, byte(i*31+j))
			}
			return b
		}},
	}
}

// frameLog collects what a session's room monitor receives, per SID.
type frameLog struct {
	mu  sync.Mutex
	got map[string][][]byte
}

func (l *frameLog) on(sid string, f incoming.Frame) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.got == nil {
		l.got = map[string][][]byte{}
	}
	l.got[sid] = append(l.got[sid], bytes.Clone(f.Payload))
}

func (l *frameLog) of(sid string) [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.got[sid]...)
}

// inOrderSubset says whether every frame of got is one of want, in
// want's order (frames may be missing, none added or changed).
func inOrderSubset(got, want [][]byte) bool {
	j := 0
	for _, g := range got {
		for j < len(want) && !bytes.Equal(want[j], g) {
			j++
		}
		if j == len(want) {
			return false
		}
		j++
	}
	return true
}

// containsRun says whether want appears whole, contiguous, in got.
func containsRun(got, want [][]byte) bool {
	for i := 0; i+len(want) <= len(got); i++ {
		ok := true
		for k := range want {
			if !bytes.Equal(got[i+k], want[k]) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// The proof of issue 24 on each SFU build: a dttui publisher sends a
// protobuf track with its schema, a JSON track and an untyped one;
// `dttui record` writes them to MCAP, which reads back byte-exact with
// the encodings, the schema blob and the publication's metadata, as many
// frames per track as the room monitor received, and verifies
// (record.Verify: every CRC, both readers and the summary agreeing, the
// same counts); `dttui mcap-info` lists it; `dttui replay` plays it into
// a fresh room (exit 0 at its end), and a subscriber there receives
// every frame, byte-exact, with the recorded encodings and schema.
func TestRecordAndReplayEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SFUs")
	}
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		srv := testsfu.StartT(t, kind, testsfu.Options{DataTrackTargetLatency: 5 * time.Second})
		dir := t.TempDir()
		t.Setenv("XDG_CACHE_HOME", dir)
		file := filepath.Join(dir, "room.mcap")
		room := "rec-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		conn := []string{"--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()

		// The recorder, for long enough to see every frame.
		var recOut, recErr lockedBuffer
		recDone := make(chan int, 1)
		go func() {
			recDone <- run(ctx, append([]string{"record", "--out", file, "--room", room, "--identity", "recorder", "--duration", "9s",
				"--record-compression", "lz4"}, conn...), env(nil), stdio{out: &recOut, err: &recErr})
		}()
		waitUntil(t, 20*time.Second, "the recorder joined", func() bool { return strings.Contains(recOut.String(), `"connected"`) })

		pub, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: room, Identity: "robot"})
		if err != nil {
			t.Fatal(err)
		}
		tracks := recTracks(t)
		var handles []*session.Track
		for _, tr := range tracks {
			if !tr.typ.Schema.IsZero() {
				if err := pub.StoreSchema(ctx, tr.typ.Schema, tr.def); err != nil {
					t.Fatal(err)
				}
			}
			h, err := pub.PublishWith(ctx, session.PublishOptions{Name: tr.name, Type: tr.typ})
			if err != nil {
				t.Fatal(err)
			}
			handles = append(handles, h)
		}
		time.Sleep(time.Second) // the recorder's monitor subscribes
		for i := range 100 {
			for k, tr := range tracks {
				p := tr.frame(i)
				tr.sent = append(tr.sent, p)
				if err := handles[k].Push(ctx, bytes.Clone(p), uint64(time.Now().UnixMilli())); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, h := range handles {
			_ = h.Flush(ctx)
		}
		var code int
		select {
		case code = <-recDone:
		case <-ctx.Done():
			t.Fatal("the recorder did not end")
		}
		_ = pub.Close()
		if code != exitOK {
			t.Fatalf("record: exit %d: %s", code, recErr.String())
		}

		// The file against the monitor's own counts and what was sent.
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
		recorded := map[string][][]byte{}
		channels := map[string]record.Track{}
		ids := map[string]uint16{}
		v, err := record.Verify(file)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		for _, read := range []func(string, record.ReadFunc) error{record.ReadIndexed, record.Read} {
			clear(recorded)
			if err := read(file, func(ch *record.Channel, m *mcap.Message) error {
				recorded[ch.Track.Name] = append(recorded[ch.Track.Name], bytes.Clone(m.Data))
				channels[ch.Track.Name] = ch.Track
				ids[ch.Track.Name] = ch.ID
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for _, tr := range tracks {
				var monitor uint64
				for _, r := range final.Remote {
					if r.Name == tr.name {
						monitor = r.Frames
					}
				}
				got := recorded[tr.name]
				if uint64(len(got)) != monitor || v.PerChannel[ids[tr.name]] != monitor || len(got) < 90 || !inOrderSubset(got, tr.sent) {
					t.Fatalf("%s: %d frames recorded (%d verified), the monitor received %d, 100 sent; in order and byte-exact: %v",
						tr.name, len(got), v.PerChannel[ids[tr.name]], monitor, inOrderSubset(got, tr.sent))
				}
				c := channels[tr.name]
				if c.Type != tr.typ || !bytes.Equal(c.SchemaDef, tr.def) || c.Identity != "robot" || c.SID == "" || c.E2EE {
					t.Fatalf("%s: channel %+v", tr.name, c)
				}
			}
		}
		if !strings.Contains(recErr.String(), "dttui: recorded ") {
			t.Errorf("record's stderr: %q", recErr.String())
		}

		var info, infoErr bytes.Buffer
		if code := run(ctx, []string{"mcap-info", file}, env(nil), stdio{out: &info, err: &infoErr}); code != exitOK {
			t.Fatalf("mcap-info: exit %d: %s", code, infoErr.String())
		}
		for _, want := range []string{"robot/pose", "robot/status", "robot/raw", ": protobuf [protobuf google.protobuf.Duration]",
			": json [no schema]", ": " + record.UntypedEncoding, "lz4: [", fmt.Sprintf("verified:  %d messages", v.Messages)} {
			if !strings.Contains(info.String(), want) {
				t.Errorf("mcap-info lacks %q:\n%s", want, info.String())
			}
		}
		t.Logf("mcap-info:\n%s", info.String())

		// Replay into a fresh room, watched by a subscriber.
		room2 := room + "-replay"
		sub, seen := watchRoom(t, ctx, srv, room2)
		// Played once: exit 0 at its end, with what arrived byte-exact.
		var repErr lockedBuffer
		if code := run(ctx, append([]string{"replay", file, "--room", room2, "--identity", "player", "--speed", "4"}, conn...),
			env(nil), stdio{out: &bytes.Buffer{}, err: &repErr}); code != exitOK || !strings.Contains(repErr.String(), "dttui: replayed ") {
			t.Fatalf("replay: exit %d: %s", code, repErr.String())
		}
		// Looped, until a whole pass of every track has arrived.
		lctx, stop := context.WithCancel(ctx)
		loopDone := make(chan int, 1)
		go func() {
			loopDone <- run(lctx, append([]string{"replay", file, "--room", room2, "--identity", "player2", "--loop"}, conn...),
				env(nil), stdio{out: &bytes.Buffer{}, err: &repErr})
		}()
		sidsOf := func(identity string) map[string]incoming.Info {
			out := map[string]incoming.Info{}
			for _, ts := range sub.Monitor().Snapshot() {
				if rt, ok := sub.Monitor().Track(ts.SID); ok && rt.Info().PublisherIdentity == identity {
					out[rt.Info().Name] = rt.Info()
				}
			}
			return out
		}
		waitUntil(t, 60*time.Second, "a whole pass of every track, byte-exact", func() bool {
			infos := sidsOf("player2")
			for _, tr := range tracks {
				i, ok := infos[tr.name]
				if !ok || !containsRun(seen.of(i.SID), recorded[tr.name]) {
					return false
				}
			}
			return true
		})
		// Declared and stored as recorded (asked while the player is in
		// the room: its blobs leave with it).
		for _, tr := range tracks {
			if i := sidsOf("player2")[tr.name]; i.Type != tr.typ {
				t.Errorf("replayed %s declared %+v, want %+v", tr.name, i.Type, tr.typ)
			}
			if tr.typ.Schema.IsZero() {
				continue
			}
			if def, err := sub.GetSchema(ctx, "player2", tr.typ.Schema); err != nil || !bytes.Equal(def, tr.def) {
				t.Errorf("replayed %s: schema %d bytes, %v", tr.name, len(def), err)
			}
		}
		stop()
		if code := <-loopDone; code != exitOK {
			t.Fatalf("replay --loop: exit %d: %s", code, repErr.String())
		}
		for name, i := range sidsOf("player") {
			if !inOrderSubset(seen.of(i.SID), recorded[name]) {
				t.Errorf("replay: %s: frames not byte-exact or out of order", name)
			}
		}
	})
}

// watchRoom joins room as "watcher", a monitor that logs every frame it
// receives; it leaves when the test ends.
func watchRoom(t *testing.T, ctx context.Context, srv *testsfu.Server, room string) (*session.Session, *frameLog) {
	t.Helper()
	seen := new(frameLog)
	sub, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: room,
		Identity: "watcher", Monitor: true, OnRemoteFrame: seen.on})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub, seen
}

// waitUntil polls cond (an end-to-end wait on real servers).
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Replay holds a 1 000 frames/s recording to its timing: no frame goes
// early, all 3 000 go, a subscriber receives them in order, and each goes
// within a few milliseconds of its recorded offset (the figures logged).
// Under the race detector every push costs several times the CPU, so on
// a loaded 2-core CI machine the replay falls behind as a whole (p50 73–
// 889 ms measured): there the bounds only say it kept going.
func TestReplayTiming1kHz(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an SFU")
	}
	srv := testsfu.StartT(t, testsfu.Embedded, testsfu.Options{})
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	file, frames := write1kHzFile(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var seen frameLog
	sub, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: "timing",
		Identity: "watcher", Monitor: true, OnRemoteFrame: seen.on})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var errOut lockedBuffer
	var progress bytes.Buffer
	began := time.Now()
	code := run(ctx, []string{"replay", file, "--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret,
		"--room", "timing", "--identity", "player"}, env(nil), stdio{out: &progress, err: &errOut})
	took := time.Since(began)
	line := errOut.String()
	if code != exitOK || !strings.Contains(line, "replayed 3000 frames on 1 tracks") {
		t.Fatalf("exit %d: %s", code, line)
	}
	// Never early: the last frame is 2.999 s after the first.
	if took < 2999*time.Millisecond {
		t.Fatalf("3 s of frames played in %s", took)
	}
	q := func(name string) time.Duration { return replayQuantile(t, line, name) }
	// The median frame is on time; the p99 is what a loaded machine's
	// scheduler allows (9 ms to 200 ms here with 5 agents on 2 cores).
	// The 1 ms target is BenchmarkReplayTiming1kHz's.
	p50Max, p99Max := 5*time.Millisecond, time.Second
	if raceDetector {
		p50Max, p99Max = 3*time.Second, 6*time.Second
	}
	if p50, p99 := q("p50"), q("p99"); p50 > p50Max || p99 > p99Max {
		t.Fatalf("behind the recorded timing: p50 %s, p99 %s (bounds %s, %s; race detector %v)", p50, p99, p50Max, p99Max, raceDetector)
	}
	t.Logf("race detector %v, played in %s: %s", raceDetector, took.Round(time.Millisecond), strings.TrimSpace(line))
	// Received in the order recorded, none changed (the subscriber may
	// still be taking the last; the SFU may shed under load).
	var got [][]byte
	waitUntil(t, 10*time.Second, "the replayed frames at the subscriber", func() bool {
		for _, ts := range sub.Monitor().Snapshot() {
			if rt, ok := sub.Monitor().Track(ts.SID); ok && rt.Info().PublisherIdentity == "player" {
				got = seen.of(ts.SID)
			}
		}
		return len(got) >= 2900
	})
	if !inOrderSubset(got, frames) {
		t.Fatalf("%d frames received, not in the recorded order or changed", len(got))
	}
	t.Logf("%d of 3000 frames received, in order", len(got))
	// Where the replay is, a JSON line a second, the last at the file's end.
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	var last replayLine
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || len(lines) < 3 || !last.Replay.Final ||
		last.Replay.Sent != 3000 || last.Replay.Speed != 1 || last.Replay.Position != 2.999 || last.Replay.Duration != 2.999 {
		t.Fatalf("progress lines:\n%s", progress.String())
	}

	// --start 2s: the last second of it.
	errOut = lockedBuffer{}
	code = run(context.Background(), []string{"replay", file, "--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret,
		"--room", "timing", "--start", "2s"}, env(nil), stdio{out: &bytes.Buffer{}, err: &errOut})
	if code != exitOK || !strings.Contains(errOut.String(), "replayed 1000 frames on 1 tracks") {
		t.Fatalf("--start 2s: exit %d: %s", code, errOut.String())
	}
}

// The real binary's `dttui record`, killed with SIGKILL mid-recording,
// leaves a file whose complete chunks read back: a non-empty prefix of
// what was published, byte-exact, in order.
func TestRecordKilledBinary(t *testing.T) {
	bin := buildBinary(t)
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		srv := testsfu.StartT(t, kind, testsfu.Options{DataTrackTargetLatency: 5 * time.Second})
		dir := t.TempDir()
		file := filepath.Join(dir, "killed.mcap")
		room := "kill-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var recOut lockedBuffer
		rec := startRecorder(t, ctx, bin, srv, room, "recorder", file, dir, &recOut, nil)

		pub, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: room, Identity: "robot"})
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		h, err := pub.PublishWith(ctx, session.PublishOptions{Name: "bulk"})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)       // the recorder's monitor subscribes
		frame := func(i int) []byte { // incompressible: the file grows as frames arrive
			b := make([]byte, 16<<10)
			x := uint64(i)*0x9E3779B97F4A7C15 + 1
			for j := range b {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				b[j] = byte(x)
			}
			return b
		}
		// 16 KiB frames until three 1 MiB chunks are on disk, then SIGKILL.
		sent := 0
		for ; ; sent++ {
			if err := h.Push(ctx, frame(sent), 0); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
			if fi, err := os.Stat(file); err == nil && fi.Size() > 3<<20 {
				break
			}
			if ctx.Err() != nil {
				t.Fatal("the recording did not grow")
			}
		}
		if err := rec.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = rec.Wait()
		var got [][]byte
		if err := record.Read(file, func(ch *record.Channel, m *mcap.Message) error {
			if ch.Track.Name != "bulk" || ch.Track.Identity != "robot" {
				t.Fatalf("channel %+v", ch.Track)
			}
			got = append(got, bytes.Clone(m.Data))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var want [][]byte
		for i := 0; i <= sent; i++ {
			want = append(want, frame(i))
		}
		if len(got) < 128 || !inOrderSubset(got, want) {
			t.Fatalf("%d frames read back after SIGKILL (of %d sent); in order and byte-exact: %v", len(got), sent+1, inOrderSubset(got, want))
		}
		if _, err := record.Summarize(file); err == nil {
			t.Error("a killed recording has a summary")
		}
		t.Logf("%d of %d frames read back after SIGKILL", len(got), sent+1)
	})
}

// startRecorder runs the binary's `dttui record` into out as identity and
// waits until it has joined; it is killed at the test's end. stderr may
// be nil.
func startRecorder(t *testing.T, ctx context.Context, bin string, srv *testsfu.Server, room, identity, out, cache string, stdout, stderr *lockedBuffer) *exec.Cmd {
	t.Helper()
	rec := exec.CommandContext(ctx, bin, "record", "--out", out, "--url", srv.URL, "--room", room, "--identity", identity)
	rec.Env = append(os.Environ(), "LIVEKIT_API_KEY="+srv.APIKey, "LIVEKIT_API_SECRET="+srv.APISecret, "XDG_CACHE_HOME="+cache)
	rec.Stdout = stdout
	if stderr != nil {
		rec.Stderr = stderr
	}
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Process.Kill(); _ = rec.Wait() })
	waitUntil(t, 20*time.Second, "the recorder joined", func() bool { return strings.Contains(stdout.String(), `"connected"`) })
	return rec
}

// A ROS 2 bag's large messages (point clouds, images) replay whole:
// neither `dttui replay` nor the file reader caps a frame at the
// generators' 4 MiB (probe.MaxSize), and a message of zeros larger than
// the whole compressed file reads back. A dttui recording the room gets 3, 5
// and 9 MiB frames byte-exact (livekit-client and the Rust SDK drop any
// larger than probe.SubscriberMaxSize; docs/recording.md).
func TestReplayLargeFrames(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an SFU")
	}
	bin := buildBinary(t) // before the clock starts
	// The released SFU, out of process: the embedded one shares the race
	// detector's cost with the subscriber, and on a loaded machine shed
	// the 9 MiB frame. One frame at a time on its queues: 2 s apart.
	srv, room, ctx := e2eRoom(t, testsfu.Released, "big", 2*time.Minute)
	file := filepath.Join(t.TempDir(), "bag.mcap")
	w, err := record.Create(file, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := &record.Track{SID: "DTR_x", Name: "cloud", Identity: "ros",
		Type: schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameCDR},
			Schema: schema.ID{Name: "sensor_msgs/msg/PointCloud2", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingROS2Msg}}},
		SchemaDef: []byte("uint32 height\nuint32 width\n")}
	var sent [][]byte
	at := time.Now()
	sizes, gap := []int{1000, 3 << 20, 5 << 20, 9 << 20, 1000}, 2*time.Second
	if raceDetector {
		// A subscriber under the race detector drains a 9 MiB frame slower
		// than the SFU's 5 s target latency allows on a loaded machine: the
		// SFU sheds it. 5 MiB is still past the generators' 4 MiB.
		// And it drains one slowly: the next frame waits long enough that
		// the publisher, which leaves once its last frame is sent, does not
		// take the track down while the SFU still queues the big one.
		sizes, gap = []int{1000, 5 << 20, 1000}, 6*time.Second
	}
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte(i + 1)}, n)
		sent = append(sent, p)
		if err := w.Write(tr, record.Frame{Arrival: at.Add(time.Duration(i) * gap), Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The watcher is the real binary recording the room, out of this
	// process: under the race detector an in-process subscriber drained
	// the 5 MiB frame so slowly on a loaded CI machine that the SFU shed
	// its packets toward it in three rounds running (while it had
	// received all 330). A round whose packets the path lost anyway is
	// played again; frames missing without a packet lost fail at once.
	dir := t.TempDir()
	for round := 1; ; round++ {
		out := filepath.Join(dir, fmt.Sprintf("round%d.mcap", round))
		var recOut, recErr lockedBuffer
		rec := startRecorder(t, ctx, bin, srv, room, fmt.Sprintf("watcher%d", round), out, dir, &recOut, &recErr)

		var errOut lockedBuffer
		start := time.Now()
		if code := run(ctx, []string{"replay", file, "--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret,
			"--room", room, "--identity", "player"}, env(nil), stdio{out: &bytes.Buffer{}, err: &errOut}); code != exitOK ||
			!strings.Contains(errOut.String(), fmt.Sprintf("replayed %d frames on 1 tracks", len(sizes))) {
			t.Fatalf("replay: exit %d: %s", code, errOut.String())
		}
		// The recorder's own account of the track, from its JSON lines: the
		// line with the most frames, until every frame is in or 30 s pass.
		var seen headless.RemoteLine
		for deadline := time.Now().Add(30 * time.Second); seen.Frames < uint64(len(sent)) && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			seen = playerTrack(recOut.String(), seen)
		}
		_ = rec.Process.Signal(syscall.SIGINT)
		if err := waitExit(t, rec, 20*time.Second); err != nil {
			t.Fatalf("recorder: %v: %s", err, recErr.String())
		}
		seen = playerTrack(recOut.String(), seen)
		var frames [][]byte
		if err := record.Read(out, func(ch *record.Channel, m *mcap.Message) error {
			if ch.Track.Identity == "player" {
				frames = append(frames, bytes.Clone(m.Data))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(frames) == len(sent) && containsRun(frames, sent) {
			t.Logf("round %d: %d frames of up to %d B recorded byte-exact in %v", round, len(frames), slices.Max(sizes), time.Since(start).Round(time.Millisecond))
			return
		}
		var got []int
		for _, f := range frames {
			got = append(got, len(f))
		}
		lossy := ""
		switch missed := len(sent) - len(frames); {
		case seen.PacketsLost > 0 || seen.Incomplete > 0:
			lossy = fmt.Sprintf("frames of %v B recorded, %d incomplete, %d packets lost", got, seen.Incomplete, seen.PacketsLost)
		case missed > 0 && containsRun(sent[missed:], frames):
			// Frames sent before the recorder's subscription never reached
			// it and are not lost: a late join, played again.
			lossy = fmt.Sprintf("frames of %v B recorded: joined after the first %d", got, missed)
		default:
			t.Fatalf("frames of %v B recorded, none of their packets lost (the recorder's line: %+v)", got, seen)
		}
		if round == 3 {
			t.Fatalf("the path lost packets in 3 rounds; the last: %s", lossy)
		}
		t.Logf("round %d: %s; again", round, lossy)
	}
}

// playerTrack is the replayed track on the recorder's JSON lines with the
// most frames, or best when none has more.
func playerTrack(out string, best headless.RemoteLine) headless.RemoteLine {
	for line := range strings.Lines(out) {
		var l struct {
			Remote []headless.RemoteLine `json:"remote"`
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		for _, r := range l.Remote {
			if r.Publisher == "player" && r.Frames >= best.Frames {
				best = r
			}
		}
	}
	return best
}

// livekit-server holds at most schema.MaxBlobBytes of stored blobs per
// participant: a file whose two schemas of 40 000 bytes each would pass
// it is refused when the replay stores the second, before any frame is
// sent (exit 1, the SFU's words kept).
func TestReplaySchemasOverTheBlobCap(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an SFU")
	}
	srv, room, ctx := e2eRoom(t, testsfu.Embedded, "blobcap", time.Minute)
	file := filepath.Join(t.TempDir(), "schemas.mcap")
	w, err := record.Create(file, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b"} {
		tr := &record.Track{SID: "DTR_" + name, Name: name, Identity: "ros",
			Type: schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameCDR},
				Schema: schema.ID{Name: "pkg/msg/" + strings.ToUpper(name), Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingROS2Msg}}},
			SchemaDef: bytes.Repeat([]byte("# c\n"), 10000)}
		if err := w.Write(tr, record.Frame{Arrival: time.Now().Add(time.Duration(i) * time.Millisecond), Payload: []byte{1}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var out, errOut lockedBuffer
	code := run(ctx, []string{"replay", file, "--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret,
		"--room", room, "--identity", "player"}, env(nil), stdio{out: &out, err: &errOut})
	if code != exitFailure || !strings.Contains(errOut.String(), "storing the schema of b: the schemas stored by this participant would exceed the server's limit") ||
		strings.Contains(out.String(), `"sent":1`) {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
}

// BenchmarkReplayTiming1kHz holds issue 24's target: a 1 000 frames/s
// file replayed into a room goes within 1 ms p99 of its recorded timing
// (what the replay itself reports, frame by frame). Each iteration plays
// 3 s of 200 B frames; a p99 over 1 ms fails the benchmark. It runs
// against both SFU builds: the released one is a process of its own on
// the same cores, which is where the tail comes from when the machine is
// busy.
//
//	go test -run '^$' -bench ReplayTiming1kHz -benchtime 3x ./cmd/dttui/
func BenchmarkReplayTiming1kHz(b *testing.B) {
	testsfu.Run(b, func(b *testing.B, kind testsfu.Kind) {
		{
			srv := testsfu.StartT(b, kind, testsfu.Options{})
			b.Setenv("XDG_CACHE_HOME", b.TempDir())
			file, _ := write1kHzFile(b)
			var worst50, worst99 time.Duration
			for i := range b.N {
				var errOut lockedBuffer
				code := run(context.Background(), []string{"replay", file, "--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret,
					"--room", fmt.Sprintf("timing-%d", i), "--identity", "player"}, env(nil), stdio{out: io.Discard, err: &errOut})
				line := errOut.String()
				if code != exitOK || !strings.Contains(line, "replayed 3000 frames on 1 tracks") {
					b.Fatalf("exit %d: %s", code, line)
				}
				p50, p99 := replayQuantile(b, line, "p50"), replayQuantile(b, line, "p99")
				worst50, worst99 = max(worst50, p50), max(worst99, p99)
				b.Logf("run %d: p50 %s, p99 %s", i+1, p50, p99)
			}
			b.ReportMetric(float64(worst50)/1e3, "worst-p50-µs")
			b.ReportMetric(float64(worst99)/1e3, "worst-p99-µs")
			b.ReportMetric(0, "ns/op")
			if worst99 > time.Millisecond {
				b.Errorf("behind the recorded timing by p99 %s, over the 1 ms target", worst99)
			}
		}
	})
}

// write1kHzFile records 3 s of 200 B frames at 1 000 frames/s, each
// numbered, on one CBOR track; it returns the file and the frames.
func write1kHzFile(tb testing.TB) (string, [][]byte) {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "1khz.mcap")
	w, err := record.Create(file, record.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tr := &record.Track{SID: "DTR_x", Name: "imu", Identity: "robot", Type: schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameCBOR}}}
	start := time.Now()
	var frames [][]byte
	for i := range 3000 {
		p := make([]byte, 200)
		binary.BigEndian.PutUint32(p, uint32(i))
		frames = append(frames, p)
		if err := w.Write(tr, record.Frame{Arrival: start.Add(time.Duration(i) * time.Millisecond), Payload: p}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return file, frames
}

// replayQuantile reads one quantile from the replay's closing line
// ("behind the recorded timing by p50 440ns, p99 8.064µs").
func replayQuantile(tb testing.TB, line, name string) time.Duration {
	tb.Helper()
	_, v, _ := strings.Cut(line, name+" ")
	v, _, _ = strings.Cut(v, ",")
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		tb.Fatalf("%s in %q: %v", name, line, err)
	}
	return d
}
