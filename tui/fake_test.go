package tui

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

// fakeBackend is a scripted session: tests set what Snapshot and Status
// return and decide when a publish is answered.
type fakeBackend struct {
	mu      sync.Mutex
	status  session.Status
	snap    []outgoing.TrackStats
	rx      map[string]session.ReceiveStats
	answers chan publishAnswer // Publish waits for one (or ctx)
	calls   []string
	e2ee    []bool
	closed  bool
	// closeGate, when set, holds Close until it is closed (a hung goodbye).
	closeGate chan struct{}
	tracks    map[string]*fakeTrack
	nextH     uint16
	ctxSeen   chan context.Context
}

type publishAnswer struct {
	err error
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		status:  session.Status{State: session.StateConnected, URL: "ws://127.0.0.1:7880", Room: "demo-room", Identity: "alice", RTT: 800 * time.Microsecond},
		rx:      map[string]session.ReceiveStats{},
		answers: make(chan publishAnswer, 8),
		tracks:  map[string]*fakeTrack{},
		ctxSeen: make(chan context.Context, 8),
	}
}

func (f *fakeBackend) Status() session.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeBackend) Snapshot() []outgoing.TrackStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]outgoing.TrackStats(nil), f.snap...)
}

func (f *fakeBackend) Received() map[string]session.ReceiveStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]session.ReceiveStats{}
	for k, v := range f.rx {
		out[k] = v
	}
	return out
}

func (f *fakeBackend) Close() error {
	f.mu.Lock()
	gate := f.closeGate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeBackend) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *fakeBackend) Publish(ctx context.Context, name string, e2ee bool) (Track, error) {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	f.e2ee = append(f.e2ee, e2ee)
	f.mu.Unlock()
	f.ctxSeen <- ctx
	select {
	case a := <-f.answers:
		if a.err != nil {
			return nil, a.err
		}
	case <-ctx.Done():
		return nil, &outgoing.PublishError{Reason: outgoing.ReasonCancelled, Name: name, Err: ctx.Err()}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextH++
	t := &fakeTrack{handle: f.nextH, name: name}
	f.tracks[name] = t
	f.snap = append(f.snap, outgoing.TrackStats{Handle: t.handle, Name: name, SID: "DTR_" + name, State: outgoing.StatePublished})
	return t, nil
}

type fakeTrack struct {
	mu          sync.Mutex
	handle      uint16
	name        string
	pushes      int
	full        int // pushes beyond this are refused with QueueFull
	unpublished bool
	late        int           // pushes after Unpublish was called
	gate        chan struct{} // when set, each push waits for a token (a slow frame)
}

func (t *fakeTrack) Handle() uint16 { return t.handle }
func (t *fakeTrack) Name() string   { return t.name }
func (t *fakeTrack) TryPush(p []byte, ts uint64) error {
	t.mu.Lock()
	gate := t.gate
	t.mu.Unlock()
	if gate != nil {
		<-gate
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.unpublished {
		t.late++
	}
	if t.full > 0 && t.pushes >= t.full {
		return &outgoing.PushError{Track: t.name, Drop: outgoing.DropQueueFull}
	}
	t.pushes++
	return nil
}
func (t *fakeTrack) Unpublish(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unpublished = true
	return nil
}
func (t *fakeTrack) latePushes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.late
}
func (t *fakeTrack) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pushes
}

// clock is a settable time for deterministic views.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func newTestModel(b *fakeBackend, c *clock, logs *logbuf.Buffer) Model {
	return New(b, Options{Theme: theme.Plain(), Now: c.now, Logs: logs, Tick: time.Hour})
}

// harness drives a Model like bubbletea does, synchronously: commands
// that finish within a moment feed their messages back at once; slower ones
// (a publish waiting for its answer, timers) deliver later, when the test
// calls until.
type harness struct {
	t    *testing.T
	m    Model
	late chan tea.Msg
	quit atomic.Bool // a tea.Quit command ran: the program would end
}

func newHarness(t *testing.T, m Model) *harness {
	return &harness{t: t, m: m, late: make(chan tea.Msg, 64)}
}

func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	queue := []tea.Msg{msg}
	for len(queue) > 0 {
		if _, ok := queue[0].(tea.QuitMsg); ok {
			h.quit.Store(true)
		}
		next, cmd := h.m.Update(queue[0])
		if _, ok := queue[0].(tickMsg); ok {
			cmd = nil // the next tick: tests drive the clock themselves
		}
		h.m = next.(Model)
		// bubbletea draws after every message; the panes learn their
		// size when drawn, as in the program.
		_ = h.m.View()
		queue = append(queue[1:], h.run(cmd)...)
	}
}

