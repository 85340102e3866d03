package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dttui/dttui/budget"
	"github.com/dttui/dttui/internal/junitcheck"
	"github.com/dttui/dttui/internal/testsfu"
)

// A malformed budget, or one where it cannot apply, is refused before
// anything starts: exit status 2 and the column of the error.
func TestFailIfRefusedAtParse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--headless", "--fail-if", "p99>>4ms"}, `--fail-if "p99>>4ms" at column 5: want a number, not a second operator`},
		{[]string{"--headless", "--fail-if", "telemetry:lost>1%"}, `--fail-if "telemetry:lost>1%" at column 11: unknown metric "lost"`},
		{[]string{"--headless", "--fail-if", "loss>1"}, `at column 7: loss is a percentage: write 1%`},
		{[]string{"--fail-if", "loss>1%"}, "are for --headless runs and load mode"},
		{[]string{"--headless", "--duration", "5s", "--warmup", "5s"}, "--warmup 5s is not shorter than --duration 5s"},
		{[]string{"--headless", "--warmup", "-1s"}, `--warmup "-1s": not a positive duration`},
		{[]string{"--headless", "--junit", "x", "--summary-md", "x"}, "name the same file"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tc.args, env(nil), stdio{out: &out, err: &errOut})
		if code != exitUsage || !strings.Contains(errOut.String(), tc.want) || strings.Count(errOut.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut.String(), tc.want)
		}
	}
	// An unwritable --junit is refused before the run too.
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"--headless", "--junit", filepath.Join(t.TempDir(), "no", "such", "dir.xml")}, env(nil), stdio{out: &bytes.Buffer{}, err: &errOut})
	if code != exitUsage || !strings.Contains(errOut.String(), "--junit:") {
		t.Errorf("unwritable --junit: exit %d, %q", code, errOut.String())
	}
}

type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Suite    struct {
		Name    string `xml:"name,attr"`
		Skipped int    `xml:"skipped,attr"`
		Cases   []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			Out string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	junitcheck.Validate(t, b)
	var doc junitDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

type finalBudgets struct {
	Final   bool `json:"final"`
	Budgets []struct {
		Budget  string   `json:"budget"`
		Track   string   `json:"track"`
		Value   *float64 `json:"value"`
		Unit    string   `json:"unit"`
		Verdict string   `json:"verdict"`
	} `json:"budgets"`
}

func lastLine(t *testing.T, out string) finalBudgets {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var f finalBudgets
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &f); err != nil || !f.Final {
		t.Fatalf("final line %q: %v", lines[len(lines)-1], err)
	}
	return f
}

