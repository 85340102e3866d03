// Package detail is the pane about the selected track: every counter,
// drops by reason, generator settings, the send-rate history, what the
// loopback subscriber saw, the timeline of state changes and the error
// history.
package detail

import (
	"context"
	"errors"
	"fmt"
	"github.com/dttui/dttui/incoming"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
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
	// Sender is the publisher connection's data-channel sender, which
	// every local track shares.
	Sender report.Sender
	// Preview keeps a room row's last frame rendered (nil: rendered each
	// time).
	Preview *PreviewCache
	// Memory is what the room makes the monitor hold (report.Snapshot's),
	// shown beside a room row's own share.
	Memory incoming.Held
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
	kindPreview // a room row's last frame: its lines give way from the end
)

// sections builds the pane's content at inner width w.
func (m *Model) sections(w int) []section {
	if m.Row.Room() {
		return m.roomSections(w)
	}
	th := m.ctx.Theme
	r := *m.Row
	l := r.L
	state, style := r.State(th, m.ctx.Now())
	handle := "no handle"
	if l.Handle != 0 {
		handle = fmt.Sprintf("handle %d", l.Handle)
	}
	title := fmt.Sprintf("%s  %s  %s  %s", th.Bold.Render(r.Name()), handle, style.Render(state), th.Dim.Render(format.OrDash(r.SID())))
	if l.E2EE {
		title += "  " + th.OK.Render("E2EE")
	}
	if t := l.Type.String(); t != "" {
		title += "  " + th.Info.Render(t)
	}
	secs := []section{{lines: []string{title}}}
	if r.Failed != nil {
		// No counters for a publish that never happened: the reason, whole,
		// from the error's own fields.
		text := "publish failed: " + format.Outside(r.Failed.Error())
		var pe *outgoing.PublishError
		if errors.As(r.Failed, &pe) {
			text = "publish failed: " + format.Outside(pe.Problem())
		}
		return append(secs, section{lines: strings.Split(th.Bad.Render(ansi.Wrap(text, w, "")), "\n")})
	}
	c := l.Out
	counts := []string{fmt.Sprintf("frames pushed %d", c.FramesPushed), fmt.Sprintf("sent %d", c.FramesSent),
		fmt.Sprintf("queued %d", c.FramesQueued), fmt.Sprintf("dropped %d", c.FramesDropped),
		fmt.Sprintf("packets %d", c.PacketsSent), "bytes " + format.Bytes(float64(c.BytesSent)),
		fmt.Sprintf("publish attempts %d", c.PublishAttempts), fmt.Sprintf("unpublished errors %d", c.UnpublishedErrors)}
	if !l.Type.Schema.IsZero() || c.SchemaMismatches > 0 {
		// Checked before sending (--schema-check); the first of each run,
		// with its path, is in the errors below.
		mm := fmt.Sprintf("schema mismatches %d", c.SchemaMismatches)
		if c.SchemaMismatches > 0 {
			mm = th.Bad.Render(mm)
		}
		counts = append(counts, mm)
	}
	secs = append(secs, section{lines: format.Flow(w, " · ", counts...)})
	drops := []string{"dropped:"}
	for reason, n := range c.DroppedBy {
		if n > 0 {
			drops = append(drops, fmt.Sprintf("%s %d", outgoing.DropReason(reason), n))
		}
	}
	switch {
	case len(drops) == 1:
		secs = append(secs, section{lines: []string{th.Dim.Render("dropped: none")}})
	default:
		if r.Dropping {
			drops = append(drops, fmt.Sprintf("now %s/s", format.Count(l.Rate.DroppedFPS)))
		}
		lines := format.Flow(w, " · ", drops...)
		for i, line := range lines {
			lines[i] = th.Bad.Render(strings.Replace(line, "dropped: · ", "dropped: ", 1))
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
		secs = append(secs, section{kind: kindOptional, lines: []string{m.spark(w, "frames sent per second")}})
	}
	if src := r.Source; src != nil {
		line := "file " + format.Outside(src.Path) + ": " + src.Progress()
		switch {
		case !src.Done:
			line = th.Info.Render(line + ", pushing…")
		case errors.Is(src.Err, context.Canceled):
			line += ", stopped"
		case src.Err != nil:
			line = th.Bad.Render(line + "; stopped: " + format.Outside(src.Err.Error()))
		default:
			line += ", done"
		}
		secs = append(secs, section{lines: []string{line}})
	}
	if rx := l.Rx; rx != nil {
		items := []string{fmt.Sprintf("loopback: received %d", rx.Frames), format.Bytes(float64(rx.Bytes)),
			fmt.Sprintf("lost %d", rx.Lost), fmt.Sprintf("in grace %d (%s)", rx.InGrace, format.Duration(rx.Grace)),
			fmt.Sprintf("incomplete %d", rx.Incomplete), fmt.Sprintf("duplicates %d", rx.Duplicates), fmt.Sprintf("late %d", rx.Late),
			fmt.Sprintf("unfollowed %d", rx.Unfollowed), fmt.Sprintf("foreign %d", rx.Foreign), fmt.Sprintf("data %d", rx.Data),
			fmt.Sprintf("latency p50 %s", format.Duration(l.Latency.P50)), fmt.Sprintf("p95 %s", format.Duration(l.Latency.P95)),
			fmt.Sprintf("p99 %s", format.Duration(l.Latency.P99)),
			fmt.Sprintf("(%d frames, last %s)", l.Latency.Frames, format.Duration(l.Latency.Window))}
		if rx.Corrupt > 0 {
			items = append(items, th.Bad.Render(fmt.Sprintf("CORRUPT %d", rx.Corrupt)))
		}
		secs = append(secs, section{lines: format.Flow(w, " · ", items...)})
	}
	if o := l.SFU; o != nil {
		secs = append(secs, section{lines: format.Flow(w, " · ", sfuItems(o, "the loopback")...)})
	}
	if sn := m.Sender; sn != (report.Sender{}) {
		secs = append(secs, section{kind: kindOptional, lines: format.Flow(w, " · ", senderItems(sn)...)})
	}
	if len(l.Timeline) > 0 {
		s := section{kind: kindTimeline, lines: []string{th.Bold.Render("timeline")}}
		for _, ch := range format.LastN(l.Timeline, maxTimeline) {
			s.lines = append(s.lines, fmt.Sprintf("  %s  %-12s %s %s", ch.At.Format("15:04:05.000"), ch.State, th.Dim.Render(format.OrDash(format.Outside(ch.SID))), format.Outside(ch.Reason)))
		}
		secs = append(secs, s)
	}
	if len(l.Errors) > 0 {
		s := section{kind: kindErrors, lines: []string{th.Bold.Render("errors")}}
		for _, e := range format.LastN(l.Errors, maxErrors) {
			s.lines = append(s.lines, th.Bad.Render(fmt.Sprintf("  %s  %s", e.At.Format("15:04:05.000"), format.Outside(e.Problem()))))
		}
		secs = append(secs, s)
	}
	return secs
}

// senderItems describe the connection's sender: what its window lets
// into the path, and why writes waited.
func senderItems(sn report.Sender) []string {
	items := []string{fmt.Sprintf("sender: window %s", format.Bytes(float64(sn.Window))),
		"in flight " + format.Bytes(float64(sn.InFlight)), "acked " + format.Bytes(sn.DeliveryRate) + "/s",
		"path rtt " + format.Duration(sn.PathRTT), "SCTP rtt " + format.Duration(sn.SCTPRTT),
		"cwnd " + format.Bytes(float64(sn.CongestionWindow)),
		fmt.Sprintf("waits: window %d", sn.WindowWaits), fmt.Sprintf("pace %d", sn.PaceWaits)}
	if sn.PaceRate > 0 {
		items = append(items, "paced at "+format.Bytes(sn.PaceRate)+"/s")
	}
	if sn.Limit > 0 {
		items = append(items, "limited to "+format.Bytes(sn.Limit)+"/s")
	}
	if sn.Backoffs > 0 {
		items = append(items, fmt.Sprintf("back-offs %d", sn.Backoffs))
	}
	return items
}

// spark is the row's history: frames sent (received, on a room row) in
// each second, newest right, after what (the label).
func (m *Model) spark(w int, what string) string {
	series := m.Row.Spark()
	label := fmt.Sprintf("%s, last %ds ", what, min(len(series), MaxSpark))
	var peak float64
	for _, v := range series {
		peak = max(peak, v)
	}
	tail := "  peak " + format.Count(peak) + "/s"
	cols := min(len(series), MaxSpark, max(w-ansi.StringWidth(label+tail), 0))
	if cols < len(series) {
		label = fmt.Sprintf("%s, last %ds ", what, cols)
	}
	return label + m.ctx.Theme.Info.Render(sparkline.Render(series, cols)) + tail
}

// fit cuts the sections to n lines. The title, counters, drops and
// loopback figures always stay; what gives way first is a room row's
// last frame beyond its first lines, then the oldest history: timeline
// entries, then error entries (each list keeps its newest), then the
// frame down to its first line, then the send-rate and generator lines,
// then the timeline, then the errors: the error history outlives
// everything optional.
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
	// cut drops the last line of the section of kind k, down to keep.
	cut := func(k kind, keep int) bool {
		for i := range secs {
			if secs[i].kind == k && len(secs[i].lines) > keep {
				secs[i].lines = secs[i].lines[:len(secs[i].lines)-1]
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
		if !cut(kindPreview, 8) && !shrink(kindTimeline) && !shrink(kindErrors) && !cut(kindPreview, 2) &&
			!drop(kindOptional) && !drop(kindTimeline) && !drop(kindErrors) && !cut(kindPreview, 1) {
			break
		}
	}
	var out []string
	for _, s := range secs {
		out = append(out, s.lines...)
	}
	return out[:min(len(out), max(n, 1))]
}

// Fit is the height the pane takes at width w given at most h lines: what
// it draws, which can be a line or two less than h when the history that
// gave way was a whole list.
func (m *Model) Fit(w, h int) int {
	if m.Row == nil {
		return min(h, 3)
	}
	return min(len(fit(m.sections(w-4), max(h-2, 1)))+2, h)
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

// sfuItems is the SFU's own account of a track (from its logs: the
// embedded SFU), toward the subscriber named to: what it shed on the way
// down, and, once the track closed, what it received on the way up.
func sfuItems(o *report.SFUObserved, to string) []string {
	items := []string{fmt.Sprintf("the SFU (its log): shed %d packets toward %s", o.Shed, to)}
	if o.NotReady > 0 {
		items = append(items, fmt.Sprintf("%d before its channel was open", o.NotReady))
	}
	if o.Up != nil {
		items = append(items, fmt.Sprintf("received %d packets from the publisher, %d lost on the way up", o.Up.Packets, o.Up.PacketsLost))
	}
	return items
}
