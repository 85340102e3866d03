package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/session"
)

// --record FILE (headless runs) and `dttui record --out FILE`: every frame
// the room monitor receives, to MCAP (package record).

// recordOptions are --record, --record-compression and --record-split.
type recordOptions struct {
	Path string
	record.Options
}

// addRecordFlags defines the recording flags on the main flag set.
func addRecordFlags(fs *flag.FlagSet, r *recordOptions) {
	fs.StringVar(&r.Path, "record", "", "with --headless, record every frame the room monitor receives to `file` (MCAP: a channel per track, its encoding and schema; open it in Foxglove, list it with dttui mcap-info)")
	fs.Func("record-compression", "compress the recording's chunks with `zstd` (default), lz4 or none", func(s string) error {
		c, err := record.ParseCompression(s)
		r.Compression = c
		return err
	})
	fs.Func("record-split", "start a new recording file (room-001.mcap, …) every `size or duration` (e.g. 1GiB, 10m)", func(s string) error {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			r.RotateEvery = d
			return nil
		}
		n, err := parseByteCount(s)
		if err != nil {
			return fmt.Errorf("want a size (1GiB) or a duration (10m): %v", err)
		}
		r.RotateSize = n
		return nil
	})
}

// checkRecord is the rule of --record: a headless run of one participant
// with the room monitor on.
func checkRecord(o *options) error {
	switch {
	case o.Record.Path == "":
		if o.Record.Options != (record.Options{}) {
			return usagef("--record-compression and --record-split go with --record FILE")
		}
		return nil
	case !o.Headless:
		return usagef("--record is for --headless runs (or dttui record)")
	case o.Participants > 0:
		return usagef("--record is for runs of one participant, not load mode")
	case !o.Monitor && !o.SubscribeOnly:
		return usagef("--record writes what the room monitor receives: leave --monitor on")
	}
	return nil
}

// runMCAPCommand runs args when they are record, replay or mcap-info
// (ok true).
func runMCAPCommand(ctx context.Context, args []string, getenv func(string) string, std stdio, stderr io.Writer) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case "record":
		return runRecordCommand(ctx, args[1:], getenv, std, stderr), true
	case "replay":
		return runReplayCommand(ctx, args[1:], getenv, std, stderr), true
	case "mcap-info":
		return runMCAPInfo(args[1:], std, stderr), true
	}
	return 0, false
}

// runRecordCommand is `dttui record --out FILE [flags]`: a headless,
// subscribe-only run with --record FILE.
func runRecordCommand(ctx context.Context, args []string, getenv func(string) string, std stdio, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprintln(std.out, `usage: dttui record --out FILE [--duration D] [--record-compression C] [--record-split S] [connection flags]

Joins the room (--url, --room, --token or --api-key/--api-secret, as dttui's), publishes
nothing, and records every data track the other participants publish to FILE (MCAP):
one channel per track (topic participant/track), its frame encoding as the message
encoding, its schema as the channel's schema; JSON lines of stats on stdout as --headless.
Ends at --duration or on Ctrl-C, the file then indexed and summarized. See dttui --help.`)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	rest := []string{"--headless", "--subscribe-only"}
	out := false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--out" || a == "-out":
			if i+1 == len(args) {
				fmt.Fprintln(stderr, "dttui record: --out needs a file")
				return exitUsage
			}
			rest, out = append(rest, "--record", args[i+1]), true
			i++
		case strings.HasPrefix(a, "--out=") || strings.HasPrefix(a, "-out="):
			_, v, _ := strings.Cut(a, "=")
			rest, out = append(rest, "--record", v), true
		default:
			rest = append(rest, a)
		}
	}
	if !out {
		fmt.Fprintln(stderr, "dttui record: name the file with --out FILE")
		return exitUsage
	}
	return run(ctx, rest, getenv, std)
}

// recording is a run's --record: the session's monitor offers it frames
// (Config.OnRemoteFrame); it learns who published a track from the
// session once that is connected (attach).
type recording struct {
	rec   *record.Recorder
	sess  chan *session.Session // holds the session once attached
	files func() []string
	log   *slog.Logger
}

// schemaTimeout bounds fetching a track's schema for its channel.
const schemaTimeout = 10 * time.Second

// startRecording creates the file and sets cfg.OnRemoteFrame to record
// into it; nil when the run records nothing.
func startRecording(ctx context.Context, o recordOptions, cfg *session.Config, log *slog.Logger) (*recording, error) {
	if o.Path == "" {
		return nil, nil
	}
	w, err := record.Create(o.Path, o.Options)
	if err != nil {
		return nil, fmt.Errorf("--record: %w", err)
	}
	r := &recording{sess: make(chan *session.Session, 1), files: w.Files, log: log}
	r.rec = record.NewRecorder(ctx, w, r.resolve, 0)
	cfg.OnRemoteFrame = r.offer
	return r, nil
}

func (r *recording) offer(sid string, f incoming.Frame) {
	r.rec.Offer(sid, record.Frame{Arrival: f.Arrival, HasUserTimestamp: f.HasUserTimestamp, UserTimestamp: f.UserTimestamp, Payload: f.Payload})
}

// attach gives the recording the connected session.
func (r *recording) attach(s *session.Session) {
	if r != nil {
		r.sess <- s
	}
}

// resolve runs on the recorder's goroutine, once per track.
func (r *recording) resolve(ctx context.Context, sid string) record.Track {
	t := record.Track{SID: sid, Name: sid}
	var s *session.Session
	select {
	case s = <-r.sess:
		r.sess <- s
	case <-ctx.Done():
		return t
	}
	rt, ok := s.Monitor().Track(sid)
	if !ok {
		return t
	}
	i := rt.Info()
	t = record.Track{SID: sid, Name: i.Name, Identity: i.PublisherIdentity, Handle: i.PubHandle, E2EE: i.E2EE(), Type: i.Type}
	if !i.Type.Schema.IsZero() {
		sctx, cancel := context.WithTimeout(ctx, schemaTimeout)
		defer cancel()
		def, err := s.GetSchema(sctx, i.PublisherIdentity, i.Type.Schema)
		if err != nil {
			r.log.Warn("record: the track's schema could not be fetched; its channel names it in metadata", "sid", sid, "err", err)
		}
		t.SchemaDef = def
	}
	return t
}

// finish closes the file, with its summary, and says on stderr what is
// in it; an error when frames could not all be written.
func (r *recording) finish(stderr io.Writer) error {
	if r == nil {
		return nil
	}
	c, err := r.rec.Close()
	fmt.Fprintf(stderr, "dttui: recorded %d frames of %d tracks to %v", c.Written, len(c.PerSID), r.files())
	if c.Dropped > 0 {
		fmt.Fprintf(stderr, "; %d dropped (the disk did not keep up)", c.Dropped)
	}
	fmt.Fprintln(stderr)
	if err == nil && c.Dropped > 0 {
		err = errRecordDropped
	}
	return err
}

// close ends the recording if finish did not (a run that never
// connected): the file is left whole.
func (r *recording) close() {
	if r != nil {
		_, _ = r.rec.Close()
	}
}

// errRecordDropped: frames were received that the recording does not hold.
var errRecordDropped = errors.New("the recording dropped frames")
