package session

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/session/probe"
)

// PublishOptions describe a track to publish.
type PublishOptions struct {
	Name string
	E2EE bool
	// Type declares the frames' encoding and schema (store the schema's
	// definition with StoreSchema first).
	Type schema.Decl
}

// Track is a published local track and the probe source that numbers its
// frames under the track's own stream.
type Track struct {
	*outgoing.LocalTrack
	st *localState
}

// Probe is the source of the track's probe frames: push through it (or a
// generator over it) so the loopback subscriber can account for every
// frame sent.
func (t *Track) Probe() *probe.Source { return t.st.src() }

// Pending is a publish waiting for the SFU's answer.
type Pending struct {
	*outgoing.PendingPublish
	st *localState
}

// Wait waits for the outcome (ctx only bounds the waiting; Cancel gives
// the publish up).
func (p *Pending) Wait(ctx context.Context) (*Track, error) {
	lt, err := p.PendingPublish.Wait(ctx)
	if err != nil {
		return nil, err
	}
	return p.st.track(lt), nil
}

// Result is the outcome once Done is closed.
func (p *Pending) Result() (*Track, error) {
	lt, err := p.PendingPublish.Result()
	if err != nil || lt == nil {
		return nil, err
	}
	return p.st.track(lt), nil
}

// localState is what the session keeps per local track beyond the
// manager's counters: the probe stream its frames carry, the ledger of
// which of them were sent and arrived, and what the loopback subscriber
// received of them.
type localState struct {
	stream uint32
	ledger *probe.Ledger

	// firstSent and lastSent bound the run's frames (UNIX ns) for its
	// average rates: a probe frame's push time (the generator's schedule,
	// which a busy sender goroutine does not shift), else its send time.
	firstSent, lastSent atomic.Int64

	mu     sync.Mutex
	lt     *outgoing.LocalTrack
	source *probe.Source
	handle uint16

	// Guarded by the loopback's lock: frames of this stream at the loopback.
	rx streamRx
}

// streamRx is what the loopback saw of one probe stream.
type streamRx struct {
	bytes           uint64
	corrupt         uint64
	userTimestamps  uint64
	firstRx, lastRx time.Time
}

func newLocalState(grace time.Duration) *localState {
	return &localState{stream: probe.NewStream(), ledger: probe.NewLedger(grace)}
}

// onSent is the track's outgoing.PublishOptions.OnSent: the sender just
// handed the frame's last packet to the data channel.
func (st *localState) onSent(payload []byte) {
	now := time.Now()
	at := now
	if h, ok := probe.Decode(payload); ok && h.Stream == st.stream {
		st.ledger.Sent(h.Seq, now)
		at = h.Sent
	}
	st.firstSent.CompareAndSwap(0, at.UnixNano())
	st.lastSent.Store(at.UnixNano())
}

func (st *localState) track(lt *outgoing.LocalTrack) *Track {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.lt == nil {
		st.lt = lt
		st.source = probe.NewSource(st.stream, lt.TryPush, nil)
	}
	return &Track{LocalTrack: lt, st: st}
}

func (st *localState) src() *probe.Source {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.source
}

func unixOrZero(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// StartPublish asks the SFU for a track and returns at once with the
// pending publish (its handle, Cancel, Wait).
func (s *Session) StartPublish(o PublishOptions) (*Pending, error) {
	st := newLocalState(s.cfg.LossGrace)
	p, err := s.mgr.StartPublish(outgoing.PublishOptions{Name: o.Name, E2EE: o.E2EE, Type: o.Type, OnSent: st.onSent})
	if err != nil {
		return nil, err
	}
	st.handle = p.Handle()
	s.mu.Lock()
	s.locals[p.Handle()] = st
	s.streams[st.stream] = st
	s.mu.Unlock()
	return &Pending{PendingPublish: p, st: st}, nil
}

// Publish publishes an untyped data track and waits for the SFU's answer;
// ctx ending cancels the publish.
func (s *Session) Publish(ctx context.Context, name string, e2ee bool) (*Track, error) {
	return s.PublishWith(ctx, PublishOptions{Name: name, E2EE: e2ee})
}

// PublishWith is Publish with every option.
func (s *Session) PublishWith(ctx context.Context, o PublishOptions) (*Track, error) {
	p, err := s.StartPublish(o)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Cancel()
		<-p.Done()
	}
	return p.Result()
}

