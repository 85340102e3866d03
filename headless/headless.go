// Package headless runs dttui without a screen: it publishes the given
// tracks, drives their generators, and prints the session's report as one
// JSON line per interval, for scripts and CI.
package headless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/dttui/dttui/budget"
	"github.com/dttui/dttui/impair"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/source"
	"github.com/dttui/dttui/textsafe"
)

// Track is one track to publish. Its frames are probe frames from a
// generator (Rate 0 publishes without sending), or, with Source, the
// user's own data at Rate (0: as fast as the track takes them).
type Track struct {
	Name string
	Rate float64 // frames per second
	Size int     // bytes per probe frame
	E2EE bool
	Type schema.Decl
	// SchemaDef is stored in the room as Type.Schema's definition before
	// the track is published.
	SchemaDef []byte
	Source    *source.Spec
	// Stdin is read for a Source of path "-".
	Stdin io.Reader
}

// Backend is what headless needs of a session.
type Backend interface {
	PublishWith(ctx context.Context, o session.PublishOptions) (*session.Track, error)
	Report(base *report.Snapshot) report.Snapshot
	// Settle waits for frames still on their way to the loopback
	// subscriber (bounded by the loss grace period and ctx).
	Settle(ctx context.Context)
	// WaitFollowed waits until the loopback subscriber follows a track.
	WaitFollowed(ctx context.Context, tr *session.Track) error
	// StoreSchema stores a schema's definition in the room.
	StoreSchema(ctx context.Context, id schema.ID, definition []byte) error
	Close() error
}

// Options tune a run.
type Options struct {
	Interval time.Duration // default 1 s
	// FlushTimeout bounds the wait for queued frames to leave at the end;
	// frames still queued after it are dropped as "closed before sent".
	FlushTimeout time.Duration // default DefaultFlushTimeout
	// FollowTimeout bounds the wait, after each publish, for the loopback
	// subscriber to follow the track before pushing starts.
	FollowTimeout time.Duration // default DefaultFollowTimeout
	// EndWithSources ends the run once every data source has stopped
	// (reached its end or failed), when every track reads one: piped
	// input then ends the run as it ends any other program's.
	EndWithSources bool
	// SchemaCheck is what happens to a frame that does not match its
	// track's schema (validate.DefaultMode when zero: warn).
	SchemaCheck validate.Mode
	Logger      *slog.Logger
	// Budgets are judged at the end on the figures after Warmup (from
	// the start of the run: publishes, the first frames and the loopback
	// subscriber's first subscriptions are left out); the verdicts are in
	// Result and on the final line.
	Budgets []budget.Expr
	Warmup  time.Duration
}

// DefaultFlushTimeout bounds the exit flush (session's).
const DefaultFlushTimeout = session.DefaultFlushTimeout

// DefaultFollowTimeout bounds the wait for the loopback to subscribe
// (session's).
const DefaultFollowTimeout = session.DefaultFollowTimeout

// Result is how a run ended, for the caller's exit code.
type Result struct {
	Final   report.Snapshot
	Failed  []TrackError   // tracks that could not be published
	Sources []SourceResult // what each data source pushed, and why it stopped
	// Unpublished are tracks that were published and then unpublished
	// before the run ended, without being asked to: by the SFU, or when
	// the session gave up.
	Unpublished []TrackError
	// Connection is the session's status when the run ended, before it
	// was closed: Disconnected when it gave up reconnecting.
	Connection report.Status
	// Subjects are every track's figures after the warmup, and Verdicts
	// the budgets judged on them.
	Subjects []budget.Subject
	Verdicts []budget.Verdict
	// Measured is how long the figures were counted: from the warmup's
	// end (or the start) to the moment the run stopped pushing.
	Measured time.Duration
}

// SourceResult is what one track's data source did.
type SourceResult struct {
	Track string
	source.Result
	Err error // nil: it reached its end (or the run ended first)
}

// Run publishes tracks, runs their generators and writes a Line to out
// every interval until ctx ends. Then it stops the generators, flushes
// (bounded), waits for frames still on their way to the loopback
// subscriber (bounded by the loss grace period), closes the backend and
// writes a final Line: every frame pushed is there as sent or dropped
// with a reason, and every frame sent as received or lost. Publish
// failures are reported in the lines, not fatal: the other tracks still
// run. The run also ends when the session gives up reconnecting, and when
// out cannot be written (a closed pipe: the reader has gone; then the
// error is returned and no final line written), after the same clean
// stop. Run always closes b.
func Run(ctx context.Context, b Backend, tracks []Track, out io.Writer, o Options) (Result, error) {
	o.defaults()
	r := newRun(b, out, o)
	defer r.stopFeeds()
	r.publishAll(ctx, tracks)
	r.endWithSources(tracks)
	end := r.writeLines(ctx)
	stopped := r.stop()
	r.account(stopped, end.withSources)
	if end.writeErr != nil {
		// The reader has gone (a closed pipe) or out failed: stopped as
		// cleanly as on a signal, without the final line.
		return r.res, end.writeErr
	}
	return r.res, r.emit(r.res.Final, true)
}

