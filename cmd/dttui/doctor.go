package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dttui/dttui/budget"
	"github.com/dttui/dttui/doctor"
	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/textsafe"
)

// doctorArgs turns `dttui doctor FLAGS` into the flags of a headless run
// (the doctor prints lines, and needs no terminal); ok false when args
// are not the doctor's.
func doctorArgs(args []string) (flags []string, ok bool) {
	if len(args) == 0 || args[0] != "doctor" {
		return args, false
	}
	return append([]string{"--headless"}, args[1:]...), true
}

// doctorFlags are the flags `dttui doctor --help` lists: those the
// checks use (a server, where to log, the CI files), described as the
// main help describes them.
var doctorFlags = []string{"url", "api-key", "api-secret", "project", "room", "identity", "local", "local-port", "relay-only",
	"impair", "duration", "log-file", "verbose", "junit", "summary-md"}

// printDoctorHelp writes `dttui doctor --help`: what it checks, the flags
// it takes and its exit statuses.
func printDoctorHelp(w io.Writer) {
	var o options
	fs := newFlagSet(&o).set
	fmt.Fprint(w, `usage: dttui doctor [--url U --api-key K --api-secret S] [--junit F] [--summary-md F]

Checks a LiveKit deployment for data tracks before anything else, a line each with
✓ or ✗, what it measured and, when it failed, what to change: the join, data tracks
on, schema blobs stored, the frame round trip, the uplink rate carried without loss,
the largest frame that arrives whole, an E2EE round trip. Without --url (or
LIVEKIT_URL, or the LiveKit CLI's default project), the embedded SFU.

Flags:
`)
	for _, name := range doctorFlags {
		printFlag(w, fs.Lookup(name))
	}
	fmt.Fprint(w, `  -h, --help
        this help

Exit status:
  0  every check passed
  1  could not join (or --junit, --summary-md could not be written)
  2  the command line is wrong
  4  it joined, but a check failed (one stderr line; --junit has a failed case each)

More: docs/ci.md.
`)
}

// checkDoctor refuses what the doctor does not take.
func checkDoctor(o *options) error {
	switch {
	case len(o.Tracks) > 0 || o.Participants > 0 || o.SubscribeOnly:
		return usagef("dttui doctor publishes its own test tracks: leave out --track, --participants and --subscribe-only")
	case len(o.CI.Budgets) > 0 || o.CI.Warmup > 0:
		return usagef("dttui doctor has checks, not budgets: leave out --fail-if and --warmup")
	case o.APIKey == "" || o.APISecret == "":
		if o.URL != "" {
			return usagef("dttui doctor needs --api-key and --api-secret (or LIVEKIT_API_KEY and LIVEKIT_API_SECRET): its own subscriber mints a token")
		}
	}
	return nil
}

// runDoctor runs the checks and prints one line each: ✓ or ✗, what it
// measured and, when it failed, what to change. Exit status 0 when all
// pass, 1 when it could not join, 4 when another check failed.
func runDoctor(ctx context.Context, o options, cfg session.Config, std stdio, stderr io.Writer, out outputs) int {
	start := time.Now()
	checks := doctor.Run(ctx, cfg, doctor.Options{})
	elapsed := time.Since(start)
	w := textsafe.NewWriter(std.out)
	fmt.Fprintf(w, "dttui doctor: %s\n", redact.URL(cfg.URL))
	var cases []budget.Case
	for _, c := range checks {
		fmt.Fprintf(w, "%s %s: %s\n", mark(c, "✓", "✗", "-"), c.Name, textsafe.Line(c.Figure))
		if c.Remedy != "" {
			fmt.Fprintf(w, "    → %s\n", c.Remedy)
		}
		bc := budget.Case{Name: c.Name, Classname: "dttui.doctor", Output: c.Figure + "\n"}
		switch {
		case c.Skipped:
			// An earlier failure left nothing to check: not a pass.
			bc.Skipped = c.Figure
		case !c.OK:
			bc.Failure = c.Name + ": " + c.Figure
			if c.Remedy != "" {
				bc.Output += "remedy: " + c.Remedy + "\n"
			}
		}
		cases = append(cases, bc)
	}
	var errs []string
	if f := out.ci.junit; f != nil {
		if err := budget.WriteJUnitCases(f, "dttui doctor", start, elapsed, "check", cases); err != nil {
			errs = append(errs, fmt.Sprintf("--junit: %v", err))
		}
	}
	if f := out.ci.md; f != nil {
		if err := writeDoctorMarkdown(f, checks); err != nil {
			errs = append(errs, fmt.Sprintf("--summary-md: %v", err))
		}
	}
	for _, e := range errs {
		fmt.Fprintln(stderr, "dttui:", e)
	}
	switch {
	case len(errs) > 0:
		return exitFailure
	case len(checks) > 0 && !checks[0].OK:
		fmt.Fprintln(stderr, "dttui: doctor: could not join")
		return exitFailure
	case doctor.Failed(checks):
		n := 0
		for _, c := range checks {
			if !c.OK && !c.Skipped {
				n++
			}
		}
		fmt.Fprintf(stderr, "dttui: doctor: %d of %d checks failed (above)\n", n, len(checks))
		return exitBudget
	}
	return exitOK
}

func writeDoctorMarkdown(w io.Writer, checks []doctor.Check) error {
	var b strings.Builder
	b.WriteString("### dttui doctor\n\n| check | result | measured | to change |\n| --- | --- | --- | --- |\n")
	for _, c := range checks {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.Name, mark(c, "✅", "❌", "➖"), budget.MarkdownText(textsafe.Line(c.Figure)), budget.MarkdownText(c.Remedy))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mark is ok, failed or skipped, as c went.
func mark(c doctor.Check, ok, failed, skipped string) string {
	switch {
	case c.Skipped:
		return skipped
	case !c.OK:
		return failed
	}
	return ok
}
