package tui

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the model starts (bursts, generators, file sources,
// connects) has ended when the tests end: the model owns and stops each.
// The harness's own waiters for commands still pending, such as a tick
// due later, are not the model's and are ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/charmbracelet/bubbletea.Tick.func1"),
		goleak.IgnoreTopFunction("github.com/dttui/dttui/tui.(*harness).run.func2"),
	)
}
