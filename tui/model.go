// Package tui is dttui's terminal UI: a bubbletea model that drives a
// session's outgoing data-track manager and shows, live, what happens to
// every track.
package tui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/tui/components/tracktable"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/keys"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/rates"
	"github.com/dttui/dttui/tui/theme"
)

// Options configure the UI.
type Options struct {
	Theme theme.Theme
	Logs  *logbuf.Buffer // the log pane's source; nil hides the pane
	// Now is the clock (tests pin it for golden views).
	Now func() time.Time
	// Tick is the UI refresh interval; rendering is bounded by it however
	// fast frames are pushed. Default 100 ms.
	Tick time.Duration
	// E2EEAvailable says a passphrase is configured, so the prompt offers E2EE.
	E2EEAvailable bool
	// Generator defaults for new tracks.
	DefaultRate float64
	DefaultSize int
	// Autostart tracks are published at start (name → generator settings).
	Autostart []AutoTrack
}

// AutoTrack is a track to publish when the UI starts.
type AutoTrack struct {
	Name string
	Rate float64 // 0: publish only
	Size int
	E2EE bool
}

// Defaults for the generator: visible on a sparkline, light on a laptop.
const (
	defaultRate  = 50
	defaultSize  = 1024
	defaultBurst = 100
	sparkSamples = 60
	historyCap   = 20
)

type sortMode int

const (
	sortHandle sortMode = iota
	sortName
	sortRate
	sortDrops
	numSorts
)

func (s sortMode) String() string {
	return [...]string{"handle", "name", "rate", "drops"}[s]
}

// trackUI is what the UI keeps per track beyond the manager's stats.
type trackUI struct {
	track   Track
	src     *probe.Source
	gen     *probe.Generator
	stopGen context.CancelFunc
	rate    float64
	size    int

	fps, pps, bps, rxfps rates.EWMA
	spark                *rates.History
	baseline             outgoing.TrackStats // subtracted after "reset counters"
	rxBaseline           session.ReceiveStats
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

// Model is the root bubbletea model.
type Model struct {
	b    Backend
	opts Options
	th   theme.Theme
	keys keys.KeyMap

	width, height int

	status   session.Status
	rows     []row
	tracks   map[uint16]*trackUI
	pending  map[string][]context.CancelFunc // publish in flight, by name
	failed   []failedRow
	selected string // row key, stable across re-sorts

	sort       sortMode
	paused     bool
	showDetail bool
	showLogs   bool
	showHelp   bool
	burstN     int

	prompt    bool
	input     textinput.Model
	promptE2E bool

	statusMsg string
	statusErr bool
	statusSeq int
	quitting  bool
}

// New returns the model.
func New(b Backend, o Options) Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Tick <= 0 {
		o.Tick = 100 * time.Millisecond
	}
	if o.DefaultRate <= 0 {
		o.DefaultRate = defaultRate
	}
	if o.DefaultSize <= 0 {
		o.DefaultSize = defaultSize
	}
	if o.Theme.R == nil {
		o.Theme = theme.Terminal()
	}
	in := textinput.New()
	in.Placeholder = "track name"
	in.CharLimit = outgoing.MaxNameBytes + 16 // let the manager explain an over-long name
	in.Prompt = "name: "
	m := Model{
		b: b, opts: o, th: o.Theme, keys: keys.Default(),
		width: 80, height: 24,
		tracks:  map[uint16]*trackUI{},
		pending: map[string][]context.CancelFunc{},
		burstN:  defaultBurst,
		input:   in,
	}
	m.refresh()
	return m
}

type tickMsg time.Time

type publishDoneMsg struct {
	name string
	auto *AutoTrack
	t    Track
	err  error
}

type unpublishDoneMsg struct {
	name string
	err  error
}

type clearStatusMsg int

type closedMsg struct{}

// Init starts the refresh tick and publishes the autostart tracks.
func (m Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.tick()}
	for i := range m.opts.Autostart {
		a := m.opts.Autostart[i]
		cmds = append(cmds, m.publishCmd(a.Name, a.E2EE, &a))
	}
	return tea.Batch(cmds...)
}