// defaults fills what the caller left zero, so the steps of a run need
// not check.
func (o *Options) defaults() {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.FlushTimeout <= 0 {
		o.FlushTimeout = DefaultFlushTimeout
	}
	if o.FollowTimeout <= 0 {
		o.FollowTimeout = DefaultFollowTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// run is one headless run's state, shared by the steps Run takes in turn.
type run struct {
	b     Backend
	o     Options
	enc   *json.Encoder
	start time.Time
	res   Result

	published []*session.Track
	// feedCtx ends the generators and data sources; feeds counts them,
	// and sources the data sources among them, so stop can wait for both.
	feedCtx   context.Context
	stopFeeds context.CancelFunc
	feeds     sync.WaitGroup
	sources   sync.WaitGroup
	srcMu     sync.Mutex // guards res.Sources, appended by the sources
	// sourcesDone is closed when the last data source stops, if every
	// track reads one and the run is to end with them; nil otherwise.
	sourcesDone chan struct{}
	// warm is the report when the warmup ended: the budgets count from it.
	warm *report.Snapshot
}

// newRun starts the clock of the run's elapsed times; the caller owns
// stopFeeds.
func newRun(b Backend, out io.Writer, o Options) *run {
	r := &run{b: b, o: o, enc: json.NewEncoder(out), start: time.Now()}
	r.feedCtx, r.stopFeeds = context.WithCancel(context.Background())
	return r
}

// publishAll publishes the tracks one after another and starts what
// feeds each; a track that fails is noted and the others still run.
func (r *run) publishAll(ctx context.Context, tracks []Track) {
	for _, t := range tracks {
		if errors.Is(ctx.Err(), context.Canceled) {
			// Stopped by its caller (a signal) while still publishing:
			// what was not published was not refused; nothing failed.
			return
		}
		lt, err := r.publish(ctx, t)
		if err != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				return // cut by the caller's stop, not refused
			}
			r.res.Failed = append(r.res.Failed, trackError(t.Name, err))
			continue
		}
		r.published = append(r.published, lt)
		r.waitFollowed(ctx, t.Name, lt)
		r.feed(t, lt)
	}
}

// publish stores the track's schema, when it has one, and publishes it:
// the schema is in the room before any subscriber learns of the track.
func (r *run) publish(ctx context.Context, t Track) (*session.Track, error) {
	if len(t.SchemaDef) > 0 {
		if err := r.b.StoreSchema(ctx, t.Type.Schema, t.SchemaDef); err != nil {
			return nil, fmt.Errorf("store schema %s: %w", t.Type.Schema, err)
		}
	}
	return r.b.PublishWith(ctx, session.PublishOptions{Name: t.Name, E2EE: t.E2EE, Type: t.Type,
		SchemaDef: t.SchemaDef, SchemaCheck: r.o.SchemaCheck, GenerateSize: max(t.Size, probe.MinSize)})
}

// waitFollowed holds pushing back until the loopback subscriber can
// receive (bounded): frames sent before would only count as unfollowed.
func (r *run) waitFollowed(ctx context.Context, name string, lt *session.Track) {
	wctx, cancel := context.WithTimeout(ctx, r.o.FollowTimeout)
	defer cancel()
	if err := r.b.WaitFollowed(wctx, lt); err != nil && ctx.Err() == nil {
		r.o.Logger.Warn("the loopback subscriber does not follow the track yet; pushing anyway", "track", name)
	}
}

// feed starts the track's data source or probe generator (none at rate
// 0), owned by feeds until stop.
func (r *run) feed(t Track, lt *session.Track) {
	if t.Source != nil {
		r.feedSource(t, lt)
		return
	}
	if t.Rate <= 0 {
		return
	}
	g, err := probe.NewGenerator(lt.Probe(), t.Rate, max(t.Size, probe.MinSize))
	if err != nil {
		r.res.Failed = append(r.res.Failed, trackError(t.Name, err))
		return
	}
	r.feeds.Add(1)
	go func() { defer r.feeds.Done(); g.Run(r.feedCtx) }()
}

// feedSource pushes the track's data source in a goroutine and notes in
// the Result what it pushed and why it stopped.
func (r *run) feedSource(t Track, lt *session.Track) {
	r.feeds.Add(1)
	r.sources.Add(1)
	go func() {
		defer r.feeds.Done()
		defer r.sources.Done()
		// Opened here, not before the publish loop: a FIFO's open waits
		// for a writer, and the end of the run (the signal, --duration)
		// ends that wait as it ends an idle read.
		var sr source.Result
		src, err := source.Open(r.feedCtx, *t.Source, t.Stdin)
		if err == nil {
			sr, err = source.Run(r.feedCtx, src, lt.PushData, t.Rate)
			src.Close()
		}
		if errors.Is(err, context.Canceled) {
			err = nil // the run ended first
		}
		// An error is on the final line and in the Result (the caller's
		// one stderr line), not logged a third time.
		r.srcMu.Lock()
		r.res.Sources = append(r.res.Sources, SourceResult{Track: t.Name, Result: sr, Err: err})
		r.srcMu.Unlock()
	}()
}

