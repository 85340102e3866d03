package tui

import (
	"context"

	tea "github.com/charmbracelet/bubbletea"
)

// Run shows the UI on the terminal until the user quits or ctx ends, and
// restores the terminal either way.
func Run(ctx context.Context, b Backend, o Options) error {
	p := tea.NewProgram(New(b, o), tea.WithAltScreen(), tea.WithContext(ctx))
	_, err := p.Run()
	if ctx.Err() != nil {
		// Interrupted from outside (SIGTERM): still close cleanly.
		_ = b.Close()
		return nil
	}
	return err
}
