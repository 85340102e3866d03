package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestRunHelpAndBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--help"}, env(nil), &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "-track") {
		t.Fatalf("--help: exit %d\n%s", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"--track", "x:fast"}, env(nil), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "rate") {
		t.Fatalf("bad flag: exit %d %q", code, errOut.String())
	}
}

// The whole wiring, headless: flags → embedded SFU → session → JSON lines.
func TestRunHeadlessAgainstEmbeddedSFU(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded SFU")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	var out, errOut bytes.Buffer
	code := run([]string{"--headless", "--local-port", "0", "--duration", "2500ms", "--track", "wired:100:512"}, env(nil), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var last map[string]any
	sc := bufio.NewScanner(&out)
	n := 0
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("line %d not JSON: %q", n, sc.Text())
		}
		n++
	}
	if n < 2 || last["final"] != true {
		t.Fatalf("%d lines, last %v", n, last)
	}
	tracks := last["tracks"].([]any)
	tr := tracks[0].(map[string]any)
	if tr["name"] != "wired" || tr["sent"].(float64) < 100 || tr["pushed"] != tr["sent"] {
		t.Fatalf("track %v", tr)
	}
	if rx, ok := tr["rx"].(map[string]any); !ok || rx["frames"].(float64) == 0 {
		t.Fatalf("loopback saw nothing: %v", tr["rx"])
	}
}
