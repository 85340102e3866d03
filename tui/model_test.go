package tui

import (
	"errors"
	"github.com/dttui/dttui/schema"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/theme"
)

func TestPublishFlowPendingThenPublished(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	h.send(tea.WindowSizeMsg{Width: 120, Height: 30})
	h.send(press("p"))
	if !h.m.prompt.IsOpen() || !strings.Contains(plain(h.m), "Publish a data track") {
		t.Fatalf("no prompt:\n%s", plain(h.m))
	}
	h.m.prompt.SetValue("")
	for _, r := range "sensors" {
		h.send(press(string(r)))
	}
	h.send(press("enter"))
	<-b.started
	// The report has it pending while the SFU has not answered.
	c.t = t0.Add(1500 * time.Millisecond)
	h.send(tickMsg(c.t))
	if v := plain(h.m); !strings.Contains(v, "pending 1.5s") || !strings.Contains(v, "sensors") {
		t.Fatalf("pending row missing:\n%s", v)
	}
	b.answers <- publishAnswer{}
	h.until("the published track", 5*time.Second, func(m Model) bool { return m.tracks[1] != nil })
	if v := plain(h.m); !strings.Contains(v, "published") || !strings.Contains(v, `published "sensors" as handle 1`) {
		t.Fatalf("no published row:\n%s", v)
	}
}

func TestFailedPublishShowsReason(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	b.answers <- publishAnswer{err: &outgoing.PublishError{Reason: outgoing.ReasonDuplicateName, Name: "dup"}}
	h.send(press("p"))
	h.m.prompt.SetValue("dup")
	h.send(press("enter"))
	h.until("the failed row", 5*time.Second, func(m Model) bool { return len(m.failed) == 1 })
	v := plain(h.m)
	if !strings.Contains(v, "failed") || !strings.Contains(v, "already published") {
		t.Fatalf("failure not shown:\n%s", v)
	}
}

func TestCancelPendingPublish(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	h.send(press("p"))
	h.m.prompt.SetValue("slow")
	h.send(press("enter"))
	p := <-b.started
	h.send(tickMsg(t0))
	h.send(press("c"))
	select {
	case <-p.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("c did not cancel the pending publish")
	}
	if !p.cancelled.Load() {
		t.Fatal("the publish ended, but not by its cancel")
	}
	h.until("the cancelled row", 5*time.Second, func(m Model) bool { return len(m.failed) == 1 })
	if v := plain(h.m); !strings.Contains(v, "cancelled") {
		t.Fatalf("cancel not shown:\n%s", v)
	}
}

