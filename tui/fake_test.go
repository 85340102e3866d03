package tui

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/logorigin"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

// fakeBackend is a scripted session. Its report is built as the real one
// is, by report.Recorder from counters the test advances (advance) in a
// way that keeps every identity true: pushed = sent + dropped + queued,
// and received + lost + in grace + unfollowed + data = sent. Publishes wait for an answer the
// test gives (answers), or for Cancel.
type fakeBackend struct {
	mu      sync.Mutex
	now     func() time.Time
	status  session.Status
	locals  []*fakeLocal // handle order
	rec     *report.Recorder
	answers chan publishAnswer
	// answerFor, when it has the name, answers that publish instead of
	// answers: tests choose the order publishes finish in.
	answerFor map[string]chan publishAnswer
	started   chan *fakePending // each StartPublish, for tests to follow
	calls     []string
	e2ee      []bool
	closed    bool
	quit      chan struct{} // closed by Close: unanswered publishes give up
	loopback  bool
	// closeGate, when set, holds Close until it is closed (a hung goodbye).
	closeGate chan struct{}
	tracks    map[string]*fakeTrack
	nextH     uint16
	// remotes are the room's tracks, in the order announced; monitorOff
	// runs without a room monitor.
	remotes    []*fakeRemote
	monitorOff bool
	monCalls   []string // "sub SID", "unsub SID", "remove SID"
	// monErr, when set, is what the monitor's next call returns.
	monErr error
	// fps is what advance sends when given no rates.
	fps map[string]float64
	// schemas are the definitions stored, as "encoding:name=definition";
	// types the publishes' declarations, in order.
	schemas []string
	types   []schema.Decl
	// forgotten are the handles Forget dropped.
	forgotten []uint16
}

// fakeRemote is one room track: stats the test sets and advance moves,
// as incoming would from the packets.
type fakeRemote struct {
	st      incoming.TrackStats
	fps     float64 // frames per second while subscribed
	size    int
	latency []time.Duration // cycled through, one per frame received
	latI    int
	// lossPerStep frames (one packet each) of each advance never arrive.
	lossPerStep uint64
	schemaDef   []byte
	schemaErr   error
	schemaCheck report.SchemaCheck
}

func (fr *fakeRemote) totals() report.Totals {
	st := &fr.st
	return report.Totals{Received: st.FramesCompleted, RxBytes: st.FrameBytes, Lost: st.FramesLost + st.FramesIncomplete,
		RxPackets: st.Packets, PacketsLost: st.PacketsLost, FirstRx: st.FirstPacketAt, LastRx: st.LastPacketAt}
}

// addRemote announces a room track, subscribed.
func (f *fakeBackend) addRemote(identity, name, sid string, fps float64, size int) *fakeRemote {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	fr := &fakeRemote{fps: fps, size: size, latency: []time.Duration{2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond, 12 * time.Millisecond}}
	fr.st.Info = incoming.Info{SID: sid, PubHandle: uint16(len(f.remotes) + 1), Name: name, PublisherIdentity: identity, PublisherSID: "PA_" + identity}
	fr.st.State, fr.st.Since, fr.st.Handle, fr.st.Subscriptions = incoming.StateSubscribed, now, uint16(len(f.remotes)+1), 1
	// dttui publishers answer the clock exchange; livekit-client ones do not.
	fr.st.Clock = clocksync.Estimate{State: clocksync.Synced, Offset: 12300 * time.Microsecond, Uncertainty: 420 * time.Microsecond,
		RTT: 840 * time.Microsecond, Samples: 16}
	if strings.HasSuffix(identity, "-js") {
		fr.st.Clock = clocksync.Estimate{State: clocksync.TwoClocks}
	}
	fr.st.Timeline = []incoming.StateChange{
		{At: now, State: incoming.StateSubscribing, Reason: "published; auto-subscribe"},
		{At: now, State: incoming.StateSubscribed, Handle: fr.st.Handle, Reason: "the SFU assigned a handle"}}
	f.remotes = append(f.remotes, fr)
	return fr
}

// editRemote changes a room track under the lock.
func (f *fakeBackend) editRemote(sid string, change func(fr *fakeRemote)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fr := range f.remotes {
		if fr.st.SID == sid {
			change(fr)
			return
		}
	}
}

