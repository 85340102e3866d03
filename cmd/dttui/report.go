package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dttui/dttui/headless"
	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/report/htmlreport"
	"github.com/dttui/dttui/session"
)

// writeReport writes the HTML report of a headless run (--report): its
// settings, without secrets, and the final report with its history, to f
// (opened, and closed, by the caller).
func writeReport(f *os.File, o options, cfg session.Config, res headless.Result, started, ended time.Time) error {
	conn := res.Final.Connection
	server := redact.URL(cfg.URL)
	if o.URL == "" {
		server += " (embedded SFU)"
	}
	var tracks []string
	for _, t := range o.Tracks {
		if t.Source != nil {
			tracks = append(tracks, fmt.Sprintf("%s: data from %s", t.Name, t.Source.Path))
			continue
		}
		tracks = append(tracks, fmt.Sprintf("%s: %g frames/s × %d bytes", t.Name, t.Rate, t.Size))
	}
	duration := "until interrupted"
	if o.Duration > 0 {
		duration = o.Duration.String()
	}
	onOff := map[bool]string{true: "on", false: "off"}
	run := htmlreport.Run{
		Title: "dttui headless run", Started: started, Ended: ended, Final: res.Final,
		Settings: []htmlreport.Setting{
			{Name: "server", Value: server}, {Name: "room", Value: conn.Room}, {Name: "identity", Value: conn.Identity},
			{Name: "tracks", Value: strings.Join(tracks, "; ")}, {Name: "duration", Value: duration},
			{Name: "loopback subscriber", Value: onOff[cfg.Loopback]}, {Name: "E2EE", Value: onOff[cfg.E2EEPassphrase != ""]},
			{Name: "publish timeout", Value: o.PublishTimeout.String()},
		},
	}
	for _, f := range res.Failed {
		run.Failed = append(run.Failed, htmlreport.Failure{Name: f.Name, Reason: f.Error})
	}
	if err := htmlreport.Write(f, run); err != nil {
		return fmt.Errorf("--report %s: %w", o.Report, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("--report %s: %w", o.Report, err)
	}
	return nil
}
