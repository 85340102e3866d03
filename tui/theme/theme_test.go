package theme

import (
	"strings"
	"testing"
)

// NO_COLOR: styles still render their text, with no colour escapes.
func TestNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	th := Terminal()
	out := th.Bad.Render("failed") + th.OK.Render("published")
	if strings.Contains(out, "\x1b[3") || strings.Contains(out, "\x1b[9") || !strings.Contains(out, "failed") {
		t.Fatalf("colour under NO_COLOR: %q", out)
	}
	if c := Color().OK.Render("published"); !strings.Contains(c, "\x1b[38;2;") {
		t.Fatalf("true colour theme has no colour: %q", c)
	}
}
