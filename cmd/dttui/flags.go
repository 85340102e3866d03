package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dttui/dttui/impair"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/load"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/source"
	"github.com/dttui/dttui/textsafe"
)

// trackSpec is one --track flag: a track to publish at start, and the
// steady generator to run on it (rate 0 means publish only).
type trackSpec struct {
	Name string
	Rate float64 // frames per second
	Size int     // bytes per frame
	// Source, when set, sends the user's data instead of probe frames
	// (--track NAME:stdin, NAME:file=PATH), at Rate (0: as fast as taken).
	Source *source.Spec
	// Type is --encoding and --schema; SchemaDef the schema's definition.
	Type      schema.Decl
	SchemaDef []byte
}

// Defaults for a --track without rate or size: a light, visible stream.
const (
	defaultTrackRate = probe.DefaultRate
	defaultTrackSize = probe.DefaultSize
)

// defaultLocalPort is the embedded SFU's signal port, LiveKit's usual one.
// When it is busy (another dttui, a LiveKit server) a free port is used
// instead, and said; a port given with --local-port is never replaced.
const defaultLocalPort = 7880

// defaultPublishTimeout is outgoing's (both LiveKit clients').
const defaultPublishTimeout = outgoing.DefaultPublishTimeout

// Environment variables dttui reads besides the LiveKit CLI's.
const (
	envPassphrase     = "DTTUI_E2EE_PASSPHRASE"
	envLocalAPIKey    = "DTTUI_LOCAL_API_KEY"
	envLocalAPISecret = "DTTUI_LOCAL_API_SECRET"
)

// options is everything the command line says. Secrets stay in here and
// in session.Config only; they are never printed.
type options struct {
	URL, APIKey, APISecret, Token string
	Room, Identity                string
	// Project is --project: a project of the LiveKit CLI's config.
	Project string
	// Credentials says where URL and the key came from.
	Credentials    report.Credentials
	E2EEPassphrase string
	Tracks         []trackSpec
	Headless       bool
	// Report is --report: the HTML report of a headless run.
	Report   string
	Local    bool
	Duration time.Duration
	Loopback bool
	// LoopbackSet says --loopback was given: then it is not turned off
	// quietly for lack of a key to mint its token.
	LoopbackSet    bool
	LogFile        string
	PublishTimeout time.Duration
	LocalPort      int
	// LocalPortSet says --local-port was given: a busy port is then an
	// error, not a reason to take another.
	LocalPortSet bool
	Verbose      bool
	Version      bool
	// Mouse is --mouse: clicks and the wheel in the UI.
	Mouse bool
	// Monitor is the room monitor; SubscribeOnly publishes nothing.
	Monitor, SubscribeOnly bool
	MetricsAddr            string
	MaxQueuedBytes         int64
	MaxFrameAge, LossGrace time.Duration
	// ReconnectTimeout is --reconnect-timeout (0: session's default).
	ReconnectTimeout time.Duration
	// SchemaCheck is --schema-check.
	SchemaCheck validate.Mode
	// MaxHeldBytes is the room monitor's memory budget (0: its default).
	MaxHeldBytes int
	// MaxRemoteTracks is how many published tracks the room monitor
	// follows (0: its default).
	MaxRemoteTracks int
	// Impair shapes what our connection sends (--impair); ImpairSet says
	// it was given.
	Impair    impair.Spec
	ImpairSet bool
	// RelayOnly connects through the SFU's TURN servers only.
	RelayOnly bool
	// Load mode: Participants publishers with Tracks each and Subscribers
	// receiving them all, joining at Ramp per second.
	Participants, Subscribers int
	Ramp                      float64
	// Notices are things the user should know about how the command line
	// was read (e.g. LIVEKIT_API_* left to the remote server they name).
	Notices []string
	// CI is --fail-if, --warmup, --junit and --summary-md.
	CI ciOptions
	// Record is --record and its options.
	Record recordOptions
}

// usageError is a command line dttui cannot run: one line on stderr.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{textsafe.Line(fmt.Sprintf(format, args...))}
}