func (m Model) tick() tea.Cmd {
	return tea.Tick(m.opts.Tick, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// publishCmd runs Publish off the UI goroutine. The cancel func is kept
// so `c` can cancel the pending publish.
func (m *Model) publishCmd(name string, e2ee bool, auto *AutoTrack) tea.Cmd {
	ctx, cancel := context.WithCancel(context.Background())
	m.pending[name] = append(m.pending[name], cancel)
	b := m.b
	return func() tea.Msg {
		defer cancel()
		t, err := b.Publish(ctx, name, e2ee)
		return publishDoneMsg{name: name, auto: auto, t: t, err: err}
	}
}

// Update handles a message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tickMsg:
		if m.quitting {
			return m, nil
		}
		if !m.paused {
			m.refresh()
		}
		return m, m.tick()
	case publishDoneMsg:
		return m.onPublished(msg)
	case unpublishDoneMsg:
		if msg.err != nil {
			return m, m.flash(fmt.Sprintf("unpublish %q: %v", msg.name, msg.err), true)
		}
		return m, m.flash(fmt.Sprintf("unpublished %q", msg.name), false)
	case clearStatusMsg:
		if int(msg) == m.statusSeq {
			m.statusMsg = ""
		}
		return m, nil
	case closedMsg:
		return m, tea.Quit
	case tea.KeyMsg:
		if m.quitting {
			return m, nil
		}
		if m.prompt {
			return m.updatePrompt(msg)
		}
		return m.updateKeys(msg)
	}
	return m, nil
}

func (m Model) onPublished(msg publishDoneMsg) (tea.Model, tea.Cmd) {
	if cancels := m.pending[msg.name]; len(cancels) > 0 {
		m.pending[msg.name] = cancels[1:]
		if len(m.pending[msg.name]) == 0 {
			delete(m.pending, msg.name)
		}
	}
	if msg.err != nil {
		if m.quitting {
			return m, nil
		}
		m.failed = append(m.failed, failedRow{name: msg.name, err: msg.err, at: m.opts.Now()})
		if len(m.failed) > historyCap {
			m.failed = m.failed[1:]
		}
		m.refresh()
		return m, m.flash(fmt.Sprintf("publish %q failed: %s", msg.name, reasonText(msg.err)), true)
	}
	tu := &trackUI{track: msg.t, rate: m.opts.DefaultRate, size: m.opts.DefaultSize, spark: rates.NewHistory(sparkSamples)}
	tu.src = probe.NewSource(msg.t.TryPush, nil)
	m.tracks[msg.t.Handle()] = tu
	m.selected = fmt.Sprintf("h%d", msg.t.Handle())
	if msg.auto != nil && msg.auto.Rate > 0 {
		tu.rate, tu.size = msg.auto.Rate, max(msg.auto.Size, probe.MinSize)
		m.startGen(tu)
	}
	m.refresh()
	return m, m.flash(fmt.Sprintf("published %q as handle %d", msg.name, msg.t.Handle()), false)
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

func (m *Model) flash(text string, isErr bool) tea.Cmd {
	m.statusSeq++
	m.statusMsg, m.statusErr = text, isErr
	seq := m.statusSeq
	d := 4 * time.Second
	if isErr {
		d = 8 * time.Second // errors stay long enough to read
	}
	return tea.Tick(d, func(time.Time) tea.Msg { return clearStatusMsg(seq) })
}

func (m Model) updatePrompt(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.PromptCancel):
		m.prompt = false
		m.input.Blur()
		return m, nil
	case key.Matches(msg, m.keys.PromptToggleE2E):
		if m.opts.E2EEAvailable {
			m.promptE2E = !m.promptE2E
		}
		return m, nil
	case key.Matches(msg, m.keys.PromptSubmit):
		name := strings.TrimSpace(m.input.Value())
		m.prompt = false
		m.input.Blur()
		cmd := m.publishCmd(name, m.promptE2E, nil)
		m.refresh()
		return m, tea.Batch(cmd, m.flash(fmt.Sprintf("publishing %q…", name), false))
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

func (m Model) updateKeys(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	if m.showHelp && !key.Matches(msg, k.Quit) {
		m.showHelp = false // any key closes help
		return m, nil
	}
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Help):
		m.showHelp = true
	case key.Matches(msg, k.Up):
		m.move(-1)
	case key.Matches(msg, k.Down):
		m.move(1)
	case key.Matches(msg, k.Publish):
		m.prompt = true
		m.promptE2E = false
		m.input.SetValue(fmt.Sprintf("track-%d", len(m.tracks)+len(m.failed)+1))
		m.input.CursorEnd()
		return m, m.input.Focus()
	case key.Matches(msg, k.Cancel):
		return m.cancelPending()
	case key.Matches(msg, k.Unpublish):
		return m.unpublish()
	case key.Matches(msg, k.PushOne):
		return m.push(1)
	case key.Matches(msg, k.Burst):
		return m.push(m.burstN)
	case key.Matches(msg, k.BurstMore):
		m.burstN = min(m.burstN*10, 100_000)
		return m, m.flash(fmt.Sprintf("burst size %d", m.burstN), false)
	case key.Matches(msg, k.BurstLess):
		m.burstN = max(m.burstN/10, 1)
		return m, m.flash(fmt.Sprintf("burst size %d", m.burstN), false)
	case key.Matches(msg, k.Generator):
		return m.toggleGen()
	case key.Matches(msg, k.RateUp):
		return m.adjust(func(t *trackUI) { t.rate = min(t.rate*2, probe.MaxRate) })
	case key.Matches(msg, k.RateDn):
		return m.adjust(func(t *trackUI) { t.rate = max(t.rate/2, 1) })
	case key.Matches(msg, k.SizeUp):
		return m.adjust(func(t *trackUI) { t.size = min(t.size*2, probe.MaxSize) })
	case key.Matches(msg, k.SizeDn):
		return m.adjust(func(t *trackUI) { t.size = max(t.size/2, probe.MinSize) })
	case key.Matches(msg, k.Sort):
		m.sort = (m.sort + 1) % numSorts
		m.sortRows()
		return m, m.flash("sort by "+m.sort.String(), false)
	case key.Matches(msg, k.Reset):
		// Baselines are raw counters: a reset after a reset starts from now.
		for _, st := range m.b.Snapshot() {
			if t := m.tracks[st.Handle]; t != nil {
				t.baseline = st
			}
		}
		rx := m.b.Received()
		for _, t := range m.tracks {
			t.rxBaseline = rx[t.track.Name()]
		}
		m.failed = nil
		m.refresh()
		return m, m.flash("counters reset", false)
	case key.Matches(msg, k.Pause):
		m.paused = !m.paused
	case key.Matches(msg, k.Detail):
		m.showDetail = !m.showDetail
	case key.Matches(msg, k.Logs):
		if m.opts.Logs != nil {
			m.showLogs = !m.showLogs
		}
	}
	return m, nil
}