// endWithSources arranges for sourcesDone to close once every data
// source has stopped, when the run is to end with them; stop waits for
// its closer.
func (r *run) endWithSources(tracks []Track) {
	if !r.o.EndWithSources || len(tracks) == 0 || !allSources(tracks) {
		return
	}
	r.sourcesDone = make(chan struct{})
	go func() { r.sources.Wait(); close(r.sourcesDone) }()
}

// ending is how the loop of lines ended, which decides how the run stops.
type ending struct {
	withSources bool  // the data sources all stopped: rates over the run
	writeErr    error // out failed: no final line
}

// writeLines writes a line every interval, and notes the warmup's end,
// until the run ends: ctx, the sources' end, a failed write or the
// session giving up.
func (r *run) writeLines(ctx context.Context) ending {
	var warmC <-chan time.Time
	if r.o.Warmup > 0 {
		t := time.NewTimer(r.o.Warmup - time.Since(r.start))
		defer t.Stop()
		warmC = t.C
	}
	tick := time.NewTicker(r.o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ending{}
		case <-r.sourcesDone:
			return ending{withSources: true}
		case <-warmC:
			w := r.b.Report(nil)
			r.warm = &w
		case <-tick.C:
			snap := r.b.Report(nil)
			if err := r.emit(snap, false); err != nil {
				return ending{writeErr: err}
			}
			if snap.Connection.State == report.Disconnected {
				// The session gave up reconnecting: nothing more will happen.
				return ending{}
			}
		}
	}
}

// emit writes one line; the final one adds the sources' errors and the
// budgets' verdicts, known only once the run has stopped.
func (r *run) emit(snap report.Snapshot, final bool) error {
	errs := r.res.Failed
	if final {
		errs = append(slices.Clip(errs), r.res.sourceErrors()...)
	}
	line := lineOf(snap, r.start, errs, final)
	if final && len(r.o.Budgets) > 0 {
		line.Budgets = budget.JSONs(r.res.Verdicts)
	}
	return r.enc.Encode(line)
}

// stop ends every way out of the loop the same way: generators and
// sources stopped and waited for, queues flushed, frames in flight
// settled (each bounded), how the run ended noted, the session closed
// (its tracks unpublished, the room left). It returns the report taken
// before anything stopped, what the measured time ends with.
func (r *run) stop() (stopped report.Snapshot) {
	stopped = r.b.Report(nil)
	r.stopFeeds()
	r.feeds.Wait()
	if r.sourcesDone != nil {
		<-r.sourcesDone // its closer has seen the last source stop
	}
	r.flush()
	r.b.Settle(context.Background())
	r.res.noteEnd(r.b.Report(nil))
	_ = r.b.Close()
	r.res.Final = r.b.Report(nil)
	if errors.Is(r.res.Final.Connection.Err, session.ErrClosed) {
		// Closed by us, as asked: the normal end, not an error.
		r.res.Final.Connection.Err = nil
	}
	return stopped
}

// flush waits (bounded) for every track's queued frames to leave, so
// that the frames dropped at the end are only those that could not.
func (r *run) flush() {
	fctx, cancel := context.WithTimeout(context.Background(), r.o.FlushTimeout)
	defer cancel()
	for _, lt := range r.published {
		if err := lt.Flush(fctx); err != nil {
			r.o.Logger.Warn("exit flush did not finish; the frames still queued are dropped", "track", lt.Name(), "err", err)
		}
	}
}

// account fills the Result's figures after the warmup and judges the
// budgets on them, once the run has stopped.
func (r *run) account(stopped report.Snapshot, withSources bool) {
	if r.o.Warmup > 0 && r.warm == nil {
		// The run ended within its warmup: nothing counts.
		r.warm = &stopped
	}
	if withSources {
		// The run ended when its data did (read at once from a pipe,
		// say): its rates are over the time it ran, not over the
		// instant the frames took to leave.
		for i := range r.res.Final.Local {
			r.res.Final.Local[i].AverageOver(r.res.Final.At.Sub(r.start))
		}
	}
	r.res.Subjects = budget.FromSnapshot(r.res.Final.Measured(r.warm, &stopped))
	r.res.Verdicts = budget.Evaluate(r.o.Budgets, r.res.Subjects)
	r.res.Measured = stopped.At.Sub(r.start)
	if r.warm != nil {
		r.res.Measured = stopped.At.Sub(r.warm.At)
	}
}