// checkFlagNames walks args as the flag package will and reports, in the
// --flag spelling --help uses, what it would report as "-flag": a flag
// dttui does not have, a flag without its value, a boolean that is not
// true or false. Anything else is left to Parse.
func checkFlagNames(set *flag.FlagSet, args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' || a == "--" {
			return nil // flags end here
		}
		name := strings.TrimPrefix(a[1:], "-")
		name, value, hasValue := strings.Cut(name, "=")
		if name == "" || name[0] == '-' || name == "h" || name == "help" {
			return nil
		}
		dashes := a[:len(a)-len(strings.TrimLeft(a, "-"))] // as typed: -x is reported as -x
		f := set.Lookup(name)
		if f == nil {
			return usagef("unknown flag %s%s", dashes, name)
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			if _, err := strconv.ParseBool(value); hasValue && err != nil {
				return usagef("--%s=%s: want true or false", name, value)
			}
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				want, _ := flag.UnquoteUsage(f)
				return usagef("--%s needs a value: %s", name, want)
			}
			// A value that looks like a flag is one the user forgot a
			// value before (--track --verbose): refused, not taken as a
			// track named --verbose. A negative number or duration (-1s)
			// is a value; = passes anything.
			if v := args[i+1]; len(v) > 1 && v[0] == '-' && (v[1] == '-' || unicode.IsLetter(rune(v[1]))) {
				return usagef("--%s needs a value, and %s is a flag (--%s=%s if that is the value)", name, v, name, v)
			}
			i++
		}
	}
	return nil
}

// parseFlags reads args and, like the LiveKit CLI, LIVEKIT_URL,
// LIVEKIT_API_KEY, LIVEKIT_API_SECRET and LIVEKIT_TOKEN from the
// environment when the flag is not given; DTTUI_E2EE_PASSPHRASE and, for
// the embedded SFU, DTTUI_LOCAL_API_KEY and DTTUI_LOCAL_API_SECRET too.
// Every value is checked here, and none is replaced: a bad one is an error.
// --help returns flag.ErrHelp.
func parseFlags(args []string, getenv func(string) string) (options, error) {
	var o options
	fs := newFlagSet(&o)
	if err := checkFlagNames(fs.set, args); err != nil {
		return o, err
	}
	if err := fs.set.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{textsafe.Line(err.Error())}
	}
	if fs.set.NArg() > 0 {
		return o, usagef("unexpected argument %q (dttui takes flags, or one of the commands %s)", fs.set.Arg(0), strings.Join(subcommands, ", "))
	}
	if o.Version {
		return o, nil
	}
	given := map[string]bool{}
	fs.set.Visit(func(f *flag.Flag) { given[f.Name] = true })
	o.LoopbackSet, o.LocalPortSet = given["loopback"], given["local-port"]

	if err := fs.finish(&o); err != nil {
		return o, err
	}
	if err := readSecrets(&o, given, getenv); err != nil {
		return o, err
	}
	// The API key is shown too (the embedded SFU's banner, the log pane).
	for _, c := range []struct{ flag, v string }{{"room", o.Room}, {"identity", o.Identity},
		{"api-key (or LIVEKIT_API_KEY, " + envLocalAPIKey + ")", o.APIKey}} {
		if c.v != "" {
			if err := textsafe.CheckName(c.v, 0); err != nil {
				return o, usagef("--%s: %v", c.flag, err)
			}
		}
	}
	if o.Participants > 0 {
		if err := checkLoad(&o, given); err != nil {
			return o, err
		}
	}
	for _, t := range o.Tracks {
		e2ee := o.E2EEPassphrase != ""
		if t.Source == nil && t.Rate > 0 && t.Size > probe.SubscriberMaxSize(e2ee) {
			o.Notices = append(o.Notices, fmt.Sprintf("--track %s: frames of %d bytes take %d packets; livekit-client and the Rust SDK drop frames of more than %d packets (over %d bytes here), so their subscribers will receive none of them (dttui's own subscribers do)",
				t.Name, t.Size, probe.Packets(t.Size, e2ee), packetizer.SubscriberMaxPackets, probe.SubscriberMaxSize(e2ee)))
		}
	}
	if o.Report != "" && o.Participants > 0 {
		return o, usagef("--report is for --headless runs of one participant; load mode prints its summary (dttui summary merges several)")
	}
	if o.Report != "" && !o.Headless {
		return o, usagef("--report is for --headless runs (the UI shows its charts with t)")
	}
	if o.Duration < 0 {
		return o, usagef("--duration %s: must be positive (0: until interrupted)", o.Duration)
	}
	if o.Duration > 0 && !o.Headless {
		return o, usagef("--duration is for --headless runs (the UI runs until you quit)")
	}
	if o.Mouse && (o.Headless || o.Participants > 0) {
		return o, usagef("--mouse is for the UI (--headless and load mode have no screen to click)")
	}
	if o.PublishTimeout <= 0 {
		return o, usagef("--publish-timeout %s: must be positive", o.PublishTimeout)
	}
	if err := checkCI(&o); err != nil {
		return o, err
	}
	if err := checkRecord(&o); err != nil {
		return o, err
	}
	return o, nil
}

