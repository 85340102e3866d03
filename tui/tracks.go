package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/tui/components/tracktable"
	"github.com/dttui/dttui/tui/format"
)

// The generator's bounds, as the keys and the flags know them.
const (
	maxRate = probe.MaxRate
	minSize = probe.MinSize
	maxSize = probe.MaxSize
)

// DropWindow: a track is "dropping" (red) while it dropped frames within
// this long, not forever after its first drop.
const DropWindow = 5 * time.Second

// trackUI is what the UI keeps per track beyond the report. Its pushers
// (the generator and a burst) are owned here: halt stops them, wait
// returns once they can no longer push.
type trackUI struct {
	track Track
	src   *probe.Source
	gen   *probe.Generator // running generator; nil when off
	burst *burstJob        // burst in flight; nil when none
	rate  float64
	size  int
}

func newTrackUI(t Track, rate float64, size int) *trackUI {
	return &trackUI{track: t, src: t.Probe(), rate: rate, size: size}
}

// pusher is something that pushes frames on its own goroutine.
type pusher interface {
	Halt() // ask it to stop; returns at once
	Wait() // returns once it has stopped
}

// pushers are the track's running pushers, to halt now and wait for later
// (off the UI goroutine) without touching the trackUI again.
func (t *trackUI) pushers() []pusher {
	var ps []pusher
	if t.gen != nil {
		ps = append(ps, t.gen)
	}
	if t.burst != nil {
		ps = append(ps, t.burst)
	}
	return ps
}

// halt stops the track's pushers without waiting, forgets them, and
// returns them for waiting.
func (t *trackUI) halt() []pusher {
	ps := t.pushers()
	for _, p := range ps {
		p.Halt()
	}
	t.gen = nil
	return ps
}

func waitAll(ps []pusher) {
	for _, p := range ps {
		p.Wait()
	}
}

// failedRow keeps a publish that failed on screen with its reason: a UI
// row state (the manager forgets a publish that failed).
type failedRow struct {
	name   string
	handle uint16 // the handle it was asked with, if it got that far
	err    error
	at     time.Time
}

// row is one line of the track table, derived at each tick: what the
// table shows, and what the keys act on.
type row struct {
	tracktable.Row
	ui     *trackUI   // nil for pending and failed rows
	failed *failedRow // set for a failed publish
}

func (r row) key() string {
	if r.failed != nil {
		return "failed:" + r.failed.name + r.failed.at.String()
	}
	return fmt.Sprintf("h%d", r.L.Handle)
}

type publishStartedMsg struct {
	p    Pending
	name string
	auto *AutoTrack
	err  error // StartPublish refused it: no handle, no pending row
}

type publishDoneMsg struct {
	p    Pending
	auto *AutoTrack
}

// publishCmd starts a publish off the UI goroutine (the request is a
// network write). Once started, the pending publish is kept by its handle
// so `c` cancels exactly that one.
func (m *Model) publishCmd(name string, e2ee bool, auto *AutoTrack) tea.Cmd {
	b := m.b
	return func() tea.Msg {
		p, err := b.StartPublish(session.PublishOptions{Name: name, E2EE: e2ee})
		return publishStartedMsg{p: p, name: name, auto: auto, err: err}
	}
}

func (m *Model) autostart() []tea.Cmd {
	var cmds []tea.Cmd
	for i := range m.opts.Autostart {
		a := m.opts.Autostart[i]
		cmds = append(cmds, m.publishCmd(a.Name, a.E2EE, &a))
	}
	return cmds
}

func (m Model) onPublishStarted(msg publishStartedMsg) (tea.Model, tea.Cmd) {
	if msg.err != nil {
		return m.publishFailed(msg.name, msg.err)
	}
	p := msg.p
	if m.quitting {
		p.Cancel()
		return m, nil
	}
	m.pending[p.Handle()] = p
	m.selected = fmt.Sprintf("h%d", p.Handle())
	m.refresh()
	return m, func() tea.Msg {
		<-p.Done()
		return publishDoneMsg{p: p, auto: msg.auto}
	}
}

