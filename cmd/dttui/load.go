package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"

	"context"

	"github.com/dttui/dttui/budget"
	"github.com/dttui/dttui/load"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/textsafe"
)

// defaultLoadSubscribers: a load run measures delivery unless told not to.
const defaultLoadSubscribers = 1

// finishLoad parses the load-mode flags.
func (f *flagSet) finishLoad(o *options) error {
	o.Subscribers, o.Ramp = defaultLoadSubscribers, load.DefaultRamp
	if f.participants != "" {
		n, err := strconv.Atoi(f.participants)
		if err != nil || n < 1 || n > 10_000 {
			return usagef("--participants %q: want a number of publishing participants, 1–10000", f.participants)
		}
		o.Participants = n
	}
	if f.subscribers != "" {
		n, err := strconv.Atoi(f.subscribers)
		if err != nil || n < 0 || n > 1_000 {
			return usagef("--subscribers %q: want a number of subscribing participants, 0–1000", f.subscribers)
		}
		o.Subscribers = n
	}
	if f.ramp != "" {
		r, err := strconv.ParseFloat(f.ramp, 64)
		if err != nil || !(r > 0) || r > 1000 {
			return usagef("--ramp %q: want participants per second, above 0 and up to 1000", f.ramp)
		}
		o.Ramp = r
	}
	if o.Participants == 0 && (f.subscribers != "" || f.ramp != "") {
		return usagef("--subscribers and --ramp are for load mode: add --participants N")
	}
	return nil
}

// checkLoad refuses what load mode cannot do, once the server and its
// credentials are settled.
func checkLoad(o *options, given map[string]bool) error {
	switch {
	case o.URL != "" && (o.APIKey == "" || o.APISecret == ""):
		return usagef("load mode mints a token per participant: give --api-key and --api-secret (or LIVEKIT_API_KEY and LIVEKIT_API_SECRET), not --token")
	case len(o.Tracks) == 0:
		return usagef("load mode: give the tracks every participant publishes with --track NAME[:RATE[:SIZE]]")
	case o.SubscribeOnly:
		return usagef("--subscribe-only and --participants: load mode publishes; use --subscribers for receivers")
	case o.MetricsAddr != "":
		return usagef("--metrics-addr is not available in load mode: its JSON lines and summary carry every figure")
	case given["loopback"] || given["monitor"]:
		return usagef("--loopback and --monitor are per participant, not for load mode: its --subscribers measure delivery")
	}
	for _, t := range o.Tracks {
		if t.Source != nil || t.Type != (schema.Decl{}) {
			return usagef("--track %s: load mode sends probe frames only (no data sources, encodings or schemas)", t.Name)
		}
	}
	o.Headless = true
	return nil
}

// runLoad runs load mode: JSON lines on stdout, the summary table on
// stderr at the end.
func runLoad(ctx context.Context, o options, cfg session.Config, std stdio, stderr io.Writer, out outputs) int {
	lc := load.Config{Session: cfg, Participants: o.Participants, Subscribers: o.Subscribers, Ramp: o.Ramp,
		LossGrace: o.LossGrace, Logger: cfg.Logger, Budgets: o.CI.Budgets, Warmup: o.CI.Warmup}
	start := time.Now()
	for _, t := range o.Tracks {
		lc.Tracks = append(lc.Tracks, load.Track{Name: t.Name, Rate: t.Rate, Size: t.Size})
	}
	sum, err := load.Run(ctx, lc, std.out)
	if err != nil && !errors.Is(err, syscall.EPIPE) && len(sum.Participants) == 0 {
		fmt.Fprintln(stderr, "dttui:", err)
		return exitUsage
	}
	if werr := sum.WriteTable(stderr); werr != nil && err == nil {
		err = werr
	}
	code := loadExitStatus(sum, err, stderr)
	measured := time.Duration(sum.Elapsed * float64(time.Second))
	if o.CI.Warmup > 0 {
		measured = max(measured-o.CI.Warmup, 0)
	}
	return judge(budget.Run{Name: "dttui load", Started: start, Elapsed: measured, Warmup: o.CI.Warmup,
		Subjects: sum.Subjects, Verdicts: sum.Verdicts}, out.ci, code, stderr)
}