// Forget drops an unpublished track, as the session does.
func (f *fakeBackend) Forget(h uint16) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, fl := range f.locals {
		if fl.l.Handle == h {
			if fl.l.State != outgoing.StateUnpublished {
				return outgoing.ErrStillPublished
			}
			f.locals = append(f.locals[:i:i], f.locals[i+1:]...)
			f.rec.Forget(report.LocalKey(h))
			f.forgotten = append(f.forgotten, h)
			return nil
		}
	}
	return nil
}

// StoreSchema records the schema stored.
func (f *fakeBackend) StoreSchema(_ context.Context, id schema.ID, def []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.schemas = append(f.schemas, id.String()+"="+string(def))
	return nil
}

func (f *fakeBackend) Monitor() Monitor {
	if f.monitorOff {
		return nil
	}
	return fakeMonitor{f}
}

// fakeMonitor acts on the fake's room tracks as incoming.Manager does.
type fakeMonitor struct{ f *fakeBackend }

func (m fakeMonitor) find(sid string) (*fakeRemote, int, error) {
	for i, fr := range m.f.remotes {
		if fr.st.SID == sid {
			return fr, i, nil
		}
	}
	return nil, 0, &incoming.SubscribeError{Reason: incoming.ReasonUnknownTrack, SID: sid}
}

func (m fakeMonitor) call(what, sid string, do func(fr *fakeRemote, i int) error) error {
	f := m.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.monCalls = append(f.monCalls, what+" "+sid)
	if err := f.monErr; err != nil {
		f.monErr = nil
		return err
	}
	fr, i, err := m.find(sid)
	if err != nil {
		return err
	}
	return do(fr, i)
}

func (fr *fakeRemote) setState(s incoming.State, at time.Time, why string) {
	fr.st.State, fr.st.Since = s, at
	fr.st.Timeline = append(fr.st.Timeline, incoming.StateChange{At: at, State: s, Reason: why})
}

func (m fakeMonitor) Subscribe(sid string) error {
	return m.call("sub", sid, func(fr *fakeRemote, _ int) error {
		if fr.st.State == incoming.StateUnpublished {
			return &incoming.SubscribeError{Reason: incoming.ReasonUnpublished, SID: sid, Name: fr.st.Name}
		}
		if fr.st.State == incoming.StateAnnounced || fr.st.State == incoming.StateUnsubscribed {
			// The SFU answers at once, in the fake.
			fr.setState(incoming.StateSubscribing, m.f.now(), "subscribe requested")
			fr.st.Subscriptions++
			fr.st.Handle = uint16(100 + fr.st.Subscriptions)
			fr.setState(incoming.StateSubscribed, m.f.now(), "the SFU assigned a handle")
		}
		return nil
	})
}

func (m fakeMonitor) Unsubscribe(sid string) error {
	return m.call("unsub", sid, func(fr *fakeRemote, _ int) error {
		if fr.st.State == incoming.StateSubscribing || fr.st.State == incoming.StateSubscribed {
			fr.st.Handle = 0
			fr.setState(incoming.StateUnsubscribed, m.f.now(), "unsubscribed")
		}
		return nil
	})
}

func (m fakeMonitor) Remove(sid string) error {
	return m.call("remove", sid, func(fr *fakeRemote, i int) error {
		if fr.st.State != incoming.StateUnpublished {
			return incoming.ErrStillPublished
		}
		m.f.remotes = append(m.f.remotes[:i:i], m.f.remotes[i+1:]...)
		m.f.rec.Forget(report.RemoteKey(sid))
		return nil
	})
}

type publishAnswer struct {
	err error
}

// fakeLocal is one local track's state in the fake session.
type fakeLocal struct {
	l       report.Local // identity, state, timeline, errors
	out     outgoing.Counters
	rx      report.Receive
	latency []time.Duration // cycled through, one per frame received
	// lossPerStep of the frames sent in each advance never arrive.
	lossPerStep uint64
	latI        int
	firstSent   time.Time
	lastSent    time.Time
	sentPayload uint64
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		now:      time.Now,
		status:   session.Status{State: session.StateConnected, URL: "ws://127.0.0.1:7880", Room: "demo-room", Identity: "alice", RTT: 800 * time.Microsecond},
		rec:      report.NewRecorder(0),
		answers:  make(chan publishAnswer, 8),
		started:  make(chan *fakePending, 64),
		quit:     make(chan struct{}),
		loopback: true,
		tracks:   map[string]*fakeTrack{},
	}
}

