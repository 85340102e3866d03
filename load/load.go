// Package load is dttui's load mode: many publishing participants, each
// publishing the same tracks of probe frames, and subscribing participants
// that receive every track, all in one process with a connection each. Every
// frame is followed from the moment it leaves its publisher to its arrival
// at each subscriber, so a run ends with exact figures per track — pushed,
// sent, dropped by reason, delivered, lost, latency — and a summary table.
package load

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/dttui/dttui/budget"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
)

// Track is one track every publisher publishes: probe frames of Size bytes
// at Rate frames per second (0: published, idle).
type Track struct {
	Name string
	Rate float64
	Size int
}

// Config describes a run.
type Config struct {
	// Session is every participant's connection: URL, APIKey and APISecret
	// (tokens are minted per participant), Room, E2EEPassphrase, limits.
	// Identity, when set, prefixes the participants' identities; Loopback,
	// Monitor and OnRemoteFrame are set per participant.
	Session session.Config
	// Participants publish Tracks each; Subscribers receive them all.
	Participants int
	Subscribers  int
	Tracks       []Track
	// Ramp is how many participants join per second (DefaultRamp when ≤ 0):
	// subscribers first, then publishers.
	Ramp float64
	// Interval between progress lines (default 1 s).
	Interval time.Duration
	// FollowTimeout bounds the wait, after each publish, for every
	// subscriber to receive the track before its frames start.
	FollowTimeout time.Duration // default DefaultFollowTimeout
	// FlushTimeout bounds the wait for queued frames to leave at the end.
	FlushTimeout time.Duration // default DefaultFlushTimeout
	// LossGrace is how long a subscriber has to receive a frame before it
	// counts as lost (probe.LossGrace: probe.DefaultLossGrace when ≤ 0).
	LossGrace time.Duration
	Logger    *slog.Logger
	// Budgets are judged at the end on the figures after Warmup (from the
	// start of the run, the ramp included); the verdicts are in the
	// Summary and on the final line.
	Budgets []budget.Expr
	Warmup  time.Duration
}

// Defaults; the waits are session's, as headless's are.
const (
	DefaultRamp          = 5.0 // participants per second
	DefaultFollowTimeout = session.DefaultFollowTimeout
	DefaultFlushTimeout  = session.DefaultFlushTimeout
)

// Errors of a Config.
var (
	// ErrNoCredentials: load mode mints a token per participant.
	ErrNoCredentials = errors.New("load mode needs an API key and secret to mint a token per participant (a token is for one identity)")
	// ErrNoParticipants: nothing would publish.
	ErrNoParticipants = errors.New("load mode needs at least one participant")
	// ErrNoTracks: the participants would publish nothing.
	ErrNoTracks = errors.New("load mode needs at least one track")
)

func (c *Config) check() error {
	switch {
	case c.Session.APIKey == "" || c.Session.APISecret == "":
		return ErrNoCredentials
	case c.Participants < 1:
		return ErrNoParticipants
	case c.Subscribers < 0:
		return errors.New("load mode: subscribers must be ≥ 0")
	case len(c.Tracks) == 0:
		return ErrNoTracks
	}
	seen := map[string]bool{}
	for _, t := range c.Tracks {
		if seen[t.Name] {
			return fmt.Errorf("load mode: track %q given twice", t.Name)
		}
		seen[t.Name] = true
		if t.Rate < 0 {
			return fmt.Errorf("load mode: track %q: negative rate", t.Name)
		}
	}
	return nil
}

