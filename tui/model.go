// Package tui is dttui's terminal UI: a bubbletea model that drives a
// session's outgoing data-track manager and shows, live, what happens to
// every track.
package tui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/impair"
	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/source"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/components/charts"
	"github.com/dttui/dttui/tui/components/detail"
	"github.com/dttui/dttui/tui/components/filter"
	"github.com/dttui/dttui/tui/components/helpview"
	"github.com/dttui/dttui/tui/components/logpane"
	"github.com/dttui/dttui/tui/components/prompt"
	"github.com/dttui/dttui/tui/components/roompicker"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/keys"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

// Options configure the UI.
type Options struct {
	Theme theme.Theme
	Logs  *logbuf.Buffer // the log pane's source; nil hides the pane
	// Logger receives the UI's own lines (connect, quit, errors shown on
	// the status line). Nil discards.
	Logger *slog.Logger
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
	// Autostart tracks are published once connected (name → generator settings).
	Autostart []AutoTrack

	// Connect opens the backend when New is given none: the UI shows
	// "connecting to URL…" at once and runs Connect off the UI goroutine;
	// on failure the error stays on screen until the user quits. room is
	// the one picked in the room picker; "": the configured one.
	Connect func(ctx context.Context, room string) (Backend, error)
	// Rooms, when set with Connect, lists the server's rooms before the
	// connect (no --room given): the room picker shows them; with none,
	// or when they cannot be listed, the UI connects at once.
	Rooms func(ctx context.Context) ([]session.RoomListing, error)
	// RoomsRefresh is how often the open picker lists the rooms again.
	// Default DefaultRoomsRefresh.
	RoomsRefresh time.Duration
	// Impair is the shaper of our own connection (session.Config.Impair)
	// that `i` changes; nil: the key says it cannot.
	Impair *impair.Shaper
	// URL is the server the header names while connecting; credentials
	// and query are removed before it is shown.
	URL string
	// BurstTimeout bounds a burst that waits for queue room (b). Default
	// DefaultBurstTimeout.
	BurstTimeout time.Duration
	// QuitTimeout bounds closing on quit (generators stopped, tracks
	// unpublished, room left). Default 5 s.
	QuitTimeout time.Duration
	// LocalSFU, when dttui runs the SFU itself, says how another client
	// joins it; the log pane keeps it pinned at its top.
	LocalSFU *LocalSFU
	// SubscribeOnly: the run publishes nothing (--subscribe-only); the
	// screen is the room, and the publishing keys are off.
	SubscribeOnly bool
	// Recorder records the room to MCAP on R; nil: the key says it cannot.
	// Recording is the file it records to from the start (--record), "" if
	// none.
	Recorder  Recorder
	Recording string
	// Player, when set, is the replay this UI shows (dttui replay --ui):
	// the header says where it is; P, <, >, ( and ) steer it.
	Player Player
	// Mouse asks the terminal for mouse events (--mouse): clicks select,
	// the wheel scrolls. Off by default: while a program takes the mouse,
	// most terminals select text only with shift held.
	Mouse bool
}

// LocalSFU is how another client joins the embedded SFU. The secret is
// never shown: it is in EnvFile, readable by the user only.
type LocalSFU struct {
	URL, APIKey string
	EnvFile     string // LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET; "" if it could not be written
}

// AutoTrack is a track to publish when the UI starts.
type AutoTrack struct {
	Name string
	Rate float64 // 0: publish only (with Source: as fast as the track takes them)
	Size int
	E2EE bool
	// Type declares the frames' encoding and schema; SchemaDef, when set,
	// is stored in the room first.
	Type      schema.Decl
	SchemaDef []byte
	// SchemaCheck is what happens to a frame that does not match the
	// schema (warn when zero).
	SchemaCheck validate.Mode
	// Source, when set, pushes a file's frames (--track NAME:file=PATH)
	// instead of running the generator.
	Source *source.Spec
}

// Defaults for the generator (probe's), and the UI's own.
const (
	defaultRate        = probe.DefaultRate
	defaultSize        = probe.DefaultSize
	defaultBurst       = 100
	defaultQuitTimeout = 5 * time.Second
	historyCap         = 20
)