// readSecrets settles the server, its credentials and the passphrase from
// flags, files and the environment: flags, then the environment, then
// the LiveKit CLI's project (--project, else its default project).
func readSecrets(o *options, given map[string]bool, getenv func(string) string) error {
	o.Credentials = report.Credentials{URL: report.OriginFlag}
	if !given["url"] {
		o.URL = getenv("LIVEKIT_URL")
		o.Credentials.URL = report.OriginEnv
	}
	if o.Local {
		switch {
		case given["project"]:
			return usagef("--local and --project contradict each other: --local starts the embedded SFU")
		case given["url"]:
			return usagef("--local and --url contradict each other: --local starts the embedded SFU")
		case given["token"]:
			return usagef("--token is for a remote server: the embedded SFU (--local) mints its own tokens")
		case o.URL != "":
			o.Notices = append(o.Notices, "--local: using the embedded SFU, not LIVEKIT_URL")
		}
		o.URL = ""
	}
	lk, err := lkProjectFor(o, o.URL != "", getenv)
	if err != nil {
		return err
	}
	if lk != nil {
		o.Credentials.Project, o.Credentials.DefaultProject = lk.project.Name, lk.isDefault
		if o.URL == "" {
			o.URL, o.Credentials.URL = lk.project.URL, report.OriginProject
		}
		if lk.isDefault {
			o.Notices = append(o.Notices, fmt.Sprintf("using the LiveKit CLI's default project %s (%s); --local for the embedded SFU", lk.project.Name, lk.path))
		}
	}
	if o.URL == "" {
		o.Credentials = report.Credentials{URL: report.OriginEmbedded, Key: report.OriginEmbedded}
		if err := readLocal(o, given, getenv); err != nil {
			return err
		}
	} else if err := readRemote(o, given, getenv, lk); err != nil {
		return err
	}
	return readPassphrase(o, given, getenv)
}

// readLocal reads the embedded SFU's settings. LIVEKIT_API_* in the
// environment belong to the remote server LIVEKIT_URL names; the embedded
// SFU has variables of its own.
func readLocal(o *options, given map[string]bool, getenv func(string) string) error {
	if given["token"] {
		return usagef("--token needs --url (or LIVEKIT_URL): the embedded SFU mints its own tokens")
	}
	o.Token = ""
	if !given["api-key"] {
		o.APIKey = getenv(envLocalAPIKey)
	}
	if !given["api-secret"] {
		o.APISecret = getenv(envLocalAPISecret)
	}
	if !given["api-key"] && !given["api-secret"] && (getenv("LIVEKIT_API_KEY") != "" || getenv("LIVEKIT_API_SECRET") != "") {
		o.Notices = append(o.Notices, "LIVEKIT_API_KEY and LIVEKIT_API_SECRET are for the server LIVEKIT_URL names; the embedded SFU takes "+
			envLocalAPIKey+" and "+envLocalAPISecret+", or makes its own")
	}
	if o.APISecret != "" && len(o.APISecret) < 32 {
		return usagef("the embedded SFU's API secret (--api-secret or %s) must be at least 32 characters", envLocalAPISecret)
	}
	return nil
}

