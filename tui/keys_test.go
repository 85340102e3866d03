package tui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/logorigin"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

// A terminal delivers keys read together as one event ("++" from
// auto-repeat, a paste without bracketed paste, SSH, tmux send-keys):
// each rune is applied, in order.
func TestKeysReadTogetherAreEachApplied(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	tr := publishNow(t, h, b, "x")
	h.send(press("++"))
	if got := h.m.tracks[tr.handle].rate; got != 4*defaultRate {
		t.Fatalf("after \"++\" the rate is %v, want %v", got, 4*defaultRate)
	}
	h.send(press("ss"))
	if h.m.tbl.sort != sortRate {
		t.Fatalf("after \"ss\" sort is %v", h.m.tbl.sort)
	}
	h.send(press("]][")) // size ×2 ×2 ÷2
	if got := h.m.tracks[tr.handle].size; got != 2*defaultSize {
		t.Fatalf("after \"]][\" the size is %d", got)
	}
	h.send(press("bb")) // the second burst runs after the first
	h.until("the bursts", 5*time.Second, func(m Model) bool { return m.tracks[tr.handle].burst == nil })
	if n := tr.count(); n != 2*defaultBurst {
		t.Fatalf("\"bb\" pushed %d frames", n)
	}
}

// Every space pushes one frame, and every b or f its burst, however
// quickly typed: a push asked for while one runs waits its turn (here the
// first frame is held until all are typed).
func TestEveryPushKeyPushes(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	tr, gate := gatedTrack(t, h, b, "x")
	h.send(press("N")) // bursts of 10
	h.send(press("    "))
	h.send(press("bf b"))
	if q := len(h.m.tracks[tr.handle].queued); q != 7 {
		t.Fatalf("%d pushes queued behind the first, want 7; status %q", q, h.m.statusMsg)
	}
	close(gate)
	h.until("every push", 10*time.Second, func(m Model) bool {
		return m.tracks[tr.handle].burst == nil && len(m.tracks[tr.handle].queued) == 0
	})
	if n := tr.count(); n != 4+10+10+1+10 {
		t.Fatalf("\"    \" then \"bf b\" pushed %d frames, want 35", n)
	}
}

// Once a rune opens a text input, the rest of the event is typed into it:
// "psensors" read together publishes nothing yet and names the track.
func TestKeysReadTogetherFlowIntoTheInput(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	h.send(press("psensors"))
	if !h.m.prompt.IsOpen() || h.m.prompt.Value() != "sensors" {
		t.Fatalf("prompt open %v, value %q", h.m.prompt.IsOpen(), h.m.prompt.Value())
	}
	h.send(press("esc"))
	h.send(press("zq"))
	if !h.m.paused || !h.m.quitting {
		t.Fatalf("\"zq\": paused %v, quitting %v", h.m.paused, h.m.quitting)
	}
}

// Bracketed paste is text, never commands: pasted outside the prompt it
// does nothing but say so; into the prompt it is the name.
func TestPasteIsNeverKeys(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("qqq"), Paste: true})
	if h.m.quitting || !strings.Contains(h.m.statusMsg, "pasted") {
		t.Fatalf("paste outside the prompt: quitting %v, status %q", h.m.quitting, h.m.statusMsg)
	}
	h.send(press("p"))
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("pasted/name"), Paste: true})
	if h.m.prompt.Value() != "pasted/name" {
		t.Fatalf("paste into the prompt: %q", h.m.prompt.Value())
	}
}

// The prompt suggests a name as a placeholder: typing replaces it (not
// "track-1sensors"), enter on the empty field accepts it.
func TestPromptSuggestsAName(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.send(press("p"))
	if h.m.prompt.Value() != "" || !strings.Contains(plain(h.m), "name: track-1") {
		t.Fatalf("value %q; view:\n%s", h.m.prompt.Value(), plain(h.m))
	}
	h.send(press("sensors"))
	if h.m.prompt.Value() != "sensors" {
		t.Fatalf("typed over the suggestion: %q", h.m.prompt.Value())
	}
	h.send(press("esc"))
	b.answers <- publishAnswer{}
	h.send(press("p"))
	h.send(press("enter"))
	h.until("the suggested track", 5*time.Second, func(m Model) bool { return len(m.tracks) == 1 })
	if b.calls[0] != "track-1" {
		t.Fatalf("published %q", b.calls[0])
	}
	h.send(press("p")) // track-1 is taken now
	if !strings.Contains(plain(h.m), "name: track-2") {
		t.Fatalf("second suggestion:\n%s", plain(h.m))
	}
}