// publishNow runs a publish that the fake answers at once.
func publishNow(t *testing.T, h *harness, b *fakeBackend, name string) *fakeTrack {
	t.Helper()
	b.answers <- publishAnswer{}
	h.send(press("p"))
	h.m.prompt.SetValue(name)
	h.send(press("enter"))
	h.until("publish of "+name, 5*time.Second, func(m Model) bool {
		for _, tu := range m.tracks {
			if tu.track.Name() == name {
				return true
			}
		}
		return false
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	tr := b.tracks[name]
	if tr == nil {
		t.Fatalf("publish %q did not happen", name)
	}
	return tr
}

func TestPushOneAndBurst(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	tr := publishNow(t, h, b, "x")
	h.send(press("space"))
	if tr.count() != 1 || !strings.Contains(h.m.statusMsg, `pushed 1 frame of 1 KiB to "x"`) {
		t.Fatalf("push one: %d, %q", tr.count(), h.m.statusMsg)
	}
	h.send(press("b"))
	h.until("the burst's report", 5*time.Second, func(m Model) bool { return strings.Contains(m.statusMsg, "burst") })
	if tr.count() != 1+defaultBurst || !strings.Contains(h.m.statusMsg, `burst to "x": pushed 100/100 frames of 1 KiB, each waiting for queue room`) {
		t.Fatalf("burst: %d, %q", tr.count(), h.m.statusMsg)
	}
}

// With the queue's 16 frames, a burst (b) still delivers every frame: it
// waits for room as the sender drains the queue. A flood (f) pushes all
// at once and the queue drops what it cannot hold, in the words of the
// table's columns: every frame pushed, the refused ones dropped.
func TestBurstDeliversFloodDrops(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	tr := publishNow(t, h, b, "x")
	tr.setCapacity(outgoing.DefaultQueueCapacity)
	// The sender: drains whatever is queued until the burst is done.
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for {
			select {
			case <-stop:
				return
			default:
				tr.drain(-1)
				runtime.Gosched()
			}
		}
	}()
	h.send(press("b"))
	h.until("the burst's report", 10*time.Second, func(m Model) bool { return strings.Contains(m.statusMsg, "burst to") })
	close(stop)
	<-sent
	if tr.count() != defaultBurst || tr.refused != 0 || h.m.statusErr ||
		!strings.Contains(h.m.statusMsg, `burst to "x": pushed 100/100 frames of 1 KiB, each waiting for queue room`) {
		t.Fatalf("burst: taken %d, refused %d, status %q", tr.count(), tr.refused, h.m.statusMsg)
	}

	tr.drain(-1)
	h.send(press("f"))
	h.until("the flood's report", 5*time.Second, func(m Model) bool { return strings.Contains(m.statusMsg, "flood to") })
	want := `flood to "x": pushed 100/100 frames of 1 KiB at once: 16 queued, 84 dropped (frame dropped: queue full)`
	if tr.count() != defaultBurst+16 || tr.refused != 84 || !h.m.statusErr || h.m.statusMsg != want {
		t.Fatalf("flood: taken %d, refused %d, status %q", tr.count(), tr.refused, h.m.statusMsg)
	}
}

// A burst whose queue never makes room gives up at the burst timeout and
// says how many frames it never pushed; unpublish stops one at once.
func TestBurstStopsWithoutRoom(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	b.now = c.now
	h := newHarness(t, New(b, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour, BurstTimeout: 50 * time.Millisecond}))
	tr := publishNow(t, h, b, "full")
	tr.setCapacity(5)
	h.send(press("b"))
	h.until("the burst's report", 5*time.Second, func(m Model) bool { return strings.Contains(m.statusMsg, "burst to") })
	want := `burst to "full": pushed 5/100 frames of 1 KiB in 50ms; the queue had no room for the other 95, not pushed`
	if tr.count() != 5 || !h.m.statusErr || h.m.statusMsg != want {
		t.Fatalf("taken %d, status %q", tr.count(), h.m.statusMsg)
	}
}

// Unpublish stops a burst that waits for room at once; the frames it had
// not pushed are never pushed.
func TestUnpublishStopsAWaitingBurst(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	tr := publishNow(t, h, b, "stuck")
	tr.setCapacity(5)
	h.send(press("b"))
	job := h.m.tracks[tr.handle].burst
	for tr.count() < 5 {
		runtime.Gosched()
	}
	h.send(press("u")) // halts the burst, then unpublishes
	h.until("the burst's report", 5*time.Second, func(m Model) bool { return m.tracks[tr.handle].burst == nil })
	if job.attempted != 5 || !strings.Contains(h.m.statusMsg, `burst to "stuck": pushed 5/100 frames of 1 KiB; stopped, the other 95 not pushed`) {
		t.Fatalf("attempted %d, status %q", job.attempted, h.m.statusMsg)
	}
}

func TestGeneratorStartRateStop(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	tr := publishNow(t, h, b, "gen")
	h.send(press("g"))
	tu := h.m.tracks[tr.handle]
	if tu.gen == nil {
		t.Fatal("generator not started")
	}
	deadline := time.Now().Add(5 * time.Second)
	for tr.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if tr.count() == 0 {
		t.Fatal("generator pushed nothing")
	}
	h.send(press("+"))
	if tu.gen.Rate() != 2*defaultRate {
		t.Fatalf("rate %v", tu.gen.Rate())
	}
	h.send(press("]"))
	if tu.gen.Size() != 2*defaultSize {
		t.Fatalf("size %v", tu.gen.Size())
	}
	h.send(press("g"))
	if tu.gen != nil {
		t.Fatal("generator not stopped")
	}
	n := tr.count()
	time.Sleep(30 * time.Millisecond)
	if tr.count() != n {
		t.Fatal("generator still pushing after stop")
	}
}

