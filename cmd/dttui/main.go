// Command dttui publishes LiveKit data tracks and shows, live, what happens
// to every track. This package holds flags and wiring only.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dttui/dttui/headless"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/localsfu"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logs, err := newLogSink(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return 1
	}
	defer logs.Close()
	if o.URL == "" && (o.APIKey == "" || o.APISecret == "") {
		// The embedded SFU's keys are made here, not by it, so the secret
		// is known to the redacting logger before the server can log it.
		key, secret := localsfu.GenerateKeys()
		o.APIKey, o.APISecret = cmp.Or(o.APIKey, key), cmp.Or(o.APISecret, secret)
	}
	log := session.Redacting(logs.Logger(), o.APISecret, o.Token, o.E2EEPassphrase)
	// Before anything from LiveKit or pion can log: nothing may reach the
	// terminal. slog.SetDefault also captures the log package's default
	// logger, for libraries that use either.
	session.RouteLibraryLogs(log)
	slog.SetDefault(log)

	cfg := session.Config{
		URL: o.URL, Token: o.Token, APIKey: o.APIKey, APISecret: o.APISecret,
		Room: o.Room, Identity: o.Identity, E2EEPassphrase: o.E2EEPassphrase,
		Loopback: o.Loopback, Logger: log, PublishTimeout: o.PublishTimeout,
	}
	var local *localsfu.Server
	var envFile string
	if o.URL == "" {
		// Headless output has no log pane: say it on stderr (stdout is JSON).
		var notice io.Writer
		if o.Headless {
			notice = stderr
		}
		local, envFile, err = startLocalSFU(ctx, o, log, notice)
		if err != nil {
			fmt.Fprintln(stderr, "dttui:", err)
			return 1
		}
		defer local.Close()
		cfg.URL, cfg.APIKey, cfg.APISecret, cfg.Token = local.URL, local.APIKey, local.APISecret, ""
	}
	if cfg.Loopback && cfg.APISecret == "" {
		log.Warn("loopback subscriber off: it needs --api-key and --api-secret to mint its own token")
		cfg.Loopback = false
	}

	if o.Headless {
		return runHeadless(ctx, o, cfg, stdout, stderr)
	}
	return runTUI(ctx, o, cfg, local, envFile, logs, stderr)
}

func runHeadless(ctx context.Context, o options, cfg session.Config, stdout, stderr io.Writer) int {
	s, err := session.Connect(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return 1
	}
	defer s.Close()
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	var tracks []headless.Track
	for _, t := range o.Tracks {
		tracks = append(tracks, headless.Track{Name: t.Name, Rate: t.Rate, Size: t.Size, E2EE: cfg.E2EEPassphrase != ""})
	}
	if _, err := headless.Run(ctx, s, tracks, stdout, headless.Options{Logger: cfg.Logger}); err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return 1
	}
	return 0
}

// startLocalSFU runs livekit-server in-process. Its credentials go to a
// 0600 file rather than the screen, so another client can join without
// the secret ever being displayed; the file's path is returned ("" if it
// could not be written).
func startLocalSFU(ctx context.Context, o options, log *slog.Logger, notice io.Writer) (*localsfu.Server, string, error) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	port := o.LocalPort
	srv, err := localsfu.Start(sctx, localsfu.Options{Port: port, APIKey: o.APIKey, APISecret: o.APISecret})
	if err != nil && port != 0 {
		log.Info("local SFU port busy; using a free one", "port", port, "err", err)
		srv, err = localsfu.Start(sctx, localsfu.Options{APIKey: o.APIKey, APISecret: o.APISecret})
	}
	if err != nil {
		return nil, "", fmt.Errorf("start the embedded SFU: %w", err)
	}
	path, werr := writeLocalEnv(srv)
	if werr == nil {
		how := "set -a; . " + path + "; set +a; then e.g. lk room join --identity viewer <room>"
		log.Info("embedded SFU running; to connect another client: "+how, "url", srv.URL, "api_key", srv.APIKey)
		if notice != nil {
			fmt.Fprintf(notice, "dttui: embedded SFU at %s (API key %s); another client: %s\n", srv.URL, srv.APIKey, how)
		}
	} else {
		log.Warn("embedded SFU running; could not write its credentials file", "url", srv.URL, "err", werr)
		path = ""
	}
	return srv, path, nil
}
