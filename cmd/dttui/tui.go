package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/localsfu"
	"github.com/dttui/dttui/tui"
	"github.com/dttui/dttui/tui/theme"
)

// runTUI starts the UI at once; the UI connects (showing "connecting")
// and closes the session when the user quits. Errors reach stderr after
// the terminal is restored.
func runTUI(ctx context.Context, o options, cfg session.Config, local *localsfu.Server, envFile string, logs *logSink, stderr io.Writer) int {
	var auto []tui.AutoTrack
	for _, t := range o.Tracks {
		auto = append(auto, tui.AutoTrack{Name: t.Name, Rate: t.Rate, Size: t.Size, E2EE: cfg.E2EEPassphrase != ""})
	}
	if local != nil && len(auto) == 0 {
		// No account and no tracks asked for: show something alive at once.
		auto = []tui.AutoTrack{{Name: "demo", Rate: 50, Size: 1024}}
	}
	var localSFU *tui.LocalSFU
	if local != nil {
		localSFU = &tui.LocalSFU{URL: local.URL, APIKey: local.APIKey, EnvFile: homeRelative(envFile)}
	}
	err := tui.Run(ctx, tui.Options{
		Theme:         theme.Terminal(),
		Logs:          logs.buf,
		Logger:        logs.Logger(),
		E2EEAvailable: cfg.E2EEPassphrase != "",
		Autostart:     auto,
		URL:           cfg.URL,
		LocalSFU:      localSFU,
		Connect: func(ctx context.Context) (tui.Backend, error) {
			s, err := session.Connect(ctx, cfg)
			if err != nil {
				return nil, err
			}
			return tui.SessionBackend(s), nil
		},
	})
	if err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return 1
	}
	return 0
}

// homeRelative writes a path under the home directory as ~/…: shorter on
// screen, and a shell still expands it.
func homeRelative(path string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" || path == "" {
		return path
	}
	if rel, err := filepath.Rel(home, path); err == nil && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel) {
		return "~/" + filepath.ToSlash(rel)
	}
	return path
}
