// Package header is the top line: connection state, URL (never with
// secrets), room, identity, round-trip time and reconnects.
package header

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/format"
)

// Model draws the header.
type Model struct {
	common.Size
	ctx    common.Context
	Status session.Status
	Paused bool
}

// New returns a header.
func New(ctx common.Context) *Model { return &Model{ctx: ctx} }

// View implements common.Component.
func (m *Model) View() string {
	st := m.Status
	th := m.ctx.Theme
	var state string
	showURL := true
	switch st.State {
	case session.StateConnected:
		state = th.OK.Render("● connected")
	case session.StateConnecting:
		to := "◌ connecting…"
		if st.URL != "" {
			to = "◌ connecting to " + st.URL + "…"
		}
		state, showURL = th.Warn.Render(to), false
	case session.StateStalled:
		state = th.Bad.Render(fmt.Sprintf("◼ stalled %s", format.Duration(m.ctx.Now().Sub(st.Since))))
	case session.StateReconnecting:
		state = th.Warn.Render(fmt.Sprintf("↻ reconnecting %s", format.Duration(m.ctx.Now().Sub(st.Since))))
	default:
		state = th.Bad.Render("✕ disconnected")
	}
	parts := []string{th.Title.Render("dttui"), state}
	if m.Paused {
		parts = append(parts, th.Warn.Render("[paused]"))
	}
	if showURL && st.URL != "" {
		parts = append(parts, st.URL)
	}
	if st.Room != "" {
		parts = append(parts, th.Dim.Render("room ")+st.Room)
	}
	if st.Identity != "" {
		parts = append(parts, th.Dim.Render("as ")+st.Identity)
	}
	if st.State == session.StateConnected || st.State == session.StateStalled || st.State == session.StateReconnecting {
		parts = append(parts, th.Dim.Render("rtt ")+format.Duration(st.RTT))
	}
	if st.Reconnects > 0 {
		parts = append(parts, th.Warn.Render(fmt.Sprintf("reconnects %d", st.Reconnects)))
	}
	line := strings.Join(parts, "  ")
	if st.Err != nil && st.State != session.StateConnected {
		line += "  " + th.Bad.Render(format.OneLine(st.Err.Error()))
	}
	return ansi.Truncate(line, m.Width, "…")
}