// sourceErrors are the data sources that stopped on an error, as the
// final line's errors.
func (r *Result) sourceErrors() []TrackError {
	var errs []TrackError
	for _, s := range r.Sources {
		if s.Err != nil {
			te := trackError(s.Track, fmt.Errorf("data not all sent, stopped after %d frames: %w", s.Frames, s.Err))
			te.Reason = "data"
			errs = append(errs, te)
		}
	}
	return errs
}

func allSources(tracks []Track) bool {
	for _, t := range tracks {
		if t.Source == nil {
			return false
		}
	}
	return true
}

// noteEnd records, from the snapshot taken when the run ended (before
// dttui unpublishes anything), the connection's state and the tracks
// that were unpublished without being asked to.
func (r *Result) noteEnd(snap report.Snapshot) {
	r.Connection = snap.Connection
	for _, l := range snap.Local {
		if l.State != outgoing.StateUnpublished {
			continue
		}
		why := "unpublished"
		if n := len(l.Timeline); n > 0 && l.Timeline[n-1].Reason != "" {
			why = l.Timeline[n-1].Reason
		}
		r.Unpublished = append(r.Unpublished, TrackError{Name: l.Name, Reason: "unpublished", Error: textsafe.Line(why)})
	}
}

// ConnectFailed writes the final Line of a run whose connect failed, so a
// reader of the JSON learns why there is nothing else.
func ConnectFailed(out io.Writer, start time.Time, err error) error {
	now := time.Now()
	return json.NewEncoder(out).Encode(Line{Time: now.UTC(), Elapsed: now.Sub(start).Seconds(), Final: true, Tracks: []TrackLine{},
		Connection: Connection{State: report.Disconnected.String(), Error: textsafe.Line(err.Error())}})
}

// Line is one JSON line of output.
type Line struct {
	Time       time.Time   `json:"time"`
	Elapsed    float64     `json:"elapsed_s"`
	Connection Connection  `json:"connection"`
	Tracks     []TrackLine `json:"tracks"`
	// Remote lists the other participants' tracks the room monitor
	// receives (left out when the monitor is off).
	Remote []RemoteLine `json:"remote,omitempty"`
	// Memory is what the room makes the monitor hold (left out when the
	// monitor is off).
	Memory *MemoryLine `json:"memory,omitempty"`
	// Errors are the tracks that could not be published and, on the final
	// line, the data sources that stopped on an error (reason "data").
	Errors []TrackError `json:"errors,omitempty"`
	// Final marks the last line, written after the exit flush, the wait for
	// frames in flight and the close. Its rates are over the whole run
	// (between each track's first and last frame; elapsed_s for a run that
	// ended with its data) and its latency over every frame, not the last
	// second and the last ten.
	Final bool `json:"final,omitempty"`
	// Budgets, on the final line of a run given any, is each budget
	// judged on each track, with the value measured after the warmup.
	Budgets []budget.JSON `json:"budgets,omitempty"`
}

// Connection is the session's health in a Line.
type Connection struct {
	State      string  `json:"state"`
	Error      string  `json:"error,omitempty"`
	RTTms      float64 `json:"rtt_ms"`
	Reconnects int     `json:"reconnects"`
	// LocalDrops is the datagrams dttui's WebRTC stack received and
	// dropped unread (report.Status.LocalDrops): lost here, not on the path.
	LocalDrops uint64 `json:"local_drops"`
	Room       string `json:"room"`
	Identity   string `json:"identity"`
	// Credentials is where the server URL and the API key came from
	// (absent when not said); never the secret.
	Credentials *CredentialsLine `json:"credentials,omitempty"`
	Sender      *Sender          `json:"sender,omitempty"`
	// Impair is the impairment our connection went through at this line
	// (absent: none), so an impaired run is never read as the network's.
	Impair *ImpairLine `json:"impair,omitempty"`
}

// CredentialsLine is report.Credentials: each origin is flags, env,
// project or embedded.
type CredentialsLine struct {
	URL            string `json:"url"`
	Key            string `json:"key"`
	Project        string `json:"project,omitempty"`
	DefaultProject bool   `json:"default_project,omitempty"`
}

func credentialsOf(c report.Credentials) *CredentialsLine {
	if c.IsZero() {
		return nil
	}
	return &CredentialsLine{URL: c.URL.String(), Key: c.Key.String(), Project: textsafe.Line(c.Project), DefaultProject: c.DefaultProject}
}

// ImpairLine is report.Impairment: the spec in force (impair.Parse's
// syntax), since when, and what the shaper did since the run began.
type ImpairLine struct {
	Spec      string            `json:"spec"`
	SinceS    float64           `json:"since_s"` // seconds into the run it was applied
	Datagrams uint64            `json:"datagrams"`
	Dropped   map[string]uint64 `json:"dropped"` // by reason: loss, burst, queue, blackout
	Reordered uint64            `json:"reordered"`
	Duplicate uint64            `json:"duplicated"`
}

