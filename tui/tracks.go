package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/report/series"
	"github.com/dttui/dttui/schema"
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
	// queued are the pushes (space, b, f) asked for while a burst ran,
	// in order: each starts when the one before ends, so none is lost to
	// keys typed quickly.
	queued []burstReq
	// source is the file source pushing into the track (o), or the last
	// one, finished; nil when none.
	source *sourceJob
	rate   float64
	size   int
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
	if t.source != nil {
		ps = append(ps, t.source)
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
	t.queued = nil
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
	seq    int        // a room row's place in the report: the order announced
}

// series is what the row charts (nil: nothing, for a failed publish). A
// local track's row charts its history and the connection's events; a
// row of another kind gives its own set.
func (r row) series(snap report.Snapshot) *series.Set {
	switch {
	case r.failed != nil:
		return nil
	case r.Room():
		s := series.Remote(*r.R, snap.ConnEvents)
		return &s
	}
	s := series.Local(r.L, snap.ConnEvents)
	return &s
}

func (r row) key() string {
	switch {
	case r.failed != nil:
		return "failed:" + r.failed.name + r.failed.at.String()
	case r.Room():
		return "r:" + r.R.SID()
	}
	return fmt.Sprintf("h%d", r.L.Handle)
}

// recordKey names the row's track in the report's records ("" for a
// failed publish, which has none).
func (r row) recordKey() report.Key {
	switch {
	case r.failed != nil:
		return ""
	case r.Room():
		return report.RemoteKey(r.R.SID())
	}
	return report.LocalKey(r.L.Handle)
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
func (m *Model) publishCmd(name string, e2ee bool, typ schema.Decl, auto *AutoTrack) tea.Cmd {
	b := m.b
	return func() tea.Msg {
		p, err := b.StartPublish(session.PublishOptions{Name: name, E2EE: e2ee, Type: typ})
		return publishStartedMsg{p: p, name: name, auto: auto, err: err}
	}
}

// autostartMsg is the --track publishes, started in the order given.
type autostartMsg []publishStartedMsg

// autostart starts the --track publishes one after the other, off the UI
// goroutine: StartPublish returns at once with the handle, so handles and
// rows follow the order of the flags, and the selection stays on the
// first.
func (m *Model) autostart() tea.Cmd {
	if len(m.opts.Autostart) == 0 {
		return nil
	}
	b, autos := m.b, m.opts.Autostart
	return func() tea.Msg {
		out := make(autostartMsg, 0, len(autos))
		for i := range autos {
			a := autos[i]
			if len(a.SchemaDef) > 0 {
				ctx, cancel := context.WithTimeout(context.Background(), outgoing.DefaultPublishTimeout)
				err := b.StoreSchema(ctx, a.Type.Schema, a.SchemaDef)
				cancel()
				if err != nil {
					out = append(out, publishStartedMsg{name: a.Name, auto: &a, err: fmt.Errorf("store schema %s: %w", a.Type.Schema, err)})
					continue
				}
			}
			size := a.Size
			if size <= 0 {
				size = defaultSize
			}
			p, err := b.StartPublish(session.PublishOptions{Name: a.Name, E2EE: a.E2EE, Type: a.Type,
				SchemaDef: a.SchemaDef, SchemaCheck: a.SchemaCheck, GenerateSize: max(size, probe.MinSize)})
			out = append(out, publishStartedMsg{p: p, name: a.Name, auto: &a, err: err})
		}
		return out
	}
}

func (m Model) onAutostart(msg autostartMsg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	for i, st := range msg {
		next, cmd := m.onPublishStarted(st)
		m, cmds = next.(Model), append(cmds, cmd)
		if i == 0 && st.err == nil && st.p != nil {
			m.tbl.selected = fmt.Sprintf("h%d", st.p.Handle())
		}
	}
	return m, tea.Batch(cmds...)
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
	if msg.auto == nil {
		m.tbl.selected = fmt.Sprintf("h%d", p.Handle()) // the user's new row
	}
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
	if msg.auto == nil {
		m.tbl.selected = fmt.Sprintf("h%d", t.Handle())
	}
	text := fmt.Sprintf("published %q as handle %d", p.Name(), t.Handle())
	if a := msg.auto; a != nil && a.Source != nil {
		tu.rate = a.Rate
		m.refresh()
		return m, tea.Batch(m.flash(fmt.Sprintf("%s; pushing %s", text, format.Outside(a.Source.Path)), false),
			m.runSource(tu, a.Source.Path, *a.Source, a.Rate))
	}
	if msg.auto != nil && msg.auto.Size > 0 {
		// Publish only (rate 0) too: g starts the generator at the size asked for.
		tu.size = max(msg.auto.Size, minSize)
	}
	if msg.auto != nil && msg.auto.Rate > 0 {
		tu.rate = msg.auto.Rate
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

// DefaultBurstTimeout bounds a burst that waits for queue room (b): the
// frames not pushed by then are never pushed, and the status line says
// how many.
const DefaultBurstTimeout = 30 * time.Second

// burstMode is how a burst meets a full queue.
type burstMode int

const (
	// deliver (b) waits for room for every frame: all of them are sent
	// unless the track stops taking frames or the burst timeout passes.
	deliver burstMode = iota
	// flood (f) pushes every frame at once: the queue takes what it holds
	// and drops the rest (queue full), as a producer that never waits
	// would see it.
	flood
)

// burstJob is a burst running on its own goroutine, owned by its track.
type burstJob struct {
	n, size int
	mode    burstMode
	cancel  context.CancelFunc
	done    chan struct{}
	// Set before done closes.
	accepted, attempted int
	err                 error
	timedOut            bool
}

func (j *burstJob) Halt() { j.cancel() }
func (j *burstJob) Wait() { <-j.done }

type burstDoneMsg struct {
	t   *trackUI
	job *burstJob
}

// MaxQueuedPushes bounds the pushes waiting behind a running burst on
// one track (a key held down): the ones beyond are refused in words.
const MaxQueuedPushes = 1000

// BurstPace is the rate a delivering burst (b) pushes at, in bytes per
// second, in steps of burstStep. Pushed at once, 100 KiB overfill the
// SFU's queue toward a subscriber, which sheds what is over its target
// latency (100 ms of the rate it measures, at least 8 KiB) as soon as
// another track streams; paced, it stays under the 8 KiB.
const BurstPace = 512 << 10

// burstStep is the pacing step of a delivering burst.
const burstStep = 10 * time.Millisecond

// burstReq is a push asked for while another burst ran.
type burstReq struct {
	n    int
	mode burstMode
}

// push sends n probe frames to the selected track off the UI goroutine:
// a delivering burst waits on the queue, and a 1000-frame burst of 4 MiB
// frames takes a while to build; the UI keeps drawing meanwhile. Every
// frame it pushes is counted by the track as sent or dropped. A push asked
// for while a burst runs waits its turn.
func (m Model) push(n int, mode burstMode) (tea.Model, tea.Cmd) {
	t := m.selectedTrack()
	if t == nil {
		return m, m.flash(m.noTrack(), true)
	}
	if t.burst != nil {
		if len(t.queued) >= MaxQueuedPushes {
			return m, m.flash(fmt.Sprintf("%d pushes already wait on %q: not queued", len(t.queued), t.track.Name()), true)
		}
		t.queued = append(t.queued, burstReq{n: n, mode: mode})
		return m, m.flash(fmt.Sprintf("queued on %q after the running burst (%d waiting)", t.track.Name(), len(t.queued)), false)
	}
	return m, m.startBurst(t, n, mode)
}

// startBurst runs a burst on t and returns the command that reports it.
func (m Model) startBurst(t *trackUI, n int, mode burstMode) tea.Cmd {
	ctx, cancel := context.WithCancel(context.Background())
	j := &burstJob{n: n, size: t.size, mode: mode, cancel: cancel, done: make(chan struct{})}
	t.burst = j
	src, timeout := t.src, m.opts.BurstTimeout
	go func() {
		defer close(j.done)
		defer cancel()
		if mode == flood {
			j.accepted, j.attempted, j.err = src.BurstContext(ctx, j.n, j.size)
			return
		}
		dctx, stop := context.WithTimeout(ctx, timeout)
		defer stop()
		j.accepted, j.attempted, j.err = pacedDeliver(dctx, src, j.n, j.size)
		j.timedOut = ctx.Err() == nil && dctx.Err() != nil
	}()
	return func() tea.Msg {
		<-j.done
		return burstDoneMsg{t: t, job: j}
	}
}

// pacedDeliver delivers n frames of size at BurstPace: a step's worth
// (at least one frame) every burstStep.
func pacedDeliver(ctx context.Context, src *probe.Source, n, size int) (accepted, attempted int, err error) {
	per := max(1, int(BurstPace*burstStep/time.Second)/max(size, 1))
	tick := time.NewTicker(burstStep)
	defer tick.Stop()
	for attempted < n {
		k := min(per, n-attempted)
		a, at, e := src.Deliver(ctx, k, size)
		accepted, attempted = accepted+a, attempted+at
		if e != nil {
			err = e
		}
		if at < k || attempted == n {
			break
		}
		select {
		case <-ctx.Done():
			return accepted, attempted, err
		case <-tick.C:
		}
	}
	return accepted, attempted, err
}

// onBurstDone says what the burst did in the table's words: every frame
// it pushed is in PUSHED, and every one the queue refused is in DROPPED.
func (m Model) onBurstDone(msg burstDoneMsg) (tea.Model, tea.Cmd) {
	t, j := msg.t, msg.job
	var next tea.Cmd
	if t.burst == j {
		t.burst = nil
		if len(t.queued) > 0 && !m.quitting {
			q := t.queued[0]
			t.queued = t.queued[1:]
			next = m.startBurst(t, q.n, q.mode)
		}
	}
	if m.quitting {
		return m, nil
	}
	nm, flash := m.burstReport(t, j)
	return nm, tea.Batch(flash, next)
}

// burstReport is the status line of a burst that ended.
func (m Model) burstReport(t *trackUI, j *burstJob) (tea.Model, tea.Cmd) {
	if j.n == 1 && j.attempted == 1 {
		if j.accepted == 0 {
			return m, m.flash(fmt.Sprintf("pushed 1 frame of %s to %q; dropped (%s)", format.Bytes(float64(j.size)), t.track.Name(), problem(j.err)), true)
		}
		return m, m.flash(fmt.Sprintf("pushed 1 frame of %s to %q", format.Bytes(float64(j.size)), t.track.Name()), false)
	}
	what := "burst"
	if j.mode == flood {
		what = "flood"
	}
	head := fmt.Sprintf("%s to %q: pushed %d/%d frames of %s", what, t.track.Name(), j.attempted, j.n, format.Bytes(float64(j.size)))
	dropped := j.attempted - j.accepted
	switch {
	case dropped > 0 && errors.Is(j.err, outgoing.ErrTrackUnpublished):
		// The table counts these under UNPUB, not DROPPED: say so in its words.
		return m, m.flash(fmt.Sprintf("%s; %d refused, the track is unpublished (UNPUB)", head, dropped), true)
	case j.timedOut:
		return m, m.flash(fmt.Sprintf("%s in %s; the queue had no room for the other %d, not pushed", head, m.opts.BurstTimeout, j.n-j.attempted), true)
	case j.attempted < j.n:
		return m, m.flash(fmt.Sprintf("%s; stopped, the other %d not pushed", head, j.n-j.attempted), false)
	case dropped > 0 && j.mode == flood:
		return m, m.flash(fmt.Sprintf("%s at once: %d queued, %d dropped (%s)", head, j.accepted, dropped, problem(j.err)), true)
	case dropped > 0:
		return m, m.flash(fmt.Sprintf("%s; %d dropped (%s)", head, dropped, problem(j.err)), true)
	case j.mode == flood:
		return m, m.flash(head+" at once; the queue took them all", false)
	}
	return m, m.flash(head+", each waiting for queue room", false)
}

func (m Model) toggleGen() (tea.Model, tea.Cmd) {
	t := m.selectedTrack()
	if t == nil {
		return m, m.flash(m.noTrack(), true)
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

// noTrack says why a key that pushes needs another row.
func (m Model) noTrack() string {
	if r, ok := m.selectedRow(); ok && r.Room() {
		return "that is another participant's track: select one of yours (p publishes one)"
	}
	return "select a published track first (p publishes one)"
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
		return m, m.flash(m.noTrack(), true)
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
	if r.Room() {
		return m, m.flash("that is another participant's track: S unsubscribes from it", true)
	}
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

// forget drops an ended row's record (tableHost): a failed publish from
// the list, a track from the session, with what it recorded (its pushers,
// stopped at unpublish, are halted anyway), a room track from the room
// monitor (which keeps it until then).
func (m *Model) forget(r row) error {
	switch {
	case r.failed != nil:
		for i := range m.failed {
			if &m.failed[i] == r.failed {
				m.failed = append(m.failed[:i:i], m.failed[i+1:]...)
				break
			}
		}
		return nil
	case r.Room():
		if mon := m.b.Monitor(); mon != nil {
			if err := mon.Remove(r.R.SID()); err != nil && !errors.Is(err, incoming.ErrUnknownTrack) {
				return err
			}
		}
		return nil
	}
	if err := m.b.Forget(r.L.Handle); err != nil {
		return err
	}
	if t := m.tracks[r.L.Handle]; t != nil {
		t.halt()
		delete(m.tracks, r.L.Handle)
	}
	return nil
}

// forgetFailed drops every failed publish (tableHost).
func (m *Model) forgetFailed() int {
	n := len(m.failed)
	m.failed = nil
	return n
}

type subscribeDoneMsg struct {
	name, sid string
	sub       bool
	err       error
}

// toggleSubscribe unsubscribes from the selected room track, or
// subscribes to it again (S). The request goes to the SFU off the UI
// goroutine; the row's state says when it took effect.
func (m Model) toggleSubscribe() (tea.Model, tea.Cmd) {
	r, ok := m.selectedRow()
	mon := m.b.Monitor()
	switch {
	case mon == nil:
		return m, m.flash("the room monitor is off (--monitor=false): no room tracks to subscribe to", true)
	case !ok || !r.Room():
		return m, m.flash("select a track in the room section: S subscribes to it or unsubscribes", true)
	case r.R.Stats.State == incoming.StateUnpublished:
		return m, m.flash(fmt.Sprintf("%q is unpublished: nothing to subscribe to (x removes the row)", r.Name()), true)
	}
	sid, name := r.R.SID(), r.Name()
	sub := r.R.Stats.State == incoming.StateAnnounced || r.R.Stats.State == incoming.StateUnsubscribed
	verb := "unsubscribing from"
	if sub {
		verb = "subscribing to"
	}
	return m, tea.Batch(m.flash(fmt.Sprintf("%s %q…", verb, name), false), func() tea.Msg {
		var err error
		if sub {
			err = mon.Subscribe(sid)
		} else {
			err = mon.Unsubscribe(sid)
		}
		return subscribeDoneMsg{name: name, sid: sid, sub: sub, err: err}
	})
}

func (m Model) onSubscribeDone(msg subscribeDoneMsg) (tea.Model, tea.Cmd) {
	if m.quitting {
		return m, nil
	}
	m.refresh()
	switch {
	case msg.err != nil && msg.sub:
		return m, m.flash(fmt.Sprintf("subscribe to %q: %s", msg.name, format.Outside(problem(msg.err))), true)
	case msg.err != nil:
		return m, m.flash(fmt.Sprintf("unsubscribe from %q: %s", msg.name, format.Outside(problem(msg.err))), true)
	case msg.sub:
		return m, m.flash(fmt.Sprintf("asked the SFU for %q; S again unsubscribes", msg.name), false)
	}
	return m, m.flash(fmt.Sprintf("unsubscribed from %q: its row keeps its figures; S subscribes again", msg.name), false)
}
