package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/charmbracelet/x/term"

	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/localsfu"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/tui"
	"github.com/dttui/dttui/tui/theme"
)

// runTUI starts the UI at once; the UI connects (showing "connecting")
// and closes the session when the user quits. Errors reach stderr after
// the terminal is restored.
// metricsLn, if not nil, serves the metrics of the session connected last.
func runTUI(ctx context.Context, o options, cfg session.Config, local *localsfu.Server, envFile string, logs *logSink, stderr io.Writer, metricsLn net.Listener) int {
	var auto []tui.AutoTrack
	for _, t := range o.Tracks {
		if t.Source != nil && t.Source.Path == "-" {
			fmt.Fprintf(stderr, "dttui: --track %s:stdin: the UI reads its keys there; use --headless, or NAME:file=PATH (or o in the UI)\n", t.Name)
			return exitUsage
		}
		auto = append(auto, tui.AutoTrack{Name: t.Name, Rate: t.Rate, Size: t.Size, E2EE: cfg.E2EEPassphrase != "",
			Type: t.Type, SchemaDef: t.SchemaDef, SchemaCheck: o.SchemaCheck, Source: t.Source})
	}
	if local != nil && len(auto) == 0 && !o.SubscribeOnly {
		// No account and no tracks asked for: show something alive at once.
		auto = []tui.AutoTrack{{Name: "demo", Rate: probe.DefaultRate, Size: probe.DefaultSize}}
	}
	var localSFU *tui.LocalSFU
	if local != nil {
		localSFU = localSFUInfo(local, envFile)
	}
	var current atomic.Pointer[session.Session]
	if metricsLn != nil {
		if err := serveMetrics(ctx, o, metricsLn, current.Load, logs.Logger(), io.Discard); err != nil {
			fmt.Fprintln(stderr, "dttui:", err)
			return exitFailure
		}
	}
	err := tui.Run(ctx, tui.Options{
		Theme:         theme.Terminal(),
		Logs:          logs.buf,
		Logger:        logs.Logger(),
		E2EEAvailable: cfg.E2EEPassphrase != "",
		Autostart:     auto,
		URL:           cfg.URL,
		Impair:        cfg.Impair,
		LocalSFU:      localSFU,
		SubscribeOnly: o.SubscribeOnly,
		Connect: func(ctx context.Context) (tui.Backend, error) {
			s, err := session.Connect(ctx, cfg)
			if err != nil {
				return nil, err
			}
			current.Store(s)
			return tui.SessionBackend(s), nil
		},
	})
	if err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return exitFailure
	}
	return exitOK
}

// errNoTerminal is the UI started where it cannot draw or read keys.
var errNoTerminal = errors.New("the UI needs a terminal")

// checkTerminal says whether the UI can run: it draws on stdout and reads
// keys from stdin or, when stdin is redirected, from /dev/tty.
func checkTerminal(in io.Reader, out io.Writer) error {
	if f, ok := out.(*os.File); !ok || !term.IsTerminal(f.Fd()) {
		return fmt.Errorf("%w: stdout is not one", errNoTerminal)
	}
	if f, ok := in.(*os.File); ok && term.IsTerminal(f.Fd()) {
		return nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%w to read keys from: stdin is not one and /dev/tty cannot be opened", errNoTerminal)
	}
	return tty.Close()
}

// localSFUInfo is what the UI pins about the embedded SFU. The
// credentials file is named by its absolute path: "~/" would be the home
// of whoever reads it, not that of this process (a private HOME, sudo, a
// shell in another account).
func localSFUInfo(local *localsfu.Server, envFile string) *tui.LocalSFU {
	if envFile != "" {
		if abs, err := filepath.Abs(envFile); err == nil {
			envFile = abs
		}
	}
	return &tui.LocalSFU{URL: local.URL, APIKey: local.APIKey, EnvFile: envFile}
}