// A headless run on each SFU build with three budgets, two held and one
// broken: exit status 4, one stderr line for the broken one, every
// verdict on the final JSON line, a JUnit file the schema accepts with
// one failed case, and a Markdown summary.
func TestBudgetsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SFUs")
	}
	for _, kind := range testsfu.Kinds {
		t.Run(kind.String(), func(t *testing.T) {
			srv := testsfu.StartT(t, kind, testsfu.Options{})
			dir := t.TempDir()
			t.Setenv("XDG_CACHE_HOME", dir)
			junit, md := filepath.Join(dir, "dttui.xml"), filepath.Join(dir, "summary.md")
			var out bytes.Buffer
			var errOut lockedBuffer
			code := run(context.Background(), []string{"--headless", "--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret,
				"--duration", "4s", "--warmup", "1s", "--track", "telemetry:50:1KiB",
				"--fail-if", "loss>50%", "--fail-if", "telemetry:p99>1ns", "--fail-if", "fps<10", "--fail-if", "nosuch:p99>1s",
				"--junit", junit, "--summary-md", md}, env(nil), stdio{out: &out, err: &errOut})
			if code != exitBudget {
				t.Fatalf("exit %d, want %d: %s", code, exitBudget, errOut.String())
			}
			var budgetLines []string
			for _, l := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
				if strings.HasPrefix(l, "dttui: budget ") {
					budgetLines = append(budgetLines, l)
				}
			}
			// A budget no track measures is broken too (never a pass).
			if len(budgetLines) != 2 || !strings.HasPrefix(budgetLines[0], "dttui: budget telemetry:p99>1ns: FAIL: telemetry p99 ") ||
				budgetLines[1] != `dttui: budget nosuch:p99>1s: FAIL: no track "nosuch" measures p99` {
				t.Fatalf("stderr budget lines %q", budgetLines)
			}
			f := lastLine(t, out.String())
			if len(f.Budgets) != 4 || f.Budgets[3].Verdict != "fail" || f.Budgets[3].Value != nil {
				t.Fatalf("budgets %+v", f.Budgets)
			}
			for i, want := range []struct{ budget, verdict, unit string }{{"loss>50%", "pass", "%"}, {"telemetry:p99>1ns", "fail", "ms"}, {"fps<10", "pass", "fps"}} {
				b := f.Budgets[i]
				if b.Budget != want.budget || b.Verdict != want.verdict || b.Unit != want.unit || b.Track != "telemetry" || b.Value == nil {
					t.Errorf("budget %d: %+v, want %+v", i, b, want)
				}
			}
			if v := *f.Budgets[2].Value; v < 40 || v > 60 {
				t.Errorf("fps after the warmup %v, want about 50", v)
			}

			// The budget that could not be evaluated is a skipped case
			// saying why: neither a pass nor a failure.
			doc := readJUnit(t, junit)
			if doc.Tests != 4 || doc.Failures != 1 || doc.Suite.Skipped != 1 || doc.Suite.Name != "dttui headless" || len(doc.Suite.Cases) != 4 {
				t.Fatalf("JUnit %+v", doc)
			}
			if c := doc.Suite.Cases[3]; c.Name != "nosuch:p99>1s" || c.Classname != "dttui.budget" || c.Failure != nil ||
				c.Skipped == nil || c.Skipped.Message != `no track "nosuch" measures p99` {
				t.Errorf("unevaluated case %+v", c)
			}
			for i, c := range doc.Suite.Cases[:3] {
				if c.Classname != "dttui.local.telemetry" || !strings.Contains(c.Out, "latency over ") ||
					!strings.Contains(c.Out, "counted after a warmup of 1s") || (c.Failure != nil) != (i == 1) {
					t.Errorf("case %d: %+v", i, c)
				}
			}
			if c := doc.Suite.Cases[1]; c.Name != "telemetry:p99>1ns" || !strings.Contains(c.Failure.Message, "telemetry p99 ") {
				t.Errorf("failed case %+v", c)
			}
			b, err := os.ReadFile(md)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "### dttui headless: 2 of 4 budgets broken") ||
				!strings.Contains(string(b), "| ⚠️ not measured | nosuch:p99&#62;1s | - |") || !strings.Contains(string(b), "| ❌ fail | telemetry:p99&#62;1ns | telemetry |") {
				t.Errorf("markdown:\n%s", b)
			}

			// Every budget kept: exit 0, and a JUnit file with no failure.
			out.Reset()
			errOut = lockedBuffer{}
			code = run(context.Background(), []string{"--headless", "--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret,
				"--duration", "3s", "--warmup", "1s", "--track", "telemetry:50:1KiB",
				"--fail-if", "loss>50%", "--fail-if", "fps<10", "--fail-if", "telemetry:p99>10s", "--fail-if", "dropped[queue full]>0",
				"--fail-if", "reconnects>0", "--fail-if", "stalls>0", "--junit", junit}, env(nil), stdio{out: &out, err: &errOut})
			if code != exitOK || strings.Contains(errOut.String(), "dttui: budget ") {
				t.Fatalf("budgets kept: exit %d: %s", code, errOut.String())
			}
			f = lastLine(t, out.String())
			for _, b := range f.Budgets {
				if b.Verdict != "pass" || b.Value == nil {
					t.Errorf("budget kept: %+v", b)
				}
			}
			if doc := readJUnit(t, junit); len(f.Budgets) != 6 || doc.Tests != 6 || doc.Failures != 0 || doc.Suite.Skipped != 0 {
				t.Fatalf("budgets kept: %d in the JSON line, JUnit %+v", len(f.Budgets), doc)
			}
		})
	}
}