func (c *Config) defaults() {
	if c.Ramp <= 0 {
		c.Ramp = DefaultRamp
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.FollowTimeout <= 0 {
		c.FollowTimeout = DefaultFollowTimeout
	}
	if c.FlushTimeout <= 0 {
		c.FlushTimeout = DefaultFlushTimeout
	}
	c.LossGrace = probe.LossGrace(c.LossGrace)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Session.Room == "" {
		c.Session.Room = "dttui-load-" + randomHex(3)
	}
	if c.Session.Identity == "" {
		// Unique per run, so instances on several machines can load one
		// room together and their summaries merge without collisions.
		c.Session.Identity = "dttui-load-" + randomHex(3)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// participant is one connection of the run.
type participant struct {
	identity string
	role     Role
	s        *session.Session // nil until connected, or when it failed
	err      error            // why it could not connect
}

// run is one load run's state.
type run struct {
	cfg  Config
	id   string         // Summary.RunID
	subs []*participant // fixed before any publisher connects
	pubs []*participant

	// Used by Run's goroutine only.
	start    time.Time
	enc      *json.Encoder
	tick     *time.Ticker // progress lines, while joining and after
	prev     snapshot     // the totals at the last progress line
	writeErr error        // the first failed write to out: the run stops
	// base is the run when its warmup ended: the budgets count from it.
	base *Summary

	// genCtx ends the generators. subWG counts the subscribers' connects,
	// wg the publishers' connects, publishes and generators; subsDone is
	// closed once every subscriber's connect has ended.
	genCtx   context.Context
	stopGens context.CancelFunc
	subWG    sync.WaitGroup
	wg       sync.WaitGroup
	subsDone chan struct{}

	mu     sync.Mutex
	tracks []*track // in publish order
	byStr  map[uint32]*track
	// foreign counts frames subscribers received from tracks not in this
	// run (other participants in the room), per subscriber.
	foreign []uint64
}

// Run connects the subscribers and then the publishers at cfg.Ramp, runs
// every track's generator until ctx ends, and then stops cleanly: the
// generators stop, the queues flush (bounded), frames still on their way
// get the loss grace period, every session closes. It writes a progress
// Line to out every interval and a final one holding the Summary, which
// it also returns. Failures to connect or publish are in the summary, not
// fatal; a Config error or a failed write to out is returned.
func Run(ctx context.Context, cfg Config, out io.Writer) (Summary, error) {
	if err := cfg.check(); err != nil {
		return Summary{}, err
	}
	cfg.defaults()
	r := newRun(cfg, out)
	defer r.stopGens()
	defer r.tick.Stop()
	r.joinAll(ctx)
	r.writeLines(ctx)
	sum := r.stop()
	r.judge(&sum)
	if r.writeErr != nil {
		return sum, r.writeErr
	}
	return sum, r.writeFinal(&sum)
}

// newRun starts the run's clock and its progress ticker, and names every
// participant before any connects; the caller owns stopGens and tick.
func newRun(cfg Config, out io.Writer) *run {
	r := &run{cfg: cfg, id: rand.Text(), byStr: map[uint32]*track{}, foreign: make([]uint64, cfg.Subscribers)}
	r.start = time.Now()
	r.enc = json.NewEncoder(out)
	r.genCtx, r.stopGens = context.WithCancel(context.Background())
	r.tick = time.NewTicker(cfg.Interval)
	r.prev = r.totals()
	r.subs = make([]*participant, cfg.Subscribers)
	r.pubs = make([]*participant, cfg.Participants)
	for j := range r.subs {
		r.subs[j] = &participant{identity: fmt.Sprintf("%s-sub-%d", cfg.Session.Identity, j), role: RoleSubscriber}
	}
	for i := range r.pubs {
		r.pubs[i] = &participant{identity: fmt.Sprintf("%s-pub-%d", cfg.Session.Identity, i), role: RolePublisher}
	}
	return r
}

// progress writes a progress line, its rates since the previous one; after
// a failed write it writes no more.
func (r *run) progress() {
	cur := r.totals()
	if r.writeErr == nil {
		r.writeErr = r.enc.Encode(progressLine(r.start, time.Now(), r.cfg, r.connected, r.prev, cur))
	}
	r.prev = cur
}

// joinAll connects the subscribers and then the publishers (each then
// publishing) at the ramp's pace, writing progress meanwhile, until all
// have joined or ctx ends.
func (r *run) joinAll(ctx context.Context) {
	pace := time.NewTicker(time.Duration(float64(time.Second) / r.cfg.Ramp))
	defer pace.Stop()
	joining := true
	for _, p := range r.subs {
		if joining = r.join(ctx, pace, &r.subWG, p, nil); !joining {
			break
		}
	}
	// Publishers wait for every subscriber's connect to end (joined or
	// failed): the set of subscribers a frame can be followed to is fixed
	// before the first frame.
	r.subsDone = make(chan struct{})
	go func() { r.subWG.Wait(); close(r.subsDone) }()
	joining = joining && progressUntil(ctx, r, r.subsDone)
	for _, p := range r.pubs {
		if !joining {
			break
		}
		joining = r.join(ctx, pace, &r.wg, p, func(p *participant) { r.publish(ctx, p) })
	}
}

// join connects p in a goroutine wg owns, then runs then if it connected;
// it returns once the ramp's pace lets the next participant join (writing
// progress meanwhile), or false when ctx ends first.
func (r *run) join(ctx context.Context, pace *time.Ticker, wg *sync.WaitGroup, p *participant, then func(*participant)) bool {
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.connect(ctx, p)
		if then != nil && p.s != nil {
			then(p)
		}
	}()
	return progressUntil(ctx, r, pace.C)
}

// progressUntil writes progress every interval while joining waits for
// c: true once c delivers, false when ctx ends first.
func progressUntil[T any](ctx context.Context, r *run, c <-chan T) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-r.tick.C:
			r.progress()
		case <-c:
			return true
		}
	}
}