func (f *fakeBackend) local(h uint16) *fakeLocal {
	for _, fl := range f.locals {
		if fl.l.Handle == h {
			return fl
		}
	}
	return nil
}

func (f *fakeBackend) byName(name string) *fakeLocal {
	for _, fl := range f.locals {
		if fl.l.Name == name {
			return fl
		}
	}
	return nil
}

func (fl *fakeLocal) totals() report.Totals {
	return report.Totals{Out: fl.out, SentPayload: fl.sentPayload, Received: fl.rx.Frames, RxBytes: fl.rx.Bytes, Lost: fl.rx.Lost,
		FirstSent: fl.firstSent, LastSent: fl.lastSent}
}

func (f *fakeBackend) Report(base *report.Snapshot, sc report.Scope) report.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	snap := report.Snapshot{At: now, Connection: f.status, Loopback: f.loopback}
	var since time.Time
	if base != nil {
		since = base.At
	}
	for _, fl := range f.locals {
		l := fl.l
		l.Out = fl.out
		l.SIDs = nil
		for _, ch := range l.Timeline {
			if ch.SID != "" && (len(l.SIDs) == 0 || l.SIDs[len(l.SIDs)-1] != ch.SID) {
				l.SIDs = append(l.SIDs, ch.SID)
			}
		}
		l.Timeline = append([]outgoing.StateChange(nil), l.Timeline...)
		l.Errors = append([]outgoing.ErrorEvent(nil), l.Errors...)
		if f.loopback && l.State != outgoing.StatePending {
			rx := fl.rx
			l.Rx = &rx
		}
		f.rec.FillScope(&l, now, fl.totals(), since, sc)
		snap.Local = append(snap.Local, l)
	}
	if !f.monitorOff {
		snap.Remote = make([]report.Remote, 0, len(f.remotes))
	}
	for _, fr := range f.remotes {
		st := fr.st
		st.Timeline = append([]incoming.StateChange(nil), st.Timeline...)
		st.Errors = append([]incoming.ErrorEvent(nil), st.Errors...)
		r := report.Remote{Stats: st, SchemaDef: fr.schemaDef, SchemaErr: fr.schemaErr, Schema: fr.schemaCheck}
		r.Figures = f.rec.FiguresScope(report.RemoteKey(st.SID), now, fr.totals(), since, true, sc)
		snap.Remote = append(snap.Remote, r)
	}
	f.rec.FillConn(&snap, since)
	return snap.Rebase(base)
}

// advance moves the clock one step of d, with each published track
// sending fps[name] frames/s of size bytes and dropping drops[name]
// frames (queue full) in the step; every frame sent arrives, with the
// track's latencies. The recorder samples the connection and every
// track, as the session's sampler does.
func (f *fakeBackend) advance(c *clock, d time.Duration, fps map[string]float64, size int, drops map[string]uint64) {
	c.t = c.t.Add(d)
	f.mu.Lock()
	defer f.mu.Unlock()
	if fps == nil {
		fps = f.fps
	}
	now := f.now()
	f.rec.SampleConn(now, f.status)
	for _, fl := range f.locals {
		if fl.l.State == outgoing.StatePending {
			continue
		}
		n := uint64(fps[fl.l.Name] * d.Seconds())
		if fl.l.State != outgoing.StatePublished {
			n = 0
		}
		dr := drops[fl.l.Name]
		fl.out.FramesPushed += n + dr
		fl.out.FramesSent += n
		fl.out.PacketsSent += n * uint64((size+15987)/15988)
		fl.out.BytesSent += n * uint64(size+24)
		fl.sentPayload += n * uint64(size)
		fl.out.DroppedBy[outgoing.DropQueueFull] += dr
		fl.out.FramesDropped += dr
		if n > 0 {
			if fl.firstSent.IsZero() {
				fl.firstSent = now
			}
			fl.lastSent = now
		}
		lost := min(fl.lossPerStep, n)
		fl.rx.Lost += lost
		fl.rx.Frames += n - lost
		fl.rx.Bytes += (n - lost) * uint64(size)
		for range min(n, 50) {
			if len(fl.latency) > 0 {
				f.rec.ObserveLatency(report.LocalKey(fl.l.Handle), now, fl.latency[fl.latI%len(fl.latency)])
				fl.latI++
			}
		}
		f.rec.Sample(report.LocalKey(fl.l.Handle), now, fl.totals())
	}
	for _, fr := range f.remotes {
		fr.receive(now, d)
		key := report.RemoteKey(fr.st.SID)
		f.rec.Sample(key, now, fr.totals())
		f.rec.ObserveLatencies(key, now, &fr.st.Latency)
	}
}

