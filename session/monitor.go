package session

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
	"github.com/dttui/dttui/session/localsfu/sfulog"
	"github.com/dttui/dttui/session/probe"
)

// The room monitor subscribes, on our own participant's connection, to
// every data track the other participants publish, and measures each from
// its packets (package incoming). It needs no second participant, so it
// works with a token alone and in subscribe-only runs.

var errNotConnected = errors.New("not connected")

// errRejoin is why the monitor's subscriptions end when the session
// rejoins in full (they are asked for again on the new connection).
var errRejoin = errors.New("the session rejoins in full")

func (s *Session) newMonitor() *subscriber {
	var opener incoming.Opener
	if s.e2ee != nil {
		opener = s.e2ee
	}
	s.probes.grace = s.cfg.LossGrace
	fn := s.cfg.OnRemoteFrame
	onFrame := func(t *incoming.RemoteTrack, f *incoming.Frame) {
		s.probes.arrived(t, f, s.clockOf)
		s.checkRemote(t.Info(), f.Payload)
		if fn != nil {
			fn(t.Info().SID, *f)
		}
	}
	var onSealed func(t *incoming.RemoteTrack, f *incoming.Frame)
	if sealed := s.cfg.OnRemoteSealed; sealed != nil {
		onSealed = func(t *incoming.RemoteTrack, f *incoming.Frame) { sealed(t.Info().SID, *f) }
	}
	return newSubscriber(incoming.Options{
		OnFrame:  onFrame,
		OnSealed: onSealed,
		// The loopback is ours: it and its tracks (none) are not the room.
		Filter:       func(i incoming.Info) bool { return i.PublisherIdentity != s.loopIdentity },
		Opener:       opener,
		MaxHeldBytes: s.cfg.MaxHeldBytes,
		Now:          s.now,
		Clock:        s.clockOf,
		MaxTracks:    s.cfg.MaxRemoteTracks,
		Logger:       s.cfg.Logger.With("component", "monitor"),
	})
}

// Monitor is the room monitor's manager (nil when Config.Monitor is off):
// Subscribe, Unsubscribe and Remove act on remote tracks by SID.
func (s *Session) Monitor() *incoming.Manager {
	if s.monitor == nil {
		return nil
	}
	return s.monitor.mgr
}

// RemoveRemote forgets an unpublished remote track (Monitor().Remove)
// and its records: the UI's history row, removed by the user.
func (s *Session) RemoveRemote(sid string) error {
	if s.monitor == nil {
		return errNoMonitor
	}
	if err := s.monitor.mgr.Remove(sid); err != nil {
		return err
	}
	s.forgetRemote(sid)
	return nil
}

// forgetRemote drops the session's records of a track the monitor forgot.
func (s *Session) forgetRemote(sid string) {
	s.probes.forget(sid)
	s.checks.forget(sid)
	s.rec.Forget(report.RemoteKey(sid))
}

// errNoMonitor is a room-monitor call on a session without one.
var errNoMonitor = errors.New("the room monitor is off (--monitor=false)")

// MonitorHolds says whether frames a publisher sends now under sid are
// forwarded to the room monitor: it holds a subscription to the track
// and its data channel is open. Cheap enough for a send path.
func (s *Session) MonitorHolds(sid string) bool {
	return s.monitor != nil && s.monitor.holds(sid)
}

// sampleRemote records the remote tracks' totals and latencies: each
// track once a second, and those that received packets since the last
// sample every time. A room's idle tracks then cost a tenth (500 tracks
// read whole ten times a second took a fifth of a core, and held the
// monitor's lock away from its signal reader).
func (s *Session) sampleRemote(now time.Time) {
	if s.monitor == nil {
		return
	}
	s.probes.expire(now)
	var since time.Time // zero: every track
	if now.Sub(s.remoteSampledAll) < time.Second {
		since = s.remoteSampled
	} else {
		s.remoteSampledAll = now
		// Unpublished rows past the cap go, with every record of them.
		for _, sid := range s.monitor.mgr.ForgetUnpublished(incoming.DefaultMaxUnpublished) {
			s.forgetRemote(sid)
		}
	}
	s.remoteSampled = now
	for _, ts := range s.monitor.mgr.SnapshotActive(since) {
		key := report.RemoteKey(ts.SID)
		s.rec.Sample(key, now, remoteTotals(&ts))
		s.rec.ObserveLatencies(key, now, &ts.Latency)
	}
}

func remoteTotals(ts *incoming.TrackStats) report.Totals {
	return report.Totals{Received: ts.FramesCompleted, RxBytes: ts.FrameBytes, Lost: ts.LostFrames(),
		RxPackets: ts.Packets, PacketsLost: ts.PacketsLost, FirstRx: ts.FirstPacketAt, LastRx: ts.LastPacketAt}
}

// schemaKey names a schema stored by one participant.
type schemaKey struct {
	identity string
	id       schema.ID
}

// remoteSchema is a remote track's schema definition, as fetched from
// the room (GetDataBlobRequest), or why it could not be.
type remoteSchema struct {
	def []byte
	err error
	// check is the schema compiled (nil when it could not be fetched).
	check *validate.Validator
}

// remoteSchemas fetches the schemas the room's typed tracks declare, once
// each, so their frames can be decoded for a preview.
type remoteSchemas struct {
	mu      sync.Mutex
	got     map[schemaKey]remoteSchema
	pending map[schemaKey]bool
}

