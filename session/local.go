package session

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
	"github.com/dttui/dttui/session/localsfu/sfulog"
	"github.com/dttui/dttui/session/probe"
)

// PublishOptions describe a track to publish.
type PublishOptions struct {
	Name string
	E2EE bool
	// Type declares the frames' encoding and schema (store the schema's
	// definition with StoreSchema first).
	Type schema.Decl
	// OnSent, when set, sees every frame of the track as its last packet
	// is handed to the transport under sid, on the sender's goroutine:
	// it must be quick, and payload is only valid during the call. Load
	// mode uses it to follow frames to subscribers in other sessions.
	OnSent func(sid string, payload []byte)
	// SchemaDef is the definition of Type.Schema (as stored with
	// StoreSchema): frames are checked against it, as SchemaCheck says,
	// and the track's probe source writes frames that match it.
	SchemaDef   []byte
	SchemaCheck validate.Mode
	// GenerateSize is the frame size the probe source's fit to the schema
	// is checked at (the generator's size).
	GenerateSize int
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

// PushData pushes one frame of the user's own data, waiting for room in
// the queue (outgoing.LocalTrack.Push). A frame the schema check refuses
// is counted as dropped (schema mismatch) and is no error here: a data
// source goes on to its next frame, as a publisher that refuses bad
// frames would.
func (t *Track) PushData(ctx context.Context, payload []byte, userTimestamp uint64) error {
	if err := t.Push(ctx, payload, userTimestamp); err != nil && !errors.Is(err, outgoing.ErrSchemaMismatch) {
		return err
	}
	return nil
}

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
// manager's counters: the probe stream its frames carry, one ledger per
// SID of which frames were sent and arrived, and what the loopback
// subscriber received of them.
//
// A frame is followed (expected at the loopback) when it was sent while
// the loopback held a subscription to the track's SID: the SFU adds a
// subscriber's down-track before it tells the subscriber its handle, so
// every such frame is forwarded. Frames sent before (the first moments of
// a track, a republish until the loopback subscribes to the new SID) are
// counted unfollowed rather than lost.
type localState struct {
	stream uint32
	grace  time.Duration
	// holds says whether the loopback holds a subscription to a SID (nil:
	// no loopback, nothing is followed).
	holds func(sid string) bool
	// now is the session's clock (Config.Clock): probe send times and
	// the ledger's, on the same clock as the loopback's arrivals.
	now func() time.Time
	// onLatency is each ledger's OnLatency: the track's per-second
	// latency series (nil: none).
	onLatency func(at time.Time, d time.Duration)

	// firstSent and lastSent bound the run's frames (UNIX ns) for its
	// average rates: a probe frame's push time (the generator's schedule,
	// which a busy sender goroutine does not shift), else its send time.
	firstSent, lastSent atomic.Int64
	// sentPayload counts the payload bytes of the frames sent, the
	// measure the loopback's received bytes use (the track's own byte
	// counter includes packet headers).
	sentPayload atomic.Uint64
	// unfollowed counts frames sent while no subscription followed.
	unfollowed atomic.Uint64
	// dataSent counts frames without a probe (the user's own data) sent
	// while the loopback followed, and dataLast is the latest one's send
	// time (UNIX ns): they carry no sequence number, so what is missing
	// of them is a count, in its grace period until dataLast+grace, lost
	// after it (or once settled).
	dataSent    atomic.Uint64
	dataLast    atomic.Int64
	dataSettled atomic.Bool
	// drops counts the probe frames numbered and then not sent: every
	// frame carries the count, for the room's followers.
	drops probe.Drops
	// cur is the ledger of the SID frames were last sent under: the send
	// path's fast lookup.
	cur atomic.Pointer[sidLedger]

	// schema checks the track's frames (nil: no schema); genSize is the
	// size its probe frames were fitted to it at.
	schema  *validate.Validator
	genSize int

	mu      sync.Mutex
	lt      *outgoing.LocalTrack
	source  *probe.Source
	handle  uint16
	ledgers []*sidLedger // oldest first

	// Guarded by the loopback's lock: frames of this stream at the loopback.
	rx streamRx
}

type sidLedger struct {
	sid    string
	ledger *probe.Ledger
}

// streamRx is what the loopback saw of one probe stream.
type streamRx struct {
	corrupt         uint64
	userTimestamps  uint64
	firstRx, lastRx time.Time
}

func newLocalState(grace time.Duration, holds func(string) bool) *localState {
	return &localState{stream: probe.NewStream(), grace: probe.LossGrace(grace), holds: holds, now: time.Now}
}

// ledgerFor is sid's ledger, made on first use when create is set.
func (st *localState) ledgerFor(sid string, create bool) *probe.Ledger {
	if c := st.cur.Load(); c != nil && c.sid == sid {
		return c.ledger
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, l := range st.ledgers {
		if l.sid == sid {
			return l.ledger
		}
	}
	if !create {
		return nil
	}
	l := &sidLedger{sid: sid, ledger: probe.NewLedger(st.grace)}
	if st.onLatency != nil {
		l.ledger.OnLatency(st.onLatency)
	}
	st.ledgers = append(st.ledgers, l)
	st.cur.Store(l)
	return l.ledger
}

// allLedgers lists the track's ledgers.
func (st *localState) allLedgers() []*probe.Ledger {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]*probe.Ledger, len(st.ledgers))
	for i, l := range st.ledgers {
		out[i] = l.ledger
	}
	return out
}

