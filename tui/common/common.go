// Package common holds what every part of dttui's screen shares: the
// Context (theme and clock) and the interfaces components meet, in the
// manner of soft-serve's pkg/ui/common.
package common

import (
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/tui/theme"
)

// Context is shared by every component.
type Context struct {
	Theme theme.Theme
	Now   func() time.Time
}

// Component is one piece of the screen: told its size, it draws itself in
// exactly that space (at most Width cells wide). Stateless components are
// built afresh for each frame.
type Component interface {
	SetSize(width, height int)
	View() string
}

// Stateful is a component that keeps state between frames (a scroll
// position, a text input, a filter). Its parent owns it, forwards it the
// messages meant for it, and asks it which keys it takes now (for the
// footer and the full help).
type Stateful interface {
	Component
	help.KeyMap
	// Update handles a message; the command's messages may be the
	// component's own (for the parent to act on).
	Update(msg tea.Msg) tea.Cmd
}

// Size is the embeddable half of Component.
type Size struct{ Width, Height int }

// SetSize records the size the component may draw in.
func (s *Size) SetSize(w, h int) { s.Width, s.Height = w, h }
