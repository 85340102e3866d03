package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/impair"
	"github.com/dttui/dttui/tui/theme"
)

// i opens the impairment prompt; what is typed there reaches the shaper,
// a malformed spec keeps the prompt open and says where, esc leaves it as
// it was, and enter on the empty field re-applies the spec in force.
func TestImpairPrompt(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	b.now = c.now
	sh := impair.NewShaper(1)
	h := newHarness(t, New(b, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour, Impair: sh}))
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})

	h.send(press("i"))
	if !h.m.impair.IsOpen() {
		t.Fatal("i did not open the impairment prompt")
	}
	if v := plain(h.m); !strings.Contains(v, "impair: ") || !strings.Contains(v, "esc") {
		t.Fatalf("the prompt or its way out is not on screen at 80×24:\n%s", v)
	}
	h.m.impair.SetValue("delay=50ms,loss=120%")
	h.send(press("enter"))
	if !h.m.impair.IsOpen() || !h.m.statusErr || !strings.Contains(h.m.statusMsg, "at byte 11") {
		t.Fatalf("a bad spec: open %v, status %q", h.m.impair.IsOpen(), h.m.statusMsg)
	}
	if sp, _ := sh.Spec(); !sp.IsZero() {
		t.Fatalf("a bad spec was applied: %v", sp)
	}
	h.m.impair.SetValue("loss=5%,delay=20ms")
	h.send(press("enter"))
	if sp, _ := sh.Spec(); h.m.impair.IsOpen() || sp != (impair.Spec{Loss: 0.05, Delay: 20 * time.Millisecond}) {
		t.Fatalf("open %v, applied %v", h.m.impair.IsOpen(), sp)
	}
	// esc changes nothing; enter on the empty field keeps the spec.
	h.send(press("i"))
	h.send(press("esc"))
	h.send(press("i"))
	h.send(press("enter"))
	if sp, _ := sh.Spec(); sp != (impair.Spec{Loss: 0.05, Delay: 20 * time.Millisecond}) {
		t.Fatalf("after esc and an empty enter: %v", sp)
	}
	h.send(press("i"))
	h.m.impair.SetValue("off")
	h.send(press("enter"))
	if sp, _ := sh.Spec(); !sp.IsZero() || h.m.statusMsg != "impairment off" {
		t.Fatalf("off: %v, %q", sp, h.m.statusMsg)
	}
}
