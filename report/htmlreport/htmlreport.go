// Package htmlreport writes the report of a run as one self-contained HTML
// file: the run's settings, the final figures of every track and of the
// connection, and the same charts the TUI's chart pane draws (from
// report/series), as inline SVG made by gonum/plot: no script, no font or
// style sheet to fetch, so the file opens anywhere, offline, and a CI job
// can keep it as an artifact. Under each chart's section, a table holds
// the per-second figures the charts are drawn from.
package htmlreport

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/report/series"
	"github.com/dttui/dttui/textsafe"
)

// Run is what a report describes.
type Run struct {
	Title          string
	Started, Ended time.Time
	// Settings are the run's options as the user gave them, in order
	// (secrets left out by the caller).
	Settings []Setting
	// Final is the report at the end of the run; its per-second history
	// covers at most report.DefaultHistorySeconds.
	Final  report.Snapshot
	Failed []Failure // tracks that could not be published
}

// Setting is one option of the run.
type Setting struct{ Name, Value string }

// Failure is a track that could not be published, and why.
type Failure struct{ Name, Reason string }

// Write writes the report of r to w.
func Write(w io.Writer, r Run) error {
	page, err := build(r)
	if err != nil {
		return err
	}
	return pageTemplate.Execute(w, page)
}

// The page's data.
type page struct {
	Title      string
	Started    string
	Ended      string
	Duration   string
	Coverage   string
	Settings   []Setting
	Connection section
	Tracks     []section
	Failed     []Failure
}

// section is a track or the connection: figures, charts, data.
type section struct {
	ID      string
	Title   string
	Figures []Setting
	Charts  []template.HTML // inline SVG
	Marks   []markRow
	Columns []string   // of the per-second table, after the time
	Rows    [][]string // time, then a value per column
}

type markRow struct{ At, Glyph, Kind string }

func build(r Run) (page, error) {
	snap := r.Final
	p := page{Title: r.Title, Started: utc(r.Started), Ended: utc(r.Ended),
		Duration: r.Ended.Sub(r.Started).Round(time.Second).String(), Settings: r.Settings, Failed: r.Failed}
	p.Coverage = coverage(r)
	c := snap.Connection
	conn := series.Connection(snap)
	cs, err := charts("connection", conn)
	if err != nil {
		return p, err
	}
	cs.Title = "Connection"
	end := c.State.String()
	if c.State == report.Disconnected && c.Err == nil {
		end = "left the room" // the run ended and dttui closed the session, unlike a connection lost
	}
	cs.Figures = []Setting{{"state at the end", end}, {"room", c.Room}, {"identity", c.Identity},
		{"reconnects", strconv.Itoa(c.Reconnects)}, {"signal RTT at the end", dur(c.RTT)}}
	if c.Err != nil {
		cs.Figures = append(cs.Figures, Setting{"error", c.Err.Error()})
	}
	p.Connection = cs
	for _, l := range snap.Local {
		if l.State == outgoing.StatePending {
			continue
		}
		s, err := charts(fmt.Sprintf("track-%d", l.Handle), series.Local(l, snap.ConnEvents))
		if err != nil {
			return p, err
		}
		s.Title = fmt.Sprintf("Track %s (handle %d)", l.Name, l.Handle)
		s.Figures = figures(l)
		p.Tracks = append(p.Tracks, s)
	}
	// The room monitor's tracks (other participants'), as the chart pane
	// draws them.
	for i, r := range snap.Remote {
		s, err := charts(fmt.Sprintf("room-%d", i+1), series.Remote(r, snap.ConnEvents))
		if err != nil {
			return p, err
		}
		st := &r.Stats
		s.Title = fmt.Sprintf("Room track %s from %s (%s)", textsafe.Line(st.Name), textsafe.Line(st.PublisherIdentity), textsafe.Line(st.SID))
		s.Figures = remoteFigures(r)
		p.Tracks = append(p.Tracks, s)
	}
	return p, nil
}

