package tui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/tui/theme"
)

// A burst runs off the Update goroutine: Update returns while the frames
// are still being pushed (here: held back one by one), the UI keeps
// answering keys, and the result arrives as a message with every frame
// counted.
func TestBurstDoesNotBlockUpdate(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	tr, gate := gatedTrack(t, h, b, "slow")

	start := time.Now()
	next, cmd := h.m.Update(press("b"))
	h.m = next.(Model)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("Update blocked %v on the burst", d)
	}
	if cmd == nil {
		t.Fatal("no command reports the burst")
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	// Still responsive: a second burst waits its turn, in words; detail
	// opens.
	h.send(press("b"))
	if h.m.statusErr || !strings.Contains(h.m.statusMsg, "queued") || len(h.m.tracks[tr.handle].queued) != 1 {
		t.Fatalf("second burst: %q", h.m.statusMsg)
	}
	h.send(press("d"))
	if !h.m.showDetail {
		t.Fatal("keys not handled during a burst")
	}
	go func() {
		for range 2 * defaultBurst {
			gate <- struct{}{}
		}
	}()
	var msg tea.Msg
	select {
	case msg = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("burst never finished")
	}
	h.send(msg) // the first reports, the second starts
	h.until("the queued burst", 10*time.Second, func(m Model) bool { return m.tracks[tr.handle].burst == nil })
	if tr.count() != 2*defaultBurst || !strings.Contains(h.m.statusMsg, "pushed 100/100 frames") {
		t.Fatalf("pushed %d, status %q", tr.count(), h.m.statusMsg)
	}
	if len(h.m.tracks[tr.handle].queued) != 0 {
		t.Fatal("finished bursts still queued")
	}
}

// Quitting in the middle of a burst stops it, and waits for it before the
// tracks are unpublished: no frame is pushed after that, and every frame
// pushed was pushed before.
func TestQuitStopsABurstBeforeUnpublishing(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	tr, gate := gatedTrack(t, h, b, "big")
	h.send(press("B")) // 1000 frames
	next, _ := h.m.Update(press("b"))
	h.m = next.(Model)
	job := h.m.tracks[tr.handle].burst
	gate <- struct{}{}
	gate <- struct{}{}
	next, cmd := h.m.Update(press("q"))
	h.m = next.(Model)
	close(gate) // the frame in progress finishes; no next one starts
	for _, m := range h.run(cmd) {
		h.send(m)
	}
	if !b.isClosed() {
		t.Fatal("backend not closed")
	}
	job.Wait()
	if job.attempted >= 1000 || job.attempted != tr.count() {
		t.Fatalf("burst attempted %d, track saw %d", job.attempted, tr.count())
	}
	if tr.latePushes() != 0 {
		t.Fatalf("%d pushes after the track was unpublished", tr.latePushes())
	}
}

// The generator is stopped, and waited for, before the unpublish: a push
// arriving after it would show as a false UNPUB count.
func TestUnpublishWaitsForTheGenerator(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	tr := publishNow(t, h, b, "fast")
	for range 11 { // 50 → 100 000 frames/s
		h.send(press("+"))
	}
	h.send(press("g"))
	deadline := time.Now().Add(5 * time.Second)
	for tr.count() < 1000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	h.send(press("u"))
	h.until("unpublish", 5*time.Second, func(m Model) bool { return strings.Contains(m.statusMsg, "unpublished") })
	time.Sleep(20 * time.Millisecond)
	if tr.latePushes() != 0 {
		t.Fatalf("%d pushes after unpublish", tr.latePushes())
	}
}

// A generator that cannot start says why, in words.
func TestGeneratorStartFailureIsShown(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, New(b, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour,
		Autostart: []AutoTrack{{Name: "flood", Rate: 2 * probe.MaxRate, Size: 1024}}}))
	b.answers <- publishAnswer{}
	h.init()
	h.until("the publish", 5*time.Second, func(m Model) bool { return len(m.tracks) == 1 })
	if !h.m.statusErr || !strings.Contains(h.m.statusMsg, "not started") || !strings.Contains(h.m.statusMsg, "200k/s") {
		t.Fatalf("status %q", h.m.statusMsg)
	}
	if h.m.tracks[1].gen != nil {
		t.Fatal("generator running")
	}
}

// --track NAME:0:SIZE publishes without a generator; g then starts one
// of SIZE bytes, at the default rate (main: at the default size, 1 KiB).
func TestPublishOnlyTrackKeepsItsSize(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, New(b, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour,
		Autostart: []AutoTrack{{Name: "big", Rate: 0, Size: 256 << 10}}}))
	b.answers <- publishAnswer{}
	h.init()
	h.until("the publish", 5*time.Second, func(m Model) bool { return len(m.tracks) == 1 })
	if h.m.tracks[1].gen != nil {
		t.Fatal("a generator runs on a publish-only track")
	}
	h.send(press("g"))
	defer h.send(press("g"))
	if !strings.Contains(h.m.statusMsg, `generator on "big": 50/s × 256 KiB`) {
		t.Fatalf("status %q", h.m.statusMsg)
	}
}

