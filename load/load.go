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
	r := &run{cfg: cfg, id: rand.Text(), byStr: map[uint32]*track{}, foreign: make([]uint64, cfg.Subscribers)}
	start := time.Now()
	enc := json.NewEncoder(out)

	genCtx, stopGens := context.WithCancel(context.Background())
	defer stopGens()
	var subWG, wg sync.WaitGroup // subscribers' connects; publishers' goroutines and generators
	var writeErr error
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	prev := r.totals()
	progress := func() {
		cur := r.totals()
		if writeErr == nil {
			writeErr = enc.Encode(progressLine(start, time.Now(), cfg, r.connected, prev, cur))
		}
		prev = cur
	}

	// Join at the ramp's pace, writing progress meanwhile.
	pace := time.NewTicker(time.Duration(float64(time.Second) / cfg.Ramp))
	defer pace.Stop()
	join := func(wg *sync.WaitGroup, p *participant, then func(*participant)) bool {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.connect(ctx, p)
			if then != nil && p.s != nil {
				then(p)
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return false
			case <-tick.C:
				progress()
			case <-pace.C:
				return true
			}
		}
	}
	r.subs = make([]*participant, cfg.Subscribers)
	r.pubs = make([]*participant, cfg.Participants)
	for j := range r.subs {
		r.subs[j] = &participant{identity: fmt.Sprintf("%s-sub-%d", cfg.Session.Identity, j), role: RoleSubscriber}
	}
	for i := range r.pubs {
		r.pubs[i] = &participant{identity: fmt.Sprintf("%s-pub-%d", cfg.Session.Identity, i), role: RolePublisher}
	}
	joining := true
	for _, p := range r.subs {
		if joining = join(&subWG, p, nil); !joining {
			break
		}
	}
	// Publishers wait for every subscriber's connect to end (joined or
	// failed): the set of subscribers a frame can be followed to is fixed
	// before the first frame.
	subsDone := make(chan struct{})
	go func() { subWG.Wait(); close(subsDone) }()
waitSubs:
	for joining {
		select {
		case <-ctx.Done():
			joining = false
		case <-tick.C:
			progress()
		case <-subsDone:
			break waitSubs
		}
	}
	for _, p := range r.pubs {
		if !joining {
			break
		}
		joining = join(&wg, p, func(p *participant) { r.publish(ctx, genCtx, &wg, p) })
	}

	// base is the run when its warmup ended: the budgets count from it.
	var base *Summary
	var warmC <-chan time.Time
	if cfg.Warmup > 0 {
		t := time.NewTimer(cfg.Warmup - time.Since(start))
		defer t.Stop()
		warmC = t.C
	}
	for ctx.Err() == nil && writeErr == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			progress()
		case <-warmC:
			b := r.summary()
			base = &b
		}
	}

	// The clean stop.
	if cfg.Warmup > 0 && base == nil {
		// The run ended within its warmup (or while joining): nothing counts.
		b := r.summary()
		base = &b
	}
	stopGens()
	<-subsDone
	wg.Wait()
	r.flush()
	r.settle()
	sum := r.summary()
	r.closeAll()
	sum.Elapsed = time.Since(start).Seconds()
	measured := sum.Since(base)
	sum.Subjects = measured.BudgetSubjects()
	sum.Verdicts = budget.Evaluate(cfg.Budgets, sum.Subjects)
	if writeErr != nil {
		return sum, writeErr
	}
	final := Line{Time: time.Now().UTC(), Elapsed: sum.Elapsed, Final: true, Summary: &sum}
	if len(cfg.Budgets) > 0 {
		final.Budgets = budget.JSONs(sum.Verdicts)
	}
	return sum, enc.Encode(final)
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
// started once every subscriber receives it (bounded by FollowTimeout).
func (r *run) publish(ctx, genCtx context.Context, wg *sync.WaitGroup, p *participant) {
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
		wg.Add(1)
		go func() { defer wg.Done(); g.Run(genCtx) }()
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