// remoteFigures are a room track's final figures, measured from its
// packets.
func remoteFigures(r report.Remote) []Setting {
	st := &r.Stats
	f := []Setting{{"state at the end", st.State.String()}, {"type", textsafe.Line(cmp.Or(st.Type.String(), "untyped"))},
		{"E2EE", strconv.FormatBool(st.E2EE())},
		{"frames received", u(st.FramesCompleted)}, {"payload bytes", u(st.FrameBytes)},
		{"frames lost", u(st.LostFrames())}, {"of them incomplete", u(st.FramesIncomplete)}, {"cut by a subscription", u(st.FramesCut)},
		{"packets", u(st.Packets)}, {"packets lost", u(st.PacketsLost)}, {"duplicate", u(st.PacketsDuplicate)},
		{"reordered", u(st.PacketsReordered)}, {"decrypt failures", u(st.DecryptFailuresTotal())},
		{"average receive rate", fmt.Sprintf("%.1f frames/s, %.0f bytes/s (over %s)", r.Average.ReceivedFPS, r.Average.ReceivedBPS, r.Average.Window.Round(time.Millisecond))}}
	if r.RunLatency.Frames > 0 {
		f = append(f, Setting{"latency p50 / p95 / p99 / max (" + series.RemoteLatencyBasis(st.Clock) + ")",
			fmt.Sprintf("%s / %s / %s / %s (%d frames)", dur(r.RunLatency.P50), dur(r.RunLatency.P95), dur(r.RunLatency.P99), dur(r.RunLatency.Max), r.RunLatency.Frames)})
	}
	return f
}

// coverage says what the charts span: the whole run, or its last part
// when the run outlasted the history kept.
func coverage(r Run) string {
	run := r.Ended.Sub(r.Started).Round(time.Second)
	kept := time.Duration(report.DefaultHistorySeconds) * time.Second
	if run > kept {
		return fmt.Sprintf("The charts cover the last %s of this %s run: dttui keeps %d seconds of per-second history. The figures below cover the whole run.",
			kept, run, report.DefaultHistorySeconds)
	}
	return "The charts cover the whole run, one point per second."
}

// figures are a track's final figures, the run's whole counts.
func figures(l report.Local) []Setting {
	c := l.Out
	f := []Setting{{"state at the end", l.State.String()}, {"SIDs", strings.Join(l.SIDs, ", ")},
		{"E2EE", strconv.FormatBool(l.E2EE)},
		{"frames pushed", u(c.FramesPushed)}, {"sent", u(c.FramesSent)}, {"queued", u(c.FramesQueued)},
		{"dropped", u(c.FramesDropped)}}
	for r, n := range c.DroppedBy {
		if n > 0 {
			f = append(f, Setting{"dropped: " + outgoing.DropReason(r).String(), u(n)})
		}
	}
	f = append(f, Setting{"packets", u(c.PacketsSent)}, Setting{"bytes", u(c.BytesSent)},
		Setting{"unpublished errors", u(c.UnpublishedErrors)},
		Setting{"average send rate", fmt.Sprintf("%.1f frames/s, %.0f bytes/s (over %s)", l.Average.SentFPS, l.Average.SentBPS, l.Average.Window.Round(time.Millisecond))})
	if rx := l.Rx; rx != nil {
		f = append(f, Setting{"received", u(rx.Frames)}, Setting{"lost", u(rx.Lost)}, Setting{"in grace", u(rx.InGrace)},
			Setting{"unfollowed", u(rx.Unfollowed)}, Setting{"duplicates", u(rx.Duplicates)}, Setting{"late", u(rx.Late)},
			Setting{"incomplete", u(rx.Incomplete)}, Setting{"corrupt", u(rx.Corrupt)},
			Setting{"latency p50 / p95 / p99 / max", fmt.Sprintf("%s / %s / %s / %s (%d frames)", dur(l.RunLatency.P50), dur(l.RunLatency.P95), dur(l.RunLatency.P99), dur(l.RunLatency.Max), l.RunLatency.Frames)})
	}
	if ev, ok := l.LastError(); ok {
		f = append(f, Setting{"last error", ev.Problem()})
	}
	return f
}

