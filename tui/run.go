package tui

import (
	"context"
	"errors"
	"fmt"

	tea "github.com/charmbracelet/bubbletea"
)

// ErrUncleanQuit wraps why the UI ended before the tracks were
// unpublished and the room left (closing timed out, or a second ctrl+c).
var ErrUncleanQuit = errors.New("quit before closing finished")

// ErrEndedDisconnected wraps why the session had given up reconnecting
// when the user quit without a retry (r) that worked: the run failed, as
// a headless one that ends disconnected does.
var ErrEndedDisconnected = errors.New("the session ended disconnected")

// Run shows the UI on the terminal until the user quits or ctx ends, and
// restores the terminal either way. It connects with o.Connect while the
// UI is already up. The error says why the connect failed, or that
// closing did not finish (ErrUncleanQuit); the caller prints it once the
// terminal is restored.
func Run(ctx context.Context, o Options) error {
	opts := []tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx)}
	if o.Mouse {
		// Clicks and the wheel only: cell motion reports no bare motion.
		opts = append(opts, tea.WithMouseCellMotion())
	}
	p := tea.NewProgram(New(nil, o), opts...)
	final, err := p.Run()
	m, ok := final.(Model)
	if !ok {
		return err
	}
	// Killed from outside (SIGTERM), or quit before closing finished:
	// close what is still open, bounded, with the terminal restored.
	if why := m.shutdown(); why != "" {
		return fmt.Errorf("%w: %s", ErrUncleanQuit, why)
	}
	if m.connErr != nil {
		return m.connErr
	}
	if m.endedDisconnected != nil {
		return fmt.Errorf("%w: %w", ErrEndedDisconnected, m.endedDisconnected)
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