// Model is the root bubbletea model.
type Model struct {
	b    Backend // nil until connected
	opts Options
	th   theme.Theme
	keys keys.KeyMap
	log  *slog.Logger

	width, height int

	conn    *connection // the connect run by the UI; nil when New got a backend
	pick    *picking    // the room picker before the connect; nil once connecting
	room    string      // the room picked ("": the configured one)
	connErr error       // why the connect failed

	status session.Status
	// tbl is the main table: the report, its rows, their order and the
	// selection (table.go).
	tbl     table
	tracks  map[uint16]*trackUI
	pending map[uint16]Pending // publishes in flight, by handle
	failed  []failedRow

	paused     bool
	showDetail bool
	showLogs   bool
	burstN     int

	// The stateful children: each keeps its own state and takes the keys
	// while it is open or focused.
	prompt *prompt.Model
	source *prompt.Source // pushes a file into the selected track (o)
	impair *prompt.Impair // changes the impairment of our own path (i)
	// preview keeps the selected room row's last frame rendered.
	preview *detail.PreviewCache
	help    *helpview.Model
	filter  *filter.Model
	charts  *charts.Model
	logs    *logpane.Model // nil without Options.Logs

	statusMsg string
	statusErr bool
	statusSeq int

	// recFile is the recording in progress (R), "" when none; recBusy: its
	// file is being opened or closed.
	recFile string
	recBusy bool

	quitting bool
	closer   *closer // set when quitting: what closes the backend
	// unclean says why the program ended before closing finished.
	unclean string
	// endedDisconnected is why the session had given up when the user
	// quit (nil: it had not).
	endedDisconnected error
}

// New returns the model. b may be nil when o.Connect is set: the model then
// connects itself.
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
	if o.BurstTimeout <= 0 {
		o.BurstTimeout = DefaultBurstTimeout
	}
	if o.QuitTimeout <= 0 {
		o.QuitTimeout = defaultQuitTimeout
	}
	if o.RoomsRefresh <= 0 {
		o.RoomsRefresh = DefaultRoomsRefresh
	}
	if o.Theme.R == nil {
		o.Theme = theme.Terminal()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	k := keys.Default()
	ctx := common.Context{Theme: o.Theme, Now: o.Now}
	m := Model{
		b: b, opts: o, th: o.Theme, keys: k, log: o.Logger,
		width: 80, height: 24,
		tbl:     newTable(sortHandle),
		tracks:  map[uint16]*trackUI{},
		pending: map[uint16]Pending{},
		source:  prompt.NewSource(ctx, k),
		impair:  prompt.NewImpair(ctx, k),
		preview: &detail.PreviewCache{},
		filter:  filter.New(ctx, k),
		charts:  charts.New(ctx, k),
		burstN:  defaultBurst,
		prompt:  prompt.New(ctx, k, o.E2EEAvailable),
		help:    helpview.New(ctx, k),
	}
	if o.Logs != nil {
		m.logs = logpane.New(ctx, k, o.Logs)
	}
	m.recFile = o.Recording
	switch {
	case b == nil && o.Connect != nil && o.Rooms != nil:
		// Listed in Init; connected once a room is picked.
		m.pick = newPicking()
		m.status = session.Status{State: session.StateConnecting, URL: redact.URL(o.URL), Since: o.Now()}
	case b == nil && o.Connect != nil:
		m.conn = newConnection()
		m.status = session.Status{State: session.StateConnecting, URL: redact.URL(o.URL), Since: o.Now()}
	case b == nil:
		m.connErr = errors.New("no session to drive (nothing to connect with)")
		m.status = session.Status{State: session.StateDisconnected, Err: m.connErr}
	}
	m.refresh()
	m.place()
	return m
}

type tickMsg time.Time

type clearStatusMsg int

// Init starts the refresh tick, and either the connect or the autostart
// publishes.
func (m Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.tick()}
	switch {
	case m.conn != nil:
		cmds = append(cmds, m.conn.cmd(m.connectFunc()))
	case m.pick != nil:
		cmds = append(cmds, m.listRooms())
	case m.b != nil:
		cmds = append(cmds, m.autostart())
	}
	return tea.Batch(cmds...)
}