// readRemote reads a remote server's settings, the LiveKit CLI's way: a
// flag, else its environment variable, else lk's project, if any.
func readRemote(o *options, given map[string]bool, getenv func(string) string, lk *lkSource) error {
	if given["local-port"] {
		return usagef("--local-port is for the embedded SFU; with --url (or LIVEKIT_URL) add --local to use it")
	}
	if err := checkURL(o.URL); err != nil {
		if o.Credentials.URL == report.OriginProject {
			return usagef("project %s in %s: %v", lk.project.Name, lk.path, err)
		}
		return err
	}
	var project lkProject
	if lk != nil {
		project = lk.project
	}
	from := map[string]report.Origin{}
	for _, v := range []struct {
		flag, env string
		dst       *string
		project   string
	}{{"api-key", "LIVEKIT_API_KEY", &o.APIKey, project.APIKey}, {"api-secret", "LIVEKIT_API_SECRET", &o.APISecret, project.APISecret},
		{"token", "LIVEKIT_TOKEN", &o.Token, ""}} {
		switch {
		case given[v.flag]:
			from[v.flag] = report.OriginFlag
		case getenv(v.env) != "":
			*v.dst, from[v.flag] = getenv(v.env), report.OriginEnv
		case v.project != "":
			*v.dst, from[v.flag] = v.project, report.OriginProject
		default:
			*v.dst = ""
		}
	}
	o.Credentials.Key = from["api-key"]
	if o.Token != "" {
		o.Credentials.Key = from["token"]
	}
	if o.Credentials.URL != report.OriginProject && !slices.Contains(slices.Collect(maps.Values(from)), report.OriginProject) || lk == nil {
		o.Credentials.Project, o.Credentials.DefaultProject = "", false // nothing taken from it
	}
	if o.Token == "" && (o.APIKey == "" || o.APISecret == "") {
		return usagef("--url needs --token, or --api-key and --api-secret (or LIVEKIT_TOKEN, LIVEKIT_API_KEY and LIVEKIT_API_SECRET)")
	}
	if o.Loopback && o.LoopbackSet && (o.APIKey == "" || o.APISecret == "") {
		return usagef("--loopback needs --api-key and --api-secret: the loopback subscriber mints its own token")
	}
	return nil
}

// maxPassphraseFileBytes is the most --e2ee-passphrase-file reads: a
// passphrase is a line, and a larger file (say /dev/zero) is refused
// before it is held.
const maxPassphraseFileBytes = 64 << 10

// readPassphrase takes --e2ee-passphrase, --e2ee-passphrase-file or
// DTTUI_E2EE_PASSPHRASE, in that order; two flags at once are an error.
func readPassphrase(o *options, given map[string]bool, getenv func(string) string) error {
	switch {
	case given["e2ee-passphrase"] && given["e2ee-passphrase-file"]:
		return usagef("--e2ee-passphrase and --e2ee-passphrase-file: give one")
	case given["e2ee-passphrase"]:
		if o.E2EEPassphrase == "" {
			return usagef("--e2ee-passphrase is empty")
		}
	case given["e2ee-passphrase-file"]:
		path := o.E2EEPassphrase // the flag holds the path until here
		b, err := readFileAtMost(path, maxPassphraseFileBytes)
		if err != nil {
			return usagef("--e2ee-passphrase-file: %v", err)
		}
		// One trailing newline is the file's end, not the passphrase's.
		s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if s == "" {
			return usagef("--e2ee-passphrase-file %s: the file is empty", path)
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			o.Notices = append(o.Notices, fmt.Sprintf("--e2ee-passphrase-file %s can be read by other users (mode %04o); chmod 600 it", path, fi.Mode().Perm()))
		}
		o.E2EEPassphrase = s
	default:
		o.E2EEPassphrase = getenv(envPassphrase)
	}
	return nil
}

// checkURL accepts what the SDK can dial, and refuses credentials in the
// URL: they would be shown, logged and sent where no LiveKit server reads
// them. The URL is never echoed whole, in case it holds a secret.
func checkURL(raw string) error {
	shown := redact.URL(raw)
	if textsafe.Line(raw) != raw {
		return usagef("--url %q: contains control characters", shown)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return usagef("--url %q: not a URL (want e.g. wss://my-project.livekit.cloud)", shown)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return usagef("--url %q: want ws://, wss://, http:// or https://", shown)
	}
	if u.User != nil {
		return usagef("--url %q: must not carry a user name or password; use --token, or --api-key and --api-secret", shown)
	}
	return nil
}

// flagSet holds the raw text of the flags dttui checks itself, so that a
// bad value gets dttui's message (with the units and limits) rather than
// the flag package's.
type flagSet struct {
	set                                       *flag.FlagSet
	tracks                                    []string
	trackOpts                                 []string // --encoding, --schema, --framing as "flag\x00value"
	duration, publishTimeout, localPort, pass string
	maxQueued, maxAge, grace, maxHeld, reconn string
	schemaCheck                               string
	participants, subscribers, ramp           string
	ci                                        ciFlags
}