// receive is what a subscribed room track gets in d: fps frames of size
// bytes (one packet each, up to 15 988 bytes), lossPerStep of them lost,
// each with the user timestamp (at the track's latencies).
func (fr *fakeRemote) receive(now time.Time, d time.Duration) {
	st := &fr.st
	if st.State != incoming.StateSubscribed {
		return
	}
	n := uint64(fr.fps * d.Seconds())
	lost := min(fr.lossPerStep, n)
	got := n - lost
	pkts := uint64((fr.size + 15987) / 15988)
	st.FramesCompleted += got
	st.FrameBytes += got * uint64(fr.size)
	st.Packets += got * pkts
	st.Bytes += got * (pkts*12 + uint64(fr.size))
	st.PacketsLost += lost * pkts
	st.FramesLost += lost
	st.UserTimestamps += got
	if st.E2EE() {
		st.FramesDecrypted += got
	}
	for range min(got, 50) {
		st.FrameSizes.Record(int64(fr.size))
		if len(fr.latency) > 0 {
			st.Latency.Record(int64(fr.latency[fr.latI%len(fr.latency)]))
			fr.latI++
		}
	}
	if got > 0 {
		if st.FirstPacketAt.IsZero() {
			st.FirstPacketAt = now
		}
		st.LastPacketAt = now
	}
}

// lose moves n of a track's frames from received to lost, as frames that
// never arrived within their grace would be.
func (f *fakeBackend) lose(name string, n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl := f.byName(name)
	fl.rx.Frames -= n
	fl.rx.Lost += n
}

// edit changes a track's state under the lock.
func (f *fakeBackend) edit(name string, change func(fl *fakeLocal)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f.byName(name))
}

func (f *fakeBackend) Close() error {
	f.mu.Lock()
	gate := f.closeGate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		close(f.quit)
	}
	f.closed = true
	return nil
}

func (f *fakeBackend) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// fakePending is a publish waiting for the test's answer.
type fakePending struct {
	f         *fakeBackend
	handle    uint16
	name      string
	cancel    chan struct{}
	cancelled atomic.Bool
	done      chan struct{}
	track     *fakeTrack
	err       error
}

func (p *fakePending) Handle() uint16        { return p.handle }
func (p *fakePending) Name() string          { return p.name }
func (p *fakePending) Done() <-chan struct{} { return p.done }
func (p *fakePending) Cancel() {
	if p.cancelled.CompareAndSwap(false, true) {
		close(p.cancel)
	}
}
func (p *fakePending) Result() (Track, error) {
	<-p.done
	if p.err != nil {
		return nil, p.err
	}
	return p.track, nil
}

