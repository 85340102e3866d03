// Package header is the top line: connection state, URL (never with
// secrets), room, identity, round-trip time and reconnects.
package header

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/report"
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
	// SubscribeOnly says the session publishes nothing: it watches.
	SubscribeOnly bool
	// Recording names the file the room is recorded to; "" when it is not.
	Recording string
	// Replay says where a replay is (dttui replay --ui); "" when none.
	Replay string
	// Picking says the room picker stands before the connect.
	Picking bool
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
		switch {
		case m.Picking && st.URL != "":
			to = "◌ pick a room on " + format.Outside(st.URL)
		case m.Picking:
			to = "◌ pick a room"
		case st.URL != "":
			to = "◌ connecting to " + format.Outside(st.URL) + "…"
		}
		state, showURL = th.Warn.Render(to), false
	case session.StateStalled:
		state = th.Bad.Render(fmt.Sprintf("◼ stalled %s", format.Duration(m.ctx.Now().Sub(st.Since))))
	case session.StateReconnecting:
		state = th.Warn.Render(fmt.Sprintf("↻ reconnecting %s", format.Duration(m.ctx.Now().Sub(st.Since))))
	default:
		state = th.Bad.Render("✕ disconnected")
	}
	// Each part has a rank: when the line is too long, the highest ranks
	// go first, whole, rather than the line being cut mid-word. The state
	// and the round-trip time stay longest.
	type part struct {
		text string
		rank int
	}
	parts := []part{{th.Title.Render("dttui"), 0}, {state, 0}}
	if m.Paused {
		parts = append(parts, part{th.Warn.Render("[paused]"), 0})
	}
	if m.Replay != "" {
		parts = append(parts, part{th.Info.Render(m.Replay), 0})
	}
	if m.Recording != "" {
		// The mark stays at every width; the file's name goes early.
		parts = append(parts, part{th.Bad.Render("● REC"), 0}, part{format.Outside(m.Recording), 6})
	}
	if m.SubscribeOnly {
		parts = append(parts, part{th.Info.Render("subscribe-only"), 0})
	}
	if sp := st.Impair.Spec; !sp.IsZero() {
		// Kept at every width: an impaired run must never pass for the
		// network's own.
		parts = append(parts, part{th.Warn.Render("impaired " + sp.String()), 0})
	}
	if showURL && st.URL != "" {
		parts = append(parts, part{format.Outside(st.URL), 4})
	}
	if c := st.Credentials.String(); c != "" && st.Credentials.URL != report.OriginEmbedded {
		// Where the server and key came from (the lk project's name, or
		// env): gone first when the line is short.
		parts = append(parts, part{th.Dim.Render("via ") + format.Outside(c), 6})
	}
	if st.Room != "" {
		parts = append(parts, part{th.Dim.Render("room ") + format.Outside(st.Room), 3})
	}
	if st.Identity != "" {
		parts = append(parts, part{th.Dim.Render("as ") + format.Outside(st.Identity), 5})
	}
	if st.State == session.StateConnected || st.State == session.StateStalled || st.State == session.StateReconnecting {
		parts = append(parts, part{th.Dim.Render("rtt ") + format.Duration(st.RTT), 1})
	}
	if st.Reconnects > 0 {
		parts = append(parts, part{th.Warn.Render(fmt.Sprintf("reconnects %d", st.Reconnects)), 1})
	}
	if st.LocalDrops > 0 {
		// Packets lost in dttui itself, never the network's: kept as
		// long as the state is.
		parts = append(parts, part{th.Bad.Render(fmt.Sprintf("dropped here %d", st.LocalDrops)), 0})
	}
	if st.Err != nil && st.State != session.StateConnected {
		// Last and cut to fit: the banner or the log has it whole.
		parts = append(parts, part{th.Bad.Render(format.Outside(st.Err.Error())), 2})
	}
	join := func() string {
		var ss []string
		for _, p := range parts {
			ss = append(ss, p.text)
		}
		return strings.Join(ss, "  ")
	}
	for line := join(); ansi.StringWidth(line) > m.Width; line = join() {
		worst := -1
		for i, p := range parts {
			if p.rank > 0 && p.rank != 2 && (worst < 0 || p.rank >= parts[worst].rank) {
				worst = i
			}
		}
		if worst < 0 {
			break // what is left is cut
		}
		parts = append(parts[:worst], parts[worst+1:]...)
	}
	return ansi.Truncate(join(), m.Width, "…")
}