func newFlagSet(o *options) *flagSet {
	f := &flagSet{set: flag.NewFlagSet("dttui", flag.ContinueOnError)}
	fs := f.set
	fs.SetOutput(io.Discard) // errors are printed by run, help by printHelp
	fs.Usage = func() {}
	fs.StringVar(&o.URL, "url", "", "LiveKit server `URL` (ws://, wss://, http://, https://); none: the embedded SFU")
	fs.StringVar(&o.APIKey, "api-key", "", "API `key` to mint tokens with")
	fs.StringVar(&o.APISecret, "api-secret", "", "API `secret` to mint tokens with (visible in ps: prefer the environment)")
	fs.StringVar(&o.Token, "token", "", "join with this access `token` instead (the loopback subscriber then needs key and secret)")
	fs.StringVar(&o.Project, "project", "", fmt.Sprintf("take the URL, API key and secret from this `name`d project of the LiveKit CLI's config (~/%s, lk project add) where no flag or environment variable gives them; without it, the config's default project is used when no URL is given", lkConfigPath))
	fs.StringVar(&o.Room, "room", "", "`room` to join (default: generated, dttui-xxxxxx)")
	fs.StringVar(&o.Identity, "identity", "", "participant `identity` (default: generated)")
	fs.StringVar(&o.E2EEPassphrase, "e2ee-passphrase", "", "end-to-end encrypt the tracks with this `passphrase` (visible in ps: prefer the file or the environment)")
	fs.Func("e2ee-passphrase-file", "read the E2EE passphrase from `file` (one trailing newline is dropped)", func(s string) error {
		o.E2EEPassphrase = s
		return nil
	})
	fs.Func("track", fmt.Sprintf("publish at start and run a generator on it; `name[:rate[:size]]`, rate in frames/s (default %d; 0: publish only; 1.5k = 1500), size in bytes (default %d; 20 B … 4 MiB; 2k = 2KiB = 2048, 1m = 1MiB; livekit-client and the Rust SDK drop frames over %d B); or the user's own data: name:stdin[:rate] (--headless), name:file=PATH[:rate] (--framing cuts it); or a recording's topic at its timing, typed as recorded: name:mcap=FILE[:topic]; repeatable", defaultTrackRate, defaultTrackSize, probe.SubscriberMaxSize(false)), func(s string) error {
		f.tracks = append(f.tracks, s)
		return nil
	})
	fs.BoolVar(&o.Headless, "headless", false, "no UI: one JSON line of stats per second on stdout")
	fs.StringVar(&o.Report, "report", "", "with --headless, write an HTML report with charts of the run to `file` at the end")
	fs.Func("duration", "with --headless, stop after this `duration` (e.g. 10s, 1m30s), connect included; default: until interrupted, or, when every track reads data (stdin, file=), until it ends", func(s string) error {
		f.duration = s
		return nil
	})
	fs.BoolVar(&o.Loopback, "loopback", true, "a hidden second participant subscribes to our tracks to measure delivery, loss and latency (default true; --loopback=false: off)")
	fs.StringVar(&o.LogFile, "log-file", "", "also write every log line (dttui's, the SDK's, pion's, the SFU's) to `file`")
	fs.Func("publish-timeout", fmt.Sprintf("how long to wait for the SFU to answer a publish (a `duration`, default %s)", defaultPublishTimeout), func(s string) error {
		f.publishTimeout = s
		return nil
	})
	fs.BoolVar(&o.Local, "local", false, "use the embedded SFU even when LIVEKIT_URL is set")
	fs.Func("local-port", fmt.Sprintf("signal `port` of the embedded SFU (default %d, or a free one when it is busy; 0: any free port)", defaultLocalPort), func(s string) error {
		f.localPort = s
		return nil
	})
	fs.BoolVar(&o.Verbose, "verbose", false, "with --headless, library log lines on stderr too; in the UI, debug lines in the log pane and file")
	for _, name := range []string{"encoding", "schema", "framing"} {
		usage := map[string]string{
			"encoding": "declare a track's frame encoding: `TRACK=ENCODING` (json, cbor, msgpack, protobuf, flatbuffer, ros1, cdr, or a custom name); repeatable",
			"schema":   "store a schema for a track and declare it: `TRACK=ENCODING:FILE` or TRACK=ENCODING:NAME:FILE (jsonschema, protobuf — a FileDescriptorSet —, flatbuffer, ros1msg, ros2msg, ros2idl, omgidl, or custom); repeatable",
			"framing":  "how a data source is cut into frames: `TRACK=lines` (default), length-prefixed (big-endian u32), chunks:SIZE, files (a directory); repeatable",
		}[name]
		fs.Func(name, usage, func(s string) error {
			f.trackOpts = append(f.trackOpts, name+"\x00"+s)
			return nil
		})
	}
	fs.Func("schema-check", fmt.Sprintf("what to do with a frame of ours that does not match its track's JSON Schema or protobuf message: `MODE` warn (send it, count it), refuse (drop it as \"schema mismatch\"), off (default %s)", validate.DefaultMode), func(s string) error {
		f.schemaCheck = s
		return nil
	})
	fs.BoolVar(&o.Monitor, "monitor", true, "subscribe to every data track the other participants publish and measure each (the room monitor; --monitor=false: off)")
	fs.BoolVar(&o.SubscribeOnly, "subscribe-only", false, "publish nothing: join, and watch the room's data tracks")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9464)")
	fs.Func("max-queued-bytes", fmt.Sprintf("cap the bytes queued for sending over all tracks (a `size`, default %d MiB); pushes past it drop as \"memory cap\"", outgoing.DefaultMaxQueuedBytes>>20), func(s string) error {
		f.maxQueued = s
		return nil
	})
	fs.Func("reconnect-timeout", fmt.Sprintf("after a lost connection could not be resumed, give up rejoining after this long (a `duration`, default %s): the UI then offers r to connect again, a headless run exits 1", session.DefaultReconnectTimeout), func(s string) error {
		f.reconn = s
		return nil
	})
	fs.Func("max-frame-age", fmt.Sprintf("drop frames that waited longer than this to be sent, as \"stale\" (a `duration`, default %s; 0: never)", outgoing.DefaultMaxFrameAge), func(s string) error {
		f.maxAge = s
		return nil
	})
	fs.Func("max-held-bytes", fmt.Sprintf("cap the memory other participants' partial frames may hold (a `size`, default %d MiB, a participant a quarter); past it, and for a frame silent %s, the oldest partial frames are evicted, counted", incoming.DefaultMaxHeldBytes>>20, incoming.DefaultPartialTimeout), func(s string) error {
		f.maxHeld = s
		return nil
	})
	fs.Func("max-remote-tracks", fmt.Sprintf("follow at most `N` of the room's published tracks (default %d, a participant half of them); the rest are counted as refused", incoming.DefaultMaxTracks), func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 || n > 1<<16 {
			return fmt.Errorf("%q: not a whole number within 2 and 65536", s)
		}
		o.MaxRemoteTracks = n
		return nil
	})
	fs.BoolVar(&o.RelayOnly, "relay-only", false, "connect through the TURN servers the SFU lists and nothing else, as a client behind a firewall that blocks UDP to the SFU (fails when it lists none)")
	fs.Func("impair", "shape what dttui's own connection sends (dir=down: receives), to test on a bad path: "+impair.Syntax+" (e.g. 'delay=40ms,jitter=5ms,loss=1%,rate=5Mbit'; the UI's `i` changes it while running)", func(s string) error {
		sp, err := impair.Parse(s)
		if err != nil {
			return err
		}
		o.Impair, o.ImpairSet = sp, true
		return nil
	})
	fs.Func("loss-grace", fmt.Sprintf("a frame not at the loopback subscriber this long after it was sent is lost (a `duration`, default %s)", probe.DefaultLossGrace), func(s string) error {
		f.grace = s
		return nil
	})
	fs.Func("participants", "load mode (implies --headless): `N` publishing participants, each with every --track, each its own connection; a summary table on stderr at the end", func(s string) error {
		f.participants = s
		return nil
	})
	fs.Func("subscribers", fmt.Sprintf("load mode: `M` participants that subscribe to every track and measure delivery and latency (default %d; 0: none)", defaultLoadSubscribers), func(s string) error {
		f.subscribers = s
		return nil
	})
	fs.Func("ramp", fmt.Sprintf("load mode: participants joining per second (a `rate`, default %g)", load.DefaultRamp), func(s string) error {
		f.ramp = s
		return nil
	})
	f.addCIFlags(fs)
	addRecordFlags(fs, &o.Record)
	fs.BoolVar(&o.Mouse, "mouse", false, "in the UI, a click selects a row (or a room in the picker) and the wheel scrolls the table and the log pane; off by default because, while on, most terminals select text only with shift held")
	fs.BoolVar(&o.Version, "version", false, "print dttui's version and the LiveKit and pion versions it was built with")
	return f
}

