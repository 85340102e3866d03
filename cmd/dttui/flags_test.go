package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
	"github.com/dttui/dttui/source"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseFlagsEnvironmentAndTracks(t *testing.T) {
	o, err := parseFlags([]string{"--track", "a", "--track", "b:100:2k", "--track", "c:0", "--track", "d:100000:4m", "--track", "e:1:20",
		"--track", "f:1.5k:1KiB", "--track", "g:2:1.5 KiB", "--track", "h:3:2MiB", "--track", "i:4:512B", "--track", "日本:5"},
		env(map[string]string{"LIVEKIT_URL": "wss://x.example", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"}))
	if err != nil {
		t.Fatal(err)
	}
	if o.URL != "wss://x.example" || o.APIKey != "k" || o.APISecret != "s" {
		t.Fatalf("env not read: %+v", o)
	}
	type nrs struct {
		name string
		rate float64
		size int
	}
	want := []nrs{{"a", defaultTrackRate, defaultTrackSize}, {"b", 100, 2048}, {"c", 0, defaultTrackSize}, {"d", 100000, 4 << 20},
		{"e", 1, 20}, {"f", 1500, 1024}, {"g", 2, 1536}, {"h", 3, 2 << 20}, {"i", 4, 512}, {"日本", 5, defaultTrackSize}}
	if len(o.Tracks) != len(want) {
		t.Fatalf("tracks = %+v", o.Tracks)
	}
	for i, w := range want {
		if got := o.Tracks[i]; (nrs{got.Name, got.Rate, got.Size}) != w || got.Source != nil || !got.Type.Frame.IsZero() {
			t.Fatalf("track %d = %+v, want %+v", i, o.Tracks[i], w)
		}
	}
	if o.PublishTimeout != defaultPublishTimeout || !o.Loopback || o.LocalPort != defaultLocalPort || o.LocalPortSet {
		t.Fatalf("defaults: %+v", o)
	}
}

// Every bad value is an error at parse time that names the flag and what
// is wrong; none is replaced by something else. On main, NaN, duplicate
// names, control characters, invalid UTF-8, a zero publish timeout and
// port 70000 were all accepted, and huge sizes were "not a positive number".
func TestParseFlagsRejectsBadInput(t *testing.T) {
	long := strings.Repeat("x", 257)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--track", "x:fast"}, nil, `rate "fast" is not a number`},
		{[]string{"--track", "x:NaN"}, nil, `rate "NaN" is not a number`},
		{[]string{"--track", "x:-1"}, nil, "rate"},
		{[]string{"--track", "x:+Inf"}, nil, "above the generator's maximum"},
		{[]string{"--track", ":1:1"}, nil, "name is empty"},
		{[]string{"--track", long}, nil, "name is too long: 257 bytes, at most 256"},
		{[]string{"--track", "a\xff\xfe"}, nil, `name is not valid UTF-8 (a\xff\xfe)`},
		{[]string{"--track", "head\x1b[2J"}, nil, `control character: \x1b at byte 4`},
		{[]string{"--track", "a:1", "--track", "a:2"}, nil, `a track named "a" is already given`},
		{[]string{"--track", "x:1:0"}, nil, "below the smallest probe frame"},
		{[]string{"--track", "x:200000"}, nil, "above the generator's maximum of 100000 frames/s"},
		{[]string{"--track", "x:10:8m"}, nil, "above the largest probe frame"},
		{[]string{"--track", "x:10:10"}, nil, "below the smallest probe frame, 20 bytes"},
		{[]string{"--track", "x:10:99999999999m"}, nil, "above the largest probe frame"},
		{[]string{"--track", "x:10:99999999999999999999999999"}, nil, "above the largest probe frame"},
		{[]string{"--track", "x:10:1KB"}, nil, `unknown unit "KB"`},
		{[]string{"--track", "x:10:1.0001k"}, nil, "not a whole number of bytes"},
		{[]string{"--track", "a:1:2:3"}, nil, "want name[:rate[:size]]"},
		{[]string{"--publish-timeout", "0"}, nil, "--publish-timeout 0s: must be positive"},
		{[]string{"--publish-timeout", "-1s"}, nil, "must be positive"},
		{[]string{"--publish-timeout", "soon"}, nil, "not a duration"},
		{[]string{"--local-port", "70000"}, nil, "not a port number (0–65535"},
		{[]string{"--local-port", "-1"}, nil, "not a port number"},
		{[]string{"--local-port", "99999999999999999999"}, nil, "not a port number"},
		{[]string{"--url", "ftp://x"}, nil, "want ws://"},
		{[]string{"--url", "ws://x"}, nil, "--token"},
		{[]string{"--url", "ws://user:Pw@exa mple:7880", "--token", "t"}, nil, `"ws://exa mple:7880": not a URL`},
		{[]string{"--url", "ws://user:Pw@example:7880", "--token", "t"}, nil, "must not carry a user name or password"},
		{[]string{"--url", "ws://x", "--local"}, nil, "--local and --url contradict"},
		{[]string{"--token", "t"}, nil, "--token needs --url"},
		{[]string{"--local", "--token", "t"}, map[string]string{"LIVEKIT_URL": "ws://x"}, "--token is for a remote server"},
		{[]string{"--url", "ws://x", "--local-port", "1"}, map[string]string{"LIVEKIT_TOKEN": "t"}, "--local-port is for the embedded SFU"},
		{[]string{"--url", "ws://x", "--token", "t", "--loopback"}, nil, "--loopback needs --api-key and --api-secret"},
		{[]string{"--api-secret", "short"}, nil, "at least 32 characters"},
		{nil, map[string]string{envLocalAPISecret: "short"}, "at least 32 characters"},
		{[]string{"--room", "a\nb"}, nil, `--room: name contains a control character: \n`},
		{[]string{"--api-key", "k\x1b[2J"}, nil, `--api-key (or LIVEKIT_API_KEY, DTTUI_LOCAL_API_KEY): name contains a control character: \x1b`},
		{nil, map[string]string{"LIVEKIT_URL": "ws://x", "LIVEKIT_API_KEY": "k\u009b", "LIVEKIT_API_SECRET": "s"}, `LIVEKIT_API_KEY, DTTUI_LOCAL_API_KEY): name contains a control character`},
		{[]string{"--duration", "1s"}, nil, "--headless"},
		{[]string{"--headless", "--duration", "-1s"}, nil, "must be positive"},
		{[]string{"--e2ee-passphrase", "a", "--e2ee-passphrase-file", "f"}, nil, "give one"},
		{[]string{"--e2ee-passphrase", ""}, nil, "--e2ee-passphrase is empty"},
		{[]string{"--e2ee-passphrase-file", "/nonexistent/pass"}, nil, "no such file"},
		{[]string{"stray"}, nil, "unexpected argument"},
		{[]string{"--nope"}, nil, "unknown flag --nope"},
		{[]string{"-nope=1"}, nil, "unknown flag -nope"}, // as typed
		{[]string{"-x"}, nil, "unknown flag -x"},
		// A value that looks like a flag is a value forgotten, not a track
		// named --verbose; = passes it on purpose, a negative number is one.
		{[]string{"--track", "--verbose"}, nil, "--track needs a value, and --verbose is a flag (--track=--verbose if that is the value)"},
		{[]string{"--room", "-r"}, nil, "--room needs a value, and -r is a flag"},
		{[]string{"--track", "a", "--track"}, nil, "--track needs a value: name[:rate[:size]]"},
		{[]string{"--loopback=maybe"}, nil, "--loopback=maybe: want true or false"},
	} {
		_, err := parseFlags(tc.args, env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to mention %q", tc.args, err, tc.want)
		}
		var ue usageError
		if err != nil && !errors.As(err, &ue) {
			t.Errorf("%q: %T is not a usage error", tc.args, err)
		}
		if err != nil && strings.Contains(err.Error(), "Pw") {
			t.Errorf("%q: the URL's password is in the error: %v", tc.args, err)
		}
	}
}

func TestNoURLMeansLocalSFU(t *testing.T) {
	o, err := parseFlags(nil, env(map[string]string{"LIVEKIT_API_KEY": "remote", "LIVEKIT_API_SECRET": "remote"}))
	if err != nil || o.URL != "" || o.APIKey != "" || o.APISecret != "" {
		t.Fatalf("no flags: %+v %v", o, err)
	}
	if len(o.Notices) != 1 || !strings.Contains(o.Notices[0], envLocalAPISecret) {
		t.Fatalf("the remote keys were dropped without a word: %q", o.Notices)
	}
	o, err = parseFlags([]string{"--local"}, env(map[string]string{"LIVEKIT_URL": "ws://remote", "LIVEKIT_TOKEN": "t"}))
	if err != nil || o.URL != "" || o.Token != "" {
		t.Fatalf("--local: %+v %v", o, err)
	}
}

// Secrets need not be flags (visible in ps): the passphrase comes from
// the environment or a file, the embedded SFU's keys from the environment.
func TestSecretsFromEnvironmentAndFile(t *testing.T) {
	secret := strings.Repeat("z", 32)
	o, err := parseFlags(nil, env(map[string]string{envPassphrase: "from env", envLocalAPIKey: "mykey", envLocalAPISecret: secret}))
	if err != nil || o.E2EEPassphrase != "from env" || o.APIKey != "mykey" || o.APISecret != secret {
		t.Fatalf("%+v %v", o, err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "pass")
	if err := os.WriteFile(path, []byte("from file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err = parseFlags([]string{"--e2ee-passphrase-file", path}, env(map[string]string{envPassphrase: "env loses"}))
	if err != nil || o.E2EEPassphrase != "from file" || len(o.Notices) != 0 {
		t.Fatalf("%+v %v", o, err)
	}
	o, err = parseFlags([]string{"--e2ee-passphrase", "flag wins"}, env(map[string]string{envPassphrase: "env loses"}))
	if err != nil || o.E2EEPassphrase != "flag wins" {
		t.Fatalf("%+v %v", o, err)
	}
	if err := os.WriteFile(path, []byte("\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parseFlags([]string{"--e2ee-passphrase-file", path}, env(nil)); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty file: %v", err)
	}
	if err := os.WriteFile(path, []byte("p"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := parseFlags([]string{"--e2ee-passphrase-file", path}, env(nil)); err != nil || len(o.Notices) != 1 || !strings.Contains(o.Notices[0], "chmod 600") {
		t.Fatalf("a readable passphrase file passed without a word: %+v %v", o.Notices, err)
	}
}

// A bad command line is one line on stderr, with the dttui: prefix and a
// hint (on main: the flag package's message and the 40-line usage, twice).
func TestBadFlagsPrintOneLine(t *testing.T) {
	for _, args := range [][]string{{"--track", "x:fast"}, {"--nope"}, {"--local-port", "70000"}, {"--track", "a\x1b[2J"}} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, env(nil), stdio{out: &out, err: &errOut})
		lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
		if code != exitUsage || out.Len() != 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "dttui: ") ||
			!strings.HasSuffix(lines[0], "; see dttui --help") || strings.ContainsRune(errOut.String(), 0x1b) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out.String(), errOut.String())
		}
	}
}

func TestHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, env(nil), stdio{out: &out, err: &errOut}); code != exitOK || errOut.Len() != 0 {
		t.Fatalf("--help: exit %d, stderr %q", code, errOut.String())
	}
	h := out.String()
	for _, want := range []string{"  --track name[:rate[:size]]\n", "Examples:", "dttui --headless --duration 10s", "Environment",
		envPassphrase, envLocalAPISecret, "LIVEKIT_TOKEN", "Exit status:", "  3  --headless", "README", "press ?", "--e2ee-passphrase-file file"} {
		if !strings.Contains(h, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	for _, l := range strings.Split(h, "\n") {
		if strings.HasPrefix(l, "  -") && !strings.HasPrefix(l, "  --") && !strings.HasPrefix(l, "  -h, --help") {
			t.Errorf("single-dash flag in --help: %q", l)
		}
	}
}

// Every flag is in exactly one group of --help.
func TestHelpListsEveryFlagOnce(t *testing.T) {
	var o options
	fs := newFlagSet(&o).set
	count := map[string]int{}
	for _, g := range helpGroups {
		for _, n := range g.flags {
			if fs.Lookup(n) == nil {
				t.Errorf("--help lists %q, which is no flag", n)
			}
			count[n]++
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if count[f.Name] != 1 {
			t.Errorf("--%s is in %d groups of --help", f.Name, count[f.Name])
		}
	})
}

// The flag table (docs/flags.md) names every flag, the table's drop-reason
// list (docs/ui.md) every reason, and --help's --track text the
// data-source forms.
func TestDocsAndHelpNameEveryFlag(t *testing.T) {
	flags, err := os.ReadFile("../../docs/flags.md")
	if err != nil {
		t.Fatal(err)
	}
	ui, err := os.ReadFile("../../docs/ui.md")
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	for _, l := range strings.Split(string(flags), "\n") {
		if strings.HasPrefix(l, "| `--") {
			table.WriteString(l + "\n")
		}
	}
	var o options
	newFlagSet(&o).set.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(table.String(), "`--"+f.Name+"`") && !strings.Contains(table.String(), "`--"+f.Name+" ") {
			t.Errorf("docs/flags.md's table lacks --%s", f.Name)
		}
	})
	prose := strings.ReplaceAll(string(ui), "\n", " ")
	for r := range outgoing.NumDropReasons {
		if name := outgoing.DropReason(r).String(); !strings.Contains(prose, ": "+name+",") && !strings.Contains(prose, ", "+name+",") && !strings.Contains(prose, ", "+name+")") {
			t.Errorf("docs/ui.md's drop-reason list lacks %q", name)
		}
	}
	var out bytes.Buffer
	run(context.Background(), []string{"--help"}, env(nil), stdio{out: &out, err: &out})
	for _, want := range []string{"name:stdin[:rate]", "name:file=PATH[:rate]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help's --track lacks %q", want)
		}
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--version"}, env(nil), stdio{out: &out, err: &out}); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"dttui ", "built with go", "github.com/livekit/livekit-server v1.13.5", "github.com/livekit/protocol v",
		"github.com/livekit/server-sdk-go/v2 v", "github.com/pion/webrtc/v4 v4.2.", "github.com/pion/sctp v"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--version lacks %q:\n%s", want, out.String())
		}
	}
}

