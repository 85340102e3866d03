package budget

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dttui/dttui/textsafe"
)

// Run is what the reports say of the run besides its verdicts.
type Run struct {
	// Name names the run ("dttui headless", "dttui load").
	Name    string
	Started time.Time
	Elapsed time.Duration
	// Warmup is how long the run ran before its figures counted.
	Warmup time.Duration
	// Subjects are every track's figures, for the reports' tables; the
	// verdicts point into the same tracks.
	Subjects []Subject
	Verdicts []Verdict
}

// Figures is s's figures in lines of text: what a JUnit test case's
// output carries.
func (s *Subject) Figures() string {
	var b strings.Builder
	fmt.Fprintf(&b, "track: %s (%s)\n", textsafe.Line(s.Label), s.Kind)
	if s.HasLoss {
		if r, ok := s.loss().Ratio(); ok {
			fmt.Fprintf(&b, "loss: %d of %d frames (%s)\n", s.Lost, s.Expected, Format(Loss, r))
		} else {
			b.WriteString("loss: no frames followed\n")
		}
	}
	if s.HasFPS {
		fmt.Fprintf(&b, "frames/s: %s\n", Format(FPS, s.FPS))
	}
	if s.HasLatency {
		l := s.Latency
		if l.Frames > 0 {
			fmt.Fprintf(&b, "latency over %d frames: p50 %s, p95 %s, p99 %s, max %s\n", l.Frames,
				Format(P50, float64(l.P50)), Format(P95, float64(l.P95)), Format(P99, float64(l.P99)), Format(Max, float64(l.Max)))
		} else {
			b.WriteString("latency: no frames measured\n")
		}
	}
	if s.HasDrops {
		fmt.Fprintf(&b, "dropped: %d", s.Dropped)
		for _, r := range reasons() {
			if n := s.DroppedBy[r]; n > 0 {
				fmt.Fprintf(&b, ", %s %d", r, n)
			}
		}
		b.WriteString("\n")
	}
	if s.HasReconnects {
		fmt.Fprintf(&b, "reconnects: %d\n", s.Reconnects)
	}
	if s.HasStalls {
		fmt.Fprintf(&b, "stalls: %d\n", s.Stalls)
	}
	return b.String()
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut junitText     `xml:"system-out"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
	Text    string `xml:",cdata"`
}

// junitText is text kept as written, lines and all.
type junitText struct {
	Text string `xml:",cdata"`
}

// Case is one JUnit test case: Failure "" passes, unless Skipped says
// why it could not be run.
type Case struct {
	Name, Classname string
	Failure         string
	Skipped         string
	Output          string
}

// WriteJUnit writes the run as JUnit XML (the schema Jenkins, GitLab and
// GitHub's test reporters read): one test suite, one test case per track
// and budget, failed when the budget is broken, with the track's figures
// in its output; skipped when it could not be evaluated (no track
// measures it, or nothing arrived to measure: not a pass, and the run
// still counts it broken). Without budgets, one passing case per track
// carries its figures.
func WriteJUnit(w io.Writer, run Run) error {
	var cases []Case
	for _, v := range run.Verdicts {
		c := Case{Name: textsafe.Line(v.Budget.Text), Classname: "dttui.budget"}
		if v.Subject != nil {
			c.Classname = "dttui." + string(v.Subject.Kind) + "." + textsafe.Line(v.Subject.Label)
			c.Output = v.Subject.Figures()
		}
		c.Output = fmt.Sprintf("budget: fail if %s\nmeasured: %s\n%s", textsafe.Line(v.Budget.Text), v.Measurement(), c.Output)
		if run.Warmup > 0 {
			c.Output += fmt.Sprintf("counted after a warmup of %s\n", run.Warmup)
		}
		switch {
		case !v.Evaluated():
			c.Skipped = v.Measurement()
		case v.Broken:
			c.Failure = v.String()
		}
		cases = append(cases, c)
	}
	if len(run.Verdicts) == 0 {
		for i := range run.Subjects {
			s := &run.Subjects[i]
			cases = append(cases, Case{Name: "figures", Classname: "dttui." + string(s.Kind) + "." + textsafe.Line(s.Label), Output: s.Figures()})
		}
	}
	return WriteJUnitCases(w, run.Name, run.Started, run.Elapsed, "budget", cases)
}

// WriteJUnitCases writes one test suite of cases as JUnit XML; failures
// are of type kind. Text is made safe for XML and terminals first.
func WriteJUnitCases(w io.Writer, name string, started time.Time, elapsed time.Duration, kind string, cases []Case) error {
	secs := strconv.FormatFloat(elapsed.Seconds(), 'f', 3, 64)
	suite := junitSuite{Name: textsafe.Line(name), Time: secs, Cases: []junitCase{}}
	if !started.IsZero() {
		suite.Timestamp = started.UTC().Format("2006-01-02T15:04:05")
	}
	for _, c := range cases {
		jc := junitCase{Name: textsafe.Line(c.Name), Classname: textsafe.Line(c.Classname), Time: secs, SystemOut: junitText{safeText(c.Output)}}
		if c.Skipped != "" {
			suite.Skipped++
			jc.Skipped = &junitSkipped{Message: textsafe.Line(c.Skipped)}
			suite.Cases = append(suite.Cases, jc)
			continue
		}
		if c.Failure != "" {
			suite.Failures++
			f := textsafe.Line(c.Failure)
			jc.Failure = &junitFailure{Type: kind, Message: f, Text: f}
		}
		suite.Cases = append(suite.Cases, jc)
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Name: "dttui", Tests: suite.Tests, Failures: suite.Failures, Time: secs, Suites: []junitSuite{suite}}
	bw := bufio.NewWriter(w)
	bw.WriteString(xml.Header)
	enc := xml.NewEncoder(bw)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	bw.WriteString("\n")
	return bw.Flush()
}

// safeText is textsafe.Line for each line of s, the line breaks kept.
func safeText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = textsafe.Line(l)
	}
	return strings.Join(lines, "\n")
}

// WriteMarkdown writes the run as Markdown for a CI job's summary (e.g.
// $GITHUB_STEP_SUMMARY): the verdicts, then every track's figures.
func WriteMarkdown(w io.Writer, run Run) error {
	bw := bufio.NewWriter(w)
	broken := len(Broken(run.Verdicts))
	title := textsafe.Line(run.Name)
	switch {
	case len(run.Verdicts) == 0:
		fmt.Fprintf(bw, "### %s\n\n", mdText(title))
	case broken == 0:
		fmt.Fprintf(bw, "### %s: every budget held (%d)\n\n", mdText(title), len(run.Verdicts))
	default:
		fmt.Fprintf(bw, "### %s: %d of %d budgets broken\n\n", mdText(title), broken, len(run.Verdicts))
	}
	if run.Warmup > 0 {
		fmt.Fprintf(bw, "Figures counted after a warmup of %s, over %s.\n\n", run.Warmup, run.Elapsed.Round(time.Millisecond))
	}
	if len(run.Verdicts) > 0 {
		bw.WriteString("| verdict | budget | track | measured |\n| --- | --- | --- | --- |\n")
		for _, v := range run.Verdicts {
			verdict := "✅ pass"
			switch {
			case !v.Evaluated():
				verdict = "⚠️ not measured"
			case v.Broken:
				verdict = "❌ fail"
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s |\n", verdict, mdText(textsafe.Line(v.Budget.Text)), mdText(v.Label()), mdText(v.Measurement()))
		}
		bw.WriteString("\n")
	}
	if len(run.Subjects) > 0 {
		bw.WriteString("| track | kind | loss | frames/s | p50 | p95 | p99 | max | dropped |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for i := range run.Subjects {
			s := &run.Subjects[i]
			loss, fps, dropped := "-", "-", "-"
			lat := [4]string{"-", "-", "-", "-"}
			if r, ok := s.loss().Ratio(); s.HasLoss && ok {
				loss = fmt.Sprintf("%s (%d/%d)", Format(Loss, r), s.Lost, s.Expected)
			}
			if s.HasFPS {
				fps = Format(FPS, s.FPS)
			}
			if s.HasLatency && s.Latency.Frames > 0 {
				for i, d := range []time.Duration{s.Latency.P50, s.Latency.P95, s.Latency.P99, s.Latency.Max} {
					lat[i] = Format(P50, float64(d))
				}
			}
			if s.HasDrops {
				dropped = strconv.FormatUint(s.Dropped, 10)
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdText(textsafe.Line(s.Label)), s.Kind, loss, fps,
				lat[0], lat[1], lat[2], lat[3], dropped)
		}
	}
	return bw.Flush()
}

// MarkdownText makes text inert in a Markdown table cell: no column
// breaks, no markup, no HTML.
func MarkdownText(s string) string { return mdText(s) }

func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '|', '\\', '`', '*', '_', '[', ']', '<', '>', '#', '~', '!', '&':
			fmt.Fprintf(&b, "&#%d;", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