// schemaFor returns what is known of a remote track's schema, and starts
// fetching it (on a goroutine the session owns) when nothing is yet.
func (s *Session) schemaFor(identity string, id schema.ID) (remoteSchema, bool) {
	if id.IsZero() {
		return remoteSchema{}, false
	}
	k := schemaKey{identity, id}
	rs := &s.remoteSchemas
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if got, ok := rs.got[k]; ok {
		return got, true
	}
	if rs.pending[k] || s.ctx.Err() != nil {
		return remoteSchema{}, false
	}
	if rs.pending == nil {
		rs.pending, rs.got = map[schemaKey]bool{}, map[schemaKey]remoteSchema{}
	}
	rs.pending[k] = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		def, err := s.GetSchema(ctx, identity, id)
		got := remoteSchema{def: def, err: err}
		if err == nil {
			got.check = compileRemote(id, def)
		}
		rs.mu.Lock()
		defer rs.mu.Unlock()
		delete(rs.pending, k)
		if s.ctx.Err() == nil {
			rs.got[k] = got
		}
	}()
	return remoteSchema{}, false
}

// remotes is the report's view of the room.
func (s *Session) remotes(now, since time.Time, sc report.Scope) []report.Remote {
	if s.monitor == nil {
		return nil
	}
	stats := s.monitor.mgr.Snapshot()
	out := make([]report.Remote, 0, len(stats))
	me := s.Status().Identity // who the SFU sends to, as its logs name us
	for _, ts := range stats {
		r := report.Remote{Stats: ts}
		if o, ok := sfulog.Observed.Of([]string{ts.SID}, me); ok {
			r.SFU = &o
		}
		r.Probe = s.probes.of(ts.SID, s.clockOf)
		r.Schema = s.checks.of(ts.SID)
		r.Figures = s.rec.FiguresScope(report.RemoteKey(ts.SID), now, remoteTotals(&ts), since, true, sc)
		if rs, ok := s.schemaFor(ts.PublisherIdentity, ts.Type.Schema); ok {
			r.SchemaDef, r.SchemaErr = rs.def, rs.err
		}
		out = append(out, r)
	}
	return out
}

// roomMemory is the report's account of what the room makes the monitor
// hold (zero without the monitor).
func (s *Session) roomMemory() incoming.Held {
	if s.monitor == nil {
		return incoming.Held{}
	}
	return s.monitor.mgr.Stats().Memory
}

// remoteProbes follows, per remote track, the frames that are dttui's
// probe: a second, exact account of another dttui's track.
type remoteProbes struct {
	grace time.Duration
	mu    sync.Mutex
	by    map[string]*followed
}

// followed is one remote track's follower, with the two-clock latencies
// (ns) of the frames that arrived while its publisher's clock was asked.
type followed struct {
	*probe.Follower
	identity string
	pending  []int64
}

// maxPendingProbeLatencies bounds followed.pending (as incoming bounds
// the track's): frames past it have no latency.
const maxPendingProbeLatencies = 4096

// settle records the pending latencies once the publisher's clock is
// known: corrected when synced, as they are on two clocks.
func (fo *followed) settle(est clocksync.Estimate) {
	if est.State == clocksync.Unknown {
		return
	}
	for _, d := range fo.pending {
		if est.State == clocksync.Synced {
			d += int64(est.Offset)
		}
		fo.RecordLatency(time.Duration(d))
	}
	fo.pending = fo.pending[:0]
}

// arrived runs from the monitor's OnFrame (incoming's manager locked).
// The probe's send time is moved onto our clock as the track's user
// timestamps are (clock: the publisher's, by identity); while that clock
// is being asked, the frame's latency waits.
func (p *remoteProbes) arrived(t *incoming.RemoteTrack, f *incoming.Frame, clock func(string) clocksync.Estimate) {
	h, ok := probe.Decode(f.Payload)
	if !ok {
		return // not a probe: nothing to follow, and no entry for it
	}
	sid, identity := t.Info().SID, t.Info().PublisherIdentity
	est := clock(identity)
	raw := f.Arrival.Sub(h.Sent).Nanoseconds()
	if est.State == clocksync.Unknown {
		h.Sent = time.Time{}
	} else {
		h.Sent = est.ToOurs(h.Sent)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fo := p.by[sid]
	if fo == nil {
		if p.by == nil {
			p.by = map[string]*followed{}
		}
		fo = &followed{Follower: probe.NewFollower(p.grace), identity: identity}
		p.by[sid] = fo
	}
	fo.settle(est)
	if fo.Arrived(h, f.Payload, f.Subscription, f.Arrival) && h.Sent.IsZero() && len(fo.pending) < maxPendingProbeLatencies {
		fo.pending = append(fo.pending, raw)
	}
}

func (p *remoteProbes) expire(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fo := range p.by {
		fo.Expire(now)
	}
}

func (p *remoteProbes) forget(sid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.by, sid)
}

// of is the report's account of sid's probe frames; nil when none came.
func (p *remoteProbes) of(sid string, clock func(string) clocksync.Estimate) *report.RemoteProbe {
	p.mu.Lock()
	defer p.mu.Unlock()
	fo := p.by[sid]
	if fo == nil {
		return nil
	}
	fo.settle(clock(fo.identity))
	c, fc := fo.Counts()
	return &report.RemoteProbe{Sent: c.Sent, Received: c.Received, Lost: c.Lost, InGrace: c.InGrace, Cut: fc.Cut,
		Duplicates: c.Duplicates, Late: c.Late, Unfollowed: c.Unfollowed, Corrupt: fc.Corrupt, Spans: fc.Spans, Jumps: fc.Jumps,
		PublisherDropped: fc.PublisherDropped,
		Latency:          fc.Latency}
}