func (m *Model) move(d int) {
	if len(m.rows) == 0 {
		return
	}
	i := m.selectedIndex()
	i = min(max(i+d, 0), len(m.rows)-1)
	m.selected = m.rows[i].key()
}

func (m Model) selectedIndex() int {
	for i, r := range m.rows {
		if r.key() == m.selected {
			return i
		}
	}
	return 0
}

func (m Model) selectedRow() (row, bool) {
	if len(m.rows) == 0 {
		return row{}, false
	}
	return m.rows[m.selectedIndex()], true
}

// selectedTrack is the selected row's published track, if it has one.
func (m Model) selectedTrack() *trackUI {
	r, _ := m.selectedRow()
	return r.ui
}

func (m Model) push(n int) (tea.Model, tea.Cmd) {
	t := m.selectedTrack()
	if t == nil {
		return m, m.flash("select a published track first (p publishes one)", true)
	}
	accepted, err := t.src.Burst(n, t.size)
	if err != nil {
		return m, m.flash(fmt.Sprintf("pushed %d/%d frames of %s to %q; dropped: %v", accepted, n, format.Bytes(float64(t.size)), t.track.Name(), dropText(err)), true)
	}
	return m, m.flash(fmt.Sprintf("pushed %d frame(s) of %s to %q", accepted, format.Bytes(float64(t.size)), t.track.Name()), false)
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
		m.stopGen(t)
		return m, m.flash(fmt.Sprintf("generator stopped on %q", t.track.Name()), false)
	}
	m.startGen(t)
	return m, m.flash(fmt.Sprintf("generator on %q: %s/s × %s", t.track.Name(), format.Count(t.rate), format.Bytes(float64(t.size))), false)
}

// startGen runs the track's generator; the model owns it and cancels it on
// stop, unpublish and quit.
func (m *Model) startGen(t *trackUI) {
	g, err := probe.NewGenerator(t.src, t.rate, t.size)
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.gen, t.stopGen = g, cancel
	go g.Run(ctx)
}

func (m *Model) stopGen(t *trackUI) {
	if t.stopGen != nil {
		t.stopGen()
	}
	t.gen, t.stopGen = nil, nil
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

func (m Model) cancelPending() (tea.Model, tea.Cmd) {
	r, ok := m.selectedRow()
	if !ok || r.Stats.State != outgoing.StatePending {
		return m, m.flash("the selected track is not pending", true)
	}
	cancels := m.pending[r.Stats.Name]
	if len(cancels) == 0 {
		return m, m.flash("nothing to cancel", true)
	}
	cancels[0]()
	return m, m.flash(fmt.Sprintf("cancelling publish of %q", r.Stats.Name), false)
}

func (m Model) unpublish() (tea.Model, tea.Cmd) {
	t := m.selectedTrack()
	r, _ := m.selectedRow()
	if t == nil || r.Stats.State == outgoing.StateUnpublished {
		return m, m.flash("select a published track to unpublish", true)
	}
	m.stopGen(t)
	tr := t.track
	return m, tea.Batch(m.flash(fmt.Sprintf("unpublishing %q…", tr.Name()), false), func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return unpublishDoneMsg{name: tr.Name(), err: tr.Unpublish(ctx)}
	})
}