func (f *fakeBackend) StartPublish(o session.PublishOptions) (Pending, error) {
	f.mu.Lock()
	f.calls = append(f.calls, o.Name)
	f.e2ee = append(f.e2ee, o.E2EE)
	f.types = append(f.types, o.Type)
	f.nextH++
	h := f.nextH
	fl := &fakeLocal{l: report.Local{Handle: h, Name: o.Name, E2EE: o.E2EE, Type: o.Type, State: outgoing.StatePending, Since: f.now()},
		rx: report.Receive{Subscribed: true, Grace: probe.DefaultLossGrace}}
	fl.out.PublishAttempts = 1
	f.locals = append(f.locals, fl)
	answers := f.answers
	if ch := f.answerFor[o.Name]; ch != nil {
		answers = ch
	}
	f.mu.Unlock()
	p := &fakePending{f: f, handle: h, name: o.Name, cancel: make(chan struct{}), done: make(chan struct{})}
	f.started <- p
	go func() {
		defer close(p.done)
		select {
		case a := <-answers:
			p.err = a.err
		case <-p.cancel:
			p.err = &outgoing.PublishError{Reason: outgoing.ReasonCancelled, Name: o.Name, Handle: h}
		case <-f.quit:
			p.err = &outgoing.PublishError{Reason: outgoing.ReasonDisconnected, Name: o.Name, Handle: h}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if p.err != nil {
			for i, x := range f.locals {
				if x == fl {
					f.locals = append(f.locals[:i], f.locals[i+1:]...)
					break
				}
			}
			return
		}
		sid := "DTR_" + o.Name
		fl.l.State, fl.l.Since = outgoing.StatePublished, f.now()
		fl.l.Timeline = []outgoing.StateChange{{At: f.now(), State: outgoing.StatePublished, SID: sid, Reason: "published"}}
		p.track = &fakeTrack{handle: h, name: o.Name, b: f}
		f.tracks[o.Name] = p.track
	}()
	return p, nil
}

type fakeTrack struct {
	mu     sync.Mutex
	handle uint16
	name   string
	pushes int // frames taken
	// capacity, when set, bounds the frames queued: a push beyond it is
	// refused with QueueFull, a waiting push waits until drain makes room.
	capacity    int
	queued      int
	refused     int           // pushes refused (counted dropped)
	room        chan struct{} // closed and replaced by drain
	unpublished bool
	// refuseUnpublished: a push after the unpublish is refused, as
	// outgoing refuses it (counted under UNPUB), not taken.
	refuseUnpublished bool
	late              int           // pushes after Unpublish was called
	gate              chan struct{} // when set, each push waits for a token (a slow frame)
	src               *probe.Source
	data              []string // frames of the user's own data (Push), in order
	b                 *fakeBackend
}

func (t *fakeTrack) Handle() uint16 { return t.handle }
func (t *fakeTrack) Name() string   { return t.name }
func (t *fakeTrack) Probe() *probe.Source {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.src == nil {
		t.src = probe.NewSource(0, t.tryPush, nil).WithWait(t.waitPush)
	}
	return t.src
}

func (t *fakeTrack) tryPush(p []byte, ts uint64) error {
	t.mu.Lock()
	gate := t.gate
	t.mu.Unlock()
	if gate != nil {
		<-gate
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.unpublished {
		t.late++
		if t.refuseUnpublished {
			return &outgoing.PushError{Track: t.name, Drop: outgoing.DropUnpublished}
		}
	}
	if t.capacity > 0 && t.queued >= t.capacity {
		t.refused++
		return &outgoing.PushError{Track: t.name, Drop: outgoing.DropQueueFull}
	}
	t.pushes++
	t.queued++
	return nil
}

// waitPush is outgoing.LocalTrack.Push: it waits for room, and counts
// nothing when ctx ends first.
func (t *fakeTrack) waitPush(ctx context.Context, p []byte, ts uint64) error {
	for {
		t.mu.Lock()
		if t.capacity == 0 || t.queued < t.capacity {
			t.mu.Unlock()
			return t.tryPush(p, ts)
		}
		if t.room == nil {
			t.room = make(chan struct{})
		}
		room := t.room
		t.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setCapacity bounds the track's queue (0: unbounded).
func (t *fakeTrack) setCapacity(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.capacity = n
}

// drain sends n queued frames (all with n < 0), making room.
func (t *fakeTrack) drain(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n < 0 || n > t.queued {
		n = t.queued
	}
	t.queued -= n
	if t.room != nil && n > 0 {
		close(t.room)
		t.room = nil
	}
}

// Push is outgoing.LocalTrack.Push for the user's own frames: it waits
// for room.
func (t *fakeTrack) Push(ctx context.Context, p []byte, ts uint64) error {
	if err := t.waitPush(ctx, p, ts); err != nil {
		return err
	}
	t.mu.Lock()
	t.data = append(t.data, string(p))
	b := t.b
	t.mu.Unlock()
	if b != nil {
		b.sentData(t.handle, len(p))
	}
	return nil
}

// sentData counts a frame of the user's own data as the session would:
// pushed, sent, and at the loopback subscriber as data (no probe to
// follow it by).
func (f *fakeBackend) sentData(h uint16, size int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl := f.local(h)
	if fl == nil {
		return
	}
	fl.out.FramesPushed++
	fl.out.FramesSent++
	fl.out.PacketsSent++
	fl.out.BytesSent += uint64(size + 24)
	fl.sentPayload += uint64(size)
	fl.rx.Data++
}

// frames is what Push took, in order.
func (t *fakeTrack) frames() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.data...)
}

func (t *fakeTrack) Unpublish(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unpublished = true
	return nil
}
func (t *fakeTrack) latePushes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.late
}
func (t *fakeTrack) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pushes
}

