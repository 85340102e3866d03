package detail

import (
	"fmt"
	"strings"
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/preview"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/report/series"
	"github.com/dttui/dttui/schema/validate"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/theme"
)

// PreviewLines is how many lines of the last frame the pane shows when
// it has the room.
const PreviewLines = 12

// hexLines is how much of a frame shown as text or JSON is also shown in
// hex: its first 32 bytes.
const hexLines = 2

// PreviewCache keeps the last frame's rendering per track, so a frame is
// decoded once rather than at every tick. The root model owns it; the
// pane, built afresh for each frame, is handed it.
type PreviewCache struct {
	key   previewKey
	frame preview.Frame
	hex   []string
}

type previewKey struct {
	sid    string
	number uint16
	at     time.Time
	size   int
	schema int // the schema definition's length: it may arrive later
}

// render is the track's last frame rendered, from the cache when it is
// the same frame.
func (c *PreviewCache) render(r *report.Remote) (preview.Frame, []string) {
	lf := r.Stats.LastFrame
	k := previewKey{sid: r.Stats.SID, number: lf.Number, at: lf.At, size: lf.Size, schema: len(r.SchemaDef)}
	if c != nil && c.key == k && c.frame.Lines != nil {
		return c.frame, c.hex
	}
	f := preview.Render(lf.Head, r.Stats.Type, preview.Options{MaxLines: PreviewLines, Partial: lf.Size > len(lf.Head), Schema: r.SchemaDef})
	var hex []string
	if f.Kind != preview.KindHex {
		hex = preview.Hex(lf.Head, hexLines)
	}
	if c != nil {
		c.key, c.frame, c.hex = k, f, hex
	}
	return f, hex
}