// finish parses the raw values newFlagSet kept.
func (f *flagSet) finish(o *options) error {
	o.PublishTimeout, o.LocalPort = defaultPublishTimeout, defaultLocalPort
	var err error
	if f.duration != "" {
		if o.Duration, err = time.ParseDuration(f.duration); err != nil {
			return usagef("--duration %q: not a duration (e.g. 10s, 1m30s)", f.duration)
		}
	}
	if f.publishTimeout != "" {
		if o.PublishTimeout, err = time.ParseDuration(f.publishTimeout); err != nil {
			return usagef("--publish-timeout %q: not a duration (e.g. 10s)", f.publishTimeout)
		}
	}
	if f.localPort != "" {
		p, err := strconv.Atoi(f.localPort)
		if err != nil || p < 0 || p > 65535 {
			return usagef("--local-port %q: not a port number (0–65535; 0 picks a free one)", f.localPort)
		}
		o.LocalPort = p
	}
	if f.maxQueued != "" {
		n, err := parseByteCount(f.maxQueued)
		if err != nil {
			return usagef("--max-queued-bytes %q: %v", f.maxQueued, err)
		}
		o.MaxQueuedBytes = n
	}
	if f.reconn != "" {
		d, err := time.ParseDuration(f.reconn)
		if err != nil || d <= 0 {
			return usagef("--reconnect-timeout %q: not a duration > 0 (e.g. 30s)", f.reconn)
		}
		o.ReconnectTimeout = d
	}
	if f.maxAge != "" {
		d, err := time.ParseDuration(f.maxAge)
		if err != nil || d < 0 {
			return usagef("--max-frame-age %q: not a duration ≥ 0 (e.g. 2s; 0: never)", f.maxAge)
		}
		o.MaxFrameAge = d
		if d == 0 {
			o.MaxFrameAge = -1 // never: outgoing's "off"
		}
	}
	if f.maxHeld != "" {
		n, err := parseByteCount(f.maxHeld)
		if err == nil && (n <= 0 || n > math.MaxInt32) {
			err = errors.New("not within 1 B and 2 GiB")
		}
		if err != nil {
			return usagef("--max-held-bytes %q: %v", f.maxHeld, err)
		}
		o.MaxHeldBytes = int(n)
	}
	if f.grace != "" {
		d, err := time.ParseDuration(f.grace)
		if err != nil || d <= 0 {
			return usagef("--loss-grace %q: not a positive duration (e.g. 3s)", f.grace)
		}
		o.LossGrace = d
	}
	if err := f.finishLoad(o); err != nil {
		return err
	}
	if err := f.finishCI(o); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, s := range f.tracks {
		t, isSource, err := parseSourceSpec(s)
		if !isSource {
			t, err = parseTrackSpec(s)
		} else if err == nil {
			err = checkTrackName(s, t.Name)
		}
		if err != nil {
			return err
		}
		if seen[t.Name] {
			return usagef("--track %q: a track named %q is already given; names must be unique", s, t.Name)
		}
		seen[t.Name] = true
		o.Tracks = append(o.Tracks, t)
	}
	var opts []trackOption
	for _, raw := range f.trackOpts {
		name, v, _ := strings.Cut(raw, "\x00")
		opt, err := splitTrackOption(name, v)
		if err != nil {
			return err
		}
		opts = append(opts, opt)
	}
	if err := applyTrackOptions(o.Tracks, opts); err != nil {
		return err
	}
	o.SchemaCheck = validate.DefaultMode
	if f.schemaCheck != "" {
		if o.SchemaCheck, err = validate.ParseMode(f.schemaCheck); err != nil {
			return usagef("--schema-check: %v", err)
		}
	}
	if o.SubscribeOnly && len(o.Tracks) > 0 {
		return usagef("--subscribe-only publishes nothing: leave out --track")
	}
	return nil
}