func (m Model) publishFailed(name string, err error) (tea.Model, tea.Cmd) {
	if m.quitting {
		return m, nil
	}
	f := failedRow{name: name, err: err, at: m.opts.Now()}
	var pe *outgoing.PublishError
	if errors.As(err, &pe) {
		f.handle = pe.Handle
	}
	m.failed = append(m.failed, f)
	if len(m.failed) > historyCap {
		m.failed = m.failed[1:]
	}
	m.refresh()
	return m, m.flash(fmt.Sprintf("publish %q failed: %s", name, problem(err)), true)
}

func (m Model) onPublished(msg publishDoneMsg) (tea.Model, tea.Cmd) {
	p := msg.p
	delete(m.pending, p.Handle())
	t, err := p.Result()
	if m.quitting {
		// No generator now: closing the backend unpublishes it.
		if err == nil {
			m.log.Info("published while quitting; leaving the room unpublishes it", "name", p.Name(), "handle", p.Handle())
		}
		return m, nil
	}
	if err != nil {
		return m.publishFailed(p.Name(), err)
	}
	tu := newTrackUI(t, m.opts.DefaultRate, m.opts.DefaultSize)
	m.tracks[t.Handle()] = tu
	m.selected = fmt.Sprintf("h%d", t.Handle())
	text := fmt.Sprintf("published %q as handle %d", p.Name(), t.Handle())
	if msg.auto != nil && msg.auto.Rate > 0 {
		tu.rate, tu.size = msg.auto.Rate, max(msg.auto.Size, minSize)
		if err := m.startGen(tu); err != nil {
			m.refresh()
			return m, m.flash(text+"; "+err.Error(), true)
		}
	}
	m.refresh()
	return m, m.flash(text, false)
}

// problem is an error in words, without the prefix naming the track,
// from the error's own fields.
func problem(err error) string {
	var p interface{ Problem() string }
	if errors.As(err, &p) {
		return p.Problem()
	}
	return err.Error()
}

// burstJob is a burst running on its own goroutine, owned by its track.
type burstJob struct {
	n, size int
	cancel  context.CancelFunc
	done    chan struct{}
	// Set before done closes.
	accepted, attempted int
	err                 error
}

func (j *burstJob) Halt() { j.cancel() }
func (j *burstJob) Wait() { <-j.done }

type burstDoneMsg struct {
	t   *trackUI
	job *burstJob
}

