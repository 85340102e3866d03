package tui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/session"
)

// errSessionGaveUp is why a session that gave up without an error of its
// own ended.
var errSessionGaveUp = errors.New("the session gave up reconnecting")

// connection is the connect the UI runs itself. Its result is read only
// after done is closed.
type connection struct {
	ctx    context.Context
	cancel context.CancelFunc // ends a connect in progress (quit)
	done   chan struct{}
	b      Backend
	err    error
}

func newConnection() *connection {
	ctx, cancel := context.WithCancel(context.Background())
	return &connection{ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

type connectedMsg struct {
	b   Backend
	err error
}

// cmd connects off the UI goroutine.
func (c *connection) cmd(connect func(context.Context) (Backend, error)) tea.Cmd {
	return func() tea.Msg {
		b, err := connect(c.ctx)
		if err == nil && b == nil {
			err = fmt.Errorf("connect returned no session")
		}
		c.b, c.err = b, err
		close(c.done)
		return connectedMsg{b: b, err: err}
	}
}

// result waits up to d for the connect to end and returns its backend (nil
// if it failed or is still running).
func (c *connection) result(d time.Duration) Backend {
	select {
	case <-c.done:
		return c.b
	case <-time.After(d):
		return nil
	}
}

func (m Model) onConnected(msg connectedMsg) (tea.Model, tea.Cmd) {
	if m.quitting {
		return m, nil // the closer takes the backend from the connection
	}
	if msg.err != nil {
		m.connErr = msg.err
		m.status = session.Status{State: session.StateDisconnected, Err: msg.err, URL: redact.URL(m.opts.URL), Since: m.opts.Now()}
		m.log.Error("could not connect", "err", msg.err)
		return m, nil
	}
	m.b = msg.b
	m.refresh()
	return m, m.autostart()
}

// retry connects again after a failed connect (r), as at start: the
// header says "connecting", the keys wait, the autostart tracks follow.
func (m Model) retry() (tea.Model, tea.Cmd) {
	switch {
	case m.connErr == nil:
		return m, m.flash(m.notConnected(), true) // still connecting
	case m.opts.Connect == nil:
		return m, m.flash("nothing to connect with: "+m.connErr.Error(), true)
	}
	if m.conn != nil {
		m.conn.cancel() // the failed attempt's context
	}
	m.conn, m.connErr = newConnection(), nil
	m.status = session.Status{State: session.StateConnecting, URL: redact.URL(m.opts.URL), Room: m.room, Since: m.opts.Now()}
	m.log.Info("retrying the connection", "url", m.status.URL)
	return m, tea.Batch(m.conn.cmd(m.connectFunc()), m.flash("connecting again…", false))
}

// gaveUp says the session gave up reconnecting: the model still holds
// it, nothing more will happen on it, and r connects anew.
func (m Model) gaveUp() bool {
	return m.b != nil && m.status.State == session.StateDisconnected
}

// reconnect (r, once the session gave up) closes the session that gave
// up and connects anew, as at start: the autostart tracks are published
// again; the tracks and rows of the old session go with it. The new
// connection's goroutine closes the old session first, so the closer,
// which waits for that connection, waits for both.
func (m Model) reconnect() (tea.Model, tea.Cmd) {
	old := m.b
	var ps []pusher
	for _, t := range m.tracks {
		ps = append(ps, t.halt()...)
	}
	for _, p := range m.pending {
		p.Cancel()
	}
	m.b, m.tbl = nil, newTable(m.tbl.sort)
	m.tracks, m.pending, m.failed = map[uint16]*trackUI{}, map[uint16]Pending{}, nil
	m.conn, m.connErr = newConnection(), nil
	m.status = session.Status{State: session.StateConnecting, URL: redact.URL(m.opts.URL), Since: m.opts.Now()}
	m.log.Info("the session gave up; connecting anew", "url", m.status.URL)
	connect, log := m.connectFunc(), m.log
	return m, tea.Batch(m.conn.cmd(func(ctx context.Context) (Backend, error) {
		waitAll(ps)
		if err := old.Close(); err != nil {
			log.Warn("closing the session that gave up", "err", err)
		}
		return connect(ctx)
	}), m.flash("connecting again…", false))
}

type closedMsg struct{}

type quitTimeoutMsg struct{}

// quit stops every pusher and pending publish at once, then closes off the
// UI goroutine: waits for the pushers, unpublishes the tracks, leaves the
// room. A timer bounds it; a second ctrl+c quits at once.
func (m Model) quit() (tea.Model, tea.Cmd) {
	if m.quitting {
		return m, nil
	}
	m.quitting = true
	if m.gaveUp() {
		// Quit without a retry that worked: the run failed (exit 1).
		m.endedDisconnected = cmp.Or(m.status.Err, errSessionGaveUp)
	}
	m.prompt.Close()
	m.help.Close()
	m.closer = m.newCloser()
	c := m.closer
	return m, tea.Batch(
		func() tea.Msg { c.run(); return closedMsg{} },
		tea.Tick(m.opts.QuitTimeout, func(time.Time) tea.Msg { return quitTimeoutMsg{} }),
	)
}

// closer closes what the model holds, once, off the UI goroutine.
type closer struct {
	log     *slog.Logger
	timeout time.Duration
	b       Backend
	conn    *connection
	pushers []pusher
	tracks  []Track // to unpublish

	once sync.Once
	done chan struct{}
}

// newCloser halts everything that pushes or publishes, now, and captures
// what the close must wait for and unpublish.
func (m *Model) newCloser() *closer {
	c := &closer{log: m.log, timeout: m.opts.QuitTimeout, b: m.b, conn: m.conn, done: make(chan struct{})}
	for _, t := range m.tracks {
		c.pushers = append(c.pushers, t.halt()...)
	}
	for _, p := range m.pending {
		p.Cancel()
	}
	if m.b == nil && m.conn != nil {
		m.conn.cancel() // a connect still running: give up on it
	}
	if m.pick != nil {
		m.pick.cancel() // a listing still running
	}
	live := map[uint16]bool{}
	for _, r := range m.tbl.rows {
		if r.ui != nil && r.L.State != outgoing.StateUnpublished {
			live[r.L.Handle] = true
		}
	}
	for h, t := range m.tracks {
		if live[h] {
			c.tracks = append(c.tracks, t.track)
		}
	}
	return c
}

// run waits for the pushers, unpublishes every track (waiting for the
// SFU's confirmations, bounded) and closes the backend, which leaves the
// room. It runs once; later calls wait for the first.
func (c *closer) run() {
	c.once.Do(func() {
		defer close(c.done)
		waitAll(c.pushers)
		b := c.b
		if b == nil && c.conn != nil {
			b = c.conn.result(c.timeout)
		}
		if b == nil {
			return
		}
		c.log.Info("quit: unpublishing tracks and leaving the room", "tracks", len(c.tracks))
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout*3/5)
		var wg sync.WaitGroup
		for _, t := range c.tracks {
			wg.Go(func() {
				if err := t.Unpublish(ctx); err != nil {
					c.log.Warn("quit: unpublish failed", "name", t.Name(), "handle", t.Handle(), "err", err)
					return
				}
				c.log.Info("quit: track unpublished", "name", t.Name(), "handle", t.Handle())
			})
		}
		wg.Wait()
		cancel()
		if err := b.Close(); err != nil {
			c.log.Warn("quit: leaving the room", "err", err)
			return
		}
		c.log.Info("quit: left the room")
	})
}

// finished says whether run has completed.
func (c *closer) finished() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// shutdown is for Run once the program has ended: it closes what a model
// that never quit holds (killed from outside), bounded by the quit
// timeout, and says why closing did not finish, if it did not.
func (m Model) shutdown() string {
	if m.unclean != "" {
		return m.unclean
	}
	c := m.closer
	if c == nil {
		c = m.newCloser()
	}
	go c.run()
	select {
	case <-c.done:
		return ""
	case <-time.After(m.opts.QuitTimeout):
		return fmt.Sprintf("closing took longer than %s; quit without waiting", m.opts.QuitTimeout)
	}
}
