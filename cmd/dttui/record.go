package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui"
)

// --record FILE (headless runs) and `dttui record --out FILE`: every frame
// the room monitor receives, to MCAP (package record).

// recordOptions are --record and the flags that shape it.
type recordOptions struct {
	Path string
	record.Options
	// Decrypted keeps E2EE tracks' frames decrypted (--record-decrypted);
	// by default they are kept as received, encrypted.
	Decrypted bool
	// Own records our own tracks too (--record-own).
	Own bool
}

// addRecordFlags defines the recording flags on the main flag set.
func addRecordFlags(fs *flag.FlagSet, r *recordOptions) {
	fs.StringVar(&r.Path, "record", "", "record every frame the room monitor receives to `file` (MCAP: a channel per track, its encoding and schema; open it in Foxglove, list it with dttui mcap-info)")
	fs.Func("record-compression", "compress the recording's chunks with `zstd` (default), lz4 or none", func(s string) error {
		c, err := record.ParseCompression(s)
		r.Compression = c
		return err
	})
	fs.BoolVar(&r.Decrypted, "record-decrypted", false, "record E2EE tracks' frames decrypted with --e2ee-passphrase (default: as received, encrypted, with each frame's key index and IV)")
	fs.BoolVar(&r.Own, "record-own", false, "record our own tracks too, as sent (topic identity/track, as the room's)")
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
		if o.Record.Options != (record.Options{}) || o.Record.Decrypted || o.Record.Own {
			return usagef("--record-compression, --record-split, --record-decrypted and --record-own go with --record FILE")
		}
		return nil
	case o.Record.Decrypted && o.E2EEPassphrase == "":
		return usagef("--record-decrypted needs the room's passphrase (--e2ee-passphrase, --e2ee-passphrase-file or %s)", envPassphrase)
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

// recording is a run's --record, or the UI's R key: the session's
// monitor (and, with --record-own, its sender) offers it frames through
// hooks set on the Config before it connects, which go nowhere while no
// file is open; it learns who published a track from the session once
// that is connected (attach).
type recording struct {
	ctx  context.Context
	opts recordOptions
	cur  atomic.Pointer[recordFile] // nil: not recording
	sess chan *session.Session      // holds the session once attached
	log  *slog.Logger
	// started counts the files begun, to name the UI's next one.
	started int
}

// recordFile is one recording in progress.
type recordFile struct {
	path string
	rec  *record.Recorder
	w    *record.Writer
}

// file is the recording in progress ("" when none).
func (r *recording) file() string {
	if c := r.cur.Load(); c != nil {
		return c.path
	}
	return ""
}

// schemaTimeout bounds fetching a track's schema for its channel.
const schemaTimeout = 10 * time.Second

// newRecording sets cfg's hooks to record into the file start opens; it
// opens none yet.
func newRecording(ctx context.Context, o recordOptions, cfg *session.Config, log *slog.Logger) *recording {
	r := &recording{ctx: ctx, opts: o, sess: make(chan *session.Session, 1), log: log}
	cfg.OnRemoteFrame = r.offer
	if !o.Decrypted {
		cfg.OnRemoteSealed = r.offerSealed
	}
	if o.Own {
		cfg.OnLocalFrame = r.offerOwn
	}
	return r
}

// startRecording creates the --record file and sets cfg's hooks to record
// into it; nil when the run records nothing.
func startRecording(ctx context.Context, o recordOptions, cfg *session.Config, log *slog.Logger) (*recording, error) {
	if o.Path == "" {
		return nil, nil
	}
	r := newRecording(ctx, o, cfg, log)
	if err := r.open(o.Path); err != nil {
		return nil, fmt.Errorf("--record: %w", err)
	}
	return r, nil
}

// open starts recording to path.
func (r *recording) open(path string) error {
	w, err := record.Create(path, r.opts.Options)
	if err != nil {
		return err
	}
	r.started++
	r.cur.Store(&recordFile{path: path, rec: record.NewRecorder(r.ctx, w, r.resolve, 0), w: w})
	return nil
}

func recordFrame(f *incoming.Frame) record.Frame {
	return record.Frame{Arrival: f.Arrival, HasUserTimestamp: f.HasUserTimestamp, UserTimestamp: f.UserTimestamp, Payload: f.Payload}
}

// offer records a plain frame, or a decrypted one with --record-decrypted
// (without it, E2EE frames come to offerSealed).
func (r *recording) offer(sid string, f incoming.Frame) {
	if c := r.cur.Load(); c != nil && (!f.E2EE || r.opts.Decrypted) {
		c.rec.Offer(sid, recordFrame(&f))
	}
}

// offerSealed records an E2EE frame as received.
func (r *recording) offerSealed(sid string, f incoming.Frame) {
	if c := r.cur.Load(); c != nil {
		c.rec.OfferSealed(sid, recordFrame(&f), f.KeyIndex, f.IV)
	}
}

// offerOwn records a frame of our own as sent: its arrival is when it went.
func (r *recording) offerOwn(sid string, payload []byte, userTimestamp uint64) {
	if c := r.cur.Load(); c != nil {
		c.rec.Offer(sid, record.Frame{Arrival: time.Now(), HasUserTimestamp: userTimestamp != 0, UserTimestamp: userTimestamp, Payload: payload})
	}
}

// attach gives the recording the connected session, in place of the
// last one (the UI connects again after a failure).
func (r *recording) attach(s *session.Session) {
	if r == nil {
		return
	}
	select {
	case <-r.sess:
	default:
	}
	r.sess <- s
}

// uiRecorder is the UI's R key (tui.Recorder): the first file is
// --record's when given, the next ones dttui-ROOM-TIME.mcap beside it.
type uiRecorder struct{ r *recording }

func (u uiRecorder) Start() (string, error) {
	path := u.r.opts.Path
	if path == "" || u.r.started > 0 {
		room := "room"
		select {
		case s := <-u.r.sess:
			u.r.sess <- s
			room = s.Status().Room
		default:
		}
		name := fmt.Sprintf("dttui-%s-%s.mcap", fileSafe(room), time.Now().UTC().Format("20060102-150405"))
		path = filepath.Join(filepath.Dir(cmp.Or(u.r.opts.Path, "x")), name)
	}
	return path, u.r.open(path)
}

func (u uiRecorder) Stop() (tui.RecordStopped, error) {
	res, err := u.r.stop()
	if res == nil {
		return tui.RecordStopped{}, err
	}
	return tui.RecordStopped{Files: res.files, Frames: res.counts.Written, Tracks: len(res.counts.PerSID), Dropped: res.counts.Dropped}, err
}

// fileSafe keeps a room's name to letters, digits, '-' and '_' for a
// file name (rooms may hold anything: slashes, dots, controls).
func fileSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b[:min(len(b), 64)])
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
	if !r.resolveRemote(s, &t) && !resolveOwn(s, &t) {
		return t
	}
	if !t.Type.Schema.IsZero() {
		sctx, cancel := context.WithTimeout(ctx, schemaTimeout)
		defer cancel()
		def, err := s.GetSchema(sctx, t.Identity, t.Type.Schema)
		if err != nil {
			r.log.Warn("record: the track's schema could not be fetched; its channel names it in metadata", "sid", sid, "err", err)
		}
		t.SchemaDef = def
	}
	return t
}