func impairOf(im report.Impairment, start time.Time) *ImpairLine {
	if im.Spec.IsZero() {
		return nil
	}
	l := &ImpairLine{Spec: im.Spec.String(), SinceS: max(im.Since.Sub(start).Seconds(), 0), Datagrams: im.Counts.Datagrams,
		Dropped: map[string]uint64{}, Reordered: im.Counts.Reordered, Duplicate: im.Counts.Duplicated}
	for f := impair.DropLoss; f <= impair.DropBlackout; f++ {
		l.Dropped[f.String()] = im.Counts.Dropped[f]
	}
	return l
}

// Sender is the publisher's data-channel sender (report.Sender); absent
// before the channel opens.
type Sender struct {
	WindowBytes      int     `json:"window_bytes"`
	InFlightBytes    int     `json:"in_flight_bytes"`
	DeliveryBps      float64 `json:"delivery_bytes_per_s"`
	PaceBps          float64 `json:"pace_bytes_per_s"`
	PathRTTms        float64 `json:"path_rtt_ms"`
	SCTPRTTms        float64 `json:"sctp_rtt_ms"`
	CongestionWindow uint32  `json:"sctp_cwnd_bytes"`
	ReceiverWindow   uint32  `json:"sctp_rwnd_bytes"`
	WindowWaits      uint64  `json:"window_waits"`
	PaceWaits        uint64  `json:"pace_waits"`
	// LimitBps is the congestion limit (0: none), Backoffs the times it
	// was lowered (report.Sender).
	LimitBps float64 `json:"limit_bytes_per_s"`
	Backoffs uint64  `json:"backoffs"`
}

func senderOf(s report.Sender) *Sender {
	if s == (report.Sender{}) {
		return nil
	}
	return &Sender{WindowBytes: s.Window, InFlightBytes: s.InFlight, DeliveryBps: s.DeliveryRate, PaceBps: s.PaceRate,
		PathRTTms: ms(s.PathRTT), SCTPRTTms: ms(s.SCTPRTT), CongestionWindow: s.CongestionWindow, ReceiverWindow: s.ReceiverWindow,
		WindowWaits: s.WindowWaits, PaceWaits: s.PaceWaits, LimitBps: s.Limit, Backoffs: s.Backoffs}
}

// TrackError is a track that could not be published.
type TrackError struct {
	Name string `json:"name"`
	// Reason is the kind of failure ("duplicate name", "timeout", …).
	Reason string `json:"reason"`
	// SFUReason and Message are what the SFU said, when it said anything.
	SFUReason string `json:"sfu_reason,omitempty"`
	Message   string `json:"sfu_message,omitempty"`
	Error     string `json:"error"`
}

func trackError(name string, err error) TrackError {
	te := TrackError{Name: name, Reason: "error", Error: textsafe.Line(err.Error())}
	var pe *outgoing.PublishError
	if errors.As(err, &pe) {
		te.Reason, te.Message = pe.Reason.String(), textsafe.Line(pe.RawMessage)
		if pe.SFUReason != 0 || pe.RawMessage != "" {
			te.SFUReason = outgoing.SFUReasonName(pe.SFUReason)
		}
	}
	return te
}

// TrackLine is one track in a Line.
type TrackLine struct {
	Name   string   `json:"name"`
	Handle uint16   `json:"handle"`
	SID    string   `json:"sid"`
	SIDs   []string `json:"sids,omitempty"` // every SID, when a republish gave it more than one
	Type   string   `json:"type,omitempty"` // frame encoding and schema, as on a remote line
	State  string   `json:"state"`
	// WindowS is what the rates are over: 1 s on the per-interval lines
	// (the latest complete second), the time between the first and the
	// last frame on the final line, or the run's elapsed_s when it ended
	// with the data its tracks read.
	WindowS           float64           `json:"window_s"`
	FramesPerSec      float64           `json:"fps"`
	PacketsPerSec     float64           `json:"pps"`
	BytesPerSec       float64           `json:"bytes_per_s"`
	Pushed            uint64            `json:"pushed"`
	Sent              uint64            `json:"sent"`
	Queued            uint64            `json:"queued"`
	Dropped           uint64            `json:"dropped"`
	DroppedBy         map[string]uint64 `json:"dropped_by,omitempty"`
	UnpublishedErrors uint64            `json:"unpublished_errors"`
	// SchemaMismatches counts pushed frames that did not match the
	// track's schema: sent (--schema-check warn) or dropped with reason
	// "schema mismatch" (refuse).
	SchemaMismatches uint64  `json:"schema_mismatches"`
	LastError        string  `json:"last_error,omitempty"`
	Rx               *RxLine `json:"rx,omitempty"`
	// SFU is the SFU's own account, from its logs (the embedded SFU only).
	SFU *SFULine `json:"sfu,omitempty"`
}