func TestCtrlCQuitsFromThePrompt(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	h.send(press("p"))
	h.send(press("q")) // typed into the name
	if h.m.quitting || !strings.HasSuffix(h.m.prompt.Value(), "q") {
		t.Fatalf("q in the prompt should type, value %q", h.m.prompt.Value())
	}
	h.send(press("ctrl+c"))
	if !h.m.quitting || !b.isClosed() || !h.quit.Load() {
		t.Fatal("ctrl+c in the prompt did not quit")
	}
}

// A hung close does not trap the user: a second ctrl+c quits at once, and
// without it the quit timeout does.
func TestHungCloseIsBounded(t *testing.T) {
	for _, second := range []bool{true, false} {
		b := newFakeBackend()
		b.closeGate = make(chan struct{})
		c := &clock{t: t0}
		h := newHarness(t, New(b, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour, QuitTimeout: 200 * time.Millisecond}))
		h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
		h.send(press("q"))
		if !h.m.quitting || h.quit.Load() {
			t.Fatal("not closing")
		}
		if v := plain(h.m); !strings.Contains(v, "closing") || !strings.Contains(v, "ctrl+c again") {
			t.Fatalf("closing view:\n%s", v)
		}
		h.send(press("x")) // other keys wait
		if h.quit.Load() {
			t.Fatal("a key other than ctrl+c ended the close")
		}
		if second {
			h.send(press("ctrl+c"))
		} else {
			h.until("the quit timeout", 5*time.Second, func(Model) bool { return h.quit.Load() })
		}
		if !h.quit.Load() || h.m.unclean == "" {
			t.Fatalf("second=%v: quit %v, unclean %q", second, h.quit.Load(), h.m.unclean)
		}
		if why := h.m.shutdown(); why == "" {
			t.Fatal("Run would not report the unfinished close")
		}
		close(b.closeGate)
	}
}

// `c` cancels the selected pending row's publish, not the oldest one of
// that name.
func TestCancelTheSelectedPendingRow(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	var ps []*fakePending
	for range 2 {
		h.send(press("p"))
		h.m.prompt.SetValue("dup")
		h.send(press("enter"))
		ps = append(ps, <-b.started)
	}
	h.until("both pending rows", 5*time.Second, func(m Model) bool { return len(m.pending) == 2 })
	h.send(tickMsg(t0))
	h.send(press("down"))
	if r, _ := h.m.selectedRow(); r.L.Handle != 2 {
		t.Fatalf("selected handle %d", r.L.Handle)
	}
	h.send(press("c"))
	select {
	case <-ps[1].Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the selected publish was not cancelled")
	}
	if ps[0].cancelled.Load() || !ps[1].cancelled.Load() {
		t.Fatal("the other publish of that name was cancelled")
	}
	if !strings.Contains(h.m.statusMsg, "handle 2") {
		t.Fatalf("status %q", h.m.statusMsg)
	}
}

// A publish that succeeds while quitting starts no generator.
func TestPublishDuringQuitStartsNothing(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	b.closeGate = make(chan struct{})
	defer close(b.closeGate)
	h := newHarness(t, New(b, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour,
		Autostart: []AutoTrack{{Name: "late", Rate: 100, Size: 64}}}))
	h.init()
	<-b.started
	h.send(press("q"))
	// Publish returns a track although the quit cancelled it (the answer raced the cancel).
	tr := &fakeTrack{handle: 9, name: "late"}
	won := &fakePending{handle: 9, name: "late", done: make(chan struct{}), track: tr}
	close(won.done)
	h.send(publishDoneMsg{p: won, auto: &h.m.opts.Autostart[0]})
	if len(h.m.tracks) != 0 {
		t.Fatal("a track was added while quitting")
	}
	time.Sleep(20 * time.Millisecond)
	if tr.count() != 0 {
		t.Fatalf("%d frames pushed while quitting", tr.count())
	}
}

func TestPromptRefusesBadNames(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	for _, tc := range []struct{ name, want string }{
		{"   ", "needs a name"},
		{strings.Repeat("n", outgoing.MaxNameBytes+1), "257 bytes; the limit is 256"},
		{strings.Repeat("é", 129), "258 bytes"}, // 129 characters, 258 bytes
	} {
		h.send(press("p"))
		h.m.prompt.SetValue(tc.name)
		h.send(press("enter"))
		if !h.m.prompt.IsOpen() || !h.m.statusErr || !strings.Contains(h.m.statusMsg, tc.want) {
			t.Fatalf("%q: prompt %v, status %q", tc.name, h.m.prompt.IsOpen(), h.m.statusMsg)
		}
		if !strings.Contains(plain(h.m), tc.want) {
			t.Fatalf("%q: refusal not on screen", tc.name)
		}
		h.send(press("esc"))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.calls) != 0 {
		t.Fatalf("published %v", b.calls)
	}
}

