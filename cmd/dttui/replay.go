package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"github.com/dttui/dttui/e2ee"
	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/textsafe"
)

// `dttui replay FILE`: publish each channel of an MCAP recording as a
// typed data track and send its messages, byte for byte, at the recorded
// timing.

// replayOptions are replay's own flags; the rest are dttui's connection flags.
type replayOptions struct {
	speed float64
	loop  bool
	start time.Duration // skip what was recorded before this much into the file
	// recordedTS sends each frame's recorded user timestamp rather than
	// one of the time it is sent (--recorded-timestamps).
	recordedTS bool
	// ui shows the replay in the UI, with its keys (--ui).
	ui bool
	// topics selects the channels to play (--topic, repeatable: a topic
	// or a path.Match pattern); none: every channel.
	topics []string
}

// splitReplayArgs takes replay's own flags and the file out of args.
func splitReplayArgs(args []string) (ro replayOptions, file string, rest []string, err error) {
	ro.speed = 1
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		// value takes the flag's value from the next argument unless it
		// came with "=".
		value := func(want string) error {
			if !hasVal {
				if i+1 == len(args) {
					return usagef("--%s needs %s", name, want)
				}
				i++
				val = args[i]
			}
			return nil
		}
		switch {
		case !strings.HasPrefix(a, "-"):
			if file != "" {
				return ro, "", nil, usagef("dttui replay plays one file, not %q and %q", file, a)
			}
			file = a
		case name == "loop":
			ro.loop = !hasVal || val == "true"
		case name == "ui":
			ro.ui = !hasVal || val == "true"
		case name == "recorded-timestamps":
			ro.recordedTS = !hasVal || val == "true"
		case name == "topic":
			if err := value("a topic of the file (participant/track) or a pattern (robot/*)"); err != nil {
				return ro, "", nil, err
			}
			if _, err := path.Match(val, ""); err != nil || val == "" {
				return ro, "", nil, usagef("--topic %q: want a topic of the file or a pattern (robot/*)", val)
			}
			ro.topics = append(ro.topics, val)
		case name == "start":
			if err := value("a duration into the recording (e.g. 1m30s)"); err != nil {
				return ro, "", nil, err
			}
			if ro.start, err = time.ParseDuration(val); err != nil || ro.start < 0 {
				return ro, "", nil, usagef("--start %q: want a duration into the recording, e.g. 1m30s", val)
			}
		case name == "speed":
			if err := value("a factor (1: as recorded)"); err != nil {
				return ro, "", nil, err
			}
			if ro.speed, err = strconv.ParseFloat(strings.TrimSuffix(val, "x"), 64); err != nil || ro.speed <= 0 || ro.speed > 1000 {
				return ro, "", nil, usagef("--speed %q: want a factor above 0, at most 1000 (1: as recorded)", val)
			}
		default:
			rest = append(rest, a)
			// A flag's value follows it unless given with "=".
			if !hasVal && i+1 < len(args) && !isBoolFlag(name) {
				i++
				rest = append(rest, args[i])
			}
		}
	}
	if file == "" {
		return ro, "", nil, usagef("dttui replay: name the MCAP file to play")
	}
	return ro, file, rest, nil
}