// The E2EE switch stays in one column whether the name is empty (the
// suggestion shows), short, or longer than the field; on or off.
func TestPromptLayoutIsStable(t *testing.T) {
	for _, w := range []int{50, 80, 140} {
		h := newHarness(t, New(newFakeBackend(), Options{Theme: theme.Plain(), Tick: time.Hour, E2EEAvailable: true}))
		h.send(tea.WindowSizeMsg{Width: w, Height: 24})
		h.send(press("p"))
		col := -1
		for _, v := range []string{"", "s", "sensors", strings.Repeat("long-name-", 30)} {
			for _, e2ee := range []bool{false, true} {
				h.m.prompt.SetValue(v)
				if h.m.prompt.E2EE() != e2ee {
					h.send(press("tab"))
				}
				var line string
				for _, l := range strings.Split(plain(h.m), "\n") {
					if strings.Contains(l, "name: ") {
						line = l
					}
				}
				at := strings.Index(line, "E2EE")
				if at < 0 {
					t.Fatalf("%d cols, %q: no E2EE switch in %q", w, v, line)
				}
				if col < 0 {
					col = at
				}
				if at != col {
					t.Fatalf("%d cols, %q e2ee %v: the switch moved from %d to %d:\n%s", w, v, e2ee, col, at, line)
				}
			}
		}
	}
}

// The quit and help hints are on screen at every size, in every mode:
// ? and q in the footer, or ctrl+c while they are taken (typing, the help
// open); the header keeps the round-trip time.
func TestHintsAtEverySize(t *testing.T) {
	for _, sz := range [][2]int{{50, 15}, {80, 24}, {140, 40}} {
		for _, mode := range []string{"table", "logs", "search", "prompt", "help", "detail"} {
			h := stateModel(t, "plain", theme.Plain())
			h.m.status.Room, h.m.status.Identity = "dttui-519b4a", "dttui-9ac3c6"
			h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			switch mode {
			case "logs":
				h.send(press("l"))
			case "search":
				h.send(press("l"))
				h.send(press("/"))
			case "prompt":
				h.send(press("p"))
			case "help":
				h.send(press("?"))
			case "detail":
				h.send(press("d"))
			}
			lines := strings.Split(plain(h.m), "\n")
			footer, header := lines[len(lines)-1], lines[0]
			want := []string{"? help", "q quit"}
			if mode == "search" || mode == "prompt" || mode == "help" {
				want = []string{"ctrl+c quit"}
			}
			for _, w := range want {
				if !strings.Contains(footer, w) {
					t.Errorf("%dx%d %s: footer %q lacks %q", sz[0], sz[1], mode, footer, w)
				}
			}
			if !strings.Contains(header, "rtt ") || strings.Contains(header, "…") {
				t.Errorf("%dx%d %s: header %q", sz[0], sz[1], mode, header)
			}
		}
	}
}

// The help reflows to the width: at 50 columns its keys are one column,
// nothing wraps between rows, and scrolling reaches every binding, the
// last group's too; at 80x24 and more, it fits whole.
func TestHelpReflowsAndScrolls(t *testing.T) {
	for _, sz := range [][2]int{{50, 15}, {80, 24}, {140, 40}} {
		h := newHarness(t, newTestModel(newFakeBackend(), &clock{t: t0}, nil))
		h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		h.send(press("?"))
		seen := map[string]bool{}
		for range 120 { // the help closes on the down past its end
			v := plain(h.m)
			assertFits(t, h.m.View(), sz[0], sz[1])
			for _, l := range strings.Split(v, "\n") {
				for _, want := range []string{"q quit", "p publish", "r retry connect", "esc close logs", "/ search", "tab E2EE on/off", "ctrl+c: quit"} {
					if strings.Contains(strings.Join(strings.Fields(l), " "), want) {
						seen[want] = true
					}
				}
			}
			h.send(press("down")) // scrolls while there is more, else closes
			if !h.m.help.IsOpen() {
				break
			}
		}
		if len(seen) != 7 {
			t.Fatalf("%dx%d: seen only %v", sz[0], sz[1], seen)
		}
	}
}