// checkIdentities fails the test when a report the fake produced breaks
// one of the identities every real report keeps.
func checkIdentities(t *testing.T, snap report.Snapshot) {
	t.Helper()
	for _, l := range snap.Local {
		c := l.Out
		var byReason uint64
		for _, n := range c.DroppedBy {
			byReason += n
		}
		if c.FramesPushed != c.FramesSent+c.FramesDropped+c.FramesQueued || byReason != c.FramesDropped {
			t.Fatalf("%s: pushed %d != sent %d + dropped %d (by reason %d) + queued %d", l.Name, c.FramesPushed, c.FramesSent, c.FramesDropped, byReason, c.FramesQueued)
		}
		if rx := l.Rx; rx != nil && rx.Frames+rx.Lost+rx.InGrace+rx.Unfollowed+rx.Data != c.FramesSent {
			t.Fatalf("%s: received %d + lost %d + in grace %d + unfollowed %d + data %d != sent %d",
				l.Name, rx.Frames, rx.Lost, rx.InGrace, rx.Unfollowed, rx.Data, c.FramesSent)
		}
		var hist uint64
		for _, s := range l.History {
			hist += s.Sent
		}
		if hist > c.FramesSent {
			t.Fatalf("%s: history sums to %d frames, more than the %d sent", l.Name, hist, c.FramesSent)
		}
	}
}

// clock is a settable time for deterministic views.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func newTestModel(b *fakeBackend, c *clock, logs *logbuf.Buffer) Model {
	b.now = c.now
	return New(b, Options{Theme: theme.Plain(), Now: c.now, Logs: logs, Tick: time.Hour})
}

// harness drives a Model like bubbletea does, synchronously: commands
// that finish within a moment feed their messages back at once; slower ones
// (a publish waiting for its answer, timers) deliver later, when the test
// calls until.
type harness struct {
	t    *testing.T
	m    Model
	late chan tea.Msg
	quit atomic.Bool // a tea.Quit command ran: the program would end
}

func newHarness(t *testing.T, m Model) *harness {
	h := &harness{t: t, m: m, late: make(chan tea.Msg, 64)}
	// As Run does once the program has ended: whatever the model still
	// holds (pushers, pending publishes, tracks) is closed, and must close
	// in time; the package's leak check then finds none of its goroutines.
	t.Cleanup(func() {
		if c := h.m.closer; h.m.unclean != "" && c != nil {
			// The test quit without waiting for the close: it must still end.
			select {
			case <-c.done:
			case <-time.After(5 * time.Second):
				t.Error("the close never ended")
			}
			return
		}
		if why := h.m.shutdown(); why != "" {
			t.Errorf("shutdown: %s", why)
		}
	})
	return h
}

func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	queue := []tea.Msg{msg}
	for len(queue) > 0 {
		if _, ok := queue[0].(tea.QuitMsg); ok {
			h.quit.Store(true)
		}
		next, cmd := h.m.Update(queue[0])
		if _, ok := queue[0].(tickMsg); ok {
			cmd = nil // the next tick: tests drive the clock themselves
		}
		h.m = next.(Model)
		// bubbletea draws after every message, as in the program (the
		// panes were placed by Update).
		_ = h.m.View()
		queue = append(queue[1:], h.run(cmd)...)
	}
}

// until processes late messages (publish results, cursor blinks...) until
// cond holds, failing the test if it does not within d.
func (h *harness) until(what string, d time.Duration, cond func(Model) bool) {
	h.t.Helper()
	deadline := time.After(d)
	for !cond(h.m) {
		select {
		case msg := <-h.late:
			h.send(msg)
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; view:\n%s", what, plain(h.m))
		}
	}
}

// init runs the model's Init commands as bubbletea would at start.
func (h *harness) init() {
	h.t.Helper()
	for _, msg := range h.run(h.m.Init()) {
		h.send(msg)
	}
}

