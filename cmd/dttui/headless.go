package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"time"

	"github.com/dttui/dttui/budget"
	"github.com/dttui/dttui/headless"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session"
)

// runHeadless connects, runs headless.Run and turns how it ended into an
// exit status with, when it is not 0, one line on stderr saying why.
func runHeadless(ctx context.Context, o options, cfg session.Config, std stdio, stderr io.Writer, out outputs) int {
	stdout := std.out
	start := time.Now()
	s, err := session.Connect(ctx, cfg)
	if err != nil {
		if dl, ok := ctx.Deadline(); ok && o.Duration > 0 && !time.Now().Before(dl) {
			err = fmt.Errorf("not connected within --duration %s: %w", o.Duration, err)
		}
		_ = headless.ConnectFailed(stdout, start, err)
		if interrupted(ctx) {
			// Ctrl+C (SIGTERM, SIGHUP) stops as asked, connecting or not,
			// as in the UI: the final line says the connect was cut.
			return exitOK
		}
		fmt.Fprintln(stderr, "dttui:", err)
		return exitFailure
	}
	log := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	out.rec.attach(s)
	if out.metrics != nil {
		if err := serveMetrics(ctx, o, out.metrics, func() *session.Session { return s }, log, stderr); err != nil {
			_ = s.Close()
			fmt.Fprintln(stderr, "dttui:", err)
			return exitFailure
		}
	}
	var tracks []headless.Track
	for _, t := range o.Tracks {
		tracks = append(tracks, headless.Track{Name: t.Name, Rate: t.Rate, Size: t.Size, E2EE: cfg.E2EEPassphrase != "",
			Type: t.Type, SchemaDef: t.SchemaDef, Source: t.Source, Stdin: std.in})
	}
	// Without --duration, piped data ends the run when it ends.
	res, err := headless.Run(ctx, s, tracks, stdout, headless.Options{Logger: log, EndWithSources: o.Duration == 0,
		Budgets: o.CI.Budgets, Warmup: o.CI.Warmup, SchemaCheck: o.SchemaCheck})
	log.Info("headless: session closed, room left") // Run closes the session
	code, why := exitStatus(res, err, len(tracks))
	if why != "" {
		fmt.Fprintln(stderr, "dttui:", why)
	}
	if err := out.rec.finish(stderr); err != nil {
		fmt.Fprintln(stderr, "dttui: --record:", err)
		code = max(code, exitFailure)
	}
	if out.report != nil {
		if err := writeReport(out.report, o, cfg, res, start, time.Now()); err != nil {
			fmt.Fprintln(stderr, "dttui:", err)
			return max(code, exitFailure)
		}
	}
	return judge(budget.Run{Name: "dttui headless", Started: start, Elapsed: res.Measured, Warmup: o.CI.Warmup,
		Subjects: res.Subjects, Verdicts: res.Verdicts}, out.ci, code, stderr)
}

// exitStatus is the exit-code policy of a headless run: the connection
// first, then the tracks. A closed stdout is the reader saying stop.
func exitStatus(res headless.Result, err error, requested int) (int, string) {
	if err != nil && !errors.Is(err, syscall.EPIPE) {
		return exitFailure, fmt.Sprintf("writing stdout: %v", err)
	}
	if res.Connection.State == report.Disconnected {
		why := "the session ended disconnected"
		if res.Connection.Err != nil {
			why += ": " + res.Connection.Err.Error()
		}
		return exitFailure, why
	}
	if n := len(res.Failed) + len(res.Unpublished); n > 0 {
		var parts []string
		for _, f := range res.Failed {
			parts = append(parts, fmt.Sprintf("%q failed: %s", f.Name, f.Error))
		}
		for _, u := range res.Unpublished {
			parts = append(parts, fmt.Sprintf("%q %s", u.Name, u.Error))
		}
		return exitTracks, fmt.Sprintf("%d of %d tracks did not stay published: %s", n, requested, strings.Join(parts, "; "))
	}
	// Data that could not all be sent (unreadable, a frame too large, not
	// JSON on a JSON track) fails the run as a track that failed does: a
	// pipeline must not pass on half its data.
	var stopped []string
	for _, s := range res.Sources {
		if s.Err != nil {
			stopped = append(stopped, fmt.Sprintf("%q after %d frames: %v", s.Track, s.Frames, s.Err))
		}
	}
	if len(stopped) > 0 {
		return exitTracks, "data not all sent: " + strings.Join(stopped, "; ")
	}
	return exitOK, ""
}

// interrupted says the run was stopped by a signal (Ctrl+C, SIGTERM,
// SIGHUP: the context main cancels), not by --duration running out.
func interrupted(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}