// checkTrackName refuses a name the SFU would, or one unsafe to show.
func checkTrackName(spec, name string) error {
	if err := textsafe.CheckName(name, outgoing.MaxNameBytes); err != nil {
		return usagef("--track %q: %v", spec, err)
	}
	return nil
}

// parseByteCount reads a byte count with the sizes' units (512, 64MiB,
// 1.5 GiB), above zero.
func parseByteCount(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(s)
	units := map[string]float64{"g": 1 << 30, "gi": 1 << 30, "gib": 1 << 30}
	if m == nil {
		return 0, fmt.Errorf("not a number of bytes (e.g. 64MiB)")
	}
	mult, ok := sizeUnits[strings.ToLower(m[2])]
	if !ok {
		if mult, ok = units[strings.ToLower(m[2])]; !ok {
			return 0, fmt.Errorf("unknown unit %q (B, KiB, MiB, GiB)", m[2])
		}
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	v *= mult
	if v < 1 || v > 1<<40 {
		return 0, fmt.Errorf("must be 1 B to 1 TiB")
	}
	return int64(v), nil
}

func parseTrackSpec(s string) (trackSpec, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return trackSpec{}, usagef("--track %q: want name[:rate[:size]], e.g. sensors:50:1KiB", s)
	}
	if err := textsafe.CheckName(parts[0], outgoing.MaxNameBytes); err != nil {
		return trackSpec{}, usagef("--track %q: %v (want name[:rate[:size]], e.g. sensors:50:1KiB)", s, err)
	}
	ts := trackSpec{Name: parts[0], Rate: defaultTrackRate, Size: defaultTrackSize}
	if len(parts) > 1 && parts[1] != "" {
		r, err := parseRate(parts[1])
		if err != nil {
			return trackSpec{}, usagef("--track %q: %v", s, err)
		}
		ts.Rate = r
	}
	if len(parts) > 2 && parts[2] != "" {
		n, err := parseSize(parts[2])
		if err != nil {
			return trackSpec{}, usagef("--track %q: %v", s, err)
		}
		ts.Size = n
	}
	return ts, nil
}