// SFULine is what the SFU itself logged about a track: packets it shed
// toward the subscriber in question (the loopback, or us for a remote
// track) because more than its target latency was queued toward it, and,
// once the track closed, the packets it received from the publisher and
// the gaps in them (loss on the way up).
type SFULine struct {
	ShedPackets     uint64  `json:"shed_packets"`
	NotReadyPackets uint64  `json:"not_ready_packets"`
	Up              *UpLine `json:"up,omitempty"`
}

// UpLine is the SFU's count of what it received from the publisher.
type UpLine struct {
	Packets     uint64 `json:"packets"`
	PacketsLost uint64 `json:"packets_lost"`
	Frames      uint64 `json:"frames"`
}

func sfuLine(o *report.SFUObserved) *SFULine {
	if o == nil {
		return nil
	}
	l := &SFULine{ShedPackets: o.Shed, NotReadyPackets: o.NotReady}
	if o.Up != nil {
		l.Up = &UpLine{Packets: o.Up.Packets, PacketsLost: o.Up.PacketsLost, Frames: o.Up.Frames}
	}
	return l
}

// RxLine is what the loopback subscriber received of a track.
type RxLine struct {
	FramesPerSec  float64 `json:"fps"`
	Frames        uint64  `json:"frames"`
	Bytes         uint64  `json:"bytes"`
	Lost          uint64  `json:"lost"`
	InGrace       uint64  `json:"in_grace"`
	GraceS        float64 `json:"grace_s"`
	Duplicates    uint64  `json:"duplicates"`
	Late          uint64  `json:"late"`
	Foreign       uint64  `json:"foreign"`
	Data          uint64  `json:"data"`
	Unfollowed    uint64  `json:"unfollowed"`
	Incomplete    uint64  `json:"incomplete"`
	Corrupt       uint64  `json:"corrupt"`
	LatencyFrames uint64  `json:"latency_frames"`
	P50ms         float64 `json:"p50_ms"`
	P95ms         float64 `json:"p95_ms"`
	P99ms         float64 `json:"p99_ms"`
}

func lineOf(snap report.Snapshot, start time.Time, failed []TrackError, final bool) Line {
	c := snap.Connection
	// Tracks is [] (not null) when none is published: consumers iterate
	// it without a null check.
	line := Line{Time: snap.At.UTC(), Elapsed: snap.At.Sub(start).Seconds(), Final: final, Errors: failed, Tracks: []TrackLine{},
		Connection: Connection{State: c.State.String(), RTTms: ms(c.RTT), Reconnects: c.Reconnects, LocalDrops: c.LocalDrops, Room: textsafe.Line(c.Room), Identity: textsafe.Line(c.Identity),
			Credentials: credentialsOf(c.Credentials), Sender: senderOf(c.Sender), Impair: impairOf(c.Impair, start)}}
	if c.Err != nil {
		line.Connection.Error = textsafe.Line(c.Err.Error())
	}
	for _, l := range snap.Local {
		if l.State == outgoing.StatePending {
			continue
		}
		r, lat := l.Rate, l.Latency
		if final {
			r, lat = l.Average, l.RunLatency
		}
		tl := TrackLine{Name: l.Name, Handle: l.Handle, SID: l.SID(), Type: textsafe.Line(l.Type.String()), State: l.State.String(),
			WindowS: r.Window.Seconds(), FramesPerSec: r.SentFPS, PacketsPerSec: r.SentPPS, BytesPerSec: r.SentBPS,
			Pushed: l.Out.FramesPushed, Sent: l.Out.FramesSent, Queued: l.Out.FramesQueued, Dropped: l.Out.FramesDropped,
			UnpublishedErrors: l.Out.UnpublishedErrors, SchemaMismatches: l.Out.SchemaMismatches}
		if len(l.SIDs) > 1 {
			tl.SIDs = l.SIDs
		}
		if ev, ok := l.LastError(); ok {
			tl.LastError = textsafe.Line(ev.Problem())
		}
		tl.DroppedBy = report.DropsByName(l.Out)
		if rx := l.Rx; rx != nil {
			tl.Rx = &RxLine{FramesPerSec: r.ReceivedFPS, Frames: rx.Frames, Bytes: rx.Bytes, Lost: rx.Lost, InGrace: rx.InGrace,
				GraceS: rx.Grace.Seconds(), Duplicates: rx.Duplicates, Late: rx.Late, Foreign: rx.Foreign, Data: rx.Data, Unfollowed: rx.Unfollowed,
				Incomplete: rx.Incomplete, Corrupt: rx.Corrupt,
				LatencyFrames: lat.Frames, P50ms: ms(lat.P50), P95ms: ms(lat.P95), P99ms: ms(lat.P99)}
		}
		tl.SFU = sfuLine(l.SFU)
		line.Tracks = append(line.Tracks, tl)
	}
	for _, r := range snap.Remote {
		line.Remote = append(line.Remote, remoteLine(r, final))
	}
	line.Memory = memoryLine(&snap.Memory)
	return line
}

