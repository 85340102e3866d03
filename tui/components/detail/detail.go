// Package detail is the pane about the selected track: every counter,
// drops by reason, generator settings, what the loopback subscriber saw,
// the timeline of state changes and the error history.
package detail

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/components/tracktable"
	"github.com/dttui/dttui/tui/format"
)

// Model draws the detail pane.
type Model struct {
	common.Size
	ctx   common.Context
	Row   *tracktable.Row // nil: nothing selected
	Burst int
}

// New returns a detail pane.
func New(ctx common.Context) *Model { return &Model{ctx: ctx} }

// View implements common.Component.
func (m *Model) View() string {
	th := m.ctx.Theme
	w, h := m.Width, m.Height
	if m.Row == nil {
		return th.Box.Width(w - 2).Render(th.Dim.Render("no track selected"))
	}
	r := *m.Row
	st := r.Stats
	var lines []string
	state, style := r.State(th, m.ctx.Now())
	title := fmt.Sprintf("%s  handle %d  %s  %s", th.Bold.Render(st.Name), st.Handle, style(state), th.Dim.Render(format.OrDash(st.SID)))
	if st.E2EE {
		title += "  " + th.OK.Render("E2EE")
	}
	lines = append(lines, title)
	lines = append(lines, fmt.Sprintf("frames pushed %d · sent %d · queued %d · dropped %d · packets %d · bytes %s · publish attempts %d · unpublished errors %d",
		st.FramesPushed, st.FramesSent, st.FramesQueued, st.FramesDropped, st.PacketsSent, format.Bytes(float64(st.BytesSent)), st.PublishAttempts, st.UnpublishedErrors))
	var drops []string
	for reason, n := range st.DroppedBy {
		if n > 0 {
			drops = append(drops, fmt.Sprintf("%s %d", outgoing.DropReason(reason), n))
		}
	}
	if len(drops) > 0 {
		lines = append(lines, th.Bad.Render("dropped: "+strings.Join(drops, " · ")))
	} else {
		lines = append(lines, th.Dim.Render("dropped: none"))
	}
	if r.HasTrack {
		gen := "off"
		if r.Generating {
			gen = "on"
		}
		lines = append(lines, fmt.Sprintf("generator %s: %s/s × %s · burst %d", gen, format.Count(r.GenRate), format.Bytes(float64(r.GenSize)), m.Burst))
	}
	if r.Rx != nil {
		line := fmt.Sprintf("loopback: %d frames · %s · lost %d · incomplete %d · latency p50 %s p99 %s",
			r.Rx.FramesReceived, format.Bytes(float64(r.Rx.BytesReceived)), r.Rx.FramesLost, r.Rx.FramesIncomplete,
			format.Duration(r.Rx.LatencyP50), format.Duration(r.Rx.LatencyP99))
		if r.Rx.FramesCorrupt > 0 {
			line += th.Bad.Render(fmt.Sprintf(" · CORRUPT %d", r.Rx.FramesCorrupt))
		}
		lines = append(lines, line)
	}
	if len(st.Timeline) > 0 {
		lines = append(lines, th.Bold.Render("timeline"))
		for _, c := range format.LastN(st.Timeline, 4) {
			lines = append(lines, fmt.Sprintf("  %s  %-12s %s %s", c.At.Format("15:04:05.000"), c.State, th.Dim.Render(format.OrDash(c.SID)), c.Reason))
		}
	}
	if len(st.Errors) > 0 {
		lines = append(lines, th.Bold.Render("errors"))
		for _, e := range format.LastN(st.Errors, 3) {
			lines = append(lines, th.Bad.Render(fmt.Sprintf("  %s  %s", e.At.Format("15:04:05.000"), e.Err)))
		}
	}
	if r.Failed != nil {
		lines = append(lines, th.Bad.Render("publish failed: "+r.Failed.Error()))
	}
	if len(lines) > h-2 {
		lines = lines[:max(h-2, 1)]
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w-4, "…")
	}
	return th.Box.Width(w - 2).Render(strings.Join(lines, "\n"))
}
