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
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

// fakeBackend is a scripted session. Its report is built as the real one
// is, by report.Recorder from counters the test advances (advance) in a
// way that keeps every identity true: pushed = sent + dropped + queued,
// and received + lost + in grace = sent. Publishes wait for an answer the
// test gives (answers), or for Cancel.
type fakeBackend struct {
	mu      sync.Mutex
	now     func() time.Time
	status  session.Status
	locals  []*fakeLocal // handle order
	rec     *report.Recorder
	answers chan publishAnswer
	// answerFor, when it has the name, answers that publish instead of
	// answers: tests choose the order publishes finish in.
	answerFor map[string]chan publishAnswer
	started   chan *fakePending // each StartPublish, for tests to follow
	calls     []string
	e2ee      []bool
	closed    bool
	quit      chan struct{} // closed by Close: unanswered publishes give up
	loopback  bool
	// closeGate, when set, holds Close until it is closed (a hung goodbye).
	closeGate chan struct{}
	tracks    map[string]*fakeTrack
	nextH     uint16
}

type publishAnswer struct {
	err error
}

// fakeLocal is one local track's state in the fake session.
type fakeLocal struct {
	l       report.Local // identity, state, timeline, errors
	out     outgoing.Counters
	rx      report.Receive
	latency []time.Duration // cycled through, one per frame received
	// lossPerStep of the frames sent in each advance never arrive.
	lossPerStep uint64
	latI        int
	firstSent   time.Time
	lastSent    time.Time
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		now:      time.Now,
		status:   session.Status{State: session.StateConnected, URL: "ws://127.0.0.1:7880", Room: "demo-room", Identity: "alice", RTT: 800 * time.Microsecond},
		rec:      report.NewRecorder(0),
		answers:  make(chan publishAnswer, 8),
		started:  make(chan *fakePending, 64),
		quit:     make(chan struct{}),
		loopback: true,
		tracks:   map[string]*fakeTrack{},
	}
}

func (f *fakeBackend) local(h uint16) *fakeLocal {
	for _, fl := range f.locals {
		if fl.l.Handle == h {
			return fl
		}
	}
	return nil
}

func (f *fakeBackend) byName(name string) *fakeLocal {
	for _, fl := range f.locals {
		if fl.l.Name == name {
			return fl
		}
	}
	return nil
}

func (fl *fakeLocal) totals() report.Totals {
	return report.Totals{Out: fl.out, Received: fl.rx.Frames, RxBytes: fl.rx.Bytes, Lost: fl.rx.Lost,
		FirstSent: fl.firstSent, LastSent: fl.lastSent}
}

func (f *fakeBackend) Report(base *report.Snapshot) report.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	snap := report.Snapshot{At: now, Connection: f.status, Loopback: f.loopback}
	var since time.Time
	if base != nil {
		since = base.At
	}
	for _, fl := range f.locals {
		l := fl.l
		l.Out = fl.out
		l.SIDs = nil
		for _, ch := range l.Timeline {
			if ch.SID != "" && (len(l.SIDs) == 0 || l.SIDs[len(l.SIDs)-1] != ch.SID) {
				l.SIDs = append(l.SIDs, ch.SID)
			}
		}
		l.Timeline = append([]outgoing.StateChange(nil), l.Timeline...)
		l.Errors = append([]outgoing.ErrorEvent(nil), l.Errors...)
		if f.loopback && l.State != outgoing.StatePending {
			rx := fl.rx
			l.Rx = &rx
		}
		f.rec.Fill(&l, now, fl.totals(), since)
		snap.Local = append(snap.Local, l)
	}
	f.rec.FillConn(&snap, since)
	return snap.Rebase(base)
}