// until processes late messages (publish results, cursor blinks...) until
// cond holds, failing the test if it does not within d.
func (h *harness) until(what string, d time.Duration, cond func(Model) bool) {
	h.t.Helper()
	deadline := time.After(d)
	for !cond(h.m) {
		select {
		case msg := <-h.late:
			h.send(msg)
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; view:\n%s", what, plain(h.m))
		}
	}
}

// init runs the model's Init commands as bubbletea would at start.
func (h *harness) init() {
	h.t.Helper()
	for _, msg := range h.run(h.m.Init()) {
		h.send(msg)
	}
}

func (h *harness) run(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	select {
	case msg := <-ch:
		return h.expand(msg)
	case <-time.After(50 * time.Millisecond):
		go func() {
			for _, m := range h.expand(<-ch) {
				if _, isClear := m.(clearStatusMsg); !isClear {
					h.late <- m
				}
			}
		}()
		return nil
	}
}

func (h *harness) expand(msg tea.Msg) []tea.Msg {
	switch msg := msg.(type) {
	case nil, tickMsg:
		return nil
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, h.run(c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

func press(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	named := map[string]tea.KeyType{"up": tea.KeyUp, "down": tea.KeyDown, "pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown,
		"home": tea.KeyHome, "end": tea.KeyEnd, "ctrl+u": tea.KeyCtrlU, "ctrl+d": tea.KeyCtrlD}
	if k, ok := named[s]; ok {
		return tea.KeyMsg{Type: k}
	}
	// Several runes are one event, as a terminal delivers keys read
	// together.
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func plain(m Model) string { return ansi.Strip(m.View()) }

// logAt stores a record with a fixed time, as a library logging through
// the app's logger would, so views of the log pane are deterministic.
func logAt(buf *logbuf.Buffer, at time.Time, lv slog.Level, origin session.LogOrigin, msg string, attrs ...any) {
	rec := slog.NewRecord(at, lv, msg, 0)
	rec.Add(attrs...)
	if origin != "" && origin != session.OriginDTTUI {
		rec.AddAttrs(slog.Any(session.LogOriginKey, origin))
	}
	_ = buf.Handler(slog.LevelDebug).Handle(context.Background(), rec)
}

// seedLogs fills buf with what a session against the embedded SFU logs
// in its first second: the SFU starting and admitting us, pion's ICE
// chatter (INFO, and one WARN), the SDK, and dttui's own lines, one of
// them long enough to wrap.
func seedLogs(buf *logbuf.Buffer) {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	info, warn := slog.LevelInfo, slog.LevelWarn
	logAt(buf, at(0), info, session.OriginSFU, "starting LiveKit server", "logger", "livekit", "portHttp", 7880, "version", "1.13.5")
	logAt(buf, at(104), info, "", "embedded SFU running; to connect another client: set -a; . ~/.cache/dttui/local-sfu.env; set +a; then e.g. lk room join --identity viewer <room>", "url", "ws://127.0.0.1:7880", "api_key", "dttuiab12cd34")
	logAt(buf, at(105), info, "", "connection connecting")
	logAt(buf, at(110), info, session.OriginSDK, "connecting to signal", "logger", "livekit", "url", "ws://127.0.0.1:7880")
	for i, m := range []string{"signaling state changed to have-remote-offer", "Setting new connection state: Checking", "ICE connection state changed: checking"} {
		logAt(buf, at(111+i), info, session.OriginPion, m, "participant", "publisher", "logger", "pion.ice")
	}
	logAt(buf, at(115), warn, session.OriginPion, "Failed to ping without candidate pairs. Connection is not possible yet.", "participant", "publisher", "logger", "pion.ice")
	for i, m := range []string{"ICE connection state changed: connected", "peer connection state changed: connected"} {
		logAt(buf, at(118+i), info, session.OriginPion, m, "participant", "publisher", "logger", "pion.pc")
		logAt(buf, at(118+i), info, session.OriginSFU, m, "room", "demo-room", "participant", "alice", "logger", "livekit")
	}
	logAt(buf, at(120), info, session.OriginSFU, "participant active", "room", "demo-room", "participant", "alice", "logger", "livekit")
	logAt(buf, at(121), info, "", "connection connected")
	logAt(buf, at(124), info, session.OriginSFU, "created data track", "room", "demo-room", "participant", "alice", "name", "telemetry", "logger", "livekit")
	logAt(buf, at(125), info, "", "created data track", "component", "outgoing", "name", "telemetry", "handle", 1, "sid", "DTR_telemetry")
	logAt(buf, at(2300), warn, session.OriginSFU, "data track subscriber is slow, dropping packets", "room", "demo-room", "participant", "alice-loopback", "track", "DTR_telemetry", "logger", "livekit")
	logAt(buf, at(4100), warn, "", "push to \"telemetry\": frame dropped: queue full", "component", "outgoing", "queued", 64)
	logAt(buf, at(5000), info, "", "generator on \"telemetry\": 100/s × 1 KiB")
}