func (h *harness) run(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	select {
	case msg := <-ch:
		return h.expand(msg)
	case <-time.After(50 * time.Millisecond):
		go func() {
			for _, m := range h.expand(<-ch) {
				if _, isClear := m.(clearStatusMsg); !isClear {
					h.late <- m
				}
			}
		}()
		return nil
	}
}

func (h *harness) expand(msg tea.Msg) []tea.Msg {
	switch msg := msg.(type) {
	case nil, tickMsg:
		return nil
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, h.run(c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

func press(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	named := map[string]tea.KeyType{"up": tea.KeyUp, "down": tea.KeyDown, "pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown,
		"home": tea.KeyHome, "end": tea.KeyEnd, "ctrl+u": tea.KeyCtrlU, "ctrl+d": tea.KeyCtrlD}
	if k, ok := named[s]; ok {
		return tea.KeyMsg{Type: k}
	}
	// Several runes are one event, as a terminal delivers keys read
	// together.
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func plain(m Model) string { return ansi.Strip(m.View()) }

// logAt stores a record with a fixed time, as a library logging through
// the app's logger would, so views of the log pane are deterministic.
func logAt(buf *logbuf.Buffer, at time.Time, lv slog.Level, origin logorigin.Origin, msg string, attrs ...any) {
	rec := slog.NewRecord(at, lv, msg, 0)
	rec.Add(attrs...)
	if origin != "" && origin != logorigin.DTTUI {
		rec.AddAttrs(slog.Any(logorigin.Key, origin))
	}
	_ = buf.Handler(slog.LevelDebug).Handle(context.Background(), rec)
}

// seedLogs fills buf with what a session against the embedded SFU logs
// in its first second: the SFU starting and admitting us, pion's ICE
// chatter (INFO, and one WARN), the SDK, and dttui's own lines, one of
// them long enough to wrap.
func seedLogs(buf *logbuf.Buffer) {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	info, warn := slog.LevelInfo, slog.LevelWarn
	logAt(buf, at(0), info, logorigin.SFU, "starting LiveKit server", "logger", "livekit", "portHttp", 7880, "version", "1.13.5")
	logAt(buf, at(104), info, "", "embedded SFU running; to connect another client: set -a; . ~/.cache/dttui/local-sfu.env; set +a; then e.g. lk room join --identity viewer <room>", "url", "ws://127.0.0.1:7880", "api_key", "dttuiab12cd34")
	logAt(buf, at(105), info, "", "connection connecting")
	logAt(buf, at(110), info, logorigin.SDK, "connecting to signal", "logger", "livekit", "url", "ws://127.0.0.1:7880")
	for i, m := range []string{"signaling state changed to have-remote-offer", "Setting new connection state: Checking", "ICE connection state changed: checking"} {
		logAt(buf, at(111+i), info, logorigin.Pion, m, "participant", "publisher", "logger", "pion.ice")
	}
	logAt(buf, at(115), warn, logorigin.Pion, "Failed to ping without candidate pairs. Connection is not possible yet.", "participant", "publisher", "logger", "pion.ice")
	for i, m := range []string{"ICE connection state changed: connected", "peer connection state changed: connected"} {
		logAt(buf, at(118+i), info, logorigin.Pion, m, "participant", "publisher", "logger", "pion.pc")
		logAt(buf, at(118+i), info, logorigin.SFU, m, "room", "demo-room", "participant", "alice", "logger", "livekit")
	}
	logAt(buf, at(120), info, logorigin.SFU, "participant active", "room", "demo-room", "participant", "alice", "logger", "livekit")
	logAt(buf, at(121), info, "", "connection connected")
	logAt(buf, at(124), info, logorigin.SFU, "created data track", "room", "demo-room", "participant", "alice", "name", "telemetry", "logger", "livekit")
	logAt(buf, at(125), info, "", "created data track", "component", "outgoing", "name", "telemetry", "handle", 1, "sid", "DTR_telemetry")
	logAt(buf, at(2300), warn, logorigin.SFU, "data track subscriber is slow, dropping packets", "room", "demo-room", "participant", "alice-loopback", "track", "DTR_telemetry", "logger", "livekit")
	logAt(buf, at(4100), warn, "", "push to \"telemetry\": frame dropped: queue full", "component", "outgoing", "queued", 64)
	logAt(buf, at(5000), info, "", "generator on \"telemetry\": 100/s × 1 KiB")
}
