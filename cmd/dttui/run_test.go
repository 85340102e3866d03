package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

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
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	// stderr is shared with pion goroutines that may still log a warning
	// while the test reads it, so it is locked.
	var out bytes.Buffer
	var errOut lockedBuffer
	code := run([]string{"--headless", "--local-port", "0", "--duration", "2500ms", "--track", "wired:100:512"}, env(nil), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "embedded SFU at ws://127.0.0.1:") || !strings.Contains(errOut.String(), "local-sfu.env") {
		t.Fatalf("no connect hint on stderr: %q", errOut.String())
	}
	env, err := os.ReadFile(filepath.Join(cache, "dttui", "local-sfu.env"))
	if err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`LIVEKIT_API_SECRET=(\S+)`).FindStringSubmatch(string(env))
	if secret == nil || strings.Contains(errOut.String()+out.String(), secret[1]) {
		t.Fatal("the embedded SFU's secret is missing from its env file or printed")
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
