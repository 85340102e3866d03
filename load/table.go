package load

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/textsafe"
)

// MaxTableRows bounds the summary table: past it, tracks of the same name
// are summed into one row (the JSON keeps every track).
const MaxTableRows = 40

// WriteTable writes the summary as a table, one row per track (or per
// track name, past MaxTableRows) and a total, then what went wrong.
// Names are made safe for a terminal: a merged summary comes from files.
func (s *Summary) WriteTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	type row struct {
		label string
		t     Totals
	}
	var rows []row
	if len(s.Tracks) <= MaxTableRows {
		for i := range s.Tracks {
			ts := &s.Tracks[i]
			var t Totals
			t.Add(ts)
			rows = append(rows, row{textsafe.Line(ts.Participant) + "/" + textsafe.Line(ts.Track), t})
		}
	} else {
		byName := map[string]*Totals{}
		for i := range s.Tracks {
			ts := &s.Tracks[i]
			if byName[ts.Track] == nil {
				byName[ts.Track] = &Totals{}
			}
			byName[ts.Track].Add(ts)
		}
		for _, name := range slices.Sorted(maps.Keys(byName)) {
			t := byName[name]
			rows = append(rows, row{fmt.Sprintf("%s (×%d)", textsafe.Line(name), t.Tracks), *t})
		}
	}
	tot := s.Totals()
	rows = append(rows, row{fmt.Sprintf("TOTAL (%d tracks)", tot.Tracks), tot})
	// Labels left-aligned, figures right-aligned: the label column is
	// padded here, the rest aligned by tabwriter.
	width := len("TRACK")
	for _, r := range rows {
		width = max(width, utf8.RuneCountInString(r.label))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", width-utf8.RuneCountInString(s)) }
	fmt.Fprintf(tw, "%s\tPUSHED\tSENT\tDROPPED\tDELIVERED\tLOST\tLOSS\tP50\tP95\tP99\tPUBLISH\t\n", pad("TRACK"))
	for _, r := range rows {
		t := &r.t
		publish := "-"
		if pt := report.LatencyOf(&t.PublishTime); t.Published > 0 {
			publish = fmtDur(pt.P50)
			if t.Published > 1 {
				publish = "p50 " + publish + " p99 " + fmtDur(pt.P99)
			}
		}
		lat := [3]string{"-", "-", "-"}
		if l := report.LatencyOf(&t.Latency); l.Frames > 0 {
			lat = [3]string{fmtDur(l.P50), fmtDur(l.P95), fmtDur(l.P99)}
		}
		loss := "-"
		if ratio, ok := t.Loss().Ratio(); ok {
			loss = fmt.Sprintf("%.2f%%", 100*ratio)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d/%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", pad(r.label), t.Pushed, t.Sent, t.Dropped,
			t.Delivered, t.Expected, t.Lost, loss, lat[0], lat[1], lat[2], publish)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(tot.DroppedBy) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(tot.DroppedBy)) {
			parts = append(parts, fmt.Sprintf("%s %d", textsafe.Line(k), tot.DroppedBy[k])) // a file's keys
		}
		fmt.Fprintf(bw, "dropped by reason: %s\n", strings.Join(parts, ", "))
	}
	if tot.NotFollowed+tot.InGrace+tot.Late+tot.Duplicates > 0 {
		fmt.Fprintf(bw, "not followed %d (sent while a subscriber held no subscription), in grace at the end %d, late %d, duplicates %d\n",
			tot.NotFollowed, tot.InGrace, tot.Late, tot.Duplicates)
	}
	var pubs, subs, pubsOK, subsOK, reconnects int
	for _, p := range s.Participants {
		ok := p.Connected && p.State != "disconnected"
		switch p.Role {
		case RolePublisher:
			pubs++
			if ok {
				pubsOK++
			}
		case RoleSubscriber:
			subs++
			if ok {
				subsOK++
			}
		}
		reconnects += p.Reconnects
	}
	runs := ""
	if s.Runs > 1 {
		runs = fmt.Sprintf(" in %d runs", s.Runs)
	}
	fmt.Fprintf(bw, "room %s%s: %d/%d publishers and %d/%d subscribers connected to the end, %d reconnects, %.1f s\n",
		textsafe.Line(s.Room), runs, pubsOK, pubs, subsOK, subs, reconnects, s.Elapsed)
	if s.Foreign > 0 {
		fmt.Fprintf(bw, "frames from other participants' tracks (not counted above): %d\n", s.Foreign)
	}
	for _, p := range s.Problems() {
		fmt.Fprintf(bw, "problem: %s\n", textsafe.Line(p))
	}
	return bw.Flush()
}

// fmtDur is a duration with three significant digits at most.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// ErrNoSummary: a file holds no final load line.
var ErrNoSummary = errors.New("no load-mode summary (a final line with \"summary\") in it")

// MaxSummaryLine is the longest line ReadSummary reads: a final line of
// MaxSummaryTracks tracks takes about a fifth of it.
const MaxSummaryLine = 64 << 20

// ReadSummary reads the JSON lines of one load run and returns its final
// summary, within MaxSummaryLine and MaxSummaryTracks.
func ReadSummary(r io.Reader) (Summary, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, MaxSummaryLine)
	var last *Summary
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var l Line
		if err := json.Unmarshal(line, &l); err != nil {
			return Summary{}, fmt.Errorf("line %d: %w", n, err)
		}
		if l.Final && l.Summary != nil {
			last = l.Summary
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return Summary{}, fmt.Errorf("%w: a line is longer than %d MiB", ErrTooManyTracks, MaxSummaryLine>>20)
	} else if err != nil {
		return Summary{}, err
	}
	if last == nil {
		return Summary{}, ErrNoSummary
	}
	if last.Runs < 1 {
		last.Runs = 1
	}
	return *last, nil
}