// version and help are commands as summary is (dttui version, dttui
// help), the same as --version and --help.
func TestVersionAndHelpCommands(t *testing.T) {
	for _, c := range [][2]string{{"version", "--version"}, {"help", "--help"}} {
		var cmd, flg bytes.Buffer
		if code := run(context.Background(), []string{c[0]}, env(nil), stdio{out: &cmd, err: &cmd}); code != exitOK {
			t.Fatalf("dttui %s: exit %d: %s", c[0], code, cmd.String())
		}
		run(context.Background(), []string{c[1]}, env(nil), stdio{out: &flg, err: &flg})
		if cmd.Len() == 0 || cmd.String() != flg.String() {
			t.Fatalf("dttui %s differs from dttui %s:\n%s", c[0], c[1], cmd.String())
		}
	}
}

// A stamped build shows its revision, time and whether it was modified.
func TestVersionFormat(t *testing.T) {
	var out bytes.Buffer
	writeVersion(&out, &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-08-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}},
		Deps: []*debug.Module{{Path: "github.com/pion/webrtc/v4", Version: "v4.2.19"}, {Path: "github.com/pion/webrtcx", Version: "v9"},
			{Path: "github.com/livekit/livekit-server", Version: "v1.13.5", Replace: &debug.Module{Path: "github.com/fork/livekit-server", Version: "v1.13.6"}}}})
	want := "dttui v1.2.3 (revision abc123, 2026-08-01T10:00:00Z, modified)\nbuilt with go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH +
		"\ngithub.com/pion/webrtc/v4 v4.2.19\ngithub.com/fork/livekit-server v1.13.6\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// The UI says at once that it needs a terminal (on main, it gave up after
