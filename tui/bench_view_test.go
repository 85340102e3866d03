package tui

import (
	"fmt"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/tui/logbuf"
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
			m.charts.At = m.charts.At.Add(time.Second) // a new right edge: every panel redrawn
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

// BenchmarkView256 is one UI tick (the report taken and the rows built,
// then the screen drawn) at 140x40 with 256 local tracks, or 256 room
// tracks under one local, at 100 000 frames/s in all, with 15 minutes of
// history each (the most the report keeps): the cost of the UI at the
// scale issue 14 asks for. core-% is the CPU a second of UI takes at the
// 10 Hz tick, as a share of one core; selected-full compares the same
// tick with every row's whole history in the report (what the UI took
// before it asked for a scope).
func BenchmarkView256(b *testing.B) {
	const rows, total = 256, 100_000
	for _, room := range []bool{false, true} {
		name := "local"
		if room {
			name = "room"
		}
		for _, full := range []bool{false, true} {
			sub := name
			if full {
				sub += "/whole-history"
			}
			b.Run(sub, func(b *testing.B) {
				fb, c, m := manyRows(rows, room, total, 900)
				tick := func() {
					b.StopTimer()
					fb.advance(c, 100*time.Millisecond, nil, 1024, nil)
					b.StartTimer()
					if full {
						m.tbl.snap = m.b.Report(m.tbl.base, report.Scope{})
						m.status = m.tbl.snap.Connection
						m.buildRows()
					} else {
						m.refresh()
					}
					m.place() // as Update does after the tick
					_ = m.View()
				}
				for b.Loop() {
					tick()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)*10/1e9*100, "core-%")
			})
		}
	}
}

// manyRows is a model at 140x40 with n local tracks (room: one local and
// n room tracks), sending (receiving) total frames/s of 1 KiB between
// them, after secs seconds of it.
func manyRows(n int, room bool, total float64, secs int) (*fakeBackend, *clock, Model) {
	fb := newFakeBackend()
	c := &clock{t: t0}
	fb.now = c.now
	m := New(fb, Options{Theme: theme.Color(), Now: c.now, Logs: logbuf.New(100), Tick: time.Hour})
	fps := total / float64(n)
	locals := n
	if room {
		locals = 1
		for i := range n {
			fb.addRemote(fmt.Sprintf("robot-%02d", i%16), fmt.Sprintf("sensor-%03d", i), fmt.Sprintf("DTR_r%03d", i), fps, 1024)
		}
	}
	for i := range locals {
		name := fmt.Sprintf("track-%03d", i)
		h := uint16(i + 1)
		fb.locals = append(fb.locals, &fakeLocal{l: report.Local{Handle: h, Name: name, State: outgoing.StatePublished, Since: t0},
			latency: []time.Duration{time.Millisecond, 2 * time.Millisecond}})
		tu := newTrackUI(&fakeTrack{handle: h, name: name}, fps, 1024)
		m.tracks[h] = tu
	}
	rates := map[string]float64{}
	for _, fl := range fb.locals {
		rates[fl.l.Name] = fps
		if room {
			rates[fl.l.Name] = 50
		}
	}
	fb.mu.Lock()
	fb.fps = rates
	fb.mu.Unlock()
	for range secs {
		fb.advance(c, time.Second, nil, 1024, nil)
	}
	next, _ := m.Update(tea.WindowSizeMsg{Width: 140, Height: 40})
	m = next.(Model)
	m.refresh()
	return fb, c, m
}