// push sends n probe frames to the selected track off the UI goroutine:
// a 1000-frame burst of 4 MiB frames takes a while to build, and the UI
// must keep drawing meanwhile. Every frame it pushes is counted by the
// track as sent or dropped.
func (m Model) push(n int) (tea.Model, tea.Cmd) {
	t := m.selectedTrack()
	if t == nil {
		return m, m.flash("select a published track first (p publishes one)", true)
	}
	if j := t.burst; j != nil {
		return m, m.flash(fmt.Sprintf("a burst of %d is still running on %q", j.n, t.track.Name()), true)
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &burstJob{n: n, size: t.size, cancel: cancel, done: make(chan struct{})}
	t.burst = j
	src := t.src
	go func() {
		defer close(j.done)
		defer cancel()
		j.accepted, j.attempted, j.err = src.BurstContext(ctx, j.n, j.size)
	}()
	return m, func() tea.Msg {
		<-j.done
		return burstDoneMsg{t: t, job: j}
	}
}

func (m Model) onBurstDone(msg burstDoneMsg) (tea.Model, tea.Cmd) {
	t, j := msg.t, msg.job
	if t.burst == j {
		t.burst = nil
	}
	if m.quitting {
		return m, nil
	}
	size, name := format.Bytes(float64(j.size)), t.track.Name()
	switch {
	case j.attempted < j.n:
		return m, m.flash(fmt.Sprintf("burst to %q stopped after %d/%d frames of %s", name, j.attempted, j.n, size), false)
	case j.err != nil:
		return m, m.flash(fmt.Sprintf("pushed %d/%d frames of %s to %q; dropped: %v", j.accepted, j.n, size, name, problem(j.err)), true)
	}
	return m, m.flash(fmt.Sprintf("pushed %d frame(s) of %s to %q", j.accepted, size, name), false)
}

func (m Model) toggleGen() (tea.Model, tea.Cmd) {
	t := m.selectedTrack()
	if t == nil {
		return m, m.flash("select a published track first (p publishes one)", true)
	}
	if t.gen != nil {
		// Stop waits for the generator's goroutine: one frame at most.
		t.gen.Stop()
		t.gen = nil
		return m, m.flash(fmt.Sprintf("generator stopped on %q", t.track.Name()), false)
	}
	if r, _ := m.selectedRow(); r.L.State == outgoing.StateUnpublished {
		// Like u: every frame would only count as an "unpublished" drop.
		return m, m.flash(fmt.Sprintf("%q is unpublished: select a published track for the generator", t.track.Name()), true)
	}
	if err := m.startGen(t); err != nil {
		return m, m.flash(err.Error(), true)
	}
	return m, m.flash(fmt.Sprintf("generator on %q: %s/s × %s", t.track.Name(), format.Count(t.rate), format.Bytes(float64(t.size))), false)
}

// startGen runs the track's generator on the generator's own goroutine;
// the track owns it and stops it on `g`, unpublish and quit.
func (m *Model) startGen(t *trackUI) error {
	g, err := probe.NewGenerator(t.src, t.rate, t.size)
	if err != nil {
		return fmt.Errorf("generator on %q not started: %s/s × %s is outside %s…%s frames/s × %s…%s",
			t.track.Name(), format.Count(t.rate), format.Bytes(float64(t.size)),
			format.Count(1), format.Count(maxRate), format.Bytes(minSize), format.Bytes(maxSize))
	}
	if err := g.Start(context.Background()); err != nil {
		return fmt.Errorf("generator on %q: %w", t.track.Name(), err)
	}
	t.gen = g
	return nil
}

func (m Model) adjust(f func(*trackUI)) (tea.Model, tea.Cmd) {
	t := m.selectedTrack()
	if t == nil {
		return m, m.flash("select a published track first (p publishes one)", true)
	}
	f(t)
	if t.gen != nil {
		_ = t.gen.SetRate(t.rate)
		_ = t.gen.SetSize(t.size)
	}
	return m, m.flash(fmt.Sprintf("%q: %s/s × %s", t.track.Name(), format.Count(t.rate), format.Bytes(float64(t.size))), false)
}

// cancelPending cancels the selected pending row's publish, by its handle.
func (m Model) cancelPending() (tea.Model, tea.Cmd) {
	r, ok := m.selectedRow()
	if !ok || !pendingRow(r) {
		return m, m.flash("the selected track is not pending", true)
	}
	p := m.pending[r.L.Handle]
	if p == nil {
		return m, m.flash(fmt.Sprintf("publish of %q was not started here, or has just finished", r.L.Name), true)
	}
	p.Cancel()
	return m, m.flash(fmt.Sprintf("cancelling publish of %q (handle %d)", r.L.Name, r.L.Handle), false)
}

type unpublishDoneMsg struct {
	name string
	err  error
}

// unpublish stops the track's pushers at once, then, off the UI goroutine,
// waits for them (so no late push shows as an UNPUB error) and unpublishes.
func (m Model) unpublish() (tea.Model, tea.Cmd) {
	t := m.selectedTrack()
	r, _ := m.selectedRow()
	if t == nil || r.L.State == outgoing.StateUnpublished {
		return m, m.flash("select a published track to unpublish", true)
	}
	ps := t.halt()
	tr := t.track
	return m, tea.Batch(m.flash(fmt.Sprintf("unpublishing %q…", tr.Name()), false), func() tea.Msg {
		waitAll(ps)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return unpublishDoneMsg{name: tr.Name(), err: tr.Unpublish(ctx)}
	})
}
