package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/dttui/dttui/record"
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
func runTUI(ctx context.Context, o options, cfg session.Config, local *localsfu.Server, envFile string, logs *logSink, stderr io.Writer, out outputs, replay *uiReplay) int {
	metricsLn := out.metrics
	// R records the room: into --record's file, recording from the start,
	// or into one it names.
	rec := out.rec
	if rec == nil {
		rec = newRecording(ctx, o.Record, &cfg, logs.Logger())
	}
	defer func() {
		if err := rec.finish(stderr); err != nil {
			fmt.Fprintln(stderr, "dttui: --record:", err)
		}
	}()
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
		Recorder:      uiRecorder{rec},
		Recording:     rec.file(),
		Player:        replay.player(),
		Rooms:         roomLister(o, cfg),
		Mouse:         o.Mouse,
		Connect: func(ctx context.Context, room string) (tui.Backend, error) {
			cfg := cfg
			if room != "" {
				cfg.Room = room // picked in the room picker
			}
			s, err := session.Connect(ctx, cfg)
			if err != nil {
				return nil, err
			}
			rec.attach(s)
			current.Store(s)
			if replay != nil {
				replay.start(s)
				return replayBackend{tui.SessionBackend(s), replay}, nil
			}
			return tui.SessionBackend(s), nil
		},
	})
	if err != nil {
		fmt.Fprintln(stderr, "dttui:", err)
		return exitFailure
	}
	return exitOK
}

// roomLister lists the server's rooms for the UI's room picker when no
// room was given and the credentials can list them (a key and secret; a
// token cannot); nil otherwise.
func roomLister(o options, cfg session.Config) func(context.Context) ([]session.RoomListing, error) {
	if o.Room != "" || cfg.APIKey == "" || cfg.APISecret == "" || cfg.Token != "" {
		return nil
	}
	return func(ctx context.Context) ([]session.RoomListing, error) {
		ctx, cancel := context.WithTimeout(ctx, roomListTimeout)
		defer cancel()
		return session.ListRooms(ctx, cfg.URL, cfg.APIKey, cfg.APISecret)
	}
}

// roomListTimeout bounds the room picker's listing: past it, the UI
// joins a new room as if there were none.
const roomListTimeout = 10 * time.Second

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

// uiReplay is `dttui replay --ui`: the replay starts once the UI's
// session is connected, on a goroutine it owns until wait.
type uiReplay struct {
	ctl     *record.Control
	run     func(ctx context.Context, s *session.Session) // the replay, until ctx ends or the file does
	ctx     context.Context
	cancel  context.CancelFunc
	started atomic.Bool
	done    chan struct{}
}

func (r *uiReplay) player() tui.Player {
	if r == nil {
		return nil
	}
	return r.ctl
}

// start plays into the first session the UI connects.
func (r *uiReplay) start(s *session.Session) {
	if r == nil || !r.started.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer close(r.done)
		r.run(r.ctx, s)
	}()
}

// stop ends the replay and waits for it; it may be called again.
func (r *uiReplay) stop() {
	r.cancel()
	// Marked started if it was not, so a connect that ends now starts
	// nothing (and done is closed here); otherwise wait for it.
	if r.started.CompareAndSwap(false, true) {
		close(r.done)
	}
	<-r.done
}

// replayBackend stops the replay before the UI closes the session on
// quit, so its last push is not refused by a track already unpublished.
type replayBackend struct {
	tui.Backend
	r *uiReplay
}

func (b replayBackend) Close() error {
	b.r.stop()
	return b.Backend.Close()
}