// Any key closes the help, q included, and does nothing else.
func TestAnyKeyClosesHelp(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	publishNow(t, h, b, "x")
	for _, k := range []string{"q", "g", "esc", "?"} {
		h.send(press("?"))
		h.send(press(k))
		if h.m.help.IsOpen() || h.m.quitting || h.m.tracks[1].gen != nil {
			t.Fatalf("%s: help open %v, quitting %v, generator %v", k, h.m.help.IsOpen(), h.m.quitting, h.m.tracks[1].gen != nil)
		}
	}
	h.send(press("?"))
	h.send(press("ctrl+c"))
	if !h.m.quitting {
		t.Fatal("ctrl+c in the help did not quit")
	}
}

// After a failed connect, r connects again: the header says connecting,
// and on success the UI is connected and publishes its tracks.
func TestRetryAfterConnectFailure(t *testing.T) {
	b := newFakeBackend()
	attempts := 0
	connect := func(ctx context.Context, _ string) (Backend, error) {
		if attempts++; attempts == 1 {
			return nil, errors.New("dial tcp 127.0.0.1:7880: connect: connection refused")
		}
		return b, nil
	}
	h := newHarness(t, New(nil, Options{Theme: theme.Plain(), Tick: time.Hour, URL: "ws://127.0.0.1:7880", Connect: connect,
		Autostart: []AutoTrack{{Name: "auto"}}}))
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.init()
	v := plain(h.m)
	if !strings.Contains(v, "could not connect") || !strings.Contains(v, "r retries") || !strings.Contains(v, "r retry connect") {
		t.Fatalf("failed connect:\n%s", v)
	}
	b.answers <- publishAnswer{}
	h.send(press("r"))
	h.until("the autostart track", 5*time.Second, func(m Model) bool { return len(m.tracks) == 1 })
	if attempts != 2 || h.m.connErr != nil || !strings.Contains(plain(h.m), "● connected") {
		t.Fatalf("after r: %d attempts, err %v:\n%s", attempts, h.m.connErr, plain(h.m))
	}
	h.send(press("r")) // connected, r resets the counters again
	if !strings.Contains(h.m.statusMsg, "counters reset") {
		t.Fatalf("r once connected: %q", h.m.statusMsg)
	}
}

// Once the session gave up reconnecting, the footer offers r, and r
// closes that session and connects anew (not "counters reset"); quitting
// without a retry that worked is a failed run (Run's ErrEndedDisconnected:
// exit 1), quitting after one is not.
func TestRetryAfterTheSessionGaveUp(t *testing.T) {
	first, second := newFakeBackend(), newFakeBackend()
	attempts := 0
	connect := func(ctx context.Context, _ string) (Backend, error) {
		if attempts++; attempts == 1 {
			return first, nil
		}
		return second, nil
	}
	start := func() *harness {
		attempts = 0
		h := newHarness(t, New(nil, Options{Theme: theme.Plain(), Tick: time.Hour, URL: "ws://127.0.0.1:7880", Connect: connect}))
		h.send(tea.WindowSizeMsg{Width: 100, Height: 24})
		h.init()
		first.mu.Lock()
		first.status = session.Status{State: session.StateDisconnected, Err: errors.New("signal: gave up after 5 attempts")}
		first.mu.Unlock()
		h.send(tickMsg(t0))
		return h
	}
	h := start()
	if v := plain(h.m); !strings.Contains(v, "r retry connect") {
		t.Fatalf("gave up, the footer does not offer r:\n%s", v)
	}
	// Keys that need a session say it gave up rather than act on the
	// dead one (p opened the publish prompt).
	h.send(press("p"))
	if h.m.prompt.IsOpen() || !strings.Contains(h.m.statusMsg, "the session gave up reconnecting (r connects again, q quits)") {
		t.Fatalf("p after giving up: prompt open %v, status %q", h.m.prompt.IsOpen(), h.m.statusMsg)
	}
	h.send(press("q"))
	if h.m.endedDisconnected == nil {
		t.Fatal("quit after the session gave up is not a failed run")
	}

	first = newFakeBackend()
	h = start()
	h.send(press("r"))
	h.until("the new session", 5*time.Second, func(m Model) bool { return m.b == Backend(second) })
	if attempts != 2 || !first.isClosed() || strings.Contains(h.m.statusMsg, "counters reset") {
		t.Fatalf("r after giving up: %d connects, old closed %v, status %q", attempts, first.isClosed(), h.m.statusMsg)
	}
	h.send(tickMsg(t0))
	h.send(press("q"))
	if h.m.endedDisconnected != nil {
		t.Fatalf("quit after a retry that worked: %v", h.m.endedDisconnected)
	}
}

