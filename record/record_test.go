package record

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"github.com/dttui/dttui/schema"
)

var t0 = time.Unix(1_800_000_000, 0)

func tracks() []*Track {
	return []*Track{
		{SID: "DTR_pose", Name: "pose", Identity: "robot", Handle: 7,
			Type:      schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON}, Schema: schema.ID{Name: "pose", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}},
			SchemaDef: []byte(`{"type":"object"}`)},
		{SID: "DTR_probe", Name: "probe", Identity: "dttui", Handle: 1, E2EE: true},
		{SID: "DTR_blob", Name: "blob", Identity: "robot", Handle: 9, Type: schema.Decl{Frame: schema.FrameEncoding{Custom: "my-enc"}}},
	}
}

type sent struct {
	track   *Track
	payload []byte
	logTime uint64
	pub     uint64
}

// frameOf is the i-th frame: distinct, of varied size, random bytes
// (so the file's size follows what is written).
func frameOf(i int) []byte {
	b := make([]byte, 1+(i*37)%3000)
	x := uint64(i)*0x9E3779B97F4A7C15 + 1
	for j := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[j] = byte(x)
	}
	return b
}

func writeFrames(t *testing.T, w *Writer, n int) []sent {
	t.Helper()
	ts := tracks()
	var out []sent
	for i := range n {
		tr := ts[i%len(ts)]
		f := Frame{Arrival: t0.Add(time.Duration(i) * time.Millisecond), Payload: frameOf(i)}
		pub := uint64(f.Arrival.UnixNano())
		if i%2 == 0 {
			f.HasUserTimestamp, f.UserTimestamp = true, uint64(t0.UnixMilli())+uint64(i)-3
			pub = f.UserTimestamp * 1e6
		}
		if err := w.Write(tr, f); err != nil {
			t.Fatal(err)
		}
		out = append(out, sent{tr, f.Payload, uint64(f.Arrival.UnixNano()), pub})
	}
	return out
}

type got struct {
	ch  Channel
	msg mcap.Message
}

func readAll(t *testing.T, read func(string, ReadFunc) error, path string) []got {
	t.Helper()
	var out []got
	err := read(path, func(ch *Channel, m *mcap.Message) error {
		c := *m
		c.Data = bytes.Clone(m.Data)
		out = append(out, got{*ch, c})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func checkSame(t *testing.T, want []sent, have []got) {
	t.Helper()
	if len(have) != len(want) {
		t.Fatalf("read %d messages, wrote %d", len(have), len(want))
	}
	seq := map[string]uint32{}
	for i, w := range want {
		h := have[i]
		if !bytes.Equal(h.msg.Data, w.payload) {
			t.Fatalf("message %d: payload differs", i)
		}
		if h.msg.LogTime != w.logTime || h.msg.PublishTime != w.pub {
			t.Fatalf("message %d: times %d/%d, want %d/%d", i, h.msg.LogTime, h.msg.PublishTime, w.logTime, w.pub)
		}
		seq[w.track.SID]++
		if h.msg.Sequence != seq[w.track.SID] {
			t.Fatalf("message %d: sequence %d, want %d", i, h.msg.Sequence, seq[w.track.SID])
		}
		tr := h.ch.Track
		if h.ch.Topic != w.track.Identity+"/"+w.track.Name || tr.SID != w.track.SID || tr.Name != w.track.Name ||
			tr.Identity != w.track.Identity || tr.Handle != w.track.Handle || tr.E2EE != w.track.E2EE ||
			tr.Type != w.track.Type || !bytes.Equal(tr.SchemaDef, w.track.SchemaDef) {
			t.Fatalf("message %d: channel %+v, want track %+v", i, h.ch, *w.track)
		}
	}
}

// Every frame reads back byte-exact, with its times, sequence, channel
// metadata, encoding and schema, through the index and without it, in
// each compression; the summary counts them.
func TestRoundTrip(t *testing.T) {
	for _, c := range []Compression{ZSTD, LZ4, None} {
		t.Run(string(c), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "room.mcap")
			w, err := Create(path, Options{Compression: c, ChunkSize: 16 << 10})
			if err != nil {
				t.Fatal(err)
			}
			want := writeFrames(t, w, 600)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			checkSame(t, want, readAll(t, ReadIndexed, path))
			checkSame(t, want, readAll(t, Read, path))

			s, err := Summarize(path)
			if err != nil {
				t.Fatal(err)
			}
			if s.Messages != 600 || len(s.Channels) != 3 || len(s.Schemas) != 1 || !strings.HasSuffix(s.Library, "dttui") {
				t.Fatalf("summary %+v", s)
			}
			for _, ch := range s.Channels {
				if ch.Messages != 200 {
					t.Errorf("channel %s: %d messages, want 200", ch.Topic, ch.Messages)
				}
			}
			if enc := []string{s.Channels[0].MessageEncoding, s.Channels[1].MessageEncoding, s.Channels[2].MessageEncoding}; enc[0] != "json" || enc[1] != UntypedEncoding || enc[2] != "my-enc" {
				t.Errorf("encodings %q", enc)
			}
			if sc := s.Schemas[0]; sc.Name != "pose" || sc.Encoding != "jsonschema" || sc.Size != len(`{"type":"object"}`) {
				t.Errorf("schema %+v", sc)
			}
			if len(s.Chunks) != 1 || s.Chunks[0].Chunks < 10 || s.Chunks[0].Compression != map[Compression]string{ZSTD: "zstd", LZ4: "lz4", None: ""}[c] {
				t.Errorf("chunks %+v", s.Chunks)
			}
			if s.Duration() != 599*time.Millisecond {
				t.Errorf("duration %s", s.Duration())
			}
		})
	}
}

// Rotation by size and by arrival time: each file is whole (indexed,
// with its own channels and schema), and together they hold every frame.
func TestRotation(t *testing.T) {
	for _, o := range []Options{{RotateSize: 64 << 10, ChunkSize: 8 << 10}, {RotateEvery: 100 * time.Millisecond}} {
		t.Run(fmt.Sprintf("size=%d,every=%s", o.RotateSize, o.RotateEvery), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "room.mcap")
			w, err := Create(path, o)
			if err != nil {
				t.Fatal(err)
			}
			want := writeFrames(t, w, 600)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			files := w.Files()
			if len(files) < 3 || files[0] != path || files[1] != filepath.Join(filepath.Dir(path), "room-001.mcap") {
				t.Fatalf("files %q", files)
			}
			var all []got
			for _, f := range files {
				if _, err := Summarize(f); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				all = append(all, readAll(t, ReadIndexed, f)...)
			}
			// Sequences restart per file: compare all but them.
			for i := range all {
				all[i].msg.Sequence = 0
			}
			for i := range want {
				if !bytes.Equal(all[i].msg.Data, want[i].payload) || all[i].ch.Track.SID != want[i].track.SID {
					t.Fatalf("frame %d differs", i)
				}
			}
			if len(all) != len(want) {
				t.Fatalf("%d frames in the files, wrote %d", len(all), len(want))
			}
			if o.RotateEvery > 0 && len(files) != 6 {
				t.Errorf("%d files for 600 ms in 100 ms each", len(files))
			}
		})
	}
}

