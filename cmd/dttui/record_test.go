package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/schema"
)

// --record and its options are read, and refused where they cannot
// apply, before anything starts.
func TestRecordFlags(t *testing.T) {
	o, err := parseFlags([]string{"--headless", "--subscribe-only", "--record", "r.mcap", "--record-compression", "lz4", "--record-split", "10m"}, env(nil))
	if err != nil || o.Record.Path != "r.mcap" || o.Record.Compression != record.LZ4 || o.Record.RotateEvery != 10*time.Minute {
		t.Fatalf("%+v %v", o.Record, err)
	}
	if o, err = parseFlags([]string{"--headless", "--record", "r.mcap", "--record-own", "--record-decrypted"}, env(map[string]string{envPassphrase: "p"})); err != nil || !o.Record.Own || !o.Record.Decrypted {
		t.Fatalf("%+v %v", o.Record, err)
	}
	if o, err = parseFlags([]string{"--record", "r.mcap"}, env(nil)); err != nil || o.Headless || o.Record.Path != "r.mcap" {
		t.Fatalf("the UI records from the start with --record: %+v %v", o.Record, err)
	}
	if o, err = parseFlags([]string{"--headless", "--record", "r.mcap", "--record-split", "1GiB"}, env(nil)); err != nil || o.Record.RotateSize != 1<<30 {
		t.Fatalf("%+v %v", o.Record, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--headless", "--record-split", "1m"}, "go with --record FILE"},
		{[]string{"--headless", "--record-own"}, "go with --record FILE"},
		{[]string{"--headless", "--record-decrypted"}, "go with --record FILE"},
		{[]string{"--headless", "--record", "r.mcap", "--record-decrypted"}, "--record-decrypted needs the room's passphrase"},
		{[]string{"--headless", "--record", "r.mcap", "--monitor=false"}, "leave --monitor on"},
		{[]string{"--headless", "--record", "r.mcap", "--record-compression", "gzip"}, "want zstd, lz4 or none"},
		{[]string{"--headless", "--record", "r.mcap", "--record-split", "lots"}, "want a size (1GiB) or a duration (10m)"},
		{[]string{"record", "--room", "x"}, "name the file with --out FILE"},
		{[]string{"replay", "--speed", "0", "f.mcap"}, "--speed \"0\": want a factor above 0"},
		{[]string{"replay", "a.mcap", "b.mcap"}, "plays one file"},
		{[]string{"replay", "f.mcap", "--start", "soon"}, "--start \"soon\": want a duration"},
		{[]string{"replay", "f.mcap"}, "name the server (--url or LIVEKIT_URL)"},
		{[]string{"mcap-info", "/nonexistent.mcap"}, "no such file"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tc.args, env(nil), stdio{out: &out, err: &errOut})
		if code == exitOK || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, code, errOut.String(), tc.want)
		}
	}
}