// roomSections builds the pane for a room row at inner width w: what
// arrived of another participant's track, measured from its packets.
func (m *Model) roomSections(w int) []section {
	th := m.ctx.Theme
	r := *m.Row
	rt := r.R
	st := &rt.Stats
	state, style := r.State(th, m.ctx.Now())
	title := fmt.Sprintf("%s  from %s  %s  %s", th.Bold.Render(r.Name()), format.Outside(st.PublisherIdentity), style.Render(state), th.Dim.Render(format.OrDash(r.SID())))
	if st.E2EE() {
		title += "  " + th.OK.Render("E2EE "+st.Encryption.String())
	}
	if t := st.Type.String(); t != "" {
		title += "  " + th.Info.Render(format.Outside(t))
	}
	secs := []section{{lines: []string{title}}}
	var links []string
	if st.Replaces != "" {
		links = append(links, fmt.Sprintf("republishes %s (its publisher reconnected)", format.Outside(st.Replaces)))
	}
	if st.ReplacedBy != "" {
		links = append(links, fmt.Sprintf("republished as %s (its publisher reconnected)", format.Outside(st.ReplacedBy)))
	}
	if st.Subscriptions > 1 {
		links = append(links, fmt.Sprintf("%d subscriptions", st.Subscriptions))
	}
	if st.SubscribeTimeouts > 0 {
		links = append(links, fmt.Sprintf("%d subscribe requests unanswered (asked again)", st.SubscribeTimeouts))
	}
	if len(links) > 0 {
		secs = append(secs, section{lines: format.Flow(w, " · ", links...)})
	}

	// Frames, then packets: what arrived and what did not.
	frames := []string{fmt.Sprintf("frames received %d", st.FramesCompleted), fmt.Sprintf("lost %d", st.LostFrames()),
		fmt.Sprintf("of them incomplete %d", st.FramesIncomplete)}
	if st.FramesCut > 0 {
		// A subscription that began or ended mid-frame: not loss.
		frames = append(frames, fmt.Sprintf("cut by a subscription's start or end %d", st.FramesCut))
	}
	for reason, n := range st.IncompleteBy {
		if n > 0 {
			frames = append(frames, fmt.Sprintf("%s %d", packetizer.IncompleteReason(reason), n))
		}
	}
	frames = append(frames, fmt.Sprintf("over client limit %d", st.FramesOverClientLimit), "payload "+format.Bytes(float64(st.FrameBytes)))
	secs = append(secs, section{lines: format.Flow(w, " · ", frames...)})
	if items := memoryItems(th, st, &m.Memory); len(items) > 0 {
		secs = append(secs, section{lines: format.Flow(w, " · ", items...)})
	}
	secs = append(secs, section{lines: format.Flow(w, " · ",
		fmt.Sprintf("packets %d", st.Packets), format.Bytes(float64(st.Bytes)), fmt.Sprintf("lost %d", st.PacketsLost),
		fmt.Sprintf("duplicate %d", st.PacketsDuplicate), fmt.Sprintf("reordered %d", st.PacketsReordered),
		fmt.Sprintf("late %d", st.PacketsLate), fmt.Sprintf("ignored %d", st.PacketsIgnored))})
	if o := rt.SFU; o != nil {
		secs = append(secs, section{lines: format.Flow(w, " · ", sfuItems(o, "us")...)})
	}
	secs = append(secs, section{lines: format.Flow(w, " · ",
		fmt.Sprintf("now %s frames/s", format.Count(rt.Rate.ReceivedFPS)), format.Bytes(rt.Rate.ReceivedBPS)+"/s",
		fmt.Sprintf("%s packets/s", format.Count(rt.Rate.ReceivedPPS)),
		fmt.Sprintf("lost %s frames/s, %s packets/s", format.Count(rt.Rate.LostFPS), format.Count(rt.Rate.PacketsLostPS)))})

	// Latency, with what it compares.
	if st.UserTimestamps == 0 {
		secs = append(secs, section{lines: []string{th.Dim.Render("latency: no frame carried the user timestamp, so there is none to measure")}})
	} else {
		items := []string{fmt.Sprintf("latency p50 %s", format.Duration(rt.Latency.P50)), fmt.Sprintf("p95 %s", format.Duration(rt.Latency.P95)),
			fmt.Sprintf("p99 %s", format.Duration(rt.Latency.P99)),
			fmt.Sprintf("max %s", format.Duration(rt.Latency.Max)), fmt.Sprintf("(%d frames, last %s)", rt.Latency.Frames, format.Duration(rt.Latency.Window))}
		if st.LatencyNegative > 0 {
			items = append(items, th.Warn.Render(fmt.Sprintf("%d stamped ahead of our clock, counted as 0", st.LatencyNegative)))
		}
		items = append(items, clockItems(th, st)...)
		secs = append(secs, section{lines: format.Flow(w, " · ", items...)})
	}
	if p := rt.Probe; p != nil {
		secs = append(secs, section{lines: format.Flow(w, " · ", probeItems(th, p, st.Clock)...)})
	}
	if st.E2EE() {
		items := []string{fmt.Sprintf("decrypted %d", st.FramesDecrypted)}
		if n := st.DecryptFailuresTotal(); n == 0 {
			items = append(items, "decrypt failures 0")
		} else {
			var why []string
			for reason, c := range st.DecryptFailures {
				if c > 0 {
					why = append(why, fmt.Sprintf("%s %d", incoming.DecryptReason(reason), c))
				}
			}
			items = append(items, th.Bad.Render(fmt.Sprintf("decrypt failures %d (%s)", n, strings.Join(why, ", "))))
		}
		secs = append(secs, section{lines: format.Flow(w, " · ", items...)})
	}
	secs = append(secs, section{lines: format.Flow(w, " · ", sizeItems(&st.FrameSizes)...)})
	secs = append(secs, section{kind: kindOptional, lines: []string{m.spark(w, "frames received per second")}})
	if line := schemaLine(rt); line != "" {
		secs = append(secs, section{kind: kindOptional, lines: []string{line}})
	}
	if line := checkLine(rt, th); line != nil {
		secs = append(secs, section{lines: format.Flow(w, " · ", line...)})
	}
	secs = append(secs, m.previewSection(rt))
	if len(st.Timeline) > 0 {
		s := section{kind: kindTimeline, lines: []string{th.Bold.Render("timeline")}}
		for _, ch := range format.LastN(st.Timeline, maxTimeline) {
			h := ""
			if ch.Handle != 0 {
				h = th.Dim.Render(fmt.Sprintf(" (handle %d)", ch.Handle))
			}
			s.lines = append(s.lines, fmt.Sprintf("  %s  %-12s %s%s", ch.At.Format("15:04:05.000"), ch.State, format.Outside(ch.Reason), h))
		}
		secs = append(secs, s)
	}
	if len(st.Errors) > 0 {
		s := section{kind: kindErrors, lines: []string{th.Bold.Render("errors")}}
		for _, e := range format.LastN(st.Errors, maxErrors) {
			s.lines = append(s.lines, th.Bad.Render(fmt.Sprintf("  %s  %s", e.At.Format("15:04:05.000"), format.Outside(e.Err))))
		}
		secs = append(secs, s)
	}
	return secs
}