// loadExitStatus: 1 when nothing connected or the output failed, 3 when a
// participant or a track did not make it, else 0. Loss is a measurement,
// not a failure.
func loadExitStatus(sum load.Summary, err error, stderr io.Writer) int {
	if err != nil && !errors.Is(err, syscall.EPIPE) {
		fmt.Fprintln(stderr, "dttui: writing output:", err)
		return exitFailure
	}
	connected := 0
	for _, p := range sum.Participants {
		if p.Connected {
			connected++
		}
	}
	if connected == 0 {
		fmt.Fprintln(stderr, "dttui: no participant could connect")
		return exitFailure
	}
	if n := len(sum.Problems()); n > 0 {
		noun := "problems"
		if n == 1 {
			noun = "problem"
		}
		fmt.Fprintf(stderr, "dttui: %d %s (above)\n", n, noun)
		return exitTracks
	}
	return exitOK
}

// runSummary is `dttui summary [--fail-if B]... [--junit F] [--summary-md
// F] FILE...`: the summary table of one or more load runs' JSON lines
// ("-": stdin), merged into one, on stdout, judged by the budgets.
func runSummary(args []string, std stdio, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprintln(std.out, "usage: dttui summary [--fail-if BUDGET]... [--junit FILE] [--summary-md FILE] FILE... (\"-\" reads stdin)\n\nPrints the summary table of load runs (dttui --headless --participants N … > FILE),\nmerged into one: runs on several machines that loaded one room together.\n--fail-if, --junit and --summary-md judge the merged tracks as a load run's are judged\n(exit status 4 when a budget is broken).")
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	var f flagSet
	fs := flag.NewFlagSet("dttui summary", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.addCIFlags(fs)
	if err := checkFlagNames(fs, args); err != nil {
		fmt.Fprintf(stderr, "dttui summary: %v\n", err)
		return exitUsage
	}
	var o options
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "dttui summary: %v\n", textsafe.Line(err.Error()))
		return exitUsage
	}
	if err := f.finishCI(&o); err != nil {
		fmt.Fprintf(stderr, "dttui summary: %v\n", err)
		return exitUsage
	}
	if o.CI.Warmup > 0 {
		fmt.Fprintln(stderr, "dttui summary: --warmup is for a run; a summary holds only each run's end")
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "dttui summary: name the files of the runs (\"-\" reads stdin)")
		return exitUsage
	}
	files, err := openCIFiles(o.CI)
	if err != nil {
		fmt.Fprintln(stderr, "dttui summary:", err)
		return exitUsage
	}
	defer files.Close()
	args = fs.Args()
	var all load.Summary
	for _, path := range args {
		var r io.Reader = std.in
		if path != "-" {
			f, err := os.Open(path)
			if err != nil {
				fmt.Fprintln(stderr, "dttui summary:", err)
				return exitUsage
			}
			defer f.Close()
			r = f
		}
		s, err := load.ReadSummary(r)
		if err != nil {
			fmt.Fprintf(stderr, "dttui summary: %s: %v\n", path, err)
			return exitUsage
		}
		if err := all.Merge(&s); err != nil {
			fmt.Fprintf(stderr, "dttui summary: %s: %v\n", path, err)
			return exitUsage
		}
	}
	if err := all.WriteTable(std.out); err != nil {
		fmt.Fprintln(stderr, "dttui summary:", err)
		return exitFailure
	}
	subjects := all.BudgetSubjects()
	return judge(budget.Run{Name: "dttui summary", Elapsed: time.Duration(all.Elapsed * float64(time.Second)),
		Subjects: subjects, Verdicts: budget.Evaluate(o.CI.Budgets, subjects)}, files, exitOK, stderr)
}