// parseRate reads frames per second: a number ≥ 0, with an optional k
// (×1000) as the UI shows rates ("1.5k").
func parseRate(s string) (float64, error) {
	num, mult := s, 1.0
	if strings.HasSuffix(s, "k") || strings.HasSuffix(s, "K") {
		num, mult = s[:len(s)-1], 1000
	}
	r, err := strconv.ParseFloat(num, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) || math.IsNaN(r) || r < 0 {
		return 0, fmt.Errorf("rate %q is not a number of frames per second ≥ 0 (e.g. 50, 1.5k)", s)
	}
	if r *= mult; r > probe.MaxRate || math.IsInf(r, 0) {
		return 0, fmt.Errorf("rate %s frames/s is above the generator's maximum of %d frames/s", s, probe.MaxRate)
	}
	return r, nil
}

var sizePattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?) ?([A-Za-z]*)$`)

// sizeUnits are the suffixes a size takes: the UI's own (B, KiB, MiB) and
// the short k and m. All are binary; KB and MB are refused rather than
// read one way or the other.
var sizeUnits = map[string]float64{"": 1, "b": 1, "k": 1 << 10, "ki": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mi": 1 << 20, "mib": 1 << 20}

// parseSize reads a frame size in bytes, e.g. 512, 2k, 1KiB, 1.5 KiB, 4MiB.
func parseSize(s string) (int, error) {
	m := sizePattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("size %q is not a number of bytes (e.g. 512, 2k, 1KiB, 4MiB)", s)
	}
	mult, ok := sizeUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (B, k or KiB, m or MiB; sizes are binary, 1 KiB = 1024 B)", s, m[2])
	}
	v, _ := strconv.ParseFloat(m[1], 64) // the pattern admits only numbers; huge ones are +Inf
	v *= mult
	switch {
	case v > probe.MaxSize:
		return 0, fmt.Errorf("size %s is above the largest probe frame, %d bytes (4 MiB)", s, probe.MaxSize)
	case v < probe.MinSize:
		return 0, fmt.Errorf("size %s is below the smallest probe frame, %d bytes (its sequence number and send time)", s, probe.MinSize)
	case v != math.Trunc(v):
		return 0, fmt.Errorf("size %s is not a whole number of bytes (%g)", s, v)
	}
	return int(v), nil
}
