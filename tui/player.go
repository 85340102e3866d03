package tui

import (
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/tui/format"
)

// Player steers `dttui replay --ui`: *record.Control is one.
type Player interface {
	State() record.PlayState
	TogglePause()
	SeekBy(time.Duration)
	SetSpeed(float64)
}

// SeekStep is how far < and > move a replay.
const SeekStep = 10 * time.Second

// playerKey handles the replay keys (P, <, >, (, )).
func (m Model) playerKey(do func(p Player) string) (tea.Model, tea.Cmd) {
	if m.opts.Player == nil {
		return m, m.flash("not a replay: dttui replay FILE --ui plays a recording here", true)
	}
	return m, m.flash(do(m.opts.Player), false)
}

// replayMark is the header's replay state: ▶ or ⏸, position, duration, speed.
func (m Model) replayMark() string {
	if m.opts.Player == nil {
		return ""
	}
	st := m.opts.Player.State()
	icon := "▶ replay"
	if st.Paused {
		icon = "⏸ paused"
	}
	at := format.Duration(st.Position)
	if st.Duration > 0 {
		at += " / " + format.Duration(st.Duration)
	}
	return fmt.Sprintf("%s %s ×%g", icon, at, st.Speed)
}