// writeLines writes progress every interval, and notes when the warmup
// ends, until ctx ends or out fails.
func (r *run) writeLines(ctx context.Context) {
	var warmC <-chan time.Time
	if r.cfg.Warmup > 0 {
		t := time.NewTimer(r.cfg.Warmup - time.Since(r.start))
		defer t.Stop()
		warmC = t.C
	}
	for ctx.Err() == nil && r.writeErr == nil {
		select {
		case <-ctx.Done():
		case <-r.tick.C:
			r.progress()
		case <-warmC:
			r.noteWarm()
		}
	}
}

// noteWarm takes the figures the budgets count from.
func (r *run) noteWarm() {
	b := r.summary()
	r.base = &b
}

// stop is the clean stop: generators stopped and waited for, queues
// flushed, frames in flight settled (each bounded), every session
// closed. It returns the summary read before the close.
func (r *run) stop() Summary {
	if r.cfg.Warmup > 0 && r.base == nil {
		// The run ended within its warmup (or while joining): nothing counts.
		r.noteWarm()
	}
	r.stopGens()
	<-r.subsDone
	r.wg.Wait()
	r.flush()
	r.settle()
	sum := r.summary()
	r.closeAll()
	sum.Elapsed = time.Since(r.start).Seconds()
	return sum
}

// judge puts in sum the figures after the warmup and the budgets'
// verdicts on them.
func (r *run) judge(sum *Summary) {
	measured := sum.Since(r.base)
	sum.Subjects = measured.BudgetSubjects()
	sum.Verdicts = budget.Evaluate(r.cfg.Budgets, sum.Subjects)
}

// writeFinal writes the last line, which holds the summary and the
// budgets' verdicts.
func (r *run) writeFinal(sum *Summary) error {
	final := Line{Time: time.Now().UTC(), Elapsed: sum.Elapsed, Final: true, Summary: sum}
	if len(r.cfg.Budgets) > 0 {
		final.Budgets = budget.JSONs(sum.Verdicts)
	}
	return r.enc.Encode(final)
}

// connect joins p; its session is set only once it connected.
func (r *run) connect(ctx context.Context, p *participant) {
	c := r.cfg.Session
	c.Identity, c.Token = p.identity, ""
	c.Loopback = false
	c.Monitor = p.role == RoleSubscriber
	c.LossGrace = r.cfg.LossGrace
	c.Logger = r.cfg.Logger.With("participant", p.identity)
	if p.role == RoleSubscriber {
		j := r.subIndex(p)
		c.OnRemoteFrame = func(sid string, f incoming.Frame) { r.arrived(j, sid, f) }
	}
	s, err := session.Connect(ctx, c)
	r.mu.Lock()
	defer r.mu.Unlock()
	p.s, p.err = s, err
	if err != nil {
		r.cfg.Logger.Warn("load: participant could not connect", "participant", p.identity, "err", err)
	}
}

func (r *run) subIndex(p *participant) int {
	for j, q := range r.subs {
		if q == p {
			return j
		}
	}
	return -1
}

// connected counts participants connected now, by role.
func (r *run) connected() (pubs, subs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pubs {
		if p != nil && p.s != nil {
			pubs++
		}
	}
	for _, p := range r.subs {
		if p != nil && p.s != nil {
			subs++
		}
	}
	return pubs, subs
}

