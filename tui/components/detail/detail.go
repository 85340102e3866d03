// Package detail is the pane about the selected track: every counter,
// drops by reason, generator settings, the send-rate history, what the
// loopback subscriber saw, the timeline of state changes and the error
// history.
package detail

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/components/tracktable"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/sparkline"
)

// Model draws the detail pane.
type Model struct {
	common.Size
	ctx   common.Context
	Row   *tracktable.Row // nil: nothing selected
	Burst int
	// DropWindow is the span of Row.RecentDrops, in words ("5s").
	DropWindow string
}

// New returns a detail pane.
func New(ctx common.Context) *Model { return &Model{ctx: ctx} }

// MinHeight is the smallest pane worth drawing: the border, the title and
// the counters' first line.
const MinHeight = 4

// MaxSpark is how many seconds of send rate the pane's sparkline shows
// when it has the room.
const MaxSpark = 60

// How much history the pane shows when it has the room.
const (
	maxTimeline = 4
	maxErrors   = 3
)

// section is a run of lines of one kind; what fit gives up depends on it.
type section struct {
	kind  kind
	lines []string // for lists: a header line, then entries, newest last
}

type kind int

const (
	kindFixed    kind = iota // title, counters, drops, loopback: always kept
	kindOptional             // generator and send rate: dropped before the history goes
	kindTimeline
	kindErrors
)

// sections builds the pane's content at inner width w.
func (m *Model) sections(w int) []section {
	th := m.ctx.Theme
	r := *m.Row
	st := r.Stats
	state, style := r.State(th, m.ctx.Now())
	handle := "no handle"
	if st.Handle != 0 {
		handle = fmt.Sprintf("handle %d", st.Handle)
	}
	title := fmt.Sprintf("%s  %s  %s  %s", th.Bold.Render(st.Name), handle, style.Render(state), th.Dim.Render(format.OrDash(st.SID)))
	if st.E2EE {
		title += "  " + th.OK.Render("E2EE")
	}
	secs := []section{{lines: []string{title}}}
	if r.Failed != nil {
		// No counters for a publish that never happened: the reason, whole.
		text := ansi.Wrap("publish failed: "+r.Failed.Error(), w, "")
		return append(secs, section{lines: strings.Split(th.Bad.Render(text), "\n")})
	}
	secs = append(secs, section{lines: format.Flow(w, " · ",
		fmt.Sprintf("frames pushed %d", st.FramesPushed), fmt.Sprintf("sent %d", st.FramesSent),
		fmt.Sprintf("queued %d", st.FramesQueued), fmt.Sprintf("dropped %d", st.FramesDropped),
		fmt.Sprintf("packets %d", st.PacketsSent), "bytes "+format.Bytes(float64(st.BytesSent)),
		fmt.Sprintf("publish attempts %d", st.PublishAttempts), fmt.Sprintf("unpublished errors %d", st.UnpublishedErrors))})
	drops := []string{"dropped:"}
	for reason, n := range st.DroppedBy {
		if n > 0 {
			drops = append(drops, fmt.Sprintf("%s %d", outgoing.DropReason(reason), n))
		}
	}
	switch {
	case len(drops) == 1:
		secs = append(secs, section{lines: []string{th.Dim.Render("dropped: none")}})
	default:
		if r.RecentDrops > 0 && m.DropWindow != "" {
			drops = append(drops, fmt.Sprintf("%d in the last %s", r.RecentDrops, m.DropWindow))
		}
		lines := format.Flow(w, " · ", drops...)
		for i, l := range lines {
			lines[i] = th.Bad.Render(strings.Replace(l, "dropped: · ", "dropped: ", 1))
		}
		secs = append(secs, section{lines: lines})
	}
	if r.HasTrack {
		gen := "off"
		if r.Generating {
			gen = "on"
		}
		secs = append(secs, section{kind: kindOptional, lines: format.Flow(w, " · ",
			fmt.Sprintf("generator %s: %s/s × %s", gen, format.Count(r.GenRate), format.Bytes(float64(r.GenSize))),
			fmt.Sprintf("burst %d", m.Burst))})
		secs = append(secs, section{kind: kindOptional, lines: []string{m.spark(w)}})
	}
	if r.Rx != nil {
		items := []string{fmt.Sprintf("loopback: %d frames", r.Rx.FramesReceived), format.Bytes(float64(r.Rx.BytesReceived)),
			fmt.Sprintf("lost %d", r.Rx.FramesLost), fmt.Sprintf("incomplete %d", r.Rx.FramesIncomplete),
			fmt.Sprintf("latency p50 %s", format.Duration(r.Rx.LatencyP50)), fmt.Sprintf("p99 %s", format.Duration(r.Rx.LatencyP99))}
		if r.Rx.FramesCorrupt > 0 {
			items = append(items, th.Bad.Render(fmt.Sprintf("CORRUPT %d", r.Rx.FramesCorrupt)))
		}
		secs = append(secs, section{lines: format.Flow(w, " · ", items...)})
	}
	if len(st.Timeline) > 0 {
		s := section{kind: kindTimeline, lines: []string{th.Bold.Render("timeline")}}
		for _, c := range format.LastN(st.Timeline, maxTimeline) {
			s.lines = append(s.lines, fmt.Sprintf("  %s  %-12s %s %s", c.At.Format("15:04:05.000"), c.State, th.Dim.Render(format.OrDash(c.SID)), c.Reason))
		}
		secs = append(secs, s)
	}
	if len(st.Errors) > 0 {
		s := section{kind: kindErrors, lines: []string{th.Bold.Render("errors")}}
		for _, e := range format.LastN(st.Errors, maxErrors) {
			// The pane is about this track: its name need not repeat.
			text := strings.TrimPrefix(e.Err, fmt.Sprintf("push to %q: ", st.Name))
			s.lines = append(s.lines, th.Bad.Render(fmt.Sprintf("  %s  %s", e.At.Format("15:04:05.000"), text)))
		}
		secs = append(secs, s)
	}
	return secs
}