// A file cut inside a chunk keeps every chunk before the cut: Read (the
// lexer, no index) returns a prefix of what was written, byte-exact; the
// indexed reader refuses it.
func TestTruncatedMidChunk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "room.mcap")
	w, err := Create(path, Options{ChunkSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	want := writeFrames(t, w, 600)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{len(full) / 3, len(full) / 2, len(full) - 100} {
		p := filepath.Join(t.TempDir(), "cut.mcap")
		if err := os.WriteFile(p, full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Summarize(p); err == nil {
			t.Errorf("cut at %d: a summary read from a file without one", cut)
		}
		if err := ReadIndexed(p, func(*Channel, *mcap.Message) error { return nil }); err == nil {
			t.Errorf("cut at %d: read through an index it does not have", cut)
		}
		have := readAll(t, Read, p)
		if len(have) == 0 || len(have) > len(want) {
			t.Fatalf("cut at %d of %d: %d messages", cut, len(full), len(have))
		}
		checkSame(t, want[:len(have)], have)
	}
}

// killChildEnv makes the test binary a recorder that writes forever.
const killChildEnv = "RECORD_TEST_KILL_CHILD"

// A recorder killed with SIGKILL while writing leaves a file whose
// complete chunks read back byte-exact.
func TestKilledRecorder(t *testing.T) {
	if p := os.Getenv(killChildEnv); p != "" {
		w, err := Create(p, Options{ChunkSize: 16 << 10})
		if err != nil {
			os.Exit(3)
		}
		for i := 0; ; i++ {
			tr := tracks()[i%3]
			if err := w.Write(tr, Frame{Arrival: t0.Add(time.Duration(i) * time.Millisecond), Payload: frameOf(i)}); err != nil {
				os.Exit(4)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "killed.mcap")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledRecorder$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once a few chunks are on disk.
	deadline := time.Now().Add(20 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err == nil && fi.Size() > 200<<10 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the recorder wrote nothing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	have := readAll(t, Read, path)
	if len(have) < 100 {
		t.Fatalf("%d messages left", len(have))
	}
	for i, h := range have {
		if !bytes.Equal(h.msg.Data, frameOf(i)) || h.ch.Track.SID != tracks()[i%3].SID || h.msg.Sequence != uint32(i/3+1) {
			t.Fatalf("message %d differs (seq %d)", i, h.msg.Sequence)
		}
	}
	t.Logf("%d messages read back after SIGKILL", len(have))
}

func TestParseCompression(t *testing.T) {
	for s, want := range map[string]Compression{"zstd": ZSTD, "LZ4": LZ4, "none": None} {
		if c, err := ParseCompression(s); err != nil || c != want {
			t.Errorf("%s: %v %v", s, c, err)
		}
	}
	if _, err := ParseCompression("gzip"); err == nil {
		t.Error("gzip accepted")
	}
}