// quit stops every generator, cancels pending publishes and closes the
// backend (which unpublishes every track and leaves), then exits.
func (m Model) quit() (tea.Model, tea.Cmd) {
	m.quitting = true
	for _, t := range m.tracks {
		m.stopGen(t)
	}
	for _, cs := range m.pending {
		for _, c := range cs {
			c()
		}
	}
	b := m.b
	return m, func() tea.Msg {
		_ = b.Close()
		return closedMsg{}
	}
}

// refresh polls the backend and rebuilds the rows; it runs at the UI tick,
// so the cost of the display does not depend on the packet rate.
func (m *Model) refresh() {
	now := m.opts.Now()
	m.status = m.b.Status()
	snap := m.b.Snapshot()
	rx := m.b.Received()
	rows := make([]row, 0, len(snap)+len(m.failed))
	for _, st := range snap {
		r := row{Row: tracktable.Row{Stats: st}}
		if t := m.tracks[st.Handle]; t != nil {
			r.ui = t
			r.FPS = t.fps.Observe(st.FramesSent, now)
			r.PPS = t.pps.Observe(st.PacketsSent, now)
			r.BPS = t.bps.Observe(st.BytesSent, now)
			t.spark.Add(r.BPS)
			r.Stats = subtract(st, t.baseline)
			if got, ok := rx[st.Name]; ok && st.State != outgoing.StatePending {
				r.RxFPS = t.rxfps.Observe(got.FramesReceived, now)
				got = subtractRx(got, t.rxBaseline)
				r.Rx = &got
			}
		}
		rows = append(rows, r)
	}
	for i := range m.failed {
		f := &m.failed[i]
		rows = append(rows, row{failed: f, Row: tracktable.Row{Failed: f.err,
			Stats: outgoing.TrackStats{Name: f.name, State: outgoing.StateFailed, Since: f.at, LastError: reasonText(f.err)}}})
	}
	m.rows = rows
	m.sortRows()
	// Keep the selection on its track; if that row is gone, take the first.
	if len(m.rows) > 0 && m.rows[m.selectedIndex()].key() != m.selected {
		m.selected = m.rows[0].key()
	}
}

func subtract(s, base outgoing.TrackStats) outgoing.TrackStats {
	if base.Handle != s.Handle {
		return s
	}
	s.FramesPushed -= min(base.FramesPushed, s.FramesPushed)
	s.FramesSent -= min(base.FramesSent, s.FramesSent)
	s.PacketsSent -= min(base.PacketsSent, s.PacketsSent)
	s.BytesSent -= min(base.BytesSent, s.BytesSent)
	s.FramesDropped -= min(base.FramesDropped, s.FramesDropped)
	for i := range s.DroppedBy {
		s.DroppedBy[i] -= min(base.DroppedBy[i], s.DroppedBy[i])
	}
	s.UnpublishedErrors -= min(base.UnpublishedErrors, s.UnpublishedErrors)
	return s
}

func subtractRx(r, base session.ReceiveStats) session.ReceiveStats {
	r.FramesReceived -= min(base.FramesReceived, r.FramesReceived)
	r.BytesReceived -= min(base.BytesReceived, r.BytesReceived)
	r.FramesLost -= min(base.FramesLost, r.FramesLost)
	r.FramesIncomplete -= min(base.FramesIncomplete, r.FramesIncomplete)
	return r
}

func (m *Model) sortRows() {
	slices.SortStableFunc(m.rows, func(a, b row) int {
		// Failed rows always last: they are history, not live tracks.
		if (a.failed == nil) != (b.failed == nil) {
			if a.failed == nil {
				return -1
			}
			return 1
		}
		switch m.sort {
		case sortName:
			return cmp.Compare(a.Stats.Name, b.Stats.Name)
		case sortRate:
			return cmp.Compare(b.BPS, a.BPS)
		case sortDrops:
			return cmp.Compare(b.Stats.FramesDropped, a.Stats.FramesDropped)
		}
		return cmp.Compare(a.Stats.Handle, b.Stats.Handle)
	})
}
