package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/livekit/protocol/auth"

	"github.com/dttui/dttui/internal/jsclient"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/session"
)

// jsRecorded is one recorded message as a livekit-client subscriber
// should see it.
type jsRecorded struct {
	sha string
	ts  string // decimal user timestamp, "" for none
}

// dttui replays a recording into a room (--recorded-timestamps) and
// livekit-client 2.23 in Chromium receives a whole pass of every track,
// each frame byte-exact (SHA-256) with its recorded user timestamp, or
// none where none was recorded, on each SFU build. livekit-client's
// DataTrackInfo keeps no frame encoding, so a dttui subscriber in the
// same room checks what the replayed tracks declare: the recorded
// encodings and schema.
func TestJSClientReceivesReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SFUs and Chromium")
	}
	jsclient.Require(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "lab.mcap")
	w, err := record.Create(file, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	jsonType := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON},
		Schema: schema.ID{Name: "pose", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}}
	cborType := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameCBOR}}
	tracks := []*record.Track{
		{SID: "DTR_pose", Name: "pose", Identity: "robot", Type: jsonType, SchemaDef: []byte(`{"type":"object"}`)},
		{SID: "DTR_imu", Name: "imu", Identity: "robot", Type: cborType},
		{SID: "DTR_raw", Name: "raw", Identity: "robot"},
	}
	want := map[string][]jsRecorded{}
	start := time.Now().Add(-time.Hour)
	for i := range 50 {
		for k, tr := range tracks {
			var p []byte
			switch k {
			case 0:
				p = fmt.Appendf(nil, `{"x":%d,"y":%d}`, i, -i)
			case 1:
				p = []byte{0xa1, 0x61, 'i', 0x18, byte(i)}
			default:
				p = bytes.Repeat([]byte{byte(i)}, 100+i*37)
			}
			f := record.Frame{Arrival: start.Add(time.Duration(i*3+k) * 5 * time.Millisecond), Payload: p}
			r := jsRecorded{}
			if k != 2 || i%2 == 0 { // the untyped track: every other frame without one
				f.HasUserTimestamp, f.UserTimestamp = true, uint64(1_795_000_000_000+i*10+k)
				r.ts = strconv.FormatUint(f.UserTimestamp, 10)
			}
			sum := sha256.Sum256(p)
			r.sha = hex.EncodeToString(sum[:])
			want[tr.Name] = append(want[tr.Name], r)
			if err := w.Write(tr, f); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := jsRecordedOf(t, file); !reflect.DeepEqual(got, want) {
		t.Fatal("the file does not read back as written")
	}
	declared := map[string]record.Track{}
	for _, tr := range tracks {
		declared[tr.Name] = *tr
	}
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		srv, room, ctx := e2eRoom(t, kind, "jsreplay", 2*time.Minute)
		jsReceivesReplay(t, ctx, kind, srv, room, file, "player", want, declared)
	})
}

// jsRecordedOf is what a livekit-client subscriber should receive of a
// replay of file with --recorded-timestamps, per track name (the
// messages' SHA-256 and user timestamps, none where the message's publish
// time is its log time), and each track as the file declares it.
func jsRecordedOf(t *testing.T, file string) (map[string][]jsRecorded, map[string]record.Track) {
	t.Helper()
	want, declared := map[string][]jsRecorded{}, map[string]record.Track{}
	if err := record.Read(file, func(ch *record.Channel, m *mcap.Message) error {
		sum := sha256.Sum256(m.Data)
		r := jsRecorded{sha: hex.EncodeToString(sum[:])}
		if m.PublishTime != m.LogTime {
			r.ts = strconv.FormatUint(m.PublishTime/uint64(time.Millisecond), 10)
		}
		want[ch.Track.Name] = append(want[ch.Track.Name], r)
		declared[ch.Track.Name] = ch.Track
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return want, declared
}

// jsReceivesReplay plays file into room with `dttui replay --loop
// --recorded-timestamps` as identity, until livekit-client 2.23 in
// Chromium has received a whole pass of every track, each frame
// byte-exact (SHA-256) with its recorded user timestamp or none where
// none was recorded. livekit-client's DataTrackInfo keeps no frame
// encoding, so a dttui subscriber in the same room checks what the
// replayed tracks declare (as declared says) and fetches their schemas.
// The replay must end with exit 0 when stopped.
func jsReceivesReplay(t *testing.T, ctx context.Context, kind testsfu.Kind, srv *testsfu.Server, room, file, identity string,
	want map[string][]jsRecorded, declared map[string]record.Track) {
	t.Helper()
	js := jsclient.Start(t, jsclient.Options{Name: "js-sub-" + kind.String()})
	token, err := auth.NewAccessToken(srv.APIKey, srv.APISecret).SetIdentity("browser").SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Join(ctx, jsclient.JoinOptions{URL: srv.URL, Token: token}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.SubscribeAll(ctx, jsclient.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	watcher, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: room,
		Identity: "watcher", Monitor: true})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()

	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var repErr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(lctx, []string{"replay", file, "--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret,
			"--room", room, "--identity", identity, "--loop", "--recorded-timestamps"}, env(nil), stdio{out: &bytes.Buffer{}, err: &repErr})
	}()
	// A whole pass, contiguous, on every track.
	wholePass := func(name string) bool {
		got := js.Frames(name)
		for i := 0; i+len(want[name]) <= len(got); i++ {
			ok := true
			for k, r := range want[name] {
				if g := got[i+k]; g.SHA256 != r.sha || g.UserTimestamp != r.ts || g.Publisher != identity {
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
	waitUntil(t, 100*time.Second, "livekit-client received a whole pass of every track, byte-exact with the recorded timestamps", func() bool {
		for name := range want {
			if !wholePass(name) {
				return false
			}
		}
		return true
	})
	// What livekit-client cannot say: the declared types, and the schemas.
	seen := map[string]bool{}
	for _, ts := range watcher.Monitor().Snapshot() {
		rt, _ := watcher.Monitor().Track(ts.SID)
		i := rt.Info()
		if tr, ok := declared[i.Name]; ok && i.PublisherIdentity == identity {
			seen[i.Name] = true
			if i.Type != tr.Type {
				t.Errorf("%s replayed as %+v, recorded %+v", tr.Name, i.Type, tr.Type)
			}
		}
	}
	for name, tr := range declared {
		if !seen[name] {
			t.Errorf("the watcher never saw %s", name)
		}
		if tr.Type.Schema.IsZero() {
			continue
		}
		if def, err := watcher.GetSchema(ctx, identity, tr.Type.Schema); err != nil || !bytes.Equal(def, tr.SchemaDef) {
			t.Errorf("the replayed schema of %s: %d bytes, %v", name, len(def), err)
		}
	}
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("replay: exit %d: %s", code, repErr.String())
	}
}
