// Package common holds what every part of dttui's screen shares: the
// Context (theme and clock) and the Component interface each piece meets,
// in the manner of soft-serve's pkg/ui/common.
package common

import (
	"time"

	"github.com/dttui/dttui/tui/theme"
)

// Context is shared by every component.
type Context struct {
	Theme theme.Theme
	Now   func() time.Time
}

// Component is one piece of the screen: told its size, it draws itself in
// exactly that space (at most Width cells wide).
type Component interface {
	SetSize(width, height int)
	View() string
}

// Size is the embeddable half of Component.
type Size struct{ Width, Height int }

// SetSize records the size the component may draw in.
func (s *Size) SetSize(w, h int) { s.Width, s.Height = w, h }