// MemoryLine is report.Snapshot.Memory on a line: the bytes other
// participants' partial frames hold now, the most after any packet, the
// budget and one participant's share of it, the partial frames evicted
// to keep within them, by reason, and the tracks published now that are
// not followed, past the track cap.
type MemoryLine struct {
	HeldBytes           int         `json:"held_bytes"`
	PeakBytes           int         `json:"peak_bytes"`
	BudgetBytes         int         `json:"budget_bytes"`
	PerParticipantBytes int         `json:"per_participant_bytes"`
	Evicted             EvictedLine `json:"evicted"`
	EvictedBytes        EvictedLine `json:"evicted_bytes"`
	TracksRefused       int         `json:"tracks_refused"`
	TracksForgotten     uint64      `json:"tracks_forgotten"`
}

// EvictedLine is a count by incoming.EvictReason.
type EvictedLine struct {
	RoomBudget       uint64 `json:"room_budget"`
	ParticipantShare uint64 `json:"participant_share"`
	Idle             uint64 `json:"idle"`
}

func evictedLine(by *[incoming.NumEvictReasons]uint64) EvictedLine {
	return EvictedLine{RoomBudget: by[incoming.EvictRoomBudget], ParticipantShare: by[incoming.EvictParticipantShare], Idle: by[incoming.EvictIdle]}
}

func memoryLine(h *incoming.Held) *MemoryLine {
	if h.Budget == 0 {
		return nil // no monitor
	}
	return &MemoryLine{HeldBytes: h.Bytes, PeakBytes: h.Peak, BudgetBytes: h.Budget, PerParticipantBytes: h.PerParticipant,
		Evicted: evictedLine(&h.Evicted), EvictedBytes: evictedLine(&h.EvictedBytes), TracksRefused: h.TracksRefused,
		TracksForgotten: h.TracksForgotten}
}

// RemoteLine is one of the other participants' tracks, as the room
// monitor receives it, measured from its packets.
type RemoteLine struct {
	Name      string `json:"name"`
	SID       string `json:"sid"`
	Publisher string `json:"publisher"` // identity
	State     string `json:"state"`
	E2EE      bool   `json:"e2ee"`
	Type      string `json:"type,omitempty"` // frame encoding and schema
	Replaces  string `json:"replaces,omitempty"`
	// Rates are over the last second (the final line: the whole run).
	WindowS       float64 `json:"window_s"`
	FramesPerSec  float64 `json:"fps"`
	PacketsPerSec float64 `json:"pps"`
	BytesPerSec   float64 `json:"bytes_per_s"`
	Frames        uint64  `json:"frames"`
	FrameBytes    uint64  `json:"frame_bytes"`
	Packets       uint64  `json:"packets"`
	PacketsLost   uint64  `json:"packets_lost"`
	// FramesLost never arrived whole (incoming.TrackStats.LostFrames);
	// Incomplete are those of them some packets of which arrived.
	FramesLost uint64 `json:"frames_lost"`
	Incomplete uint64 `json:"incomplete"`
	// Cut counts frames only partly inside a subscription (joined midway,
	// or unfinished at an unsubscribe or the end): not lost.
	Cut        uint64 `json:"cut"`
	Duplicates uint64 `json:"duplicates"`
	Reordered  uint64 `json:"reordered"`
	Late       uint64 `json:"late"`
	// DecryptFailures counts E2EE frames that did not open.
	DecryptFailures uint64 `json:"decrypt_failures"`
	// OverClientLimit counts frames larger than LiveKit's JS and Rust
	// subscribers reassemble.
	OverClientLimit uint64 `json:"over_client_limit"`
	// Latency is arrival minus the user timestamp. Clock says whose clock
	// that timestamp is on: "synced ±0.4ms" when the publisher is a dttui
	// that answered the clock exchange (the figure is one-way, the offset
	// between the clocks taken out, within that uncertainty), "two
	// clocks" when it did not (the offset is part of the figure),
	// "syncing" while it is being asked. ClockOffsetMs (their clock minus
	// ours) and ClockUncertaintyMs are the estimate, when synced.
	LatencyFrames      uint64  `json:"latency_frames"`
	P50ms              float64 `json:"p50_ms"`
	P95ms              float64 `json:"p95_ms"`
	P99ms              float64 `json:"p99_ms"`
	Clock              string  `json:"clock"`
	ClockOffsetMs      float64 `json:"clock_offset_ms,omitempty"`
	ClockUncertaintyMs float64 `json:"clock_uncertainty_ms,omitempty"`
	// SFU is the SFU's own account toward us (the embedded SFU only).
	SFU *SFULine `json:"sfu,omitempty"`
	// Probe is the account of the frames that are dttui's probe (another
	// dttui publishes the track), by their own sequence numbers.
	Probe *ProbeLine `json:"probe,omitempty"`
	// HeldBytes is what its partial frames hold now; Evicted its partial
	// frames given up to keep the room within its memory budget.
	HeldBytes int         `json:"held_bytes"`
	Evicted   EvictedLine `json:"evicted"`
	// Schema is its frames checked against the schema it declares.
	Schema SchemaLine `json:"schema"`
}