// counts sums the track's ledgers.
func (st *localState) counts() probe.LedgerCounts {
	var c probe.LedgerCounts
	for _, l := range st.allLedgers() {
		c = c.Add(l.Counts())
	}
	return c
}

// onSent is the track's outgoing.PublishOptions.OnSent: the sender just
// handed the frame's last packet to the data channel under sid.
func (st *localState) onSent(sid string, payload []byte) {
	now := st.now()
	at := now
	h, isProbe := probe.Decode(payload)
	switch {
	case isProbe && h.Stream != st.stream:
		// Another stream's probe frame pushed into ours: the loopback
		// counts it foreign on arrival, not as the user's data, so it is
		// in neither account here.
	case isProbe:
		at = h.Sent
		st.drops.Sent(h.Seq)
		l := st.ledgerFor(sid, false)
		if l == nil && st.holds != nil && st.holds(sid) {
			l = st.ledgerFor(sid, true)
		}
		if l != nil && st.holds != nil && st.holds(sid) {
			l.Sent(h.Seq, now)
		} else {
			st.unfollowed.Add(1)
		}
	case st.holds != nil && st.holds(sid):
		st.dataSent.Add(1)
		st.dataLast.Store(now.UnixNano())
	default:
		st.unfollowed.Add(1)
	}
	st.firstSent.CompareAndSwap(0, at.UnixNano())
	st.lastSent.Store(at.UnixNano())
	st.sentPayload.Add(uint64(len(payload)))
}

func (st *localState) track(lt *outgoing.LocalTrack) *Track {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.lt == nil {
		st.lt = lt
		st.source = probe.NewSource(st.stream, lt.TryPush, st.now).WithWait(lt.Push).WithFormat(lt.Info().Type.Frame).
			WithSchema(st.schema, st.genSize).WithDropped(st.drops.Dropped)
	}
	return &Track{LocalTrack: lt, st: st}
}

