// Package helpview draws the key help: the one-line footer and the full
// `?` screen.
package helpview

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/keys"
)

// Model draws help.
type Model struct {
	common.Size
	ctx  common.Context
	Keys keys.KeyMap
	// Full shows every binding in a box; otherwise the footer line.
	Full bool
	// Prompt shows the publish prompt's keys in the footer instead.
	Prompt bool
	// Offline shows only the keys that work without a session.
	Offline bool
	// Figures shown under the full help.
	Burst       int
	DefaultRate float64
	DefaultSize int
	// The sparkline's window (seconds in the table and the detail pane)
	// and the span that makes a track "dropping".
	SparkTable, SparkDetail int
	DropWindow              string
}

// New returns a help view.
func New(ctx common.Context, k keys.KeyMap) *Model { return &Model{ctx: ctx, Keys: k} }

// View implements common.Component.
func (m *Model) View() string {
	th := m.ctx.Theme
	hm := help.New()
	if !m.Full {
		if m.Prompt {
			return th.Footer.Render(ansi.Truncate("enter publish · tab E2EE on/off · esc cancel", m.Width-2, "…"))
		}
		hm.Width = m.Width - 2
		hm.Styles.ShortKey = th.Bold
		hm.Styles.ShortDesc = th.Dim
		hm.Styles.ShortSeparator = th.Dim
		bindings := m.Keys.ShortHelp()
		if m.Offline {
			bindings = m.Keys.OfflineHelp()
		}
		return th.Footer.Render(hm.ShortHelpView(bindings))
	}
	hm.Width = m.Width - 4
	hm.ShowAll = true
	hm.Styles.FullKey = th.Bold
	hm.Styles.FullDesc = th.Dim
	notes := []string{
		fmt.Sprintf("burst size %d · generator default %s/s × %s · any key closes this help",
			m.Burst, format.Count(m.DefaultRate), format.Bytes(float64(m.DefaultSize))),
		fmt.Sprintf("SEND: mean send rate per second, the last %d s (detail pane: %d s)", m.SparkTable, m.SparkDetail),
		fmt.Sprintf("\"dropping\", red DROPPED: frames dropped in the last %s", m.DropWindow),
		"ctrl+c quits from anywhere, the prompt too; pressed again, without waiting",
	}
	for i, n := range notes {
		notes[i] = th.Dim.Render(ansi.Wrap(n, max(m.Width-4, 1), ""))
	}
	text := th.Title.Render("Keys") + "\n\n" + hm.FullHelpView(m.Keys.FullHelp()) + "\n\n" + strings.Join(notes, "\n")
	return th.Box.Width(m.Width - 2).Render(text)
}
