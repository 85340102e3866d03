package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dttui/dttui/session/probe"
)

// trackSpec is one --track flag: a track to publish at start, and the
// steady generator to run on it (rate 0 means publish only).
type trackSpec struct {
	Name string
	Rate float64 // frames per second
	Size int     // bytes per frame
}

// Defaults for a --track without rate or size: a light, visible stream.
const (
	defaultTrackRate = 30
	defaultTrackSize = 1024
)

func parseTrackSpec(s string) (trackSpec, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 || parts[0] == "" {
		return trackSpec{}, fmt.Errorf("--track %q: want name[:rate[:size]], e.g. sensors:50:1024", s)
	}
	ts := trackSpec{Name: parts[0], Rate: defaultTrackRate, Size: defaultTrackSize}
	if len(parts) > 1 && parts[1] != "" {
		r, err := strconv.ParseFloat(parts[1], 64)
		if err != nil || r < 0 || math.IsInf(r, 0) {
			return trackSpec{}, fmt.Errorf("--track %q: rate %q is not a number of frames per second ≥ 0", s, parts[1])
		}
		if r > probe.MaxRate {
			return trackSpec{}, fmt.Errorf("--track %q: rate %s frames/s is above the generator's maximum of %d frames/s", s, parts[1], probe.MaxRate)
		}
		ts.Rate = r
	}
	if len(parts) > 2 && parts[2] != "" {
		n, err := parseSize(parts[2])
		if err != nil {
			return trackSpec{}, fmt.Errorf("--track %q: %v", s, err)
		}
		switch {
		case n > probe.MaxSize:
			return trackSpec{}, fmt.Errorf("--track %q: size %s (%d bytes) is above the largest probe frame, %d bytes (4m)", s, parts[2], n, probe.MaxSize)
		case n < probe.MinSize:
			return trackSpec{}, fmt.Errorf("--track %q: size %s is below the smallest probe frame, %d bytes (its sequence number and send time)", s, parts[2], probe.MinSize)
		}
		ts.Size = n
	}
	return ts, nil
}

// parseSize accepts plain bytes or a k/m (KiB/MiB) suffix.
func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(strings.ToLower(s), "k"):
		mult, s = 1024, s[:len(s)-1]
	case strings.HasSuffix(strings.ToLower(s), "m"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > math.MaxInt32/mult {
		return 0, fmt.Errorf("size %q is not a positive number of bytes (suffix k or m allowed)", s)
	}
	return n * mult, nil
}

type trackList []trackSpec

func (l *trackList) String() string {
	var names []string
	for _, t := range *l {
		names = append(names, t.Name)
	}
	return strings.Join(names, ",")
}

func (l *trackList) Set(s string) error {
	t, err := parseTrackSpec(s)
	if err != nil {
		return err
	}
	*l = append(*l, t)
	return nil
}

// options is everything the command line says. Secrets stay in here and
// in session.Config only; they are never printed.
type options struct {
	URL, APIKey, APISecret, Token string
	Room, Identity                string
	E2EEPassphrase                string
	Tracks                        trackList
	Headless                      bool
	Duration                      time.Duration
	Report                        string
	Loopback                      bool
	LogFile                       string
	PublishTimeout                time.Duration
	LocalPort                     int
}

// parseFlags reads args and, like the LiveKit CLI, LIVEKIT_URL,
// LIVEKIT_API_KEY and LIVEKIT_API_SECRET (and LIVEKIT_TOKEN) from the
// environment when the flag is not given.
func parseFlags(args []string, getenv func(string) string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("dttui", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.URL, "url", getenv("LIVEKIT_URL"), "LiveKit server `URL` (ws:// or wss://); empty starts an embedded local SFU [$LIVEKIT_URL]")
	fs.StringVar(&o.APIKey, "api-key", getenv("LIVEKIT_API_KEY"), "API `key` to mint a token [$LIVEKIT_API_KEY]")
	fs.StringVar(&o.APISecret, "api-secret", getenv("LIVEKIT_API_SECRET"), "API `secret` to mint a token [$LIVEKIT_API_SECRET]")
	fs.StringVar(&o.Token, "token", getenv("LIVEKIT_TOKEN"), "access `token` (instead of key and secret) [$LIVEKIT_TOKEN]")
	fs.StringVar(&o.Room, "room", "", "`room` to join (default: generated)")
	fs.StringVar(&o.Identity, "identity", "", "participant `identity` (default: generated)")
	fs.StringVar(&o.E2EEPassphrase, "e2ee-passphrase", "", "shared `passphrase` for end-to-end encrypted tracks")
	fs.Var(&o.Tracks, "track", "track to publish at start, `name[:rate[:size]]` (rate in frames/s, size in bytes, k/m suffix); repeatable")
	fs.BoolVar(&o.Headless, "headless", false, "no UI: print per-track stats as JSON lines every second")
	fs.DurationVar(&o.Duration, "duration", 0, "with --headless, stop after this long (0: until interrupted)")
	fs.StringVar(&o.Report, "report", "", "with --headless, write an HTML report with charts to this `file` at the end")
	fs.BoolVar(&o.Loopback, "loopback", true, "subscribe to our own tracks from a second participant to measure delivery, loss and latency")
	fs.StringVar(&o.LogFile, "log-file", "", "also write logs to this `file` (they are always in the log pane)")
	fs.DurationVar(&o.PublishTimeout, "publish-timeout", 10*time.Second, "how long to wait for the SFU to answer a publish")
	local := fs.Bool("local", false, "use the embedded local SFU even if LIVEKIT_URL is set")
	fs.IntVar(&o.LocalPort, "local-port", 7880, "signal `port` of the embedded SFU (0: any free port; a busy port falls back to a free one)")
	fs.Usage = func() {
		fmt.Fprintf(out, "dttui publishes LiveKit data tracks and shows live per-track stats.\n\n")
		fmt.Fprintf(out, "Usage: dttui [flags]\n\nWith no --url, dttui starts LiveKit's SFU in-process on 127.0.0.1.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *local {
		o.URL, o.Token = "", ""
	}
	if o.URL == "" {
		// The embedded SFU takes keys only from flags: LIVEKIT_API_* in the
		// environment belong to a remote server.
		explicit := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
		if !explicit["api-key"] {
			o.APIKey = ""
		}
		if !explicit["api-secret"] {
			o.APISecret = ""
		}
		if o.APISecret != "" && len(o.APISecret) < 32 {
			return o, errors.New("--api-secret for the embedded SFU must be at least 32 characters")
		}
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	if o.URL != "" {
		if !strings.HasPrefix(o.URL, "ws://") && !strings.HasPrefix(o.URL, "wss://") &&
			!strings.HasPrefix(o.URL, "http://") && !strings.HasPrefix(o.URL, "https://") {
			return o, fmt.Errorf("--url %q: want ws://, wss://, http:// or https://", o.URL)
		}
		if o.Token == "" && (o.APIKey == "" || o.APISecret == "") {
			return o, errors.New("--url needs either --token, or --api-key and --api-secret (or LIVEKIT_API_KEY / LIVEKIT_API_SECRET)")
		}
	}
	if o.Duration < 0 || (o.Duration > 0 && !o.Headless) {
		return o, errors.New("--duration is for --headless runs and must be ≥ 0")
	}
	if o.Report != "" && !o.Headless {
		return o, errors.New("--report is for --headless runs")
	}
	return o, nil
}
