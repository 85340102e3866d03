package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/tui/components/tracktable"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/rates"
)

// The generator's bounds, as the keys and the flags know them.
const (
	maxRate = probe.MaxRate
	minSize = probe.MinSize
	maxSize = probe.MaxSize
)

// Sparkline and drop-colour windows.
const (
	// SparkPeriod and SparkPeriods: the send-rate history keeps one value
	// per second (the mean rate in it) for the last minute; the table
	// shows its last tracktable.SparkColumns seconds, the detail pane all.
	SparkPeriod  = time.Second
	SparkPeriods = 60
	// DropWindow: a track is "dropping" (red) while it dropped frames
	// within this long, not forever after its first drop.
	DropWindow = 5 * time.Second
)

// trackUI is what the UI keeps per track beyond the manager's stats. Its
// pushers (the generator and a burst) are owned here: halt stops them,
// wait returns once they can no longer push.
type trackUI struct {
	track Track
	src   *probe.Source
	gen   *probe.Generator // running generator; nil when off
	burst *burstJob        // burst in flight; nil when none
	rate  float64
	size  int

	fps, pps, bps, rxfps rates.EWMA
	spark                *rates.Series
	drops                *rates.Window
	baseline             outgoing.TrackStats // subtracted after "reset counters"
	rxBaseline           session.ReceiveStats
}

func newTrackUI(t Track, rate float64, size int) *trackUI {
	return &trackUI{
		track: t, src: probe.NewSource(t.TryPush, nil), rate: rate, size: size,
		spark: rates.NewSeries(SparkPeriods, SparkPeriod),
		drops: rates.NewWindow(DropWindow),
	}
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

// failedRow keeps a publish that failed on screen with its reason.
type failedRow struct {
	name string
	err  error
	at   time.Time
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
	return fmt.Sprintf("h%d", r.Stats.Handle)
}

// pendingPublish is a publish in flight, cancellable with `c`.
type pendingPublish struct {
	id       int
	cancel   context.CancelFunc
	returned atomic.Bool // Publish returned; its message may not be handled yet
}

type publishDoneMsg struct {
	id   int
	name string
	auto *AutoTrack
	t    Track
	err  error
}

// publishCmd runs Publish off the UI goroutine. The pending entry is kept
// so `c` can cancel it.
func (m *Model) publishCmd(name string, e2ee bool, auto *AutoTrack) tea.Cmd {
	ctx, cancel := context.WithCancel(context.Background())
	m.nextPub++
	p := &pendingPublish{id: m.nextPub, cancel: cancel}
	m.pending[name] = append(m.pending[name], p)
	b := m.b
	return func() tea.Msg {
		defer cancel()
		t, err := b.Publish(ctx, name, e2ee)
		p.returned.Store(true)
		return publishDoneMsg{id: p.id, name: name, auto: auto, t: t, err: err}
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

func (m *Model) forgetPending(name string, id int) {
	ps := m.pending[name]
	for i, p := range ps {
		if p.id == id {
			ps = append(ps[:i:i], ps[i+1:]...)
			break
		}
	}
	if len(ps) == 0 {
		delete(m.pending, name)
	} else {
		m.pending[name] = ps
	}
}

func (m Model) onPublished(msg publishDoneMsg) (tea.Model, tea.Cmd) {
	m.forgetPending(msg.name, msg.id)
	if m.quitting {
		// No generator now: closing the backend unpublishes it.
		if msg.err == nil {
			m.log.Info("published while quitting; leaving the room unpublishes it", "name", msg.name, "handle", msg.t.Handle())
		}
		return m, nil
	}
	if msg.err != nil {
		m.failed = append(m.failed, failedRow{name: msg.name, err: msg.err, at: m.opts.Now()})
		if len(m.failed) > historyCap {
			m.failed = m.failed[1:]
		}
		m.refresh()
		return m, m.flash(fmt.Sprintf("publish %q failed: %s", msg.name, reasonText(msg.err)), true)
	}
	tu := newTrackUI(msg.t, m.opts.DefaultRate, m.opts.DefaultSize)
	m.tracks[msg.t.Handle()] = tu
	m.selected = fmt.Sprintf("h%d", msg.t.Handle())
	text := fmt.Sprintf("published %q as handle %d", msg.name, msg.t.Handle())
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

// reasonText is an error in words, without the repeated prefix.
func reasonText(err error) string {
	var pe *outgoing.PublishError
	if errors.As(err, &pe) {
		s := pe.Error()
		if i := strings.Index(s, ": "); i >= 0 {
			return s[i+2:]
		}
		return s
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
		return m, m.flash(fmt.Sprintf("pushed %d/%d frames of %s to %q; dropped: %v", j.accepted, j.n, size, name, dropText(j.err)), true)
	}
	return m, m.flash(fmt.Sprintf("pushed %d frame(s) of %s to %q", j.accepted, size, name), false)
}

func dropText(err error) string {
	var pe *outgoing.PushError
	if errors.As(err, &pe) {
		return pe.Drop.String()
	}
	return err.Error()
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
	if r, _ := m.selectedRow(); r.Stats.State == outgoing.StateUnpublished {
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

// cancelPending cancels the selected pending row's own publish. Several
// publishes of one name may be pending; the manager numbers them in the
// order they were asked, so the selected row's rank among the pending rows
// of its name (by handle) is its rank among this UI's outstanding
// publishes of that name.
func (m Model) cancelPending() (tea.Model, tea.Cmd) {
	r, ok := m.selectedRow()
	if !ok || r.Stats.State != outgoing.StatePending {
		return m, m.flash("the selected track is not pending", true)
	}
	rank := 0
	for _, o := range m.rows {
		if o.failed == nil && o.Stats.State == outgoing.StatePending && o.Stats.Name == r.Stats.Name && o.Stats.Handle < r.Stats.Handle {
			rank++
		}
	}
	var outstanding []*pendingPublish
	for _, p := range m.pending[r.Stats.Name] {
		if !p.returned.Load() {
			outstanding = append(outstanding, p)
		}
	}
	if rank >= len(outstanding) {
		return m, m.flash(fmt.Sprintf("publish of %q was not started here, or has just finished", r.Stats.Name), true)
	}
	outstanding[rank].cancel()
	return m, m.flash(fmt.Sprintf("cancelling publish of %q (handle %d)", r.Stats.Name, r.Stats.Handle), false)
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
	if t == nil || r.Stats.State == outgoing.StateUnpublished {
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