// resolveRemote fills t from the room monitor's track sid; false when it
// is not one.
func (r *recording) resolveRemote(s *session.Session, t *record.Track) bool {
	m := s.Monitor()
	if m == nil {
		return false
	}
	rt, ok := m.Track(t.SID)
	if !ok {
		return false
	}
	i := rt.Info()
	*t = record.Track{SID: t.SID, Name: i.Name, Identity: i.PublisherIdentity, Handle: i.PubHandle, E2EE: i.E2EE(),
		Sealed: i.E2EE() && !r.opts.Decrypted, Type: i.Type}
	return true
}

// resolveOwn fills t from our own track sid (--record-own); false when it
// is not one. Its frames are kept as pushed, before encryption.
func resolveOwn(s *session.Session, t *record.Track) bool {
	for _, lt := range s.Manager().Tracks() {
		if i := lt.Info(); i.SID == t.SID {
			*t = record.Track{SID: t.SID, Name: i.Name, Identity: s.Status().Identity, Handle: i.Handle, E2EE: i.E2EE, Type: i.Type}
			return true
		}
	}
	return false
}

// recorded is what a stopped recording holds.
type recorded struct {
	files  []string
	counts record.Counts
}

// stop closes the file in progress, its summary written; nil when there
// was none.
func (r *recording) stop() (*recorded, error) {
	cur := r.cur.Swap(nil)
	if cur == nil {
		return nil, nil
	}
	c, err := cur.rec.Close()
	return &recorded{files: cur.w.Files(), counts: c}, err
}

// finish closes the file, with its summary, and says on stderr what is
// in it; an error when frames could not all be written.
func (r *recording) finish(stderr io.Writer) error {
	if r == nil {
		return nil
	}
	res, err := r.stop()
	if res == nil {
		return err
	}
	c := res.counts
	fmt.Fprintf(stderr, "dttui: recorded %d frames of %d tracks to %v", c.Written, len(c.PerSID), res.files)
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
		_, _ = r.stop()
	}
}

// errRecordDropped: frames were received that the recording does not hold.
var errRecordDropped = errors.New("the recording dropped frames")