func TestUnpublishAndQuit(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	tr := publishNow(t, h, b, "bye")
	h.send(press("g"))
	h.send(press("u"))
	h.until("unpublish", 5*time.Second, func(m Model) bool { return strings.Contains(m.statusMsg, "unpublished") })
	if !tr.unpublished || h.m.tracks[tr.handle].gen != nil {
		t.Fatal("unpublish did not stop the generator and unpublish")
	}
	h.send(press("ctrl+c"))
	if !b.isClosed() || !h.m.quitting || !h.quit.Load() {
		t.Fatal("quit did not close the backend and end the program")
	}
	if tr.latePushes() != 0 {
		t.Fatalf("%d pushes after unpublish", tr.latePushes())
	}
}

// A burst on an unpublished track says its frames were refused as the
// table counts them (UNPUB), not "dropped" (the DROPPED column stays 0).
func TestBurstOnUnpublishedTrackSaysUNPUB(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	tr := publishNow(t, h, b, "bye")
	tr.mu.Lock()
	tr.refuseUnpublished = true
	tr.mu.Unlock()
	h.send(press("u"))
	h.until("unpublish", 5*time.Second, func(m Model) bool { return strings.Contains(m.statusMsg, "unpublished") })
	h.send(press("f"))
	h.until("the flood's report", 5*time.Second, func(m Model) bool { return strings.Contains(m.statusMsg, "flood to") })
	if !strings.Contains(h.m.statusMsg, "100 refused, the track is unpublished (UNPUB)") || strings.Contains(h.m.statusMsg, "dropped") {
		t.Fatalf("flood on an unpublished track: %q", h.m.statusMsg)
	}
}

func TestActionsWithoutTrackExplainThemselves(t *testing.T) {
	h := newHarness(t, newTestModel(newFakeBackend(), &clock{t: t0}, nil))
	for _, k := range []string{"space", "b", "g", "+", "u"} {
		h.send(press(k))
		if !h.m.statusErr || !strings.Contains(h.m.statusMsg, "select") {
			t.Fatalf("%s: status %q", k, h.m.statusMsg)
		}
	}
}

func TestPauseFreezesDisplay(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	h.send(press("z"))
	if _, err := b.StartPublish(session.PublishOptions{Name: "late"}); err != nil {
		t.Fatal(err)
	}
	h.send(tickMsg(t0))
	if strings.Contains(plain(h.m), "late") || !strings.Contains(plain(h.m), "[paused]") {
		t.Fatalf("paused view changed:\n%s", plain(h.m))
	}
	h.send(press("z"))
	h.send(tickMsg(t0))
	if !strings.Contains(plain(h.m), "late") {
		t.Fatal("unpause did not refresh")
	}
}

func TestResetCountersAndSort(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	publishNow(t, h, b, "a")
	b.edit("a", func(fl *fakeLocal) {
		fl.out.FramesPushed, fl.out.FramesDropped, fl.out.DroppedBy[outgoing.DropQueueFull] = 500, 20, 20
		fl.out.FramesSent = 480
	})
	h.send(tickMsg(t0))
	if r, _ := h.m.selectedRow(); r.L.Out.FramesPushed != 500 {
		t.Fatalf("pushed %d", r.L.Out.FramesPushed)
	}
	h.send(press("r"))
	if r, _ := h.m.selectedRow(); r.L.Out.FramesPushed != 0 || r.L.Out.FramesDropped != 0 {
		t.Fatalf("after reset %+v", r.L.Out)
	}
	// The order is in the header: an arrow on the column, its direction.
	head := func() string { return strings.Split(plain(h.m), "\n")[1] }
	if !strings.Contains(head(), " ▲H ") {
		t.Fatalf("sort by handle not shown: %q", head())
	}
	for _, want := range []string{"NAME▲", "▼BYTES/S", "▼DROPPED", " ▲H "} {
		h.send(press("s"))
		if !strings.Contains(head(), want) || strings.Count(head(), "▲")+strings.Count(head(), "▼") != 1 {
			t.Fatalf("sort %v: header %q, want %q", h.m.tbl.sort, head(), want)
		}
	}
}