// A load run judged on its tracks, then `dttui summary` judging the same
// run's file: the exit status, the final line, and the JUnit and Markdown
// files of both, holding the verdicts with the values measured. The
// stalls budget is judged on the publisher's connection.
func TestBudgetsLoadAndSummary(t *testing.T) {
	srv := sfu(t)
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", dir)
	loadXML, loadMD := filepath.Join(dir, "load.xml"), filepath.Join(dir, "load.md")
	var out bytes.Buffer
	var errOut lockedBuffer
	code := run(context.Background(), []string{"--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret,
		"--participants", "1", "--subscribers", "1", "--track", "t:20:256", "--duration", "5s", "--warmup", "2s",
		"--fail-if", "dropped>1000", "--fail-if", "max>1ns", "--fail-if", "stalls>0",
		"--junit", loadXML, "--summary-md", loadMD}, env(nil), stdio{out: &out, err: &errOut})
	if code != exitBudget || !strings.Contains(errOut.String(), "dttui: budget max>1ns: FAIL: ") || strings.Contains(errOut.String(), "budget dropped") ||
		strings.Contains(errOut.String(), "budget stalls") {
		t.Fatalf("load: exit %d, stderr %s", code, errOut.String())
	}
	f := lastLine(t, out.String())
	if len(f.Budgets) != 3 {
		t.Fatalf("load budgets %+v", f.Budgets)
	}
	label := f.Budgets[0].Track
	for i, want := range []struct{ verdict, unit string }{{"pass", "count"}, {"fail", "ms"}, {"pass", "count"}} {
		if b := f.Budgets[i]; b.Verdict != want.verdict || b.Unit != want.unit || b.Value == nil || b.Track != label || !strings.HasSuffix(label, "-pub-0/t") {
			t.Fatalf("load budget %d: %+v, want %+v", i, b, want)
		}
	}
	dropped, maxMs, stalls := *f.Budgets[0].Value, *f.Budgets[1].Value, *f.Budgets[2].Value
	if dropped != 0 || maxMs <= 0 || maxMs > 1000 || stalls != 0 {
		t.Fatalf("load values: dropped %v, max %vms, stalls %v", dropped, maxMs, stalls)
	}
	maxText := budget.Format(budget.Max, maxMs*1e6)

	// The load run's JUnit: a case per budget, the failed one saying the
	// value, each carrying the track's figures after the warmup.
	doc := readJUnit(t, loadXML)
	if doc.Tests != 3 || doc.Failures != 1 || doc.Suite.Skipped != 0 || doc.Suite.Name != "dttui load" || len(doc.Suite.Cases) != 3 {
		t.Fatalf("load JUnit %+v", doc)
	}
	for i, name := range []string{"dropped>1000", "max>1ns", "stalls>0"} {
		c := doc.Suite.Cases[i]
		if c.Name != name || c.Classname != "dttui.load."+label || (c.Failure != nil) != (i == 1) || c.Skipped != nil ||
			!strings.Contains(c.Out, "track: "+label+" (load)\n") || !strings.Contains(c.Out, "counted after a warmup of 2s") ||
			!strings.Contains(c.Out, "stalls: 0\n") || !strings.Contains(c.Out, "dropped: 0\n") || !strings.Contains(c.Out, "latency over ") {
			t.Errorf("load case %d: %+v", i, c)
		}
	}
	if c := doc.Suite.Cases[1]; c.Failure == nil || c.Failure.Message != "budget max>1ns: FAIL: "+label+" max "+maxText {
		t.Errorf("failed case %+v, want its max %s", c, maxText)
	}
	md := readFile(t, loadMD)
	for _, want := range []string{"### dttui load: 1 of 3 budgets broken\n", "Figures counted after a warmup of 2s, over ",
		"| ✅ pass | dropped&#62;1000 | " + mdLabel(label) + " | 0 |\n",
		"| ❌ fail | max&#62;1ns | " + mdLabel(label) + " | " + maxText + " |\n",
		"| ✅ pass | stalls&#62;0 | " + mdLabel(label) + " | 0 |\n",
		"| " + mdLabel(label) + " | load | 0% (0/"} {
		if !strings.Contains(md, want) {
			t.Errorf("load Markdown lacks %q:\n%s", want, md)
		}
	}

	runFile, junit, sumMD := filepath.Join(dir, "run.jsonl"), filepath.Join(dir, "summary.xml"), filepath.Join(dir, "summary.md")
	if err := os.WriteFile(runFile, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var sout, serr bytes.Buffer
	code = run(context.Background(), []string{"summary", "--fail-if", "loss>50%", "--fail-if", "t:fps<5", "--fail-if", "stalls>0",
		"--junit", junit, "--summary-md", sumMD, runFile}, env(nil), stdio{out: &sout, err: &serr})
	if code != exitOK {
		t.Fatalf("summary: exit %d: %s", code, serr.String())
	}
	doc = readJUnit(t, junit)
	if doc.Tests != 3 || doc.Failures != 0 || doc.Suite.Skipped != 0 || doc.Suite.Name != "dttui summary" {
		t.Fatalf("summary JUnit %+v", doc)
	}
	for _, c := range doc.Suite.Cases {
		if c.Classname != "dttui.load."+label || c.Failure != nil || !strings.Contains(c.Out, "stalls: 0\n") {
			t.Errorf("summary case %+v", c)
		}
	}
	// The summary judges the whole run (a file holds its end): the
	// Markdown says every budget held, with the values measured.
	md = readFile(t, sumMD)
	for _, want := range []string{"### dttui summary: every budget held (3)\n",
		"| ✅ pass | loss&#62;50% | " + mdLabel(label) + " | 0% |\n",
		"| ✅ pass | t:fps&#60;5 | " + mdLabel(label) + " | ",
		"| ✅ pass | stalls&#62;0 | " + mdLabel(label) + " | 0 |\n"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary Markdown lacks %q:\n%s", want, md)
		}
	}
	if fps := mdCell(t, md, "t:fps&#60;5"); fps < 15 || fps > 25 {
		t.Errorf("summary fps %v, want about 20", fps)
	}
	code = run(context.Background(), []string{"summary", "--fail-if", "t:fps<500", runFile}, env(nil), stdio{out: &sout, err: &serr})
	if code != exitBudget || !strings.Contains(serr.String(), "dttui: budget t:fps<500: FAIL: ") {
		t.Fatalf("summary with a broken budget: exit %d: %s", code, serr.String())
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mdLabel is a track's label as a Markdown cell writes it.
func mdLabel(label string) string { return budget.MarkdownText(label) }

// mdCell is the measured value of budget's row in a Markdown summary.
func mdCell(t *testing.T, md, budgetText string) float64 {
	t.Helper()
	for _, l := range strings.Split(md, "\n") {
		cells := strings.Split(l, " | ")
		if len(cells) == 4 && cells[1] == budgetText {
			v, err := strconv.ParseFloat(strings.TrimSuffix(cells[3], " |"), 64)
			if err != nil {
				t.Fatalf("row %q: %v", l, err)
			}
			return v
		}
	}
	t.Fatalf("no row for %s:\n%s", budgetText, md)
	return 0
}

// --subscribe-only judges the room's tracks: another dttui publishes,
// the monitor's budgets name its track.
func TestBudgetsRoomTracks(t *testing.T) {
	srv := sfu(t)
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", dir)
	room := "budget-room-" + filepath.Base(dir)
	server := []string{"--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret, "--room", room}
	pubDone := make(chan int, 1)
	go func() {
		var out bytes.Buffer
		var errOut lockedBuffer
		pubDone <- run(context.Background(), append([]string{"--headless", "--identity", "drone", "--duration", "9s", "--track", "pose:40:512",
			"--loopback=false", "--monitor=false"}, server...), env(nil), stdio{out: &out, err: &errOut})
	}()
	var out bytes.Buffer
	var errOut lockedBuffer
	code := run(context.Background(), append([]string{"--headless", "--subscribe-only", "--identity", "watcher", "--duration", "7s", "--warmup", "3s",
		"--fail-if", "pose:loss>50%", "--fail-if", "pose:fps<20", "--fail-if", "pose:p99>1ns"}, server...), env(nil), stdio{out: &out, err: &errOut})
	if pc := <-pubDone; pc != exitOK {
		t.Fatalf("publisher: exit %d", pc)
	}
	if code != exitBudget || !strings.Contains(errOut.String(), "dttui: budget pose:p99>1ns: FAIL: drone/pose p99 ") {
		t.Fatalf("monitor: exit %d, stderr %s", code, errOut.String())
	}
	f := lastLine(t, out.String())
	if len(f.Budgets) != 3 {
		t.Fatalf("budgets %+v", f.Budgets)
	}
	for i, want := range []string{"pass", "pass", "fail"} {
		if b := f.Budgets[i]; b.Verdict != want || b.Track != "drone/pose" || b.Value == nil {
			t.Errorf("budget %d: %+v, want %s", i, b, want)
		}
	}
	if fps := *f.Budgets[1].Value; fps < 30 || fps > 50 {
		t.Errorf("received fps after the warmup %v, want about 40", fps)
	}
}
