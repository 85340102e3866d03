package tui

import (
	"testing"
	"time"

	"github.com/dttui/dttui/tui/theme"
)

// BenchmarkChartsView is the cost of a frame with the chart pane at
// 140x40, from the cache (the same second: 9 frames of 10) and redrawn (a
// new second), against the same screen without it (t) in the same run.
func BenchmarkChartsView(b *testing.B) {
	t := &testing.T{}
	m := buildScenario(t, scenarios[indexOf("charts")], 140, 40, theme.Color())
	b.Run("no-charts", func(b *testing.B) {
		m.charts.Toggle(true)
		defer m.charts.Toggle(false)
		for b.Loop() {
			_ = m.View()
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			_ = m.View()
		}
	})
	b.Run("redrawn", func(b *testing.B) {
		for b.Loop() {
			m.snap.At = m.snap.At.Add(time.Second) // a new right edge: every panel redrawn
			_ = m.View()
		}
	})
}

func indexOf(name string) int {
	for i, sc := range scenarios {
		if sc.name == name {
			return i
		}
	}
	return -1
}