// publish publishes the participant's tracks one after another, each
// started once every subscriber receives it (bounded by FollowTimeout);
// its generators are wg's, stopped by stopGens.
func (r *run) publish(ctx context.Context, p *participant) {
	for _, spec := range r.cfg.Tracks {
		if ctx.Err() != nil {
			return
		}
		t := r.newTrack(p.identity, spec)
		began := time.Now()
		lt, err := p.s.PublishWith(ctx, session.PublishOptions{Name: spec.Name, E2EE: r.cfg.Session.E2EEPassphrase != "", OnSent: t.onSent})
		t.setPublished(lt, time.Since(began), err)
		if err != nil {
			r.cfg.Logger.Warn("load: publish failed", "participant", p.identity, "track", spec.Name, "err", err)
			continue
		}
		r.register(t, lt.Probe().Stream())
		r.waitFollowed(ctx, lt.Info().SID)
		if spec.Rate <= 0 {
			continue
		}
		g, err := probe.NewGenerator(lt.Probe(), spec.Rate, max(spec.Size, probe.MinSize))
		if err != nil {
			t.setPublished(lt, t.publishTime, err)
			continue
		}
		r.wg.Add(1)
		go func() { defer r.wg.Done(); g.Run(r.genCtx) }()
	}
}

// waitFollowed waits until every connected subscriber holds a
// subscription to sid: frames sent before would count as not followed.
func (r *run) waitFollowed(ctx context.Context, sid string) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.FollowTimeout)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		all := true
		for _, s := range r.subSessions() {
			all = all && s.MonitorHolds(sid)
		}
		if all {
			return
		}
		select {
		case <-ctx.Done():
			r.cfg.Logger.Warn("load: not every subscriber receives the track yet; starting anyway", "sid", sid)
			return
		case <-t.C:
		}
	}
}

// subSessions are the subscribers that connected, by index (nil: failed).
func (r *run) subSessions() []*session.Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*session.Session, len(r.subs))
	for j, p := range r.subs {
		out[j] = p.s
	}
	return out
}

func (r *run) newTrack(identity string, spec Track) *track {
	t := newTrack(identity, spec, r.subSessions(), r.cfg.LossGrace)
	r.mu.Lock()
	r.tracks = append(r.tracks, t)
	r.mu.Unlock()
	return t
}

func (r *run) register(t *track, stream uint32) {
	r.mu.Lock()
	r.byStr[stream] = t
	r.mu.Unlock()
	t.stream.Store(stream)
}

func (r *run) allTracks() []*track {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*track(nil), r.tracks...)
}

// arrived routes a frame subscriber j completed to its track's ledger.
func (r *run) arrived(j int, sid string, f incoming.Frame) {
	h, ok := probe.Decode(f.Payload)
	r.mu.Lock()
	t := r.byStr[h.Stream]
	if !ok || t == nil {
		r.foreign[j]++
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	t.arrived(j, sid, h, len(f.Payload), f.Arrival)
}

// flush waits (bounded) for every track's queued frames to leave.
func (r *run) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.FlushTimeout)
	defer cancel()
	for _, t := range r.allTracks() {
		if lt := t.local(); lt != nil {
			if err := lt.Flush(ctx); err != nil {
				r.cfg.Logger.Warn("load: exit flush did not finish; frames still queued are dropped", "track", t.name, "err", err)
			}
		}
	}
}

// settle gives frames on their way the loss grace period, then counts
// every followed frame still missing as lost.
func (r *run) settle() {
	deadline := time.Now().Add(r.cfg.LossGrace + time.Second)
	tracks := r.allTracks()
	for time.Now().Before(deadline) {
		waiting := false
		for _, t := range tracks {
			waiting = t.expire(time.Now()) || waiting
		}
		if !waiting {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, t := range tracks {
		t.settle()
	}
}

// closeAll closes publishers (their tracks unpublish) and then subscribers.
func (r *run) closeAll() {
	var wg sync.WaitGroup
	for _, group := range [][]*participant{r.pubs, r.subs} {
		for _, p := range group {
			if p == nil || p.s == nil {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); _ = p.s.Close() }()
		}
		wg.Wait()
	}
}
