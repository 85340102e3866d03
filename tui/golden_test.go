package tui

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

var (
	update      = flag.Bool("update", false, "rewrite the golden views")
	screenshots = flag.String("screenshots", "", "write each golden state in colour as ANSI to this directory (scripts/screenshots.sh turns them into PNGs)")
)

var goldenSizes = []struct{ w, h int }{{80, 24}, {140, 40}}

// scenario builds a model in one of the states the goldens pin.
type scenario struct {
	name  string
	build func(t *testing.T, h *harness, b *fakeBackend, c *clock)
}

// traffic advances the clock in 100 ms steps, growing each published
// track's counters at fps frames of size bytes, so the smoothed rates and
// sparklines are those of a steady stream.
func traffic(h *harness, b *fakeBackend, c *clock, steps int, fps map[string]float64, size int, drops map[string]uint64) {
	for i := 0; i < steps; i++ {
		c.t = c.t.Add(100 * time.Millisecond)
		b.mu.Lock()
		for j := range b.snap {
			s := &b.snap[j]
			// A slow wobble (period ~9 s), so the per-second sparkline
			// shows shape rather than a flat bar.
			n := uint64(fps[s.Name] / 10 * (1 + 0.5*math.Sin(float64(i)/15)))
			s.FramesPushed += n + drops[s.Name]/uint64(steps)
			s.FramesSent += n
			s.PacketsSent += n * uint64((size+15987)/15988)
			s.BytesSent += n * uint64(size+24)
			s.DroppedBy[outgoing.DropQueueFull] += drops[s.Name] / uint64(steps)
			s.FramesDropped = 0
			for _, d := range s.DroppedBy {
				s.FramesDropped += d
			}
			if r, ok := b.rx[s.Name]; ok {
				r.FramesReceived += n
				r.BytesReceived += n * uint64(size)
				b.rx[s.Name] = r
			}
		}
		b.mu.Unlock()
		h.send(tickMsg(c.t))
	}
}

func publishTracks(t *testing.T, h *harness, b *fakeBackend, names ...string) {
	for _, n := range names {
		publishNow(t, h, b, n)
	}
	b.mu.Lock()
	for i := range b.snap {
		b.snap[i].Since = t0
		b.snap[i].PublishAttempts = 1
		b.snap[i].Timeline = []outgoing.StateChange{{At: t0, State: outgoing.StatePublished, SID: b.snap[i].SID, Reason: "published"}}
	}
	b.mu.Unlock()
	h.m.statusMsg = ""
}

// dropping is a track pushed harder than its queue drains, for 15 s:
// queue-full drops all along, a few transport errors, pushes refused
// while it was briefly unpublished by the SFU and republished, and the
// error history that left.
func dropping(t *testing.T, h *harness, b *fakeBackend, c *clock) {
	publishTracks(t, h, b, "video-meta")
	b.mu.Lock()
	s := &b.snap[0]
	s.DroppedBy[outgoing.DropTransportError] = 2
	s.DroppedBy[outgoing.DropUnpublished] = 3
	s.UnpublishedErrors = 3
	s.Timeline = append(s.Timeline,
		outgoing.StateChange{At: t0.Add(4 * time.Second), State: outgoing.StateRepublishing, SID: s.SID, Reason: "reconnected; republishing"},
		outgoing.StateChange{At: t0.Add(5 * time.Second), State: outgoing.StatePublished, SID: "DTR_video-meta2", Reason: "republished"},
		outgoing.StateChange{At: t0.Add(6 * time.Second), State: outgoing.StatePublished, SID: "DTR_video-meta2", Reason: "queue drained"},
		outgoing.StateChange{At: t0.Add(7 * time.Second), State: outgoing.StatePublished, SID: "DTR_video-meta2", Reason: "generator at 200/s"})
	s.Errors = []outgoing.ErrorEvent{
		{At: t0.Add(3 * time.Second), Err: `push to "video-meta": frame dropped: transport error: data channel closed`},
		{At: t0.Add(4 * time.Second), Err: `push to "video-meta": frame dropped: republishing`},
		{At: t0.Add(8 * time.Second), Err: `push to "video-meta": frame dropped: queue full`},
	}
	s.LastError = s.Errors[2].Err
	b.rx["video-meta"] = session.ReceiveStats{Subscribed: true, FramesLost: 4, LatencyP50: 3 * time.Millisecond, LatencyP99: 41 * time.Millisecond}
	b.mu.Unlock()
	traffic(h, b, c, 150, map[string]float64{"video-meta": 200}, 64<<10, map[string]uint64{"video-meta": 1500})
}