// advance moves the clock one step of d, with each published track
// sending fps[name] frames/s of size bytes and dropping drops[name]
// frames (queue full) in the step; every frame sent arrives, with the
// track's latencies. The recorder samples the connection and every
// track, as the session's sampler does.
func (f *fakeBackend) advance(c *clock, d time.Duration, fps map[string]float64, size int, drops map[string]uint64) {
	c.t = c.t.Add(d)
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	f.rec.SampleConn(now, f.status)
	for _, fl := range f.locals {
		if fl.l.State == outgoing.StatePending {
			continue
		}
		n := uint64(fps[fl.l.Name] * d.Seconds())
		if fl.l.State != outgoing.StatePublished {
			n = 0
		}
		dr := drops[fl.l.Name]
		fl.out.FramesPushed += n + dr
		fl.out.FramesSent += n
		fl.out.PacketsSent += n * uint64((size+15987)/15988)
		fl.out.BytesSent += n * uint64(size+24)
		fl.out.DroppedBy[outgoing.DropQueueFull] += dr
		fl.out.FramesDropped += dr
		if n > 0 {
			if fl.firstSent.IsZero() {
				fl.firstSent = now
			}
			fl.lastSent = now
		}
		lost := min(fl.lossPerStep, n)
		fl.rx.Lost += lost
		fl.rx.Frames += n - lost
		fl.rx.Bytes += (n - lost) * uint64(size)
		for range min(n, 50) {
			if len(fl.latency) > 0 {
				f.rec.ObserveLatency(report.LocalKey(fl.l.Handle), now, fl.latency[fl.latI%len(fl.latency)])
				fl.latI++
			}
		}
		f.rec.Sample(report.LocalKey(fl.l.Handle), now, fl.totals())
	}
}

// lose moves n of a track's frames from received to lost, as frames that
// never arrived within their grace would be.
func (f *fakeBackend) lose(name string, n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl := f.byName(name)
	fl.rx.Frames -= n
	fl.rx.Lost += n
}

// edit changes a track's state under the lock.
func (f *fakeBackend) edit(name string, change func(fl *fakeLocal)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f.byName(name))
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
	if !f.closed {
		close(f.quit)
	}
	f.closed = true
	return nil
}

func (f *fakeBackend) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// fakePending is a publish waiting for the test's answer.
type fakePending struct {
	f         *fakeBackend
	handle    uint16
	name      string
	cancel    chan struct{}
	cancelled atomic.Bool
	done      chan struct{}
	track     *fakeTrack
	err       error
}

func (p *fakePending) Handle() uint16        { return p.handle }
func (p *fakePending) Name() string          { return p.name }
func (p *fakePending) Done() <-chan struct{} { return p.done }
func (p *fakePending) Cancel() {
	if p.cancelled.CompareAndSwap(false, true) {
		close(p.cancel)
	}
}
func (p *fakePending) Result() (Track, error) {
	<-p.done
	if p.err != nil {
		return nil, p.err
	}
	return p.track, nil
}

