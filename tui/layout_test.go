package tui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

// assertFits checks a view is at most h lines of at most w cells.
func assertFits(t *testing.T, view string, w, h int) {
	t.Helper()
	if view == "" {
		return // zero lines
	}
	lines := strings.Split(view, "\n")
	if len(lines) > h {
		t.Fatalf("%dx%d: view has %d lines:\n%s", w, h, len(lines), ansi.Strip(view))
	}
	for i, l := range lines {
		if lw := lipgloss.Width(l); lw > w {
			t.Fatalf("%dx%d: line %d is %d cells: %q", w, h, i, lw, ansi.Strip(l))
		}
	}
}

var resizeSizes = [][2]int{{0, 0}, {1, 1}, {10, 5}, {20, 8}, {40, 10}, {60, 12}, {80, 24}, {120, 40}, {200, 60}}

// A model in the given state: tracks with traffic, drops, errors and a
// long timeline, a failed publish, and the panes the state opens.
func stateModel(t *testing.T, state string, th theme.Theme) *harness {
	t.Helper()
	b := newFakeBackend()
	c := &clock{t: t0}
	logs := logbuf.New(100)
	for i := range 30 {
		logAt(logs, t0.Add(time.Duration(i)*time.Second), slog.LevelInfo, "", fmt.Sprintf("line %d of the log, long enough to be cut at narrow widths", i))
	}
	b.now = c.now
	h := newHarness(t, New(b, Options{Theme: th, Now: c.now, Logs: logs, Tick: time.Hour}))
	if state == "connect-error" {
		h = newHarness(t, New(nil, Options{Theme: th, Now: c.now, Logs: logs, Tick: time.Hour, URL: "ws://127.0.0.1:7880",
			Connect: func(context.Context, string) (Backend, error) {
				return nil, errors.New("connect to ws://127.0.0.1:7880: dial tcp 127.0.0.1:7880: connect: connection refused")
			}}))
		h.init()
		return h
	}
	if state == "picker" {
		pickWith(h, c, pickerRooms)
		return h
	}
	droppingScenario(t, h, b, c)
	b.answers <- publishAnswer{err: &outgoing.PublishError{Reason: outgoing.ReasonDisconnected, Name: "gone"}}
	h.send(press("p"))
	h.m.prompt.SetValue("gone")
	h.send(press("enter"))
	h.until("the failed row", 5*time.Second, func(m Model) bool { return len(m.failed) == 1 })
	h.send(press("up")) // back to the dropping track
	switch state {
	case "panes":
		h.send(press("d"))
		h.send(press("l"))
		h.send(press("p"))
		h.m.prompt.SetValue(strings.Repeat("a-very-long-track-name-", 10))
	case "charts":
		h.send(press("d"))
		h.send(press("t"))
	case "help":
		h.send(press("?"))
	case "logs":
		h.send(press("d"))
		h.send(press("l"))
		h.send(press("v"))
		h.send(press("pgup"))
		h.send(press("/"))
		h.send(press("line 2"))
	case "quitting":
		b.closeGate = make(chan struct{})
		t.Cleanup(func() { close(b.closeGate) })
		h.send(press("q"))
	}
	return h
}

// Glow-style resize test: every state at every size, including absurd
// ones, draws at most h lines of at most w cells.
func TestViewFitsEverySize(t *testing.T) {
	for _, state := range []string{"plain", "panes", "charts", "help", "logs", "connect-error", "quitting", "picker"} {
		for _, th := range []theme.Theme{theme.Plain(), theme.Color()} {
			h := stateModel(t, state, th)
			for _, sz := range resizeSizes {
				h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
				v := h.m.View()
				assertFits(t, v, sz[0], sz[1])
				if sz[0] >= MinWidth && sz[1] >= MinHeight && !h.m.quitting {
					// The footer stays on the last line, the header on the first.
					if lines := strings.Split(ansi.Strip(v), "\n"); len(lines) != sz[1] || !strings.HasPrefix(lines[0], "dttui") {
						t.Fatalf("%s %dx%d: %d lines, first %q", state, sz[0], sz[1], len(lines), lines[0])
					}
				}
			}
		}
	}
}

// The prompt is laid out first: at 60x12 with the detail and log panes
// open it is still there, whole, and a long name scrolls inside it.
func TestPromptAlwaysVisible(t *testing.T) {
	for _, sz := range [][2]int{{60, 12}, {20, 8}, {80, 24}, {40, 10}} {
		h := stateModel(t, "panes", theme.Plain())
		h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		v := plain(h.m)
		lines := strings.Split(v, "\n")
		at := -1
		for i, l := range lines {
			if strings.Contains(l, "name: ") {
				at = i
			}
		}
		if at < 1 || at+1 >= len(lines) || !strings.HasPrefix(lines[at-1], "╭") || !strings.HasPrefix(lines[at+1], "╰") {
			t.Fatalf("%dx%d: no whole prompt box:\n%s", sz[0], sz[1], v)
		}
		if !strings.Contains(lines[at], "…") && !strings.Contains(lines[at], "E2EE") {
			t.Fatalf("%dx%d: the E2EE switch is cut off: %q", sz[0], sz[1], lines[at])
		}
	}
}

// The detail pane at 80 columns keeps every counter (over more lines) and
// the error history, even with a long timeline.
func TestDetailKeepsCountersAndErrorsAt80(t *testing.T) {
	h := stateModel(t, "plain", theme.Plain())
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.send(press("d"))
	v := plain(h.m)
	for _, want := range []string{"frames pushed", "bytes", "publish attempts 2", "unpublished errors 0",
		"queue full 1500", "transport error 2", "republishing 3", "now ", "p99", "lost 4", "timeline", "errors", "frame dropped: queue full"} {
		if !strings.Contains(v, want) {
			t.Errorf("%q missing at 80x24:\n%s", want, v)
		}
	}
}

// The sparkline holds one column per complete second of the report's
// history: after 15 s of traffic there are 14 or 15 values, not 150.
func TestSparklineIsOneColumnPerSecond(t *testing.T) {
	h := stateModel(t, "plain", theme.Plain())
	r, _ := h.m.selectedRow()
	if n := len(r.Spark()); n < 14 || n > 15 {
		t.Fatalf("%d sparkline values after 15 s", n)
	}
}

// "dropping" is about the last few seconds: a track that stopped dropping
// goes back to "published", however many it dropped before.
func TestDroppingIsRecent(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	droppingScenario(t, h, b, c)
	if r, _ := h.m.selectedRow(); !strings.HasPrefix(stateWord(h, r), "dropping") {
		t.Fatalf("state %q while dropping", stateWord(h, r))
	}
	traffic(h, b, c, 70, map[string]float64{"video-meta": 200}, 1024, nil)
	r, _ := h.m.selectedRow()
	if s := stateWord(h, r); !strings.HasPrefix(s, "published") || r.L.Out.FramesDropped == 0 || r.Dropping {
		t.Fatalf("7 s after the last drop: state %q, dropped %d", s, r.L.Out.FramesDropped)
	}
}

func stateWord(h *harness, r row) string {
	s, _ := r.State(h.m.th, h.m.opts.Now())
	return s
}
