package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/localsfu"
	"github.com/dttui/dttui/tui"
	"github.com/dttui/dttui/tui/theme"
)

func runTUI(ctx context.Context, o options, cfg session.Config, local *localsfu.Server, logs *logSink, stderr io.Writer) int {
	s, err := session.Connect(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return 1
	}
	var auto []tui.AutoTrack
	for _, t := range o.Tracks {
		auto = append(auto, tui.AutoTrack{Name: t.Name, Rate: t.Rate, Size: t.Size, E2EE: cfg.E2EEPassphrase != ""})
	}
	if local != nil && len(auto) == 0 {
		// No account and no tracks asked for: show something alive at once.
		auto = []tui.AutoTrack{{Name: "demo", Rate: 50, Size: 1024}}
	}
	err = tui.Run(ctx, tui.SessionBackend(s), tui.Options{
		Theme:         theme.Terminal(),
		Logs:          logs.buf,
		E2EEAvailable: cfg.E2EEPassphrase != "",
		Autostart:     auto,
	})
	_ = s.Close()
	if err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return 1
	}
	return 0
}