func (m Model) tick() tea.Cmd {
	return tea.Tick(m.opts.Tick, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Update handles a message, then places the screen's panes for what the
// message changed.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	next, cmd := m.update(msg)
	nm := next.(Model)
	nm.place()
	return nm, cmd
}

// update is Update before the panes are placed.
func (m Model) update(msg tea.Msg) (tea.Model, tea.Cmd) {
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
	case connectedMsg:
		return m.onConnected(msg)
	case roomsListedMsg:
		return m.onRoomsListed(msg)
	case refreshRoomsMsg:
		if m.quitting || !m.pickerOpen() {
			return m, nil
		}
		return m, m.listRooms()
	case roompicker.ChosenMsg:
		if m.quitting || !m.picking() {
			return m, nil
		}
		return m.connectTo(msg.Room)
	case publishStartedMsg:
		return m.onPublishStarted(msg)
	case autostartMsg:
		return m.onAutostart(msg)
	case publishDoneMsg:
		return m.onPublished(msg)
	case burstDoneMsg:
		return m.onBurstDone(msg)
	case sourceDoneMsg:
		return m.onSourceDone(msg)
	case subscribeDoneMsg:
		return m.onSubscribeDone(msg)
	case prompt.SourceSubmitMsg:
		return m.startSource(msg)
	case unpublishDoneMsg:
		if m.quitting {
			return m, nil
		}
		if msg.err != nil {
			return m, m.flash(fmt.Sprintf("unpublish %q: %v", msg.name, msg.err), true)
		}
		return m, m.flash(fmt.Sprintf("unpublished %q", msg.name), false)
	case clearStatusMsg:
		if int(msg) == m.statusSeq {
			m.statusMsg = ""
		}
		return m, nil
	case prompt.SubmitMsg:
		if m.quitting || m.b == nil {
			return m, nil
		}
		cmd := m.publishCmd(msg.Name, msg.E2EE, msg.Type, nil)
		m.refresh()
		return m, tea.Batch(cmd, m.flash(fmt.Sprintf("publishing %q…", msg.Name), false))
	case filter.ChangedMsg:
		m.buildRows()
		return m, nil
	case prompt.RefusedMsg:
		return m, m.flash(msg.Reason, true) // the prompt stays open to fix it
	case prompt.ImpairSubmitMsg:
		m.opts.Impair.Set(m.opts.Now(), msg.Spec)
		m.log.Info("impairment changed", "spec", msg.Spec.String())
		if msg.Spec.IsZero() {
			return m, m.flash("impairment off", false)
		}
		return m, m.flash("impairing our path: "+msg.Spec.String(), false)
	case recordStartedMsg:
		return m.onRecordStarted(msg)
	case recordStoppedMsg:
		return m.onRecordStopped(msg)
	case closedMsg:
		return m, tea.Quit
	case quitTimeoutMsg:
		m.unclean = fmt.Sprintf("closing took longer than %s; quit without waiting", m.opts.QuitTimeout)
		m.log.Warn(m.unclean)
		return m, tea.Quit
	case tea.MouseMsg:
		return m.onMouse(msg)
	case tea.KeyMsg:
		if key.Matches(msg, m.keys.Interrupt) {
			if m.quitting {
				m.unclean = "interrupted while closing; quit without waiting"
				m.log.Warn(m.unclean)
				return m, tea.Quit
			}
			return m.quit()
		}
		if m.quitting {
			return m, nil
		}
		return m.onKey(msg)
	}
	return m, nil
}

// onKey gives a key to whoever has the keys: the prompt, the help, the
// focused log pane (for the keys it takes), else the table.
func (m Model) onKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste && !m.typing() {
		return m.onRunes(msg)
	}
	switch {
	case m.picking():
		return m.onPickerKey(msg)
	case m.prompt.IsOpen():
		return m, m.prompt.Update(msg)
	case m.source.IsOpen():
		return m, m.source.Update(msg)
	case m.impair.IsOpen():
		return m, m.impair.Update(msg)
	case m.help.IsOpen():
		return m, m.help.Update(msg)
	case m.logsFocused() && m.logs.Handles(msg):
		cmd := m.logs.Update(msg)
		if !m.logs.Focused() {
			m.showLogs = false // esc closes the pane (its state is kept for l)
		}
		return m, cmd
	case m.filter.Editing():
		return m, m.filter.Update(msg)
	case msg.Paste:
		// Pasted text never runs commands (bubbletea's rule too).
		return m, m.flash("pasted text goes only into the prompt, the filter or the log search", true)
	}
	return m.updateKeys(msg)
}

// onRunes applies every rune of a key event that carries several: the
// terminal delivers keys read together (auto-repeat, a fast typist, SSH,
// tmux send-keys) as one event, and each is a key. Once a rune opens a
// text input (p, then /), the rest is typed into it.
func (m Model) onRunes(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	for i, r := range msg.Runes {
		if m.quitting {
			break
		}
		k := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}
		typing := m.typing()
		if typing {
			k.Runes = msg.Runes[i:]
		}
		next, cmd := m.onKey(k)
		m, cmds = next.(Model), append(cmds, cmd)
		m.place() // the next key acts on the screen this one left
		if typing {
			break
		}
	}
	return m, tea.Batch(cmds...)
}