// The UI is up before the connection: the header says where it connects
// (without credentials), keys that need the session say so, and once
// connected the autostart tracks are published.
func TestConnectsInTheBackground(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	release := make(chan struct{})
	connect := func(ctx context.Context, _ string) (Backend, error) {
		select {
		case <-release:
			return b, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	h := newHarness(t, New(nil, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour, Connect: connect,
		URL: "wss://user:hunter2@lab.example/rtc?access_token=SECRET", Autostart: []AutoTrack{{Name: "auto"}}}))
	h.send(tea.WindowSizeMsg{Width: 100, Height: 24})
	h.init()
	v := plain(h.m)
	if !strings.Contains(v, "connecting to wss://lab.example/rtc…") || strings.Contains(v, "hunter2") || strings.Contains(v, "SECRET") {
		t.Fatalf("connecting view:\n%s", v)
	}
	h.send(press("p"))
	if h.m.prompt.IsOpen() || !strings.Contains(h.m.statusMsg, "not connected yet") {
		t.Fatalf("p while connecting: prompt %v, status %q", h.m.prompt.IsOpen(), h.m.statusMsg)
	}
	b.answers <- publishAnswer{}
	close(release)
	h.until("the autostart track", 5*time.Second, func(m Model) bool { return len(m.tracks) == 1 })
	if v := plain(h.m); !strings.Contains(v, "● connected") || !strings.Contains(v, "auto") {
		t.Fatalf("connected view:\n%s", v)
	}
}

// A failed connect stays on screen in words until the user quits; Run then
// returns it for stderr.
func TestConnectFailureIsShown(t *testing.T) {
	c := &clock{t: t0}
	boom := errors.New("connect to ws://127.0.0.1:9: dial tcp 127.0.0.1:9: connection refused")
	h := newHarness(t, New(nil, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour, URL: "ws://127.0.0.1:9",
		Connect: func(context.Context, string) (Backend, error) { return nil, boom }}))
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.init()
	v := plain(h.m)
	if !strings.Contains(v, "could not connect to ws://127.0.0.1:9") || !strings.Contains(v, "connection refused") || !strings.Contains(v, "q quits") {
		t.Fatalf("view:\n%s", v)
	}
	h.send(press("b"))
	if !strings.Contains(h.m.statusMsg, "not connected") {
		t.Fatalf("status %q", h.m.statusMsg)
	}
	h.send(press("q"))
	if !h.quit.Load() {
		t.Fatal("q did not quit")
	}
	if h.m.connErr != boom || h.m.shutdown() != "" {
		t.Fatalf("connErr %v", h.m.connErr)
	}
}

// Quitting while the connect is still running cancels it.
func TestQuitWhileConnecting(t *testing.T) {
	c := &clock{t: t0}
	started := make(chan struct{})
	h := newHarness(t, New(nil, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour, QuitTimeout: 2 * time.Second,
		Connect: func(ctx context.Context, _ string) (Backend, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}}))
	h.init()
	<-started
	h.send(press("q"))
	h.until("the quit", 5*time.Second, func(Model) bool { return h.quit.Load() })
	if h.m.unclean != "" {
		t.Fatalf("unclean: %s", h.m.unclean)
	}
}

// gatedTrack publishes a track whose every push waits for a token on gate.
func gatedTrack(t *testing.T, h *harness, b *fakeBackend, name string) (*fakeTrack, chan struct{}) {
	t.Helper()
	tr := publishNow(t, h, b, name)
	gate := make(chan struct{})
	tr.mu.Lock()
	tr.gate = gate
	tr.mu.Unlock()
	return tr, gate
}

// --track publishes start in the order given, so handles follow it, and
// the first stays selected however the SFU's answers come back.
func TestAutostartFollowsTrackOrder(t *testing.T) {
	b := newFakeBackend()
	names := []string{"alpha", "bravo", "charlie"}
	b.answerFor = map[string]chan publishAnswer{}
	for _, n := range names {
		b.answerFor[n] = make(chan publishAnswer, 1)
	}
	c := &clock{t: t0}
	b.now = c.now
	var auto []AutoTrack
	for _, n := range names {
		auto = append(auto, AutoTrack{Name: n})
	}
	h := newHarness(t, New(b, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour, Autostart: auto}))
	h.send(tea.WindowSizeMsg{Width: 100, Height: 20})
	h.init()
	for k, i := range []int{0, 2, 1} {
		b.answerFor[names[i]] <- publishAnswer{}
		h.until(names[i]+" published", 5*time.Second, func(m Model) bool { return len(m.tracks) == k+1 })
	}
	for i, n := range names {
		if tu := h.m.tracks[uint16(i+1)]; tu == nil || tu.track.Name() != n {
			t.Fatalf("handle %d is not %q: %v", i+1, n, b.calls)
		}
	}
	if r, _ := h.m.selectedRow(); r.L.Name != "alpha" {
		t.Fatalf("selected %q, want the first --track", r.L.Name)
	}
}