// isBoolFlag says whether dttui's flag name takes no value.
func isBoolFlag(name string) bool {
	var o options
	f := newFlagSet(&o).set.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

const replayUsage = `usage: dttui replay FILE [--topic T]... [--speed X] [--start D] [--loop] [--recorded-timestamps] [--ui] [connection flags]

Joins the room (--url or LIVEKIT_URL, --room, --token or --api-key/--api-secret, --identity,
--e2ee-passphrase, as dttui's) and publishes each channel of the MCAP file FILE as a data
track named after it, with the channel's message encoding as its frame encoding and its
schema stored and declared (--topic participant/track, repeatable, or a pattern such as
'robot/*': only the channels it names); then sends every message, byte for byte, at the recorded
timing (--speed 2: twice as fast; --start 1m: from one minute in). A frame recorded with a user timestamp is sent with
one, of the time it is sent (--recorded-timestamps: the recorded one). Exits 0 once the file is played; --loop plays it until
interrupted. On stdout, a JSON line a second says where the replay is:
{"replay":{"position_s":…,"duration_s":…,"speed":…,"sent":…}}, the last with "final":true.
--ui plays it in dttui's UI instead: the header says where the replay is; P pauses and
resumes it, < and > seek 10 s, ( and ) halve and double its speed; q quits.`

// runReplayCommand is `dttui replay`.
func runReplayCommand(ctx context.Context, args []string, getenv func(string) string, std stdio, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprintln(std.out, replayUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	ro, file, rest, err := splitReplayArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, "dttui replay:", err)
		return exitUsage
	}
	mode := "--headless"
	if ro.ui {
		mode = "--monitor" // the UI shows the room too
	}
	o, err := parseFlags(append([]string{mode, "--subscribe-only"}, rest...), getenv)
	if err != nil {
		fmt.Fprintf(stderr, "dttui replay: %v\n", err)
		return exitUsage
	}
	if o.URL == "" {
		fmt.Fprintln(stderr, "dttui replay: name the server (--url or LIVEKIT_URL): the embedded SFU's room would have no one to play to")
		return exitUsage
	}
	tracks, err := replayTracks(file, ro.topics)
	if err != nil {
		fmt.Fprintf(stderr, "dttui replay: %s: %v\n", textsafe.Line(file), err)
		return exitUsage
	}
	open, err := sealedOpener(tracks, o.E2EEPassphrase)
	if err != nil {
		fmt.Fprintf(stderr, "dttui replay: %s: %v\n", textsafe.Line(file), err)
		return exitUsage
	}
	if ro.ui {
		o.SubscribeOnly = false // the replay publishes
		if err := checkTerminal(std.in, std.out); err != nil {
			fmt.Fprintln(stderr, "dttui replay:", err)
			return exitUsage
		}
	}
	logs, err := newLogSink(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "dttui replay:", err)
		return exitUsage
	}
	defer logs.Close()
	log := redact.Logger(logs.Logger(), o.APISecret, o.Token, o.E2EEPassphrase)
	cfg := session.Config{URL: o.URL, Token: o.Token, APIKey: o.APIKey, APISecret: o.APISecret,
		Room: o.Room, Identity: o.Identity, E2EEPassphrase: o.E2EEPassphrase, Logger: log, PublishTimeout: o.PublishTimeout,
		MaxQueuedBytes: o.MaxQueuedBytes}
	ctl := record.NewControl(ro.speed, fileDuration(file))
	if ro.ui {
		return replayInUI(ctx, o, cfg, logs, stderr, file, tracks, ro, open, ctl)
	}
	s, err := session.Connect(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "dttui replay:", err)
		return exitFailure
	}
	defer s.Close()
	prog := &replayProgress{w: std.out, ctl: ctl, last: time.Now()}
	sent, late, err := replayInto(ctx, s, file, tracks, ro, o.E2EEPassphrase != "", open, ctl, prog.at)
	if err != nil && errors.Is(err, errSetup) {
		fmt.Fprintln(stderr, "dttui replay:", err)
		return exitFailure
	}
	prog.final(sent)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "dttui replay:", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "dttui: replayed %d frames on %d tracks from %s; behind the recorded timing by p50 %s, p99 %s\n",
		sent, len(tracks), textsafe.Line(file), time.Duration(late.Quantile(0.5)), time.Duration(late.Quantile(0.99)))
	if err != nil && !ro.loop {
		return exitFailure // interrupted before the end
	}
	return exitOK
}

// replayTrack is a track to publish and the channels it plays.
type replayTrack struct {
	name     string
	track    record.Track
	channels []uint16
}