// typing says a text input has the keys: runes are text, not commands.
func (m Model) typing() bool {
	return m.pickerOpen() && m.pick.picker.Typing() || m.prompt.IsOpen() || m.source.IsOpen() || m.impair.IsOpen() || m.filter.Editing() || (m.logsFocused() && m.logs.Searching())
}

// logsFocused says the open log pane has the keys.
func (m Model) logsFocused() bool { return m.showLogs && m.logs != nil && m.logs.Focused() }

// flash shows text on the status line for a few seconds; errors stay
// longer and also go to the log, so none is lost once the line clears.
func (m *Model) flash(text string, isErr bool) tea.Cmd {
	m.statusSeq++
	m.statusMsg, m.statusErr = text, isErr
	seq := m.statusSeq
	d := 4 * time.Second
	if isErr {
		d = 8 * time.Second // errors stay long enough to read
		m.log.Warn(text)
	}
	return tea.Tick(d, func(time.Time) tea.Msg { return clearStatusMsg(seq) })
}

// updateKeys handles a key while the table has the keys: the table takes
// its own (table.Update), the root model the rest.
func (m Model) updateKeys(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	if handled, cmd := m.tbl.Update(msg, k, &m); handled {
		return m, cmd
	}
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Help):
		m.help.Open()
	case key.Matches(msg, k.Pause):
		m.paused = !m.paused
		if m.paused && m.b != nil {
			// Every row's whole history, once: whichever is selected
			// while paused has its charts.
			m.refresh()
		}
	case key.Matches(msg, k.Detail):
		m.showDetail = !m.showDetail
	case key.Matches(msg, k.Charts):
		m.charts.Toggle(m.chartsShown())
	case key.Matches(msg, k.ChartWindow):
		m.charts.Update(msg)
		if !m.chartsShown() {
			m.charts.Toggle(false)
		}
	case key.Matches(msg, k.Logs):
		m.toggleLogs()
	case key.Matches(msg, k.Filter):
		return m, m.filter.Edit()
	case key.Matches(msg, k.FilterClear) && m.filter.Active():
		m.filter.Clear()
		m.buildRows()
	case key.Matches(msg, k.BurstMore):
		m.burstN = min(m.burstN*10, 100_000)
		return m, m.flash(fmt.Sprintf("burst size %d", m.burstN), false)
	case key.Matches(msg, k.BurstLess):
		m.burstN = max(m.burstN/10, 1)
		return m, m.flash(fmt.Sprintf("burst size %d", m.burstN), false)
	default:
		return m.updateTrackKeys(msg)
	}
	return m, nil
}

