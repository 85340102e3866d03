package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		})
	}
}

// A load run judged on its tracks, then `dttui summary` judging the same
// run's JSON lines by other budgets.
func TestBudgetsLoadAndSummary(t *testing.T) {
	srv := sfu(t)
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", dir)
	var out bytes.Buffer
	var errOut lockedBuffer
	code := run(context.Background(), []string{"--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret,
		"--participants", "1", "--subscribers", "1", "--track", "t:20:256", "--duration", "5s", "--warmup", "2s",
		"--fail-if", "dropped>1000", "--fail-if", "max>1ns"}, env(nil), stdio{out: &out, err: &errOut})
	if code != exitBudget || !strings.Contains(errOut.String(), "dttui: budget max>1ns: FAIL: ") || strings.Contains(errOut.String(), "budget dropped") {
		t.Fatalf("load: exit %d, stderr %s", code, errOut.String())
	}
	f := lastLine(t, out.String())
	if len(f.Budgets) != 2 || f.Budgets[0].Verdict != "pass" || f.Budgets[1].Verdict != "fail" || !strings.HasSuffix(f.Budgets[0].Track, "-pub-0/t") {
		t.Fatalf("load budgets %+v", f.Budgets)
	}

	runFile, junit := filepath.Join(dir, "run.jsonl"), filepath.Join(dir, "summary.xml")
	if err := os.WriteFile(runFile, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var sout, serr bytes.Buffer
	code = run(context.Background(), []string{"summary", "--fail-if", "loss>50%", "--fail-if", "t:fps<5", "--junit", junit, runFile}, env(nil), stdio{out: &sout, err: &serr})
	if code != exitOK {
		t.Fatalf("summary: exit %d: %s", code, serr.String())
	}
	doc := readJUnit(t, junit)
	if doc.Tests != 2 || doc.Failures != 0 || doc.Suite.Name != "dttui summary" || !strings.HasPrefix(doc.Suite.Cases[0].Classname, "dttui.load.") {
		t.Fatalf("summary JUnit %+v", doc)
	}
	code = run(context.Background(), []string{"summary", "--fail-if", "t:fps<500", runFile}, env(nil), stdio{out: &sout, err: &serr})
	if code != exitBudget || !strings.Contains(serr.String(), "dttui: budget t:fps<500: FAIL: ") {
		t.Fatalf("summary with a broken budget: exit %d: %s", code, serr.String())
	}
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