func TestErrorsNeverCrash(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	b.answers <- publishAnswer{err: errors.New("connection lost")}
	h.send(press("p"))
	h.m.prompt.SetValue("x")
	h.send(press("enter"))
	h.until("the failed row", 5*time.Second, func(m Model) bool { return len(m.failed) == 1 })
	if !strings.Contains(plain(h.m), "connection lost") {
		t.Fatalf("plain error not shown:\n%s", plain(h.m))
	}
	for _, sz := range [][2]int{{10, 3}, {1, 1}, {0, 0}, {19, 40}, {200, 7}} { // absurdly small: still renders, and fits
		h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		assertFits(t, h.m.View(), sz[0], sz[1])
	}
	h.send(tea.WindowSizeMsg{Width: 10, Height: 3})
	if v := plain(h.m); !strings.Contains(v, "too") {
		t.Fatalf("10x3 does not say the terminal is too small:\n%s", v)
	}
}

func TestPromptE2EEToggle(t *testing.T) {
	for _, available := range []bool{false, true} {
		b := newFakeBackend()
		c := &clock{t: t0}
		h := newHarness(t, New(b, Options{Theme: newTestModel(b, c, nil).th, Now: c.now, Tick: time.Hour, E2EEAvailable: available}))
		b.answers <- publishAnswer{}
		h.send(press("p"))
		h.send(press("tab"))
		want := available // without a passphrase the switch stays off
		var promptLine string
		for _, l := range strings.Split(plain(h.m), "\n") {
			if strings.Contains(l, "Publish a data track") {
				promptLine = l
			}
		}
		if on := strings.Contains(promptLine, "E2EE on"); on != want {
			t.Fatalf("available=%v: prompt line %q", available, promptLine)
		}
		h.send(press("enter"))
		h.until("the publish", 5*time.Second, func(m Model) bool { return len(m.tracks) == 1 })
		b.mu.Lock()
		got := b.e2ee[0]
		b.mu.Unlock()
		if got != want {
			t.Fatalf("available=%v: published with e2ee=%v", available, got)
		}
	}
}

// ctrl+t in the publish prompt cycles the frame encoding the generator
// can write; the track is published declaring it.
func TestPromptEncoding(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	h.send(tea.WindowSizeMsg{Width: 140, Height: 40})
	b.answers <- publishAnswer{}
	h.send(press("p"))
	promptLine := func() string {
		for _, l := range strings.Split(plain(h.m), "\n") {
			if strings.Contains(l, "Publish a data track") {
				return l
			}
		}
		return ""
	}
	if !strings.Contains(promptLine(), "· untyped") {
		t.Fatalf("prompt line %q", promptLine())
	}
	h.send(tea.KeyMsg{Type: tea.KeyCtrlT})
	if !strings.Contains(promptLine(), "· json") {
		t.Fatalf("after ctrl+t: %q", promptLine())
	}
	h.send(press("enter"))
	h.until("the publish", 5*time.Second, func(m Model) bool { return len(m.tracks) == 1 })
	b.mu.Lock()
	got := b.types[0]
	b.mu.Unlock()
	if got != (schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON}}) {
		t.Fatalf("published with type %+v", got)
	}
	// The table says it too, in a TYPE column as the room's rows do (only
	// while a local track declares an encoding).
	h.until("the row's type", 5*time.Second, func(m Model) bool {
		lines := strings.Split(plain(m), "\n")
		return len(lines) > 2 && strings.Contains(lines[1], " TYPE ") && regexp.MustCompile(`track-1 .* json .* published`).MatchString(lines[2])
	})
}