// charts draws every panel of set and tabulates its values.
func charts(id string, set series.Set) (section, error) {
	s := section{ID: id}
	for _, p := range set.Panels {
		svg, err := chart(set, p)
		if err != nil {
			return s, fmt.Errorf("%s %s: %w", id, p.Title, err)
		}
		s.Charts = append(s.Charts, svg)
		for _, ser := range p.Series {
			s.Columns = append(s.Columns, p.Title+": "+ser.Name)
		}
	}
	for i := range set.Len {
		row := []string{utc(set.Start.Add(time.Duration(i) * time.Second))}
		for _, p := range set.Panels {
			for _, ser := range p.Series {
				row = append(row, value(ser.Values[i]))
			}
		}
		s.Rows = append(s.Rows, row)
	}
	for _, m := range set.Marks {
		s.Marks = append(s.Marks, markRow{At: m.At.UTC().Format("15:04:05.000"), Glyph: m.Kind.Glyph(), Kind: m.Kind.String()})
	}
	return s, nil
}

// Colours of the roles, as the TUI's theme has them.
var roleColor = map[series.Role]color.RGBA{
	series.Sent:     {0x58, 0xA6, 0xFF, 0xFF},
	series.Received: {0x3F, 0xB9, 0x50, 0xFF},
	series.Dropped:  {0xF8, 0x51, 0x49, 0xFF},
	series.Lost:     {0xD2, 0x99, 0x22, 0xFF},
	series.P50:      {0x58, 0xA6, 0xFF, 0xFF},
	series.P95:      {0x7D, 0x56, 0xF4, 0xFF},
	series.P99:      {0xD2, 0x99, 0x22, 0xFF},
	series.RTT:      {0x7D, 0x56, 0xF4, 0xFF},
}

// dropShades tell drop reasons apart within a panel.
var dropShades = []color.RGBA{{0xF8, 0x51, 0x49, 0xFF}, {0x7D, 0x56, 0xF4, 0xFF}, {0xBC, 0x4C, 0x00, 0xFF}, {0x8B, 0x94, 0x9E, 0xFF}}

var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// chart is one panel as an SVG element: a line per series (broken where
// a second has no value), a dashed line and a glyph per mark.
func chart(set series.Set, p series.Panel) (template.HTML, error) {
	pl := plot.New()
	style := func(t *draw.TextStyle, size vg.Length) { t.Font = font.From(sans, size) }
	style(&pl.Title.TextStyle, 13)
	style(&pl.X.Label.TextStyle, 11)
	style(&pl.Y.Label.TextStyle, 11)
	style(&pl.X.Tick.Label, 9)
	style(&pl.Y.Tick.Label, 9)
	style(&pl.Legend.TextStyle, 10)
	pl.Title.Text = p.Title
	scale, unit := axisUnit(p)
	pl.Y.Label.Text = unit
	pl.X.Label.Text = "time (UTC)"
	pl.X.Tick.Marker = plot.TimeTicks{Format: "15:04:05"}
	pl.Legend.Top, pl.Legend.Left = true, true
	pl.Add(plotter.NewGrid())
	pl.Y.Min = 0
	top := 0.0
	drops := 0
	for _, ser := range p.Series {
		c := roleColor[ser.Role]
		if ser.Role == series.Dropped {
			c = dropShades[drops%len(dropShades)]
			drops++
		}
		width := vg.Points(1.2)
		if ser.Role == series.Sent {
			// Drawn first and wider: where everything sent is received,
			// sent shows as a band around the received line, not under it.
			width = vg.Points(3.5)
		}
		var legend *plotter.Line
		for _, seg := range segments(set, ser.Values, scale) {
			line, err := plotter.NewLine(seg)
			if err != nil {
				return "", err
			}
			line.Color, line.Width = c, width
			pl.Add(line)
			if legend == nil {
				legend = line
			}
			for _, xy := range seg {
				top = max(top, xy.Y)
			}
		}
		if legend == nil { // no value in the run: still named
			legend = &plotter.Line{LineStyle: draw.LineStyle{Color: c, Width: width}}
		}
		pl.Legend.Add(ser.Name, legend)
	}
	top *= 1.15 // room for the marks' glyphs
	if top == 0 {
		top = 1
	}
	pl.Y.Max = top
	if set.Len > 0 {
		pl.X.Min, pl.X.Max = unix(set.Start), unix(set.End())
	}
	for _, m := range set.Marks {
		x := unix(m.At)
		mark, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top}})
		if err != nil {
			return "", err
		}
		mark.Color, mark.Width, mark.Dashes = color.RGBA{0x8B, 0x94, 0x9E, 0xFF}, vg.Points(0.8), []vg.Length{vg.Points(3), vg.Points(3)}
		labels, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: top}}, Labels: []string{m.Kind.Glyph()}})
		if err != nil {
			return "", err
		}
		for i := range labels.TextStyle {
			style(&labels.TextStyle[i], 10)
			labels.TextStyle[i].XAlign = draw.XCenter
			labels.TextStyle[i].YAlign = draw.YTop
		}
		pl.Add(mark, labels)
	}
	c := vgsvg.New(vg.Points(430), vg.Points(215)) // two across a 1200 px page
	pl.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	svg := buf.String()
	if i := strings.Index(svg, "<svg"); i > 0 {
		svg = svg[i:] // inline: no XML declaration
	}
	// Made by vgsvg from our numbers and our own fixed names (panel,
	// series, mark): no text from outside.
	return template.HTML(svg), nil
}