// sample records every local track's totals (the session's sampler runs
// it every report.SampleInterval) and expires the ledgers' grace periods.
func (s *Session) sample(now time.Time) {
	s.checkStall(now)
	for _, lt := range s.mgr.Tracks() {
		st := s.local(lt.Handle())
		tot := report.Totals{Out: lt.Counters()}
		if st != nil {
			st.ledger.Expire(now)
			s.fillTotals(st, &tot)
		}
		s.rec.Sample(lt.Handle(), now, tot)
	}
}

func (s *Session) local(h uint16) *localState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locals[h]
}

// fillTotals adds the receive side and the frame times to tot.
func (s *Session) fillTotals(st *localState, tot *report.Totals) {
	c := st.ledger.Counts()
	tot.Received, tot.Lost = c.Received, c.Lost
	tot.FirstSent, tot.LastSent = unixOrZero(st.firstSent.Load()), unixOrZero(st.lastSent.Load())
	if s.loop != nil {
		rx := s.loop.streamRx(st)
		tot.RxBytes, tot.FirstRx, tot.LastRx = rx.bytes, rx.firstRx, rx.lastRx
	}
}

// runSampler samples until the session's context ends; the session owns it.
func (s *Session) runSampler() {
	defer s.wg.Done()
	t := time.NewTicker(report.SampleInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.sample(now)
		}
	}
}

// Report is the session's one account of itself now: the connection and
// every local track with what the loopback subscriber received of it.
// With a base (a display reset), every figure counts from the base on.
func (s *Session) Report(base *report.Snapshot) report.Snapshot {
	now := time.Now()
	snap := report.Snapshot{At: now, Connection: s.Status(), Loopback: s.loop != nil}
	var since time.Time
	if base != nil {
		since = base.At
	}
	for _, ts := range s.mgr.Snapshot() {
		l := report.Local{Handle: ts.Handle, Name: ts.Name, E2EE: ts.E2EE, Type: ts.Type, State: ts.State, Since: ts.Since,
			Out: ts.Counters, Timeline: ts.Timeline, Errors: ts.Errors}
		for _, ch := range ts.Timeline {
			if ch.SID != "" && (len(l.SIDs) == 0 || l.SIDs[len(l.SIDs)-1] != ch.SID) {
				l.SIDs = append(l.SIDs, ch.SID)
			}
		}
		tot := report.Totals{Out: ts.Counters}
		if st := s.local(ts.Handle); st != nil && ts.State != outgoing.StatePending {
			l.Stream = st.stream
			s.fillTotals(st, &tot)
			if s.loop != nil {
				l.Rx = s.loop.receive(st, l.SIDs)
			}
		}
		s.rec.Fill(&l, now, tot, since)
		snap.Local = append(snap.Local, l)
	}
	return snap.Rebase(base)
}

// Settle waits until every frame sent has arrived at the loopback
// subscriber or its grace period is over (or ctx ends), and then counts
// every frame still missing as lost: the end of a run's accounting.
// Without a loopback subscriber there is nothing to wait for.
func (s *Session) Settle(ctx context.Context) {
	if s.loop == nil {
		return
	}
	states := s.localStates()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for waiting := true; waiting; {
		waiting = false
		now := time.Now()
		for _, st := range states {
			st.ledger.Expire(now)
			waiting = waiting || st.ledger.Counts().InGrace > 0
		}
		if !waiting {
			break
		}
		select {
		case <-ctx.Done():
			waiting = false
		case <-t.C:
		}
	}
	for _, st := range states {
		st.ledger.Settle()
	}
}

func (s *Session) localStates() []*localState {
	s.mu.Lock()
	defer s.mu.Unlock()
	states := make([]*localState, 0, len(s.locals))
	for _, st := range s.locals {
		states = append(states, st)
	}
	return states
}