// replay's own flags are taken out; the connection flags, with their
// values, are left for dttui's parser.
func TestSplitReplayArgs(t *testing.T) {
	ro, file, rest, err := splitReplayArgs([]string{"--url", "ws://x", "room.mcap", "--speed=2.5", "--loop", "--recorded-timestamps", "--verbose", "--start", "1m", "--room", "lab"})
	if err != nil || file != "room.mcap" || ro.speed != 2.5 || !ro.loop || !ro.recordedTS || ro.start != time.Minute || !slices.Equal(rest, []string{"--url", "ws://x", "--verbose", "--room", "lab"}) {
		t.Fatalf("%+v %q %q %v", ro, file, rest, err)
	}
	ro, _, _, err = splitReplayArgs([]string{"f.mcap", "--topic", "/imu", "--topic=robot/*"})
	if err != nil || !slices.Equal(ro.topics, []string{"/imu", "robot/*"}) {
		t.Fatalf("%q %v", ro.topics, err)
	}
	for _, bad := range [][]string{{"f.mcap", "--topic"}, {"f.mcap", "--topic", "[x"}, {"f.mcap", "--topic="}} {
		if _, _, _, err := splitReplayArgs(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// mcap-info prints a file from outside: a topic, a participant or an
// encoding with terminal escapes comes out escaped, and the figures are
// the file's.
func TestMCAPInfoOfHostileNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.mcap")
	w, err := record.Create(path, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := &record.Track{SID: "DTR_\x1b]52;c;aGk=\x07", Name: "evil\x1b[2J", Identity: "bob\r\n",
		Type: schema.Decl{Frame: schema.FrameEncoding{Custom: "enc\x1b[31m"}}}
	at := time.Unix(1_800_000_000, 0)
	for i := range 10 {
		if err := w.Write(tr, record.Frame{Arrival: at.Add(time.Duration(i) * 100 * time.Millisecond), Payload: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"mcap-info", path}, env(nil), stdio{out: &out, err: &errOut}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	s := out.String()
	if strings.ContainsAny(s, "\x1b\x07\r") {
		t.Fatalf("a control character reached the terminal: %q", s)
	}
	for _, want := range []string{"messages:  10\n", "duration:  900ms\n", "10 msgs @ 11.11 Hz", "zstd: [1 chunks]"} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %q:\n%s", want, s)
		}
	}
}

// mcap-info verifies what it lists: a whole file is said to check out,
// with its message count; one cut short (no summary) is listed from a
// scan of its complete chunks, said so; a changed byte fails it (exit 1)
// with the CRC that caught it.
func TestMCAPInfoVerifies(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "whole.mcap")
	w, err := record.Create(path, record.Options{Compression: record.None, ChunkSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	tr := &record.Track{SID: "DTR_a", Name: "imu", Identity: "robot"}
	at := time.Unix(1_800_000_000, 0)
	for i := range 200 {
		p := bytes.Repeat([]byte{byte(i)}, 500)
		if err := w.Write(tr, record.Frame{Arrival: at.Add(time.Duration(i) * 10 * time.Millisecond), Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info := func(b []byte) (int, string, string) {
		f := filepath.Join(dir, "x.mcap")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"mcap-info", f}, env(nil), stdio{out: &out, err: &errOut})
		return code, out.String(), errOut.String()
	}
	code, out, _ := info(whole)
	if want := "verified:  200 messages read alike by the unindexed and the indexed reader, as the summary counts them; " +
		"CRCs: data ok, summary ok, 7 of 7 chunks ok\n"; code != exitOK || !strings.Contains(out, want) {
		t.Fatalf("whole file: exit %d, want %q:\n%s", code, want, out)
	}
	// Cut 100 bytes into its sixth chunk: the first five's messages are
	// counted, those logged up to the fifth's end (one each 10 ms).
	r, err := mcap.NewReader(bytes.NewReader(whole))
	if err != nil {
		t.Fatal(err)
	}
	in, err := r.Info()
	if err != nil || len(in.ChunkIndexes) != 7 {
		t.Fatalf("%v, %d chunks", err, len(in.ChunkIndexes))
	}
	fifth := in.ChunkIndexes[4]
	n := (fifth.MessageEndTime-uint64(at.UnixNano()))/uint64(10*time.Millisecond) + 1
	code, out, _ = info(whole[:fifth.ChunkStartOffset+fifth.ChunkLength+100])
	for _, want := range []string{fmt.Sprintf("messages:  %d\n", n), fmt.Sprintf("(1) robot/imu  %d msgs", n),
		"summary:   none (a recording cut short?)"} {
		if code != exitOK || n < 100 || !strings.Contains(out, want) {
			t.Errorf("cut short: exit %d, lacks %q:\n%s", code, want, out)
		}
	}
	changed := bytes.Clone(whole)
	changed[bytes.Index(changed, bytes.Repeat([]byte{100}, 500))+250] ^= 1
	code, out, errOut := info(changed)
	if code != exitFailure || !strings.Contains(out, "verified:  no") || !strings.Contains(errOut, "CRC mismatch: the chunk at offset") {
		t.Fatalf("a changed byte: exit %d:\n%s%s", code, out, errOut)
	}
}

// --track NAME:mcap=FILE[:TOPIC] takes the topic's type and schema from
// the file, and refuses, before anything connects, a file of several
// topics without one named, a topic not in it, a missing file, and
// --encoding or --schema for the track.
func TestMCAPTrackFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "two.mcap")
	w, err := record.Create(file, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	typ := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON},
		Schema: schema.ID{Name: "a", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}}
	for _, tr := range []*record.Track{{SID: "DTR_a", Name: "a", Identity: "robot", Type: typ, SchemaDef: []byte(`{}`)}, {SID: "DTR_b", Name: "b", Identity: "robot"}} {
		if err := w.Write(tr, record.Frame{Arrival: time.Now(), Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"--headless", "--track", "x:mcap=" + file + ":robot/a"}, env(nil))
	if err != nil || len(o.Tracks) != 1 || o.Tracks[0].Type != typ || string(o.Tracks[0].SchemaDef) != `{}` ||
		!o.Tracks[0].Source.Recording || o.Tracks[0].Source.Topic != "robot/a" || o.Tracks[0].Source.ValidateJSON {
		t.Fatalf("%+v %v", o.Tracks, err)
	}
	for want, args := range map[string][]string{
		"2 topics (robot/a, robot/b): name one":                    {"--track", "x:mcap=" + file},
		`no messages on topic "robot/c"`:                           {"--track", "x:mcap=" + file + ":robot/c"},
		"no such file":                                             {"--track", "x:mcap=/nonexistent.mcap"},
		"the track plays a recording, with its channel's encoding": {"--track", "x:mcap=" + file + ":robot/b", "--encoding", "x=json"},
	} {
		_, err := parseFlags(append([]string{"--headless"}, args...), env(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want %q", args, err, want)
		}
	}
}
