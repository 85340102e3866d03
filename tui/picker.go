package tui

import (
	"context"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/components/roompicker"
)

// picking is the room picker's life before the connect: the listing in
// flight, then the picker open until a room is chosen.
type picking struct {
	ctx    context.Context
	cancel context.CancelFunc // ends the listing (quit, or a room chosen)
	picker *roompicker.Model  // nil while the rooms are being listed
}

func newPicking() *picking {
	ctx, cancel := context.WithCancel(context.Background())
	return &picking{ctx: ctx, cancel: cancel}
}

// roomsListedMsg is the server's rooms, or why they could not be listed.
type roomsListedMsg struct {
	rooms []session.RoomListing
	err   error
}

// listRooms lists the rooms off the UI goroutine.
func (m Model) listRooms() tea.Cmd {
	ctx, list := m.pick.ctx, m.opts.Rooms
	return func() tea.Msg {
		rooms, err := list(ctx)
		return roomsListedMsg{rooms: rooms, err: err}
	}
}

// DefaultRoomsRefresh is how often the open room picker lists the rooms
// again: rooms open and close, participants come and publish.
const DefaultRoomsRefresh = 3 * time.Second

// refreshRoomsMsg asks for a fresh listing while the picker is open.
type refreshRoomsMsg struct{}

// onRoomsListed opens the picker on the rooms; with none (a new server,
// the embedded SFU) or when they cannot be listed, it connects at once
// to a new room, as without a picker. Once open, the picker takes each
// fresh listing (a failed one keeps the last) and asks for the next.
func (m Model) onRoomsListed(msg roomsListedMsg) (tea.Model, tea.Cmd) {
	if m.quitting || m.pick == nil {
		return m, nil
	}
	next := tea.Tick(m.opts.RoomsRefresh, func(time.Time) tea.Msg { return refreshRoomsMsg{} })
	if p := m.pick.picker; p != nil {
		if msg.err != nil {
			m.log.Debug("listing the rooms again failed", "err", msg.err)
		} else {
			p.SetRooms(msg.rooms)
		}
		return m, next
	}
	switch {
	case msg.err != nil:
		m.log.Warn("could not list the server's rooms; joining a new room", "err", msg.err)
		return m.connectTo("")
	case len(msg.rooms) == 0:
		m.log.Info("the server has no rooms; joining a new room")
		return m.connectTo("")
	}
	m.pick.picker = roompicker.New(m.ctx(), m.keys, msg.rooms)
	return m, next
}

// picking says the room picker (or its listing) stands before the
// connect.
func (m Model) picking() bool { return m.pick != nil }

// pickerOpen says the picker is shown and has the keys.
func (m Model) pickerOpen() bool { return m.pick != nil && m.pick.picker != nil }

// onPickerKey gives a key to the picker; q quits while it is not typing.
func (m Model) onPickerKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	p := m.pick.picker
	if (p == nil || !p.Typing()) && key.Matches(msg, m.keys.Quit) {
		return m.quit()
	}
	if p == nil || msg.Paste && !p.Typing() {
		return m, nil // still listing; pasted text never runs commands
	}
	return m, p.Update(msg)
}

// connectTo closes the picker and connects to room ("" : the configured
// one, a generated name without).
func (m Model) connectTo(room string) (tea.Model, tea.Cmd) {
	if m.pick != nil {
		m.pick.cancel()
		m.pick = nil
	}
	m.room = room
	m.conn = newConnection()
	m.status = session.Status{State: session.StateConnecting, URL: redact.URL(m.opts.URL), Room: room, Since: m.opts.Now()}
	if room != "" {
		m.log.Info("joining the room picked", "room", room)
	}
	return m, m.conn.cmd(m.connectFunc())
}

// connectFunc is Options.Connect for the room picked (if any).
func (m Model) connectFunc() func(context.Context) (Backend, error) {
	connect, room := m.opts.Connect, m.room
	return func(ctx context.Context) (Backend, error) { return connect(ctx, room) }
}

// pickerView is the body while the picker stands before the connect.
func (m Model) pickerView() string {
	if m.pick.picker == nil {
		return m.th.Dim.Render(" listing the server's rooms…")
	}
	return m.pick.picker.View()
}