// 5 s with "closing took longer than 5s").
func TestUINeedsTerminal(t *testing.T) {
	var out, errOut bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"--local-port", "0"}, env(nil), stdio{in: strings.NewReader(""), out: &out, err: &errOut})
	if code != exitUsage || time.Since(start) > time.Second ||
		errOut.String() != "dttui: the UI needs a terminal: stdout is not one; use --headless for JSON lines on stdout\n" {
		t.Fatalf("exit %d after %v: %q", code, time.Since(start), errOut.String())
	}
}

// Typed tracks, data sources and their options: read, checked against the
// --track list and the typed-track rules, before anything connects.
func TestParseTypedTracksAndSources(t *testing.T) {
	dir := t.TempDir()
	schemaFile := dir + "/pose.schema.json"
	if err := os.WriteFile(schemaFile, []byte(`{"type":"object"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	data := dir + "/records.bin"
	if err := os.WriteFile(data, []byte{0, 0, 0, 1, 'x'}, 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"--track", "pose:30:256", "--encoding", "pose=json", "--schema", "pose=jsonschema:" + schemaFile,
		"--track", "telemetry:stdin", "--encoding", "telemetry=cbor",
		"--track", "rec:file=" + data + ":50", "--framing", "rec=length-prefixed",
		"--track", "dir:file=" + dir, "--metrics-addr", "127.0.0.1:9464", "--max-queued-bytes", "64MiB", "--max-frame-age", "0",
		"--loss-grace", "5s"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	pose, tel, rec, dirT := o.Tracks[0], o.Tracks[1], o.Tracks[2], o.Tracks[3]
	if pose.Type.String() != "json, schema jsonschema:pose" || string(pose.SchemaDef) != `{"type":"object"}` || pose.Source != nil {
		t.Fatalf("pose %+v", pose)
	}
	if tel.Source == nil || tel.Source.Path != "-" || tel.Rate != 0 || tel.Type.Frame.WellKnown != schema.FrameCBOR {
		t.Fatalf("telemetry %+v", tel)
	}
	if rec.Source == nil || rec.Source.Path != data || rec.Rate != 50 || rec.Source.Framing != source.LengthPrefixed {
		t.Fatalf("rec %+v", rec)
	}
	if dirT.Source == nil || dirT.Source.Framing != source.Files {
		t.Fatalf("dir %+v", dirT)
	}
	if o.MetricsAddr != "127.0.0.1:9464" || o.MaxQueuedBytes != 64<<20 || o.MaxFrameAge >= 0 || o.LossGrace != 5*time.Second {
		t.Fatalf("options %+v", o)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--track", "p", "--encoding", "p=protobuf"}, "needs a schema"},
		{[]string{"--track", "p", "--encoding", "p=cbor", "--schema", "p=jsonschema:" + schemaFile}, "self-describing"},
		{[]string{"--track", "p", "--schema", "p=jsonschema:" + schemaFile}, "needs a frame encoding"},
		{[]string{"--track", "p", "--encoding", "q=json"}, `no --track named "q"`},
		{[]string{"--track", "p", "--encoding", "p=json", "--schema", "p=protobuf:" + schemaFile}, "not a protobuf FileDescriptorSet"},
		{[]string{"--track", "p", "--encoding", "p=json", "--schema", "p=jsonschema:" + data}, "not JSON"},
		{[]string{"--track", "p", "--encoding", "p=json", "--schema", "p=jsonschema:/no/such/file"}, "no such file"},
		{[]string{"--track", "a:stdin", "--track", "b:stdin"}, "only one track can read standard input"},
		{[]string{"--track", "a:file=/no/such/file"}, "no such file"},
		{[]string{"--track", "p", "--framing", "p=lines"}, "no data source"},
		{[]string{"--track", "a:stdin", "--framing", "a=chunks"}, "chunks need a size"},
		{[]string{"--track", "p", "--encoding", "p=" + strings.Repeat("c", 33)}, "custom frame encoding must be 1 to 32 bytes"},
		{[]string{"--subscribe-only", "--track", "p"}, "--subscribe-only publishes nothing"},
		{[]string{"--track", "p:10", "--encoding", "p=protobuf", "--schema", "p=protobuf:" + descFile(t)}, `no message "p" in the schema`},
		{[]string{"--track", "p:10", "--encoding", "p=flatbuffer", "--schema", "p=flatbuffer:" + schemaFile}, "the generator writes only JSON, CBOR or MessagePack documents, protobuf messages"},
		{[]string{"--track", "p:10", "--encoding", "p=mine"}, "send your data with --track p:file=PATH or p:stdin"},
		{[]string{"--max-queued-bytes", "0"}, "1 B to 1 TiB"},
		{[]string{"--max-frame-age", "-1s"}, "not a duration ≥ 0"},
		{[]string{"--loss-grace", "0s"}, "not a positive duration"},
	} {
		_, err := parseFlags(tc.args, env(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// A track whose frames LiveKit's JS and Rust subscribers would drop is
// run, with a notice saying so.
func TestNoticeForFramesOverTheSubscriberLimit(t *testing.T) {
	o, err := parseFlags([]string{"--track", "big:1:4MiB", "--track", "ok:1:1950KiB"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Notices) != 1 || !strings.Contains(o.Notices[0], "--track big: frames of 4194304 bytes take 263 packets") ||
		!strings.Contains(o.Notices[0], "more than 128 packets") {
		t.Fatalf("notices: %q", o.Notices)
	}
}

// descFile writes a valid FileDescriptorSet (google/protobuf/timestamp.proto).
func descFile(t *testing.T) string {
	t.Helper()
	b, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto)}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ts.pb")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A schema or passphrase file larger than its flag takes is refused after
// reading at most one byte past the limit: /dev/zero and a 256 MiB file
// cost kilobytes, not their size (on main they were read whole first).
func TestFilesReadWithALimit(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(256 << 20); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	for _, path := range []string{big, "/dev/zero"} {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--track", "p", "--encoding", "p=json", "--schema", "p=jsonschema:" + path}, "more than 64000 bytes"},
			{[]string{"--e2ee-passphrase-file", path}, "more than 65536 bytes"},
		} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := parseFlags(tc.args, env(nil))
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
				t.Errorf("%v: allocated %d bytes to refuse it", tc.args, n)
			}
		}
	}
}

// --mouse is the UI's; asked of a run with no screen, it is a usage error.
func TestMouseFlag(t *testing.T) {
	o, err := parseFlags([]string{"--mouse"}, env(nil))
	if err != nil || !o.Mouse {
		t.Fatalf("--mouse: %+v, %v", o.Mouse, err)
	}
	for _, args := range [][]string{{"--mouse", "--headless"}, {"--mouse", "--participants", "2", "--track", "t"}} {
		var ue usageError
		if _, err := parseFlags(args, env(nil)); !errors.As(err, &ue) || !strings.Contains(err.Error(), "--mouse is for the UI") {
			t.Fatalf("%v: %v", args, err)
		}
	}
}

// --schema-check and the generator against a schema: a schema that does
// not compile, or one the generator cannot write frames for, is a usage
// error (exit 2) before anything connects.
func TestSchemaCheckFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, def string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(def), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pose := write("pose.json", `{"type":"object","required":["x","y"],"properties":{"x":{"type":"number"},"y":{"type":"number"}}}`)
	pattern := write("pattern.json", `{"type":"object","required":["id"],"properties":{"id":{"type":"string","pattern":"^[0-9]+$"}}}`)
	bad := write("bad.json", `{"type":"nope"}`)
	remote := write("remote.json", `{"$ref":"file:///etc/hostname"}`)
	o, err := parseFlags([]string{"--track", "pose:10", "--encoding", "pose=json", "--schema", "pose=jsonschema:" + pose}, env(nil))
	if err != nil || o.SchemaCheck != validate.ModeWarn {
		t.Fatalf("default: %v %v", o.SchemaCheck, err)
	}
	o, err = parseFlags([]string{"--schema-check", "refuse", "--track", "pose:10", "--encoding", "pose=json", "--schema", "pose=jsonschema:" + pose}, env(nil))
	if err != nil || o.SchemaCheck != validate.ModeRefuse {
		t.Fatalf("refuse: %v %v", o.SchemaCheck, err)
	}
	// The generator writes a populated message on a protobuf track.
	if _, err := parseFlags([]string{"--track", "ts:10", "--encoding", "ts=protobuf", "--schema", "ts=protobuf:google.protobuf.Timestamp:" + descFile(t)}, env(nil)); err != nil {
		t.Fatalf("protobuf generator: %v", err)
	}
	// Idle, or fed from a file, a track's schema need not be one the generator can write.
	if _, err := parseFlags([]string{"--track", "p:0", "--encoding", "p=json", "--schema", "p=jsonschema:" + pattern}, env(nil)); err != nil {
		t.Fatalf("idle: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--schema-check", "strict"}, "want warn, refuse or off"},
		{[]string{"--track", "p:10", "--encoding", "p=json", "--schema", "p=jsonschema:" + pattern}, "cannot write frames that match"},
		{[]string{"--track", "p:0", "--encoding", "p=json", "--schema", "p=jsonschema:" + bad}, "does not compile"},
		{[]string{"--track", "p:0", "--encoding", "p=json", "--schema", "p=jsonschema:" + remote}, "refers to another document"},
	} {
		_, err := parseFlags(tc.args, env(nil))
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error with %q", tc.args, err, tc.want)
		}
	}
}
