package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dttui/dttui/load"
)

func TestParseLoadFlags(t *testing.T) {
	remote := env(map[string]string{"LIVEKIT_URL": "wss://x.example", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"})
	o, err := parseFlags([]string{"--participants", "4", "--subscribers", "0", "--ramp", "2.5", "--track", "a:10:1k"}, remote)
	if err != nil {
		t.Fatal(err)
	}
	if o.Participants != 4 || o.Subscribers != 0 || o.Ramp != 2.5 || !o.Headless {
		t.Fatalf("%+v", o)
	}
	o, err = parseFlags([]string{"--participants", "1", "--track", "a"}, env(nil))
	if err != nil || o.Subscribers != defaultLoadSubscribers || o.Ramp != load.DefaultRamp {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		env  func(string) string
		want string
	}{
		{[]string{"--participants", "0", "--track", "a"}, env(nil), "--participants \"0\""},
		{[]string{"--participants", "x", "--track", "a"}, env(nil), "--participants \"x\""},
		{[]string{"--participants", "2", "--subscribers", "-1", "--track", "a"}, env(nil), "--subscribers"},
		{[]string{"--participants", "2", "--ramp", "0", "--track", "a"}, env(nil), "--ramp"},
		{[]string{"--subscribers", "2", "--track", "a"}, env(nil), "add --participants"},
		{[]string{"--participants", "2"}, env(nil), "give the tracks"},
		{[]string{"--participants", "2", "--track", "a", "--token", "t", "--url", "wss://x.example"}, env(nil), "mints a token per participant"},
		{[]string{"--participants", "2", "--track", "a:stdin"}, env(nil), "probe frames only"},
		{[]string{"--participants", "2", "--track", "a", "--encoding", "a=json"}, env(nil), "probe frames only"},
		{[]string{"--participants", "2", "--track", "a", "--metrics-addr", "127.0.0.1:0"}, env(nil), "--metrics-addr"},
		{[]string{"--participants", "2", "--track", "a", "--loopback=false"}, env(nil), "--loopback and --monitor"},
		{[]string{"--participants", "2", "--track", "a", "--subscribe-only"}, env(nil), "--subscribe-only"},
	} {
		_, err := parseFlags(tc.args, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.args, err, tc.want)
		}
	}
}

// A load run from the command line against the embedded SFU: JSON lines
// on stdout, the summary table on stderr; `dttui summary` merges two such
// outputs into one table.
func TestLoadModeAndSummary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded SFU")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	var out bytes.Buffer
	var errOut lockedBuffer
	code := run(context.Background(), []string{"--participants", "2", "--subscribers", "1", "--ramp", "20", "--track", "a:40:1k",
		"--track", "b:0", "--local-port", "0", "--duration", "4s"}, env(nil), stdio{out: &out, err: &errOut})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"TRACK", "/a", "/b", "TOTAL (4 tracks)", "2/2 publishers and 1/1 subscribers connected to the end"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	sum, err := load.ReadSummary(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	tot := sum.Totals()
	if tot.Tracks != 4 || tot.Published != 4 || tot.Sent == 0 || tot.Delivered+tot.Lost != tot.Sent {
		t.Fatalf("totals %+v", tot)
	}

	// A second machine's run: the same, under its own identity prefix.
	dir := t.TempDir()
	f1, f2 := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	prefix, _, _ := strings.Cut(sum.Participants[0].Identity, "-sub-")
	prefix, _, _ = strings.Cut(prefix, "-pub-")
	if sum.RunID == "" {
		t.Fatal("the final line has no run_id")
	}
	other := bytes.ReplaceAll(out.Bytes(), []byte(`"`+prefix+"-"), []byte(`"`+prefix+"x-"))
	other = bytes.ReplaceAll(other, []byte(`"run_id":"`+sum.RunID+`"`), []byte(`"run_id":"`+sum.RunID+`x"`))
	for f, b := range map[string][]byte{f1: out.Bytes(), f2: other} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var twice bytes.Buffer
	if code := run(context.Background(), []string{"summary", f1, f1}, env(nil), stdio{out: &twice, err: &twice}); code != exitUsage ||
		!strings.Contains(twice.String(), "the same file given twice?") {
		t.Errorf("one run twice: exit %d: %s", code, twice.String())
	}
	var table, serr bytes.Buffer
	if code := run(context.Background(), []string{"summary", f1, f2}, env(nil), stdio{out: &table, err: &serr}); code != exitOK {
		t.Fatalf("summary: exit %d: %s", code, serr.String())
	}
	if !strings.Contains(table.String(), "TOTAL (8 tracks)") || !strings.Contains(table.String(), " in 2 runs: 4/4 publishers") {
		t.Errorf("merged table:\n%s", table.String())
	}
	var bad bytes.Buffer
	if code := run(context.Background(), []string{"summary", filepath.Join(dir, "missing")}, env(nil), stdio{out: &bad, err: &bad}); code != exitUsage {
		t.Errorf("missing file: exit %d", code)
	}
	b, _ := json.Marshal(map[string]any{"tracks": []any{}})
	_ = os.WriteFile(f1, b, 0o600)
	bad.Reset()
	if code := run(context.Background(), []string{"summary", f1}, env(nil), stdio{out: &bad, err: &bad}); code != exitUsage || !strings.Contains(bad.String(), "no load-mode summary") {
		t.Errorf("a headless file: exit %d: %s", code, bad.String())
	}
}

// The exit status of a load run and its one line on stderr: nobody
// connected is 1, a participant or track that did not make it is 3 (its
// count said in words), a closed stdout is a stop, not a failure.
func TestLoadExitStatus(t *testing.T) {
	up := load.ParticipantState{Identity: "p0", Connected: true, State: "connected"}
	down := load.ParticipantState{Identity: "p1", Error: "refused"}
	ok := load.TrackSummary{Participant: "p0", Track: "a", Published: true}
	for _, tc := range []struct {
		sum  load.Summary
		err  error
		code int
		line string
	}{
		{load.Summary{Participants: []load.ParticipantState{up}, Tracks: []load.TrackSummary{ok}}, nil, exitOK, ""},
		{load.Summary{Participants: []load.ParticipantState{up}}, syscall.EPIPE, exitOK, ""},
		{load.Summary{Participants: []load.ParticipantState{down}}, nil, exitFailure, "dttui: no participant could connect\n"},
		{load.Summary{Participants: []load.ParticipantState{up, down}, Tracks: []load.TrackSummary{ok}}, nil, exitTracks, "dttui: 1 problem (above)\n"},
		{load.Summary{Participants: []load.ParticipantState{up, down}, Tracks: []load.TrackSummary{{Participant: "p0", Track: "b", Error: "timeout"}}},
			nil, exitTracks, "dttui: 2 problems (above)\n"},
	} {
		var errOut bytes.Buffer
		if code := loadExitStatus(tc.sum, tc.err, &errOut); code != tc.code || errOut.String() != tc.line {
			t.Errorf("problems %q, err %v: exit %d, stderr %q; want %d, %q", tc.sum.Problems(), tc.err, code, errOut.String(), tc.code, tc.line)
		}
	}
}