// SchemaLine is report.SchemaCheck on a line: checked + not_checked =
// frames; mismatches are among checked. Status is "checked" or why not;
// FirstPath and FirstReason are the first frame that did not match.
type SchemaLine struct {
	Status      string `json:"status"`
	Checked     uint64 `json:"checked"`
	NotChecked  uint64 `json:"not_checked"`
	Mismatches  uint64 `json:"mismatches"`
	FirstPath   string `json:"first_path,omitempty"`
	FirstReason string `json:"first_reason,omitempty"`
}

func schemaLine(c report.SchemaCheck) SchemaLine {
	l := SchemaLine{Status: c.Unchecked.String(), Checked: c.Checked, NotChecked: c.NotChecked, Mismatches: c.Mismatches}
	if c.First != nil {
		// The publisher's data and schema: escaped like every outside string.
		l.FirstPath, l.FirstReason = textsafe.Line(c.First.Path), textsafe.Line(c.First.Reason)
	}
	return l
}

// ProbeLine is report.RemoteProbe on a line: received + lost + in_grace +
// cut = sent, where sent counts the frames up to the latest that arrived.
// Latency is from the probe's own send time, over the whole run, on the
// clock the track's RemoteLine.Clock names.
type ProbeLine struct {
	Sent       uint64 `json:"sent"`
	Received   uint64 `json:"received"`
	Lost       uint64 `json:"lost"`
	InGrace    uint64 `json:"in_grace"`
	Cut        uint64 `json:"cut"`
	Duplicates uint64 `json:"duplicates"`
	Late       uint64 `json:"late"`
	Corrupt    uint64 `json:"corrupt"`
	Jumps      uint64 `json:"jumps"`
	// PublisherDropped are among lost: frames the publisher numbered and
	// then dropped itself, not the network's.
	PublisherDropped uint64  `json:"publisher_dropped"`
	P50ms            float64 `json:"p50_ms"`
	P95ms            float64 `json:"p95_ms"`
	P99ms            float64 `json:"p99_ms"`
}

func probeLine(p *report.RemoteProbe) *ProbeLine {
	if p == nil {
		return nil
	}
	lat := p.Percentiles()
	return &ProbeLine{Sent: p.Sent, Received: p.Received, Lost: p.Lost, InGrace: p.InGrace, Cut: p.Cut,
		Duplicates: p.Duplicates, Late: p.Late, Corrupt: p.Corrupt, Jumps: p.Jumps, PublisherDropped: p.PublisherDropped,
		P50ms: ms(lat.P50), P95ms: ms(lat.P95), P99ms: ms(lat.P99)}
}

func remoteLine(r report.Remote, final bool) RemoteLine {
	st := r.Stats
	rate, lat := r.Rate, r.Latency
	if final {
		rate, lat = r.Average, r.RunLatency
	}
	// Every string here is the publisher's or the SFU's: escaped as the
	// UI escapes it, so `jq -r` on a line cannot write to a terminal.
	return RemoteLine{Name: textsafe.Line(st.Name), SID: textsafe.Line(st.SID), Publisher: textsafe.Line(st.PublisherIdentity),
		State: st.State.String(), E2EE: st.E2EE(), Type: textsafe.Line(st.Type.String()), Replaces: textsafe.Line(st.Replaces),
		WindowS: rate.Window.Seconds(), FramesPerSec: rate.ReceivedFPS, PacketsPerSec: rate.ReceivedPPS, BytesPerSec: rate.ReceivedBPS,
		Frames: st.FramesCompleted, FrameBytes: st.FrameBytes, Packets: st.Packets, PacketsLost: st.PacketsLost,
		FramesLost: st.LostFrames(), Incomplete: st.FramesIncomplete, Cut: st.FramesCut, Duplicates: st.PacketsDuplicate,
		Reordered: st.PacketsReordered, Late: st.PacketsLate, DecryptFailures: st.DecryptFailuresTotal(),
		OverClientLimit: st.FramesOverClientLimit, LatencyFrames: lat.Frames, P50ms: ms(lat.P50), P95ms: ms(lat.P95), P99ms: ms(lat.P99),
		Clock: st.Clock.String(), ClockOffsetMs: ms(st.Clock.Offset), ClockUncertaintyMs: ms(st.Clock.Uncertainty), SFU: sfuLine(r.SFU),
		Probe: probeLine(r.Probe), HeldBytes: st.HeldBytes, Evicted: evictedLine(&st.Evicted), Schema: schemaLine(r.Schema)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
