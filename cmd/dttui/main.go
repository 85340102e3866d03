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
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dttui/dttui/impair"
	"github.com/dttui/dttui/logorigin"
	"github.com/dttui/dttui/metrics"
	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/localsfu"
	"github.com/dttui/dttui/textsafe"
)

// Exit statuses (printed by --help; the README lists them too).
const (
	exitOK      = 0
	exitFailure = 1 // could not start or connect; the session ended disconnected; the UI quit before closing
	exitUsage   = 2 // a bad command line, or no terminal for the UI
	exitTracks  = 3 // headless: a requested track failed or was unpublished by the SFU
	exitBudget  = 4 // headless and load mode: a --fail-if budget was broken (the run itself went well)
)

func main() {
	// A closed stdout (dttui --headless | head -2) must be a write error
	// that the run stops on cleanly, not death by SIGPIPE with the tracks
	// still published.
	signal.Ignore(syscall.SIGPIPE)
	// SIGHUP too: a closed terminal or tmux window asks for the same clean
	// stop (tracks unpublished, room left, the embedded SFU's credentials
	// file removed), not death with all of it left behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	// The first signal asks for a clean stop; from then on the default
	// action is back, so a second one ends the process at once.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Getenv, stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}

// stdio is where a run reads keys and writes output.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// subcommands are the words dttui takes before (or instead of) flags.
var subcommands = []string{"summary", "doctor", "record", "replay", "mcap-info", "version", "help"}

func run(ctx context.Context, args []string, getenv func(string) string, std stdio) int {
	// Everything dttui writes to stderr may quote a server or a library:
	// made safe here, once.
	stderr := textsafe.NewWriter(std.err)
	if code, ok := runMCAPCommand(ctx, args, getenv, std, stderr); ok {
		return code // record, replay, mcap-info
	}
	if len(args) > 0 {
		switch args[0] {
		case "summary":
			return runSummary(args[1:], std, stderr)
		case "version":
			printVersion(std.out)
			return exitOK
		case "help":
			printHelp(std.out)
			return exitOK
		}
	}
	args, isDoctor := doctorArgs(args)
	o, err := parseFlags(args, getenv)
	if err == nil && isDoctor {
		err = checkDoctor(&o)
	}
	switch {
	case errors.Is(err, flag.ErrHelp) && isDoctor:
		printDoctorHelp(std.out)
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		printHelp(std.out)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "dttui: %v; see dttui --help\n", err)
		return exitUsage
	case o.Version:
		printVersion(std.out)
		return exitOK
	}
	if !o.Headless {
		// Said at once: without a terminal the UI could only fail later.
		if err := checkTerminal(std.in, std.out); err != nil {
			fmt.Fprintf(stderr, "dttui: %v; use --headless for JSON lines on stdout\n", err)
			return exitUsage
		}
	}
	if o.Duration > 0 {
		// The whole run, connect included.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}

	logs, err := newLogSink(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return exitUsage
	}
	defer logs.Close()
	// The report is written at the end and the metrics served once
	// connected, but both are opened now: a path that cannot be written or
	// an address that cannot be bound fails before the run, not during or
	// after it.
	var out outputs
	if o.Report != "" {
		if out.report, err = os.Create(o.Report); err != nil {
			fmt.Fprintln(stderr, "dttui: --report:", err)
			return exitUsage
		}
		defer out.report.Close()
	}
	if out.ci, err = openCIFiles(o.CI); err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return exitUsage
	}
	defer out.ci.Close()
	if o.MetricsAddr != "" {
		if out.metrics, err = net.Listen("tcp", o.MetricsAddr); err != nil {
			fmt.Fprintf(stderr, "dttui: --metrics-addr %s: %v\n", o.MetricsAddr, err)
			return exitUsage
		}
		defer out.metrics.Close()
	}
	if o.URL == "" && (o.APIKey == "" || o.APISecret == "") {
		// The embedded SFU's keys are made here, not by it, so the secret
		// is known to the redacting logger before the server can log it.
		key, secret := localsfu.GenerateKeys()
		o.APIKey, o.APISecret = cmp.Or(o.APIKey, key), cmp.Or(o.APISecret, secret)
	}
	log := redact.Logger(logs.Logger(), o.APISecret, o.Token, o.E2EEPassphrase)
	// Before anything from LiveKit or pion can log: nothing may reach the
	// terminal. slog.SetDefault also captures the log package's default
	// logger, which some of the embedded server's dependencies use: their
	// lines are tagged as the SFU's.
	session.RouteLibraryLogs(log)
	slog.SetDefault(log.With(logorigin.Key, logorigin.SFU))
	for _, n := range o.Notices {
		say(o, log, stderr, n)
	}

	cfg := session.Config{
		URL: o.URL, Token: o.Token, APIKey: o.APIKey, APISecret: o.APISecret,
		Room: o.Room, Identity: o.Identity, E2EEPassphrase: o.E2EEPassphrase, Credentials: o.Credentials,
		Loopback: o.Loopback && !o.SubscribeOnly, Monitor: o.Monitor || o.SubscribeOnly, Logger: log,
		PublishTimeout: o.PublishTimeout, MaxQueuedBytes: o.MaxQueuedBytes, MaxFrameAge: o.MaxFrameAge, LossGrace: o.LossGrace,
		MaxHeldBytes: o.MaxHeldBytes, MaxRemoteTracks: o.MaxRemoteTracks, RelayOnly: o.RelayOnly,
		ReconnectTimeout: o.ReconnectTimeout,
	}
	if o.ImpairSet || (!o.Headless && o.Participants == 0) {
		// The UI can impair the path at any time (its `i`): the shaper is
		// in place from the start, passing everything while off.
		cfg.Impair = impair.NewShaper(rand.Uint64())
		cfg.Impair.Set(time.Now(), o.Impair)
	}
	var local *localsfu.Server
	var env *envFile
	if o.URL == "" {
		local, env, err = startLocalSFU(ctx, o, log, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "dttui:", err)
			return exitFailure
		}
		defer func() {
			// Let the SFU see our leave (and the loopback's) before it
			// stops, so the room is left, not dropped.
			dctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := local.Drain(dctx); err != nil {
				log.Info("the embedded SFU still had participants when it stopped", "err", err)
			}
			_ = local.Close()
		}()
		if env != nil {
			defer func() {
				if err := env.Remove(); err != nil {
					log.Warn("could not remove the credentials file", "path", env.Path, "err", err)
				}
			}()
		}
		cfg.URL, cfg.APIKey, cfg.APISecret, cfg.Token = local.URL, local.APIKey, local.APISecret, ""
	}
	if cfg.Loopback && (cfg.APIKey == "" || cfg.APISecret == "") {
		say(o, log, stderr, "loopback subscriber off: it needs --api-key and --api-secret to mint its own token")
		cfg.Loopback = false
	}

	if out.rec, err = startRecording(ctx, o.Record, &cfg, log); err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return exitUsage
	}
	defer out.rec.close()

	if isDoctor {
		return runDoctor(ctx, o, cfg, std, stderr, out)
	}
	if o.Participants > 0 {
		return runLoad(ctx, o, cfg, std, stderr, out)
	}
	if o.Headless {
		return runHeadless(ctx, o, cfg, std, stderr, out)
	}
	envPath := ""
	if env != nil {
		envPath = env.Path
	}
	return runTUI(ctx, o, cfg, local, envPath, logs, stderr, out, nil)
}