// checkSchema compiles the track's schema, once: the check its frames get
// before they are queued (none when SchemaCheck is off or the encoding
// cannot be checked) and, whatever the mode, the shape of the probe
// source's frames. A schema that does not compile is refused.
func (st *localState) checkSchema(o PublishOptions) (outgoing.FrameCheck, error) {
	if len(o.SchemaDef) == 0 {
		return outgoing.FrameCheck{}, nil
	}
	v, err := validate.New(o.Type, o.SchemaDef)
	if err != nil {
		return outgoing.FrameCheck{}, err
	}
	st.schema, st.genSize = v, o.GenerateSize
	if o.SchemaCheck == validate.ModeOff || v.Unchecked() != validate.Checked {
		return outgoing.FrameCheck{}, nil
	}
	return outgoing.FrameCheck{Refuse: o.SchemaCheck == validate.ModeRefuse, Check: func(p []byte) error {
		if m, _ := v.Check(p); m != nil {
			return m
		}
		return nil
	}}, nil
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
	var holds func(string) bool
	if s.loop != nil {
		holds = s.loop.holds
	}
	st := newLocalState(s.cfg.LossGrace, holds)
	st.now = s.now
	check, err := st.checkSchema(o)
	if err != nil {
		return nil, err
	}
	onLocal := s.cfg.OnLocalFrame
	onSent := func(sid string, payload []byte, ts uint64) {
		st.onSent(sid, payload)
		if o.OnSent != nil {
			o.OnSent(sid, payload)
		}
		if onLocal != nil {
			onLocal(sid, payload, ts)
		}
	}
	p, err := s.mgr.StartPublish(outgoing.PublishOptions{Name: o.Name, E2EE: o.E2EE, Type: o.Type, OnSent: onSent, Check: check})
	if err != nil {
		return nil, err
	}
	st.handle = p.Handle()
	key := report.LocalKey(st.handle)
	st.onLatency = func(at time.Time, d time.Duration) { s.rec.ObserveLatency(key, at, d) }
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

// Forget drops an unpublished track (outgoing.Manager.Remove) and
// everything the session recorded of it: its ledgers and its history.
// Frames of its stream still arriving count as foreign from then on.
func (s *Session) Forget(handle uint16) error {
	if err := s.mgr.Remove(handle); err != nil {
		return err
	}
	s.mu.Lock()
	if st := s.locals[handle]; st != nil {
		delete(s.streams, st.stream)
		delete(s.locals, handle)
	}
	s.mu.Unlock()
	s.rec.Forget(report.LocalKey(handle))
	return nil
}

// WaitFollowed waits until the loopback subscriber follows tr (holds a
// subscription to its current SID), so that every frame pushed from then
// on is expected to arrive; at once without a loopback. A run that pushes
// from its first moment counts the frames sent before as unfollowed.
func (s *Session) WaitFollowed(ctx context.Context, tr *Track) error {
	if s.loop == nil {
		return nil
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !s.loop.holds(tr.Info().SID) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// sample records the connection's status and every local track's totals
// (the session's sampler runs it every report.SampleInterval) and expires
// the ledgers' grace periods.
func (s *Session) sample(now time.Time) {
	s.checkStall(now)
	s.rec.SampleConn(now, s.Status())
	s.sampleRemote(now)
	for _, lt := range s.mgr.Tracks() {
		st := s.local(lt.Handle())
		tot := report.Totals{Out: lt.Counters()}
		if st != nil {
			for _, l := range st.allLedgers() {
				l.Expire(now)
			}
			s.fillTotals(st, &tot)
		}
		s.rec.Sample(report.LocalKey(lt.Handle()), now, tot)
	}
}

func (s *Session) local(h uint16) *localState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locals[h]
}

// fillTotals adds the receive side and the frame times to tot.
func (s *Session) fillTotals(st *localState, tot *report.Totals) {
	c := st.counts()
	tot.Received, tot.Lost, tot.RxBytes = c.Received, c.Lost, c.ReceivedBytes
	tot.SentPayload = st.sentPayload.Load()
	tot.FirstSent, tot.LastSent = unixOrZero(st.firstSent.Load()), unixOrZero(st.lastSent.Load())
	if s.loop != nil {
		rx := s.loop.streamRx(st)
		tot.FirstRx, tot.LastRx = rx.firstRx, rx.lastRx
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
		case <-t.C:
			s.sample(s.now())
		}
	}
}

// Report is the session's one account of itself now: the connection and
// every local track with what the loopback subscriber received of it.
// With a base (a display reset), every figure counts from the base on.
func (s *Session) Report(base *report.Snapshot) report.Snapshot {
	return s.ReportScope(base, report.Scope{})
}

// ReportScope is Report with each track's per-second history cut to sc
// (the UI's: ten seconds of every row, the whole of the selected one).
func (s *Session) ReportScope(base *report.Snapshot, sc report.Scope) report.Snapshot {
	now := s.now()
	snap := report.Snapshot{At: now, Connection: s.Status(), Loopback: s.loop != nil}
	var since time.Time
	if base != nil {
		since = base.At
	}
	for _, ts := range s.mgr.Snapshot() {
		l := report.Local{Handle: ts.Handle, Name: ts.Name, E2EE: ts.E2EE, Type: ts.Type, State: ts.State, Since: ts.Since,
			Out: ts.Counters, Timeline: ts.Timeline, Errors: ts.Errors}
		l.SIDs = sidsOf(ts.Timeline)
		tot := report.Totals{Out: ts.Counters}
		if st := s.local(ts.Handle); st != nil && ts.State != outgoing.StatePending {
			l.Stream = st.stream
			s.fillTotals(st, &tot)
			if s.loop != nil {
				l.Rx = s.loop.receive(st, l.SIDs)
			}
		}
		if o, ok := sfulog.Observed.Of(l.SIDs, s.loopIdentity); ok {
			l.SFU = &o
		}
		s.rec.FillScope(&l, now, tot, since, sc)
		snap.Local = append(snap.Local, l)
	}
	snap.Remote = s.remotes(now, since, sc)
	snap.Memory = s.roomMemory()
	s.rec.FillConn(&snap, since)
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
		now := s.now()
		for _, st := range states {
			for _, l := range st.allLedgers() {
				l.Expire(now)
				waiting = waiting || l.Counts().InGrace > 0
			}
		}
		for _, ts := range s.mgr.Snapshot() {
			if st := s.local(ts.Handle); st != nil {
				_, in := st.dataMissing(s.loop.dataArrived(sidsOf(ts.Timeline)), now)
				waiting = waiting || in
			}
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
		st.settle()
	}
}

// settle counts every followed frame still missing as lost.
func (st *localState) settle() {
	for _, l := range st.allLedgers() {
		l.Settle()
	}
	st.dataSettled.Store(true)
}

// dataMissing is how many of the data frames sent have not arrived
// (arrived: the loopback's count of them), and whether they are still in
// their grace period at now.
func (st *localState) dataMissing(arrived uint64, now time.Time) (n uint64, inGrace bool) {
	sent := st.dataSent.Load()
	if sent <= arrived {
		return 0, false
	}
	return sent - arrived, !st.dataSettled.Load() && now.Sub(time.Unix(0, st.dataLast.Load())) < st.grace
}

// sidsOf is every SID a track's timeline gave it, oldest first.
func sidsOf(timeline []outgoing.StateChange) []string {
	var sids []string
	for _, ch := range timeline {
		if ch.SID != "" && (len(sids) == 0 || sids[len(sids)-1] != ch.SID) {
			sids = append(sids, ch.SID)
		}
	}
	return sids
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