// l opens the log pane with the keys: the arrows scroll it, the table's
// keys still work, esc closes it (keeping its state for the next l), as l
// does.
func TestLogPaneFocus(t *testing.T) {
	b := newFakeBackend()
	logs := logbuf.New(200)
	h := newHarness(t, newTestModel(b, &clock{t: t0}, logs))
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	publishNow(t, h, b, "a")
	publishNow(t, h, b, "b")
	for i := range 100 {
		logAt(logs, t0.Add(time.Duration(i)*time.Second), slog.LevelInfo, "", fmt.Sprintf("record %03d", i))
	}
	logAt(logs, t0, slog.LevelInfo, logorigin.Pion, "hidden pion info")
	h.send(press("l"))
	if !h.m.logsFocused() || !strings.Contains(plain(h.m), "record 099") {
		t.Fatalf("l:\n%s", plain(h.m))
	}
	sel := h.m.tbl.selected
	h.send(press("up"))
	h.send(press("pgup"))
	if h.m.tbl.selected != sel || h.m.logs.Following() {
		t.Fatal("the arrows moved the table, not the log")
	}
	h.send(press("g")) // not the pane's: the generator of the selected track
	if h.m.selectedTrack().gen == nil {
		t.Fatal("g did not reach the table while the log pane had the keys")
	}
	h.send(press("N")) // no search: N is the table's, burst size ÷10
	if h.m.burstN != defaultBurst/10 {
		t.Fatalf("N without a search: burst %d", h.m.burstN)
	}
	h.send(press("/"))
	h.send(press("record 05"))
	h.send(press("enter"))
	rank := regexp.MustCompile(`/record 05 (\d+)/10`)
	before := rank.FindStringSubmatch(plain(h.m))
	h.send(press("N")) // with a search: the previous match
	after := rank.FindStringSubmatch(plain(h.m))
	if h.m.burstN != defaultBurst/10 || before == nil || after == nil || before[1] == after[1] {
		t.Fatalf("N with a search: burst %d, match %v then %v\n%s", h.m.burstN, before, after, plain(h.m))
	}
	h.send(press("esc")) // clears the search; the pane keeps the keys
	if !h.m.logsFocused() {
		t.Fatal("the first esc took the keys")
	}
	h.send(press("esc"))
	h.send(press("up"))
	if h.m.showLogs || h.m.logsFocused() || h.m.tbl.selected == sel {
		t.Fatal("esc did not close the pane and give the keys back to the table")
	}
	h.send(press("l"))
	if v := plain(h.m); !h.m.logsFocused() || !strings.Contains(v, "scrolled") || strings.Contains(v, "hidden pion info") {
		t.Fatalf("l again: focused %v; the pane lost its state:\n%s", h.m.logsFocused(), v)
	}
	h.send(press("l"))
	if h.m.showLogs {
		t.Fatal("l on the focused pane did not close it")
	}
	if w := ansi.StringWidth(strings.Split(plain(h.m), "\n")[0]); w > 100 {
		t.Fatalf("header %d wide", w)
	}
}
