package prompt

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/keys"
	"github.com/dttui/dttui/tui/theme"
)

// submit sends msgs to the open prompt and returns the path enter
// submitted ("" if it refused).
func submit(t *testing.T, m *Source, msgs ...tea.Msg) string {
	t.Helper()
	var cmd tea.Cmd
	for _, msg := range msgs {
		cmd = m.Update(msg)
	}
	if cmd == nil {
		t.Fatal("enter returned nothing")
	}
	if sub, ok := cmd().(SourceSubmitMsg); ok {
		return sub.Path
	}
	return ""
}

// The last path pushed is a placeholder, not text: a path typed after it
// replaces it (it was appended: "a.ndjsonb.ndjson"), and enter on the
// empty field takes it again.
func TestSourcePromptOffersTheLastPathAsAPlaceholder(t *testing.T) {
	m := NewSource(common.Context{Theme: theme.Plain()}, keys.Default())
	typed := func(s string) tea.Msg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }
	enter := tea.KeyMsg{Type: tea.KeyEnter}

	m.Open(1, "t", 10, 1024)
	if got := submit(t, m, enter); got != "" {
		t.Fatalf("enter on an empty prompt, nothing pushed yet, submitted %q", got)
	}
	if got := submit(t, m, typed("/data/a.ndjson"), enter); got != "/data/a.ndjson" {
		t.Fatalf("first path: %q", got)
	}
	m.Open(1, "t", 10, 1024)
	if m.Value() != "" || m.input.Placeholder != "/data/a.ndjson" {
		t.Fatalf("reopened: value %q, placeholder %q", m.Value(), m.input.Placeholder)
	}
	if got := submit(t, m, typed("/data/b.ndjson"), enter); got != "/data/b.ndjson" {
		t.Fatalf("a new path typed: submitted %q", got)
	}
	m.Open(2, "u", 10, 1024)
	if got := submit(t, m, enter); got != "/data/b.ndjson" {
		t.Fatalf("enter on the empty field: %q, want the last path", got)
	}
}