// probeItems is the account of another dttui's probe frames, by their own
// sequence numbers and send times.
// clockItems says what the latency compares: one-way on our clock when
// the publisher answered the clock exchange, two clocks when it did not.
func clockItems(th theme.Theme, st *incoming.TrackStats) []string {
	c := st.Clock
	switch c.State {
	case clocksync.Synced:
		return []string{th.Dim.Render(fmt.Sprintf("%s (theirs %+.1fms, %s round trip)", series.RemoteLatencyBasis(c), float64(c.Offset.Microseconds())/1000, format.Duration(c.RTT)))}
	case clocksync.TwoClocks:
		return []string{th.Dim.Render("our clock at arrival minus the publisher's user timestamp (ms):"),
			th.Dim.Render("two clocks (the publisher did not answer dttui's clock exchange), so their offset is part of it")}
	}
	return []string{th.Dim.Render(fmt.Sprintf("syncing clocks with the publisher: %d frames wait for it", st.LatencyUnsynced))}
}

func probeItems(th theme.Theme, p *report.RemoteProbe, clock clocksync.Estimate) []string {
	items := []string{fmt.Sprintf("dttui probe: sent %d (up to the latest received)", p.Sent), fmt.Sprintf("received %d", p.Received)}
	lost := fmt.Sprintf("lost %d", p.Lost)
	if p.PublisherDropped > 0 {
		// The publisher's own drops are not the network's.
		lost += fmt.Sprintf(" (%d dropped by the publisher)", min(p.PublisherDropped, p.Lost+p.InGrace))
	}
	if p.Lost > 0 {
		lost = th.Warn.Render(lost)
	}
	items = append(items, lost, fmt.Sprintf("in grace %d", p.InGrace), fmt.Sprintf("cut %d", p.Cut),
		fmt.Sprintf("duplicates %d", p.Duplicates), fmt.Sprintf("late %d", p.Late))
	if p.Corrupt > 0 {
		items = append(items, th.Bad.Render(fmt.Sprintf("corrupt %d", p.Corrupt)))
	}
	if p.Jumps > 0 {
		items = append(items, th.Bad.Render(fmt.Sprintf("implausible jumps %d (not counted)", p.Jumps)))
	}
	if p.Latency.Count() > 0 {
		lat := p.Percentiles()
		items = append(items, fmt.Sprintf("latency p50 %s", format.Duration(lat.P50)), fmt.Sprintf("p95 %s", format.Duration(lat.P95)),
			fmt.Sprintf("p99 %s", format.Duration(lat.P99)),
			th.Dim.Render(probeClock(clock)))
	}
	return items
}

// sizeItems is the frame-size distribution in words (report.SizesOf):
// the exact mean, and quantiles within the histogram's precision (3 %),
// marked ≈.
func sizeItems(h *histogram.Histogram) []string {
	s := report.SizesOf(h)
	if s.Frames == 0 {
		return []string{"frame sizes: no frame yet"}
	}
	b := func(v int64) string { return "≈" + format.Bytes(float64(v)) }
	return []string{fmt.Sprintf("frame sizes (%d frames): mean %s", s.Frames, format.Bytes(s.Mean)), "min " + b(s.Min),
		"p50 " + b(s.P50), "p90 " + b(s.P90), "p99 " + b(s.P99), "max " + b(s.Max)}
}

// schemaLine says which schema the track declares and whether its
// definition was found in the room ("" for a track without one).
func schemaLine(r *report.Remote) string {
	id := r.Stats.Type.Schema
	if id.IsZero() {
		return ""
	}
	s := "schema " + format.Outside(id.String())
	switch {
	case r.SchemaErr != nil:
		return s + ": could not be fetched: " + format.Outside(r.SchemaErr.Error())
	case r.SchemaDef == nil:
		return s + ": fetching its definition from the room…"
	}
	head, _, _ := strings.Cut(string(r.SchemaDef), "\n")
	return fmt.Sprintf("%s: %s stored in the room · %s", s, format.Bytes(float64(len(r.SchemaDef))), format.Outside(head))
}

