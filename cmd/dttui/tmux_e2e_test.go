package main

import (
	"fmt"
	"github.com/dttui/dttui/internal/silent"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTUIEndToEndInTmux runs the real dttui binary in a tmux pane against
// the embedded SFU, publishes a track with keys, pushes frames, and reads
// the counters moving on screen.
func TestTUIEndToEndInTmux(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "dttui.log")
	cache := filepath.Join(dir, "cache")
	p := startPane(t, fmt.Sprintf("env XDG_CACHE_HOME=%s TERM=xterm-256color %s --local --local-port 0 --log-file %s; echo DTTUI-EXITED $?; sleep 60",
		cache, bin, logFile), logFile)
	tmux, waitFor, keys := p.tmux, p.waitFor, p.keys

	waitFor("the demo track streaming", 60*time.Second, func(s string) bool {
		return strings.Contains(s, "● connected") && strings.Contains(s, "demo") && strings.Contains(s, "published")
	})
	// The embedded SFU's secret is in its credentials file, 0600 in a
	// 0700 directory, while dttui runs.
	startLog, _ := os.ReadFile(logFile)
	m := regexp.MustCompile(`set -a; \. '([^']+)'; set \+a`).FindSubmatch(startLog)
	if m == nil {
		t.Fatalf("no credentials file in the log:\n%s", tail(string(startLog), 20))
	}
	envPath := string(m[1])
	env, err := os.ReadFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`LIVEKIT_API_SECRET='(\S+)'`).FindStringSubmatch(string(env))
	if secret == nil || len(secret[1]) < 32 {
		t.Fatalf("env file: %q", env)
	}
	if fi, err := os.Stat(envPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("env file mode: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Dir(envPath)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("env file's directory mode: %v %v", fi.Mode(), err)
	}
	altScreen := func() string { return strings.TrimSpace(tmux("display-message", "-p", "-t", "e2e", "#{alternate_on}")) }
	if a := altScreen(); a != "1" {
		t.Fatalf("the UI is not on the alternate screen (alternate_on=%q)", a)
	}
	// Keys read together arrive as one event: both + are applied (the
	// demo generator runs at 50/s; doubled twice is 200/s).
	keys("-l", "++")
	waitFor("\"++\" applied twice", 10*time.Second, func(s string) bool { return strings.Contains(s, `"demo": 200/s`) })
	keys("p")
	waitFor("the publish prompt", 10*time.Second, func(s string) bool { return strings.Contains(s, "Publish a data track") })
	keys("C-u")
	keys("-l", "keys-track")
	keys("Enter")
	waitFor("keys-track published and the prompt closed", 20*time.Second, func(s string) bool {
		return rowHas(s, "keys-track", "published") && !strings.Contains(s, "Publish a data track")
	})
	// Each key after the last one's effect is on screen, so a wait that
	// times out names the step that failed.
	keys("d") // detail pane of the selected (new) track
	waitFor("the detail pane", 10*time.Second, func(s string) bool { p, _ := pushedSent(s); return p == 0 })
	keys("b") // a burst of 100, each frame waiting for queue room
	s := waitFor("burst delivered", 10*time.Second, func(s string) bool {
		p, sent := pushedSent(s)
		return strings.Contains(s, `burst to "keys-track": pushed 100/100 frames of 1 KiB, each waiting for queue room`) && p == 100 && sent == 100
	})
	if !strings.Contains(s, "dropped: none") {
		t.Fatalf("a delivered burst dropped frames:\n%s", s)
	}
	// Keys typed together each act: four spaces push four frames, "bb"
	// two bursts, the second queued behind the first; and the bursts,
	// paced, all arrive while the demo track streams at 200/s (the SFU
	// sheds an unpaced one toward the loopback).
	keys("-l", "    ")
	waitFor("four spaces, four frames", 10*time.Second, func(s string) bool { p, sent := pushedSent(s); return p == 104 && sent == 104 })
	keys("-l", "bb")
	s = waitFor("\"bb\", two bursts", 20*time.Second, func(s string) bool { p, sent := pushedSent(s); return p == 304 && sent == 304 })
	s = waitFor("every frame of the bursts at the loopback", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "loopback: received 304 ")
	})
	if !strings.Contains(s, " lost 0 ") || rowHas(s, "keys-track", "losing") {
		t.Fatalf("the bursts lost frames while another track streamed:\n%s", s)
	}
	// A flood of 1000 pushes them at once: the 16-frame queue takes a few,
	// the rest are dropped, and the status line says so in the columns'
	// words.
	keys("B")
	keys("f")
	s = waitFor("flood reported", 10*time.Second, func(s string) bool { return floodRE.MatchString(s) })
	fm := floodRE.FindStringSubmatch(s)
	queued, _ := strconv.Atoi(fm[1])
	dropped, _ := strconv.Atoi(fm[2])
	if queued+dropped != 1000 || dropped == 0 || queued < 16 {
		t.Fatalf("flood: %d queued, %d dropped\n%s", queued, dropped, s)
	}
	keys("N")
	p1, _ := pushedSent(s)
	keys("g") // steady generator
	s = waitFor("generator counters moving", 15*time.Second, func(s string) bool { p, _ := pushedSent(s); return p > p1+20 })
	_, sent := pushedSent(s)
	if sent == 0 {
		t.Fatalf("nothing sent:\n%s", s)
	}
	if !strings.Contains(s, "loopback:") {
		t.Fatalf("loopback stats missing:\n%s", s)
	}
	// The chart pane (t) for the selected track, its window (w).
	keys("t")
	waitFor("the chart pane", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "charts · keys-track · last 5m") && strings.Contains(s, "frames/s")
	})
	keys("w")
	waitFor("the 15-minute window", 10*time.Second, func(s string) bool { return strings.Contains(s, "charts · keys-track · last 15m") })
	keys("t")
	// The table's filter (/): only the rows whose name matches.
	keys("/")
	keys("-l", "keys")
	keys("Enter")
	waitFor("the filtered table", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "filter /keys") && rowHas(s, "keys-track", "published") && !rowHas(s, "demo", "▶")
	})
	keys("Escape")
	// The demo row by its generator's mark: its state may read "dropping"
	// (its 200/s met the bursts above in the queue).
	waitFor("the filter cleared", 10*time.Second, func(s string) bool { return rowHas(s, "demo", "▶") })
	keys("l") // the log pane too, so the secret check below covers it
	shown := waitFor("log pane", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "logs · following") && strings.Contains(s, "INF dttui") && strings.Contains(s, "embedded SFU ws://127.0.0.1:")
	})
	// Every level, then scroll up: the view stops following and holds its
	// place; the join details stay pinned; end follows again.
	keys("v")
	keys("PPage")
	scrolled := waitFor("log pane scrolled", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "logs · scrolled · all levels") && strings.Contains(s, "INF sfu")
	})
	if !strings.Contains(scrolled, "embedded SFU ws://127.0.0.1:") || !regexp.MustCompile(`lk[\s│]+room[\s│]+join[\s│]+--identity[\s│]+viewer[\s│]+dttui-`).MatchString(scrolled) {
		t.Fatalf("join details not pinned while scrolled:\n%s", scrolled)
	}
	keys("End")
	waitFor("log pane following again", 10*time.Second, func(s string) bool { return strings.Contains(s, "logs · following") })
	keys("q")
	waitFor("clean exit", 20*time.Second, func(s string) bool { return strings.Contains(s, "DTTUI-EXITED 0") })

	// The terminal is restored: off the alternate screen, the shell's
	// lines (the exit marker) on the normal one.
	if a := altScreen(); a != "0" {
		t.Fatalf("the terminal is still on the alternate screen after exit (alternate_on=%q)", a)
	}
	// Quit unpublished both tracks (the SFU confirmed each) and left the
	// room, as the log file says from both ends: ours, and the embedded
	// SFU's (the participant leaving at the client's request).
	quitLog, _ := os.ReadFile(logFile)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`msg="quit: track unpublished" name=demo handle=\d+`),
		regexp.MustCompile(`msg="quit: track unpublished" name=keys-track handle=\d+`),
		regexp.MustCompile(`msg="quit: left the room"`),
		regexp.MustCompile(`msg="participant closing" origin=sfu .*reason=CLIENT_REQUEST_LEAVE`),
	} {
		if !want.Match(quitLog) {
			t.Fatalf("log file lacks %s; tail:\n%s", want, tail(string(quitLog), 30))
		}
	}
	if regexp.MustCompile(`msg="quit: unpublish failed"`).Match(quitLog) {
		t.Fatalf("an unpublish failed on quit; tail:\n%s", tail(string(quitLog), 30))
	}

	// The secret was in the credentials file and nowhere else; the file
	// went with dttui.
	if _, err := os.Stat(envPath); !os.IsNotExist(err) {
		t.Fatalf("credentials file left behind: %v", err)
	}
	log, _ := os.ReadFile(logFile)
	for where, text := range map[string]string{"log file": string(log), "screen": s + shown + scrolled} {
		if strings.Contains(text, secret[1]) {
			t.Fatalf("API secret appears in the %s", where)
		}
	}
}

