package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dttui/dttui/budget"
)

// ciFlags are the raw --fail-if, --warmup, --junit and --summary-md.
type ciFlags struct {
	failIf           []string
	warmup           string
	junit, summaryMD string
}

// ciOptions are what a run is judged by and where the verdicts go.
type ciOptions struct {
	Budgets []budget.Expr
	Warmup  time.Duration
	// JUnit and SummaryMD are files written at the end (opened first).
	JUnit, SummaryMD string
}

func (f *flagSet) addCIFlags(fs *flag.FlagSet) {
	fs.Func("fail-if", "with --headless or load mode, fail the run (exit status 4) when this `budget` is broken: [TRACK:]METRIC OP VALUE, e.g. loss>0.5%, telemetry:p99>40ms, fps<45, dropped[queue full]>0, reconnects>0; metrics loss, fps, p50, p95, p99, max, dropped, dropped[REASON], reconnects, stalls; repeatable", func(s string) error {
		f.ci.failIf = append(f.ci.failIf, s)
		return nil
	})
	fs.Func("warmup", "with --headless or load mode, leave this `duration` out of the figures budgets, --junit and --summary-md judge: counted from the join (load mode: from the start, the ramp included)", func(s string) error {
		f.ci.warmup = s
		return nil
	})
	fs.Func("junit", "with --headless or load mode, write a JUnit XML `file` at the end: one test case per track and budget, the figures in its output", func(s string) error {
		f.ci.junit = s
		return nil
	})
	fs.Func("summary-md", "with --headless or load mode, write a Markdown `file` at the end (verdicts and every track's figures) for a CI job summary, e.g. $GITHUB_STEP_SUMMARY", func(s string) error {
		f.ci.summaryMD = s
		return nil
	})
}

// finishCI parses the CI flags' values.
func (f *flagSet) finishCI(o *options) error {
	for _, s := range f.ci.failIf {
		e, err := budget.Parse(s)
		if err != nil {
			return usagef("--fail-if %v", err)
		}
		o.CI.Budgets = append(o.CI.Budgets, e)
	}
	if f.ci.warmup != "" {
		d, err := time.ParseDuration(f.ci.warmup)
		if err != nil || d <= 0 {
			return usagef("--warmup %q: not a positive duration (e.g. 5s)", f.ci.warmup)
		}
		o.CI.Warmup = d
	}
	o.CI.JUnit, o.CI.SummaryMD = f.ci.junit, f.ci.summaryMD
	return nil
}

// checkCI refuses CI flags where they cannot apply, once the mode is
// known.
func checkCI(o *options) error {
	c := o.CI
	if !o.Headless && (len(c.Budgets) > 0 || c.Warmup > 0 || c.JUnit != "" || c.SummaryMD != "") {
		return usagef("--fail-if, --warmup, --junit and --summary-md are for --headless runs and load mode")
	}
	if c.Warmup > 0 && o.Duration > 0 && c.Warmup >= o.Duration {
		return usagef("--warmup %s is not shorter than --duration %s: nothing would be measured", c.Warmup, o.Duration)
	}
	if c.JUnit != "" && c.JUnit == c.SummaryMD {
		return usagef("--junit and --summary-md name the same file")
	}
	return nil
}

// ciFiles are the report files of a run, created before it starts so a
// path that cannot be written fails first (exit status 2).
type ciFiles struct {
	junit, md *os.File
}

func openCIFiles(c ciOptions) (ciFiles, error) {
	var f ciFiles
	var err error
	if c.JUnit != "" {
		if f.junit, err = os.Create(c.JUnit); err != nil {
			return f, fmt.Errorf("--junit: %w", err)
		}
	}
	if c.SummaryMD != "" {
		if f.md, err = os.Create(c.SummaryMD); err != nil {
			f.Close()
			return ciFiles{}, fmt.Errorf("--summary-md: %w", err)
		}
	}
	return f, nil
}

// Close closes what is open.
func (f ciFiles) Close() {
	for _, x := range []*os.File{f.junit, f.md} {
		if x != nil {
			x.Close()
		}
	}
}

// write writes the run's JUnit and Markdown files, if asked for.
func (f ciFiles) write(run budget.Run) error {
	var errs []error
	for _, out := range []struct {
		file  *os.File
		flag  string
		write func(io.Writer, budget.Run) error
	}{{f.junit, "--junit", budget.WriteJUnit}, {f.md, "--summary-md", budget.WriteMarkdown}} {
		if out.file == nil {
			continue
		}
		err := out.write(out.file, run)
		if err == nil {
			err = out.file.Sync()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", out.flag, out.file.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// judge writes the reports and one stderr line per broken budget, and
// turns the verdicts into the exit status: code when the run failed
// otherwise (that failure says more), else exitBudget when a budget is
// broken, else exitOK.
func judge(run budget.Run, files ciFiles, code int, stderr io.Writer) int {
	for _, v := range budget.Broken(run.Verdicts) {
		fmt.Fprintln(stderr, "dttui:", v.String())
	}
	if err := files.write(run); err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return max(code, exitFailure)
	}
	if code == exitOK && len(budget.Broken(run.Verdicts)) > 0 {
		return exitBudget
	}
	return code
}