// updateTrackKeys handles the keys that need a connection.
func (m Model) updateTrackKeys(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	if m.gaveUp() && m.opts.Connect != nil && key.Matches(msg, k.Retry) {
		return m.reconnect()
	}
	// Not connected, or a session that gave up: these keys would act on
	// nothing (or on the dead session) and say so instead.
	if m.b == nil || m.gaveUp() {
		if m.b == nil && key.Matches(msg, k.Retry) {
			return m.retry()
		}
		for _, b := range []key.Binding{k.Publish, k.Cancel, k.Unpublish, k.PushOne, k.Burst, k.Flood, k.Generator, k.RateUp, k.RateDn, k.SizeUp, k.SizeDn, k.Reset, k.Subscribe, k.Source} {
			if key.Matches(msg, b) {
				return m, m.flash(m.notConnected(), true)
			}
		}
		return m, nil
	}
	switch {
	case key.Matches(msg, k.Subscribe):
		return m.toggleSubscribe()
	case key.Matches(msg, k.Reset):
		m.resetCounters()
		return m, m.flash("counters reset", false)
	case m.opts.SubscribeOnly && slices.ContainsFunc([]key.Binding{k.Publish, k.Cancel, k.Unpublish, k.PushOne, k.Burst, k.Flood, k.Generator, k.RateUp, k.RateDn, k.SizeUp, k.SizeDn, k.Source},
		func(b key.Binding) bool { return key.Matches(msg, b) }):
		return m, m.flash("--subscribe-only: this run publishes nothing (S subscribes or unsubscribes a room track)", true)
	case key.Matches(msg, k.Publish):
		m.help.Close()
		return m, m.prompt.Open(m.suggestName())
	case key.Matches(msg, k.Record):
		return m.toggleRecording()
	case key.Matches(msg, k.ReplayPause):
		return m.playerKey(func(p Player) string {
			p.TogglePause()
			if p.State().Paused {
				return "replay paused (P resumes)"
			}
			return "replay resumed"
		})
	case key.Matches(msg, k.SeekBack), key.Matches(msg, k.SeekFwd):
		step := SeekStep
		if key.Matches(msg, k.SeekBack) {
			step = -step
		}
		return m.playerKey(func(p Player) string {
			p.SeekBy(step)
			return "replay at " + format.Duration(p.State().Position)
		})
	case key.Matches(msg, k.SpeedDown), key.Matches(msg, k.SpeedUp):
		f := 2.0
		if key.Matches(msg, k.SpeedDown) {
			f = 0.5
		}
		return m.playerKey(func(p Player) string {
			p.SetSpeed(p.State().Speed * f)
			return fmt.Sprintf("replay speed ×%g", p.State().Speed)
		})
	case key.Matches(msg, k.Impair):
		if m.opts.Impair == nil {
			return m, m.flash("this run cannot impair its path (load mode)", true)
		}
		m.help.Close()
		sp, _ := m.opts.Impair.Spec()
		return m, m.impair.Open(sp)
	case key.Matches(msg, k.Source):
		t := m.selectedTrack()
		if t == nil {
			return m, m.flash(m.noTrack(), true)
		}
		m.help.Close()
		return m, m.source.Open(t.track.Handle(), t.track.Name(), t.rate, t.size)
	case key.Matches(msg, k.Cancel):
		return m.cancelPending()
	case key.Matches(msg, k.Unpublish):
		return m.unpublish()
	case key.Matches(msg, k.PushOne):
		return m.push(1, flood)
	case key.Matches(msg, k.Burst):
		return m.push(m.burstN, deliver)
	case key.Matches(msg, k.Flood):
		return m.push(m.burstN, flood)
	case key.Matches(msg, k.Generator):
		return m.toggleGen()
	case key.Matches(msg, k.RateUp):
		return m.adjust(func(t *trackUI) { t.rate = min(t.rate*2, maxRate) })
	case key.Matches(msg, k.RateDn):
		return m.adjust(func(t *trackUI) { t.rate = max(t.rate/2, 1) })
	case key.Matches(msg, k.SizeUp):
		return m.adjust(func(t *trackUI) { t.size = min(t.size*2, maxSize) })
	case key.Matches(msg, k.SizeDn):
		return m.adjust(func(t *trackUI) { t.size = max(t.size/2, minSize) })
	}
	return m, nil
}

func (m Model) notConnected() string {
	if m.gaveUp() {
		return "the session gave up reconnecting (r connects again, q quits)"
	}
	if m.connErr != nil {
		return "not connected: " + m.connErr.Error() + " (r retries, q quits)"
	}
	return "not connected yet: wait for the connection, or q to quit"
}

// toggleLogs opens the log pane with the keys; pressed while the pane has
// them, closes it (as esc does); pressed while the table has them, gives
// them back.
func (m *Model) toggleLogs() {
	switch {
	case m.logs == nil:
	case !m.showLogs:
		m.showLogs = true
		m.logs.Focus()
	case m.logs.Focused():
		m.showLogs = false
		m.logs.Blur()
	default:
		m.logs.Focus()
	}
}

// suggestName is the prompt's suggestion: the first track-N no track of
// this UI has.
func (m Model) suggestName() string {
	taken := map[string]bool{}
	for _, r := range m.tbl.rows {
		taken[r.L.Name] = true
	}
	for n := len(m.tracks) + len(m.failed) + 1; ; n++ {
		if name := fmt.Sprintf("track-%d", n); !taken[name] {
			return name
		}
	}
}

// resetCounters makes the report as of now the display's base: every
// figure (counters, latency, history, last error, corrupt frames) counts
// from here on. The tracks are not touched. A reset after a reset starts
// from now.
func (m *Model) resetCounters() {
	base := m.b.Report(nil, report.Scope{History: 1})
	m.tbl.base = &base
	m.failed = nil
	m.refresh()
}

// move moves the selection d rows (the mouse's wheel and clicks).
func (m *Model) move(d int) {
	if m.tbl.move(d) {
		m.selectionMoved()
	}
}

// selectionMoved takes the report again (tableHost): it carries the whole
// history of the selected row only, so its charts are whole from the
// first frame.
func (m *Model) selectionMoved() {
	if !m.paused {
		m.refresh()
	}
}

func (m Model) selectedRow() (row, bool) { return m.tbl.selectedRow() }

// selectedTrack is the selected row's published track, if it has one.
func (m Model) selectedTrack() *trackUI {
	r, _ := m.selectedRow()
	return r.ui
}