// segments splits a series at its gaps (NaN), scaled to the axis unit.
func segments(set series.Set, values []float64, scale float64) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i, v := range values {
		if math.IsNaN(v) {
			if len(cur) > 0 {
				out, cur = append(out, cur), nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: unix(set.Start.Add(time.Duration(i) * time.Second)), Y: v * scale})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// axisUnit picks a readable unit for a panel's values: milliseconds for
// durations, KiB/s or MiB/s for bytes.
func axisUnit(p series.Panel) (scale float64, unit string) {
	switch p.Unit {
	case series.Duration:
		return 1000, "ms"
	case series.BytesPerSecond:
		peak := 0.0
		for _, s := range p.Series {
			for _, v := range s.Values {
				if !math.IsNaN(v) {
					peak = max(peak, v)
				}
			}
		}
		if peak >= 10<<20 {
			return 1.0 / (1 << 20), "MiB/s"
		}
		return 1.0 / 1024, "KiB/s"
	}
	return 1, "per second"
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func utc(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func u(n uint64) string { return strconv.FormatUint(n, 10) }

func dur(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(time.Microsecond).String()
}

// value is a table cell: the number as recorded, "" for no value.
func value(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #1f2328; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { padding: 0.15em 0.8em 0.15em 0; text-align: left; vertical-align: top; }
table.data td, table.data th { text-align: right; padding-right: 1em; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 0.5em 1em; margin: 0.8em 0; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 0.1em 1.5em; font-size: 0.9em; }
.figures div { display: flex; justify-content: space-between; border-bottom: 1px dotted #d0d7de; }
.figures span { color: #57606a; } .figures b { font-weight: 600; font-variant-numeric: tabular-nums; margin-left: 1em; }
.charts svg { max-width: 100%; height: auto; }
.note { color: #57606a; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Started}} – {{.Ended}} ({{.Duration}})</p>
<p class="note">{{.Coverage}}</p>
<h2 id="settings">Settings</h2>
<table>{{range .Settings}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{end}}</table>
{{if .Failed}}<h2 id="failed">Tracks that could not be published</h2>
<table>{{range .Failed}}<tr><th>{{.Name}}</th><td>{{.Reason}}</td></tr>{{end}}</table>{{end}}
{{template "section" .Connection}}
{{range .Tracks}}{{template "section" .}}{{end}}
</body>
</html>
{{define "section"}}<section id="{{.ID}}">
<h2>{{.Title}}</h2>
<div class="figures">{{range .Figures}}<div><span>{{.Name}}</span> <b>{{.Value}}</b></div>{{end}}</div>
<div class="charts">{{range .Charts}}{{.}}{{end}}</div>
{{if .Marks}}<table class="marks"><tr><th>time (UTC)</th><th>mark</th><th>what</th></tr>{{range .Marks}}<tr><td>{{.At}}</td><td>{{.Glyph}}</td><td>{{.Kind}}</td></tr>{{end}}</table>{{end}}
<details><summary>per-second figures ({{len .Rows}} seconds)</summary>
<table class="data"><tr><th>time</th>{{range .Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table></details>
</section>
{{end}}`))