// spark is the send-rate history: one column per second, newest right.
func (m *Model) spark(w int) string {
	r := m.Row
	label := fmt.Sprintf("send rate, last %ds ", min(len(r.Spark), MaxSpark))
	var peak float64
	for _, v := range r.Spark {
		peak = max(peak, v)
	}
	tail := "  peak " + format.Bytes(peak) + "/s"
	cols := min(len(r.Spark), MaxSpark, max(w-ansi.StringWidth(label+tail), 0))
	if cols < len(r.Spark) {
		label = fmt.Sprintf("send rate, last %ds ", cols)
	}
	return label + m.ctx.Theme.Info.Render(sparkline.Render(r.Spark, cols)) + tail
}

// fit cuts the sections to n lines. The title, counters, drops and
// loopback figures always stay; what gives way first is the oldest
// history: timeline entries, then error entries (each list keeps its
// newest), then the send-rate and generator lines, then the timeline,
// then the errors: the error history outlives everything optional.
func fit(secs []section, n int) []string {
	total := func() int {
		t := 0
		for _, s := range secs {
			t += len(s.lines)
		}
		return t
	}
	// shrink drops the oldest entry of the list of kind k, down to one.
	shrink := func(k kind) bool {
		for i := range secs {
			if secs[i].kind == k && len(secs[i].lines) > 2 {
				secs[i].lines = append(secs[i].lines[:1], secs[i].lines[2:]...)
				return true
			}
		}
		return false
	}
	// drop empties the last non-empty section of kind k.
	drop := func(k kind) bool {
		for i := len(secs) - 1; i >= 0; i-- {
			if secs[i].kind == k && len(secs[i].lines) > 0 {
				secs[i].lines = nil
				return true
			}
		}
		return false
	}
	for total() > n {
		if !shrink(kindTimeline) && !shrink(kindErrors) && !drop(kindOptional) && !drop(kindTimeline) && !drop(kindErrors) {
			break
		}
	}
	var out []string
	for _, s := range secs {
		out = append(out, s.lines...)
	}
	return out[:min(len(out), max(n, 1))]
}

// Want is the height the pane needs to show everything at width w.
func (m *Model) Want(w int) int {
	if m.Row == nil {
		return 3
	}
	n := 0
	for _, s := range m.sections(w - 4) {
		n += len(s.lines)
	}
	return n + 2
}

// View implements common.Component.
func (m *Model) View() string {
	th := m.ctx.Theme
	w, h := m.Width, m.Height
	inner := max(w-4, 1)
	var lines []string
	if m.Row == nil {
		lines = []string{th.Dim.Render("no track selected")}
	} else {
		lines = fit(m.sections(inner), max(h-2, 1))
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, inner, "…")
	}
	return th.Box.Width(max(w-2, 0)).Render(strings.Join(lines, "\n"))
}