// replayTracks reads the file's channels, those topics select (none:
// all); channels of one track name (a republish) play on one track, and
// tracks of one name from different participants get a -2, -3 suffix. A
// topic or pattern that selects nothing is an error that lists the
// file's topics.
func replayTracks(file string, topics []string) ([]*replayTrack, error) {
	var out []*replayTrack
	seen := map[uint16]bool{}
	byKey := map[string]*replayTrack{}
	names := map[string]int{}
	var all []string
	matched := make([]bool, len(topics))
	err := record.Read(file, func(ch *record.Channel, _ *mcap.Message) error {
		if seen[ch.ID] {
			return nil
		}
		seen[ch.ID] = true
		if !slices.Contains(all, ch.Topic) {
			all = append(all, ch.Topic)
		}
		selected := len(topics) == 0
		for i, t := range topics {
			if ok, _ := path.Match(t, ch.Topic); ok || t == ch.Topic {
				matched[i], selected = true, true
			}
		}
		if !selected {
			return nil
		}
		key := ch.Track.Identity + "\x00" + ch.Track.Name + "\x00" + ch.Track.MessageEncoding() + "\x00" + ch.Track.Type.Schema.String()
		if rt := byKey[key]; rt != nil {
			rt.channels = append(rt.channels, ch.ID)
			return nil
		}
		name := ch.Track.Name
		if names[name]++; names[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, names[name])
		}
		if err := checkTrackName(name, name); err != nil {
			return err
		}
		rt := &replayTrack{name: name, track: ch.Track, channels: []uint16{ch.ID}}
		byKey[key] = rt
		out = append(out, rt)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, t := range topics {
		if !matched[i] {
			return nil, fmt.Errorf("--topic %q names no channel of the file (topics: %s)", textsafe.Line(t), textsafe.Line(strings.Join(all, ", ")))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no messages to play")
	}
	return out, nil
}

// sealedOpener returns what turns a recorded message into the frame to
// push: a copy of it, or for a channel recorded sealed (an E2EE track as
// received) its plaintext, opened with the passphrase's key; the track is
// published encrypted again, with the same key. A file with sealed
// channels and no passphrase is refused before anything connects.
func sealedOpener(tracks []*replayTrack, passphrase string) (func(ch *record.Channel, data []byte) ([]byte, error), error) {
	var sealed []string
	for _, rt := range tracks {
		if rt.track.Sealed {
			sealed = append(sealed, textsafe.Line(rt.name))
		}
	}
	plain := func(_ *record.Channel, data []byte) ([]byte, error) { return bytes.Clone(data), nil }
	if len(sealed) == 0 {
		return plain, nil
	}
	if passphrase == "" {
		return nil, usagef("%s recorded encrypted, as received: replay with the room's passphrase (--e2ee-passphrase, --e2ee-passphrase-file or %s), or record with --record-decrypted",
			strings.Join(sealed, ", "), envPassphrase)
	}
	key, err := e2ee.NewKey(passphrase)
	if err != nil {
		return nil, err
	}
	return func(ch *record.Channel, data []byte) ([]byte, error) {
		if !ch.Track.Sealed {
			return plain(ch, data)
		}
		ki, iv, ct, err := record.Unseal(data)
		if err != nil {
			return nil, err
		}
		p, err := key.OpenFrame(nil, ct, &packetizer.E2EE{KeyIndex: ki, IV: iv})
		if err != nil {
			return nil, fmt.Errorf("recorded encrypted, and this passphrase does not open it: %w", err)
		}
		return p, nil
	}, nil
}

// replayProgress writes, at most once a second, where the replay is in
// the file as a JSON line on stdout.
type replayProgress struct {
	w    io.Writer
	ctl  *record.Control
	last time.Time
}

// replayLine is one line of replay progress.
type replayLine struct {
	Replay struct {
		Position float64 `json:"position_s"`
		Duration float64 `json:"duration_s,omitempty"`
		Speed    float64 `json:"speed"`
		Paused   bool    `json:"paused,omitempty"`
		Sent     uint64  `json:"sent"`
		Final    bool    `json:"final,omitempty"`
	} `json:"replay"`
}

// at says where the replay is once a second has passed since the last
// line, and at the end (final).
func (p *replayProgress) at(sent uint64, final bool) {
	if now := time.Now(); final || now.Sub(p.last) >= time.Second {
		p.last = now
		st := p.ctl.State()
		var l replayLine
		l.Replay.Position, l.Replay.Duration, l.Replay.Speed, l.Replay.Paused, l.Replay.Sent, l.Replay.Final =
			st.Position.Seconds(), st.Duration.Seconds(), st.Speed, st.Paused, sent, final
		b, _ := json.Marshal(l)
		fmt.Fprintf(p.w, "%s\n", b)
	}
}

// final writes the last line.
func (p *replayProgress) final(sent uint64) { p.at(sent, true) }

// fileDuration is the span of a file's messages from its summary; 0 for
// a file without one (cut short).
func fileDuration(file string) time.Duration {
	if s, err := record.Summarize(file); err == nil {
		return s.Duration()
	}
	return 0
}

// errSetup marks a replay that failed before its first message: storing
// a schema or publishing a track.
var errSetup = errors.New("setting up the tracks")

// replayInto publishes the file's tracks on s and plays the file into
// them under ctl, calling progress after each message; it returns what
// was sent and how far behind the recorded timing each frame went.
func replayInto(ctx context.Context, s *session.Session, file string, tracks []*replayTrack, ro replayOptions, e2ee bool,
	open func(*record.Channel, []byte) ([]byte, error), ctl *record.Control, progress func(sent uint64, final bool)) (uint64, *histogram.Histogram, error) {
	byChannel := map[uint16]*session.Track{}
	for _, rt := range tracks {
		if !rt.track.Type.Schema.IsZero() {
			if err := s.StoreSchema(ctx, rt.track.Type.Schema, rt.track.SchemaDef); err != nil {
				return 0, nil, fmt.Errorf("%w: storing the schema of %s: %w", errSetup, textsafe.Line(rt.name), err)
			}
		}
		lt, err := s.PublishWith(ctx, session.PublishOptions{Name: rt.name, E2EE: e2ee, Type: rt.track.Type})
		if err != nil {
			return 0, nil, fmt.Errorf("%w: publishing %s: %w", errSetup, textsafe.Line(rt.name), err)
		}
		for _, id := range rt.channels {
			byChannel[id] = lt
		}
	}
	p := record.NewPacer(ro.speed)
	var sent uint64
	late := new(histogram.Histogram) // how far behind its recorded time each frame went
	err := record.Play(ctx, file, ctl, p, ro.start, ro.loop, func(ch *record.Channel, m *mcap.Message, _ time.Duration) error {
		lt := byChannel[ch.ID]
		if lt == nil {
			return nil // a channel --topic did not select
		}
		late.Record(int64(p.Late(m.LogTime)))
		var ts uint64
		switch {
		case m.PublishTime == m.LogTime: // recorded without one
		case ro.recordedTS:
			ts = m.PublishTime / uint64(time.Millisecond)
		default:
			ts = uint64(time.Now().UnixMilli())
		}
		payload, err := open(ch, m.Data)
		if err != nil {
			return fmt.Errorf("%s: message %d: %w", textsafe.Line(ch.Topic), m.Sequence, err)
		}
		if err := lt.Push(ctx, payload, ts); err != nil {
			return fmt.Errorf("%s: %w", textsafe.Line(ch.Topic), err)
		}
		sent++
		progress(sent, false)
		return nil
	})
	if err == nil {
		for _, lt := range byChannel {
			if err = lt.Flush(ctx); err != nil {
				break
			}
		}
	}
	return sent, late, err
}

// replayInUI is `dttui replay --ui`: the UI connects, then the replay
// plays into its session until the file ends (or, with --loop, the user
// quits); what it sent is said on stderr once the terminal is restored.
func replayInUI(ctx context.Context, o options, cfg session.Config, logs *logSink, stderr io.Writer, file string,
	tracks []*replayTrack, ro replayOptions, open func(*record.Channel, []byte) ([]byte, error), ctl *record.Control) int {
	var sent uint64
	var late *histogram.Histogram
	var perr error
	rctx, cancel := context.WithCancel(ctx)
	r := &uiReplay{ctl: ctl, ctx: rctx, cancel: cancel, done: make(chan struct{}),
		run: func(ctx context.Context, s *session.Session) {
			sent, late, perr = replayInto(ctx, s, file, tracks, ro, o.E2EEPassphrase != "", open, ctl, func(uint64, bool) {})
			switch {
			case perr != nil && ctx.Err() != nil:
				perr = nil // the user quit
			case perr != nil:
				logs.Logger().Warn("replay: " + perr.Error())
			default:
				logs.Logger().Info("replay: the file is played")
			}
		}}
	code := runTUI(ctx, o, cfg, nil, "", logs, stderr, outputs{}, r)
	r.stop()
	if perr != nil {
		fmt.Fprintln(stderr, "dttui replay:", perr)
		return max(code, exitFailure)
	}
	if late != nil {
		fmt.Fprintf(stderr, "dttui: replayed %d frames on %d tracks from %s; behind the recorded timing by p50 %s, p99 %s\n",
			sent, len(tracks), textsafe.Line(file), time.Duration(late.Quantile(0.5)), time.Duration(late.Quantile(0.99)))
	}
	return code
}