// Reset rebases every figure on screen: counters, latency, the send
// history, the last error and corrupt frames; a track idle since shows no
// stale latency.
func TestResetRebasesEveryFigure(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	h.send(tea.WindowSizeMsg{Width: 140, Height: 40})
	publishNow(t, h, b, "x")
	b.edit("x", func(fl *fakeLocal) {
		fl.latency = []time.Duration{4200 * time.Millisecond}
		fl.rx.Corrupt = 2
		fl.l.Errors = []outgoing.ErrorEvent{{At: c.t, Cause: &outgoing.PushError{Track: "x", Drop: outgoing.DropQueueFull}, Err: "x"}}
	})
	for range 30 {
		b.advance(c, 100*time.Millisecond, map[string]float64{"x": 100}, 100, nil)
		h.send(tickMsg(c.t))
	}
	r, _ := h.m.selectedRow()
	if r.L.Latency.P99 < 4*time.Second || len(r.Spark()) == 0 || r.LastError() == "" || r.L.Rx.Corrupt != 2 {
		t.Fatalf("before reset: p99 %s, spark %v, last error %q, corrupt %d", r.L.Latency.P99, r.Spark(), r.LastError(), r.L.Rx.Corrupt)
	}
	c.t = c.t.Add(time.Second)
	h.send(press("r"))
	r, _ = h.m.selectedRow()
	if r.L.Latency.Frames != 0 || r.L.Latency.P99 != 0 || len(r.Spark()) != 0 || r.LastError() != "" || r.L.Rx.Corrupt != 0 || r.L.Out.FramesSent != 0 {
		t.Fatalf("after reset: latency %+v, spark %v, last error %q, corrupt %d, sent %d", r.L.Latency, r.Spark(), r.LastError(), r.L.Rx.Corrupt, r.L.Out.FramesSent)
	}
	if v := plain(h.m); strings.Contains(v, "4.2s") {
		t.Fatalf("stale latency on screen after reset:\n%s", v)
	}
	// New frames after the reset are counted, at their own latency.
	b.edit("x", func(fl *fakeLocal) { fl.latency = []time.Duration{3 * time.Millisecond} })
	for range 20 {
		b.advance(c, 100*time.Millisecond, map[string]float64{"x": 100}, 100, nil)
		h.send(tickMsg(c.t))
	}
	r, _ = h.m.selectedRow()
	if r.L.Latency.P99 > 4*time.Millisecond || r.L.Latency.Frames == 0 || r.L.Out.FramesSent != 200 {
		t.Fatalf("after new traffic: latency %+v, sent %d", r.L.Latency, r.L.Out.FramesSent)
	}
}

// Pause freezes the screen while the session keeps recording: unpaused,
// the history has no gap for a track that never stopped.
func TestPauseLeavesNoGap(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	publishNow(t, h, b, "steady")
	step := func(n int) {
		for range n {
			b.advance(c, 100*time.Millisecond, map[string]float64{"steady": 50}, 100, nil)
			h.send(tickMsg(c.t))
		}
	}
	step(30)
	h.send(press("z"))
	frozen := plain(h.m)
	step(50)
	if plain(h.m) != frozen {
		t.Fatal("the screen changed while paused")
	}
	h.send(press("z"))
	step(1)
	r, _ := h.m.selectedRow()
	spark := r.Spark()
	if len(spark) < 7 {
		t.Fatalf("history %v", spark)
	}
	for i, v := range spark {
		if v == 0 {
			t.Fatalf("second %d of the history is empty: %v", i, spark)
		}
	}
}

// g refuses an unpublished track, as u does: a generator there would
// only produce "unpublished" drops.
func TestGeneratorRefusesUnpublishedTrack(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	tr := publishNow(t, h, b, "gone")
	h.send(press("u"))
	h.until("unpublish", 5*time.Second, func(m Model) bool { return strings.Contains(m.statusMsg, "unpublished") })
	b.edit("gone", func(fl *fakeLocal) { fl.l.State = outgoing.StateUnpublished })
	h.send(tickMsg(t0))
	h.send(press("g"))
	if h.m.tracks[tr.handle].gen != nil {
		t.Fatal("generator started on an unpublished track")
	}
	if !h.m.statusErr || !strings.Contains(h.m.statusMsg, `"gone" is unpublished`) {
		t.Fatalf("status %q", h.m.statusMsg)
	}
	if n := tr.count(); n != 0 {
		t.Fatalf("%d frames pushed to an unpublished track", n)
	}
}