func (f *fakeBackend) StartPublish(o session.PublishOptions) (Pending, error) {
	f.mu.Lock()
	f.calls = append(f.calls, o.Name)
	f.e2ee = append(f.e2ee, o.E2EE)
	f.nextH++
	h := f.nextH
	fl := &fakeLocal{l: report.Local{Handle: h, Name: o.Name, E2EE: o.E2EE, State: outgoing.StatePending, Since: f.now()},
		rx: report.Receive{Subscribed: true, Grace: probe.DefaultLossGrace}}
	fl.out.PublishAttempts = 1
	f.locals = append(f.locals, fl)
	answers := f.answers
	if ch := f.answerFor[o.Name]; ch != nil {
		answers = ch
	}
	f.mu.Unlock()
	p := &fakePending{f: f, handle: h, name: o.Name, cancel: make(chan struct{}), done: make(chan struct{})}
	f.started <- p
	go func() {
		defer close(p.done)
		select {
		case a := <-answers:
			p.err = a.err
		case <-p.cancel:
			p.err = &outgoing.PublishError{Reason: outgoing.ReasonCancelled, Name: o.Name, Handle: h}
		case <-f.quit:
			p.err = &outgoing.PublishError{Reason: outgoing.ReasonDisconnected, Name: o.Name, Handle: h}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if p.err != nil {
			for i, x := range f.locals {
				if x == fl {
					f.locals = append(f.locals[:i], f.locals[i+1:]...)
					break
				}
			}
			return
		}
		sid := "DTR_" + o.Name
		fl.l.State, fl.l.Since = outgoing.StatePublished, f.now()
		fl.l.Timeline = []outgoing.StateChange{{At: f.now(), State: outgoing.StatePublished, SID: sid, Reason: "published"}}
		p.track = &fakeTrack{handle: h, name: o.Name}
		f.tracks[o.Name] = p.track
	}()
	return p, nil
}

type fakeTrack struct {
	mu     sync.Mutex
	handle uint16
	name   string
	pushes int // frames taken
	// capacity, when set, bounds the frames queued: a push beyond it is
	// refused with QueueFull, a waiting push waits until drain makes room.
	capacity    int
	queued      int
	refused     int           // pushes refused (counted dropped)
	room        chan struct{} // closed and replaced by drain
	unpublished bool
	late        int           // pushes after Unpublish was called
	gate        chan struct{} // when set, each push waits for a token (a slow frame)
	src         *probe.Source
}

func (t *fakeTrack) Handle() uint16 { return t.handle }
func (t *fakeTrack) Name() string   { return t.name }
func (t *fakeTrack) Probe() *probe.Source {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.src == nil {
		t.src = probe.NewSource(0, t.tryPush, nil).WithWait(t.waitPush)
	}
	return t.src
}

func (t *fakeTrack) tryPush(p []byte, ts uint64) error {
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
	if t.capacity > 0 && t.queued >= t.capacity {
		t.refused++
		return &outgoing.PushError{Track: t.name, Drop: outgoing.DropQueueFull}
	}
	t.pushes++
	t.queued++
	return nil
}

// waitPush is outgoing.LocalTrack.Push: it waits for room, and counts
// nothing when ctx ends first.
func (t *fakeTrack) waitPush(ctx context.Context, p []byte, ts uint64) error {
	for {
		t.mu.Lock()
		if t.capacity == 0 || t.queued < t.capacity {
			t.mu.Unlock()
			return t.tryPush(p, ts)
		}
		if t.room == nil {
			t.room = make(chan struct{})
		}
		room := t.room
		t.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setCapacity bounds the track's queue (0: unbounded).
func (t *fakeTrack) setCapacity(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.capacity = n
}

// drain sends n queued frames (all with n < 0), making room.
func (t *fakeTrack) drain(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n < 0 || n > t.queued {
		n = t.queued
	}
	t.queued -= n
	if t.room != nil && n > 0 {
		close(t.room)
		t.room = nil
	}
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

// checkIdentities fails the test when a report the fake produced breaks
// one of the identities every real report keeps.
func checkIdentities(t *testing.T, snap report.Snapshot) {
	t.Helper()
	for _, l := range snap.Local {
		c := l.Out
		var byReason uint64
		for _, n := range c.DroppedBy {
			byReason += n
		}
		if c.FramesPushed != c.FramesSent+c.FramesDropped+c.FramesQueued || byReason != c.FramesDropped {
			t.Fatalf("%s: pushed %d != sent %d + dropped %d (by reason %d) + queued %d", l.Name, c.FramesPushed, c.FramesSent, c.FramesDropped, byReason, c.FramesQueued)
		}
		if rx := l.Rx; rx != nil && rx.Frames+rx.Lost+rx.InGrace != c.FramesSent {
			t.Fatalf("%s: received %d + lost %d + in grace %d != sent %d", l.Name, rx.Frames, rx.Lost, rx.InGrace, c.FramesSent)
		}
		var hist uint64
		for _, s := range l.History {
			hist += s.Sent
		}
		if hist > c.FramesSent {
			t.Fatalf("%s: history sums to %d frames, more than the %d sent", l.Name, hist, c.FramesSent)
		}
	}
}

// clock is a settable time for deterministic views.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func newTestModel(b *fakeBackend, c *clock, logs *logbuf.Buffer) Model {
	b.now = c.now
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