// pane is the real binary running in a tmux pane.
type pane struct {
	tmux    func(args ...string) string
	screen  func() string
	waitFor func(what string, d time.Duration, cond func(string) bool) string
	keys    func(k ...string)
}

// startPane runs cmdline in a fresh tmux server, 120×32; logFile (if any)
// is shown when a wait times out.
func startPane(t *testing.T, cmdline, logFile string) pane {
	t.Helper()
	return startPaneSized(t, 120, 32, cmdline, logFile)
}

// startPaneSized is startPane with a pane of w×h.
func startPaneSized(t *testing.T, w, h int, cmdline, logFile string) pane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (.ci/run installs it)")
	}
	sock := fmt.Sprintf("dttui-e2e-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	var p pane
	p.tmux = func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	p.tmux("new-session", "-d", "-s", "e2e", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), cmdline)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", sock, "kill-server").Run() })
	p.screen = func() string { return p.tmux("capture-pane", "-p", "-t", "e2e") }
	p.waitFor = func(what string, d time.Duration, cond func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			s := p.screen()
			if cond(s) {
				return s
			}
			if time.Now().After(deadline) {
				var log []byte
				if logFile != "" {
					log, _ = os.ReadFile(logFile)
				}
				t.Fatalf("timed out waiting for %s; screen:\n%s\nlog tail:\n%s", what, s, tail(string(log), 20))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	p.keys = func(k ...string) { p.tmux(append([]string{"send-keys", "-t", "e2e"}, k...)...) }
	return p
}

var (
	pushedRE = regexp.MustCompile(`frames pushed (\d+) · sent (\d+)`)
	floodRE  = regexp.MustCompile(`flood to "keys-track": pushed 1000/1000 frames of 1 KiB at once: (\d+) queued, (\d+) dropped`)
)

func pushedSent(screen string) (pushed, sent int) {
	m := pushedRE.FindStringSubmatch(screen)
	if m == nil {
		return -1, -1
	}
	p, _ := strconv.Atoi(m[1])
	s, _ := strconv.Atoi(m[2])
	return p, s
}

func rowHas(screen, name, word string) bool {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, name) && strings.Contains(l, word) {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// A hostile server's answer, drawn by the real binary in a real terminal:
// it must neither retitle the pane, nor clear the screen, nor draw its
// fake status; it shows as visible escapes, in the UI and, after quitting,
// on stderr (main: the pane was retitled PWNED and the screen cleared).
func TestTUIHostileServerInTmux(t *testing.T) {
	bin := buildBinary(t)
	url := hostileServer(t)
	p := startPane(t, fmt.Sprintf("env TERM=xterm-256color %s --url %s --api-key k --api-secret s --loopback=false; echo DTTUI-EXITED $?; sleep 60", bin, url), "")
	title := func() string { return strings.TrimSpace(p.tmux("display-message", "-p", "-t", "e2e", "#{pane_title}")) }
	s := p.waitFor("the refusal on screen", 20*time.Second, func(s string) bool { return strings.Contains(s, "HTTP 401") })
	if !strings.Contains(s, `\x1b]2;PWNED\x07`) || !strings.HasPrefix(strings.TrimSpace(s), "dttui ") || !strings.Contains(s, "q quit") {
		t.Fatalf("the refusal is not shown as escapes, or the header is gone:\n%s", s)
	}
	if tt := title(); strings.Contains(tt, "PWNED") {
		t.Fatalf("the server retitled the pane: %q", tt)
	}
	p.keys("q")
	s = p.waitFor("exit", 10*time.Second, func(s string) bool { return strings.Contains(s, "DTTUI-EXITED") })
	if !strings.Contains(s, `dttui: connect to `) || !strings.Contains(s, `\x1b]2;PWNED\x07\x1b[2J`) || !strings.Contains(s, "DTTUI-EXITED 1") {
		t.Fatalf("stderr after quitting:\n%s", s)
	}
	if tt := title(); strings.Contains(tt, "PWNED") {
		t.Fatalf("stderr retitled the pane: %q", tt)
	}
}

// Ctrl+C while the connect hangs on a server that never answers quits
// within half a second (main: 5.3 s), with exit status 0 as headless does
// (the user asked to stop; issue 21.5).
func TestTUICtrlCDuringHungConnectInTmux(t *testing.T) {
	bin := buildBinary(t)
	url := silent.Server(t)
	p := startPane(t, fmt.Sprintf("env TERM=xterm-256color %s --url %s --api-key k --api-secret s --loopback=false; echo DTTUI-EXITED $?; sleep 60", bin, url), "")
	p.waitFor("connecting", 20*time.Second, func(s string) bool { return strings.Contains(s, "connecting") })
	time.Sleep(500 * time.Millisecond)
	sent := time.Now()
	p.keys("C-c")
	s := p.waitFor("exit", 10*time.Second, func(s string) bool { return strings.Contains(s, "DTTUI-EXITED") })
	if !strings.Contains(s, "DTTUI-EXITED 0") {
		t.Fatalf("after ctrl+c during connect:\n%s", s)
	}
	if took := time.Since(sent); took > 500*time.Millisecond {
		t.Fatalf("quit %v after ctrl+c", took)
	} else {
		t.Logf("quit %v after ctrl+c", took.Round(time.Millisecond))
	}
}