// checkLine is the track's frames checked against its schema: how many,
// how many did not match and where the first failed; or why they are not
// checked (nothing for a track that declares no schema).
func checkLine(r *report.Remote, th theme.Theme) []string {
	c := &r.Schema
	if r.Stats.Type.Schema.IsZero() && c.Checked == 0 {
		return nil
	}
	if c.Unchecked != validate.Checked && c.Checked == 0 {
		return []string{fmt.Sprintf("schema check: %s", c.Unchecked), fmt.Sprintf("%d frames", c.NotChecked)}
	}
	items := []string{fmt.Sprintf("schema check: %d frames checked", c.Checked)}
	mm := fmt.Sprintf("schema mismatch %d", c.Mismatches)
	if c.Mismatches > 0 {
		mm = th.Bad.Render(mm)
	}
	items = append(items, mm)
	if c.NotChecked > 0 {
		items = append(items, fmt.Sprintf("%d not checked", c.NotChecked))
	}
	if c.Unchecked != validate.Checked {
		items = append(items, c.Unchecked.String())
	}
	if f := c.First; f != nil {
		path := f.Path
		if path == "" {
			path = "(root)"
		}
		items = append(items, "first at "+format.Outside(path)+": "+format.Outside(f.Reason))
	}
	return items
}

// previewSection is the last frame: its number, arrival and size, its
// first bytes in hex (for one shown decoded or as text), then its
// rendering (decoded JSON, CBOR, MessagePack or protobuf; text; else a
// hex dump).
func (m *Model) previewSection(r *report.Remote) section {
	th := m.ctx.Theme
	lf := r.Stats.LastFrame
	if lf.At.IsZero() {
		if r.Stats.FramesCompleted > 0 && r.Stats.DecryptFailuresTotal() > 0 {
			// Frames came, none opened: "none yet" would read as none came.
			return section{lines: []string{th.Dim.Render("last frame: none decrypted yet")}}
		}
		return section{lines: []string{th.Dim.Render("last frame: none yet")}}
	}
	f, hex := m.Preview.render(r)
	head := fmt.Sprintf("last frame #%d at %s · %s · as %s", lf.Number, lf.At.Format("15:04:05.000"), format.Bytes(float64(lf.Size)), f.Kind)
	if lf.Size > len(lf.Head) {
		head += fmt.Sprintf(" (its first %s)", format.Bytes(float64(len(lf.Head))))
	} else if f.Truncated {
		head += " (cut)"
	}
	s := section{kind: kindPreview, lines: []string{th.Bold.Render(head)}}
	if f.Err != nil {
		s.lines = append(s.lines, th.Warn.Render("  not decoded: "+format.Outside(f.Err.Error())))
	}
	// The hex first: when the pane is short, the decoded lines give way.
	for _, l := range hex {
		s.lines = append(s.lines, th.Dim.Render("  "+l))
	}
	for _, l := range f.Lines {
		s.lines = append(s.lines, "  "+l) // preview lines are safe already
	}
	return s
}

// memoryItems is what the track's partial frames hold, against the room's
// budget, the partial frames evicted to keep within it, by reason (the
// track's, then the room's), and the room's tracks not followed, past
// the track cap; nothing while the track holds nothing and nothing was
// evicted or refused (the common case: frames complete at once).
func memoryItems(th theme.Theme, st *incoming.TrackStats, room *incoming.Held) []string {
	if st.HeldBytes == 0 && room.EvictedTotal() == 0 && room.TracksRefused == 0 && room.TracksForgotten == 0 {
		return nil
	}
	items := []string{fmt.Sprintf("holds %s of partial frames", format.Bytes(float64(st.HeldBytes)))}
	if room.Budget > 0 {
		items = append(items, fmt.Sprintf("the room %s of %s (a participant at most %s)", format.Bytes(float64(room.Bytes)),
			format.Bytes(float64(room.Budget)), format.Bytes(float64(room.PerParticipant))))
	}
	for _, e := range []struct {
		what string
		by   *[incoming.NumEvictReasons]uint64
	}{{"evicted", &st.Evicted}, {"room evicted", &room.Evicted}} {
		for why, n := range e.by {
			if n > 0 {
				items = append(items, th.Warn.Render(fmt.Sprintf("%s (%s) %d", e.what, incoming.EvictReason(why), n)))
			}
		}
	}
	if room.TracksRefused > 0 {
		items = append(items, th.Warn.Render(fmt.Sprintf("%d of the room's tracks not followed (track cap)", room.TracksRefused)))
	}
	if room.TracksForgotten > 0 {
		items = append(items, fmt.Sprintf("%d unpublished tracks forgotten (the %d newest kept)", room.TracksForgotten, incoming.DefaultMaxUnpublished))
	}
	return items
}

func probeClock(c clocksync.Estimate) string {
	if c.State == clocksync.Synced {
		return "from its send time (ns), one-way: clocks " + c.String()
	}
	return "from its send time (ns), the publisher's clock against ours"
}