// outputs are what a run writes to besides stdout and stderr, opened
// before it starts.
type outputs struct {
	report  *os.File     // --report
	metrics net.Listener // --metrics-addr
	ci      ciFiles      // --junit, --summary-md
	rec     *recording   // --record
}

// serveMetrics serves, on ln until ctx ends, the report of the session
// current returns (before there is one, an empty report).
func serveMetrics(ctx context.Context, o options, ln net.Listener, current func() *session.Session, log *slog.Logger, stderr io.Writer) error {
	src := func() report.Snapshot {
		if s := current(); s != nil {
			return s.Report(nil)
		}
		return report.Snapshot{}
	}
	queued := func() int64 {
		if s := current(); s != nil {
			return s.Manager().QueuedBytes()
		}
		return 0
	}
	if _, err := metrics.Serve(ctx, ln, metrics.NewCollector(src, queued)); err != nil {
		return fmt.Errorf("--metrics-addr %s: %w", o.MetricsAddr, err)
	}
	say(o, log, stderr, "Prometheus metrics at http://"+ln.Addr().String()+"/metrics")
	if !loopback(ln.Addr()) {
		msg := "warning: --metrics-addr " + o.MetricsAddr + " listens beyond this machine: anyone who reaches it reads the room's track names and identities; bind 127.0.0.1 unless that is meant"
		if o.Headless {
			fmt.Fprintln(stderr, "dttui:", msg)
		} else {
			log.Warn(msg)
		}
	}
	return nil
}

// loopback says whether a listener's address is reachable from this
// machine only (not 0.0.0.0, [::] or an interface's address).
func loopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// say tells the user something about how dttui runs: on stderr in
// headless runs (stdout is JSON), in the log pane otherwise (stderr is
// under the UI).
func say(o options, log *slog.Logger, stderr io.Writer, msg string) {
	if o.Headless {
		fmt.Fprintln(stderr, "dttui:", msg)
		return
	}
	log.Info(msg)
}

// startLocalSFU runs livekit-server in-process and writes its credentials
// file. The default port falls back to a free one when busy, and says so;
// a port given with --local-port is an error when busy.
func startLocalSFU(ctx context.Context, o options, log *slog.Logger, stderr io.Writer) (*localsfu.Server, *envFile, error) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	opts := localsfu.Options{Port: o.LocalPort, APIKey: o.APIKey, APISecret: o.APISecret}
	srv, err := localsfu.Start(sctx, opts)
	if errors.Is(err, localsfu.ErrPortInUse) {
		if o.LocalPortSet {
			return nil, nil, fmt.Errorf("--local-port %d is in use (another dttui or LiveKit server?); pick another, or 0 for any free port", o.LocalPort)
		}
		opts.Port = 0
		if srv, err = localsfu.Start(sctx, opts); err == nil {
			say(o, log, stderr, fmt.Sprintf("port %d is in use; the embedded SFU listens on %d instead", o.LocalPort, srv.Port))
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("start the embedded SFU: %w", err)
	}
	env, werr := writeLocalEnv(srv)
	if werr != nil {
		say(o, log, stderr, fmt.Sprintf("embedded SFU at %s (API key %s); its credentials were not written: %v", srv.URL, srv.APIKey, werr))
		return srv, nil, nil
	}
	how := "set -a; . " + shellQuote(env.Path) + "; set +a; then e.g. lk room join --identity viewer <room>"
	say(o, log, stderr, fmt.Sprintf("embedded SFU at %s (API key %s); another client: %s", srv.URL, srv.APIKey, how))
	return srv, env, nil
}