var scenarios = []scenario{
	{"empty", func(t *testing.T, h *harness, b *fakeBackend, c *clock) {}},
	{"pending", func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		b.mu.Lock()
		b.snap = []outgoing.TrackStats{{Handle: 1, Name: "telemetry", State: outgoing.StatePending, Since: t0, Counters: outgoing.Counters{PublishAttempts: 1}}}
		b.mu.Unlock()
		c.t = t0.Add(2300 * time.Millisecond)
		h.send(tickMsg(c.t))
	}},
	{"traffic", func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		publishTracks(t, h, b, "telemetry", "chat")
		b.mu.Lock()
		b.rx["telemetry"] = session.ReceiveStats{Subscribed: true, LatencyP50: 600 * time.Microsecond, LatencyP99: 2100 * time.Microsecond}
		b.rx["chat"] = session.ReceiveStats{Subscribed: true, LatencyP50: 550 * time.Microsecond, LatencyP99: 1800 * time.Microsecond}
		b.mu.Unlock()
		h.m.tracks[1].gen = nil
		traffic(h, b, c, 150, map[string]float64{"telemetry": 500, "chat": 50}, 1024, nil)
		h.send(press("d"))
	}},
	{"dropping", func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		dropping(t, h, b, c)
	}},
	{"dropping_detail", func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		dropping(t, h, b, c)
		h.send(press("d"))
	}},
	{"prompt", func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		publishTracks(t, h, b, "telemetry")
		traffic(h, b, c, 30, map[string]float64{"telemetry": 100}, 1024, nil)
		h.send(press("p"))
		h.m.input.SetValue("sensors/lidar-front")
		h.m.input.CursorEnd()
	}},
	{"republishing", func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		publishTracks(t, h, b, "telemetry")
		traffic(h, b, c, 120, map[string]float64{"telemetry": 100}, 512, nil)
		b.mu.Lock()
		b.status.Reconnects = 1
		b.snap[0].State = outgoing.StateRepublishing
		b.snap[0].Since = c.t
		b.snap[0].PublishAttempts = 2
		b.snap[0].Timeline = append(b.snap[0].Timeline, outgoing.StateChange{At: c.t, State: outgoing.StateRepublishing, SID: "DTR_telemetry", Reason: "reconnected; republishing"})
		b.mu.Unlock()
		traffic(h, b, c, 10, map[string]float64{"telemetry": 0}, 512, nil)
		h.send(press("d"))
	}},
	{"failed", func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		b.answers <- publishAnswer{err: &outgoing.PublishError{Reason: outgoing.ReasonTimeout, Name: "telemetry", Timeout: 10 * time.Second}}
		h.send(press("p"))
		h.m.input.SetValue("telemetry")
		h.send(press("enter"))
		h.until("the failed row", 5*time.Second, func(m Model) bool { return len(m.failed) == 1 })
		h.send(press("d")) // the full reason, which the table abbreviates
	}},
	{"connecting", func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		reconnectWith(h, c, func(ctx context.Context) (Backend, error) { <-ctx.Done(); return nil, ctx.Err() })
		c.t = t0.Add(1200 * time.Millisecond)
		h.send(tickMsg(c.t))
	}},
	{"connect_error", func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		reconnectWith(h, c, func(context.Context) (Backend, error) {
			return nil, errors.New(`connect to ws://127.0.0.1:7880: websocket: bad handshake (HTTP 401): invalid token: token is expired (exp 2026-11-24T11:00:00Z)`)
		})
	}},
	{"help", func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		h.send(press("?"))
	}},
	{"logs", func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		publishTracks(t, h, b, "telemetry")
		fmt.Fprintln(h.m.opts.Logs, `time=12:00:00.000 level=INFO msg="connection connected"`)
		fmt.Fprintln(h.m.opts.Logs, `time=12:00:00.250 level=INFO msg="created data track" name=telemetry handle=1`)
		h.send(press("l"))
	}},
}

// reconnectWith replaces the scenario's model by one that connects with
// connect, as the app does, and runs its start.
func reconnectWith(h *harness, c *clock, connect func(context.Context) (Backend, error)) {
	w, ht := h.m.width, h.m.height
	h.m = New(nil, Options{Theme: h.m.th, Now: c.now, Logs: h.m.opts.Logs, Tick: time.Hour,
		URL: "ws://127.0.0.1:7880", Connect: connect})
	h.send(tea.WindowSizeMsg{Width: w, Height: ht})
	h.init()
}

// buildScenario returns the model of a scenario at a size.
func buildScenario(t *testing.T, sc scenario, w, hgt int, th theme.Theme) Model {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, New(b, Options{Theme: th, Now: c.now, Logs: logbuf.New(100), Tick: time.Hour}))
	h.send(tea.WindowSizeMsg{Width: w, Height: hgt})
	sc.build(t, h, b, c)
	return h.m
}

func TestGoldenViews(t *testing.T) {
	for _, sc := range scenarios {
		for _, sz := range goldenSizes {
			name := fmt.Sprintf("%s_%dx%d", sc.name, sz.w, sz.h)
			t.Run(name, func(t *testing.T) {
				m := buildScenario(t, sc, sz.w, sz.h, theme.Plain())
				got := plain(m)
				lines := strings.Split(got, "\n")
				if len(lines) != sz.h {
					t.Fatalf("view has %d lines, want %d", len(lines), sz.h)
				}
				assertFits(t, m.View(), sz.w, sz.h)
				path := filepath.Join("testdata", "golden", name+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./tui -run TestGoldenViews -update)", err)
				}
				if got != string(want) {
					t.Fatalf("view differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
				}
			})
		}
	}
}

// TestWriteScreenshots renders every golden state in true colour at
// 140x40 for the PNGs in screenshots/. It does nothing without -screenshots.
func TestWriteScreenshots(t *testing.T) {
	if *screenshots == "" {
		t.Skip("pass -screenshots DIR (see scripts/screenshots.sh)")
	}
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios {
		m := buildScenario(t, sc, 140, 40, theme.Color())
		path := filepath.Join(*screenshots, sc.name+".ansi")
		if err := os.WriteFile(path, []byte(m.View()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
