package session

import (
	"cmp"
	"context"
	"errors"
	"github.com/dttui/dttui/report"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/session/probe"
	"github.com/livekit/protocol/livekit"
)

// loopback is a second, hidden participant that subscribes to the
// publisher's data tracks (and nobody else's) and measures what arrives.
// Every frame is attributed by what it carries, never by a name: by the
// SID its subscriber handle maps to, and, for dttui's probe frames, by the
// probe stream of the local track that sent it. Frames of a stream we do
// not know (another run, another application on the same identity) are
// counted foreign on their SID and change nothing else.
type loopback struct {
	s         *Session
	publisher string // identity whose tracks we subscribe to
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu sync.Mutex
	// parts holds the current data tracks of each participant SID with our
	// publisher's identity (two during a full rejoin: old and new).
	parts      map[string]participantTracks
	subscribed map[string]bool         // track SIDs requested on the current peer
	handles    map[uint16]*handleState // subscriber handle → state
	sids       map[string]*sidRx       // by track SID; kept after the track goes

	// held is the set of SIDs frames are forwarded to us for: handles we
	// hold, once our `_data_track` channel is open. The publisher's send
	// path reads it (holds), so it is replaced whole, never changed.
	held   atomic.Pointer[map[string]bool]
	dcOpen bool
}

// holds says whether frames sent now under sid reach the loopback.
func (l *loopback) holds(sid string) bool {
	m := l.held.Load()
	return m != nil && (*m)[sid]
}

// updateHeldLocked recomputes held; l.mu is held.
func (l *loopback) updateHeldLocked() {
	m := map[string]bool{}
	if l.dcOpen {
		for _, hs := range l.handles {
			m[hs.sid] = true
		}
	}
	l.held.Store(&m)
}

// onDataChannelOpen runs when our `_data_track` channel opens.
func (l *loopback) onDataChannelOpen() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dcOpen = true
	l.updateHeldLocked()
}

type participantTracks struct {
	version uint32
	sids    []string
}

type handleState struct {
	sid   string
	depkt *packetizer.Depacketizer
	// incompleteSeen is what this handle's depacketizer had counted when
	// last folded into the SID's totals.
	incompleteSeen uint64
}

// sidRx is what arrived on one track SID, whatever it carried.
type sidRx struct {
	frames, bytes uint64 // every reassembled frame (ciphertext bytes for E2EE)
	incomplete    uint64 // frames the depacketizer gave up on
	foreign       uint64 // probe frames of a stream that is not the track's
	data          uint64 // frames that carry no probe: the user's own data
	decryptFailed uint64
}

// startLoopback joins the loopback participant within ctx; it then lives
// until the session closes.
func startLoopback(ctx context.Context, s *Session) (*loopback, error) {
	if s.cfg.APIKey == "" || s.cfg.APISecret == "" {
		return nil, errors.New("the loopback subscriber needs an API key and secret to mint its own token")
	}
	l := &loopback{
		s: s, publisher: s.Status().Identity,
		parts: map[string]participantTracks{}, subscribed: map[string]bool{},
		handles: map[uint16]*handleState{}, sids: map[string]*sidRx{},
	}
	l.ctx, l.cancel = context.WithCancel(s.ctx)
	p, err := l.dial(ctx)
	if err != nil {
		l.cancel()
		return nil, err
	}
	l.wg.Add(1)
	go l.supervise(p)
	return l, nil
}

func (l *loopback) dial(ctx context.Context) (*peer, error) {
	cfg := l.s.cfg
	// canPublishData=false: it only listens. hidden: other participants
	// of a real room do not see a test tool's second participant.
	token, err := mintToken(cfg.APIKey, cfg.APISecret, l.s.Status().Room, cfg.Identity+"-loopback", false, true)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	hooks := cfg.net
	if cfg.loopNet != nil {
		hooks = *cfg.loopNet
	}
	return dialPeer(ctx, peerConfig{
		url: cfg.URL, token: token, log: cfg.Logger.With("participant", "loopback"),
		onSignal: l.onSignal, onDataTrackPacket: l.onPacket, onDataTrackOpen: l.onDataChannelOpen, net: hooks,
	})
}

// supervise rejoins when the loopback's connection dies (an SFU restart),
// so receive stats resume along with the publisher.
func (l *loopback) supervise(p *peer) {
	defer l.wg.Done()
	for {
		select {
		case <-l.ctx.Done():
			p.leave()
			return
		case <-p.done():
		}
		p.wait()
		err := withBackoff(l.ctx, nil, func(ctx context.Context) error {
			np, err := l.dial(ctx)
			if err == nil {
				p = np
			}
			return err
		})
		if err != nil {
			return // only when l.ctx ends: the loopback retries for as long as it lives
		}
	}
}

func (l *loopback) close() {
	l.cancel()
	l.wg.Wait()
}

// onSignal runs on the peer's signal reader (or its join).
func (l *loopback) onSignal(p *peer, res *livekit.SignalResponse) {
	switch msg := res.Message.(type) {
	case *livekit.SignalResponse_Join:
		// A fresh participant: no subscriptions, no handles yet.
		l.mu.Lock()
		for _, hs := range l.handles {
			l.foldIncomplete(hs, true)
		}
		l.handles = map[uint16]*handleState{}
		l.subscribed = map[string]bool{}
		l.parts = map[string]participantTracks{}
		l.dcOpen = false // a new peer: its channel opens anew
		l.updateHeldLocked()
		l.mu.Unlock()
		l.learn(p, msg.Join.GetOtherParticipants())
	case *livekit.SignalResponse_Update:
		l.learn(p, msg.Update.GetParticipants())
	case *livekit.SignalResponse_DataTrackSubscriberHandles:
		l.setHandles(msg.DataTrackSubscriberHandles.GetSubHandles())
	}
}

// learn records our publisher's data tracks from participant infos and
// subscribes to the new ones. Tracks that went need no request: the SFU
// ends those subscriptions itself.
func (l *loopback) learn(p *peer, infos []*livekit.ParticipantInfo) {
	l.mu.Lock()
	for _, pi := range infos {
		if pi.GetIdentity() != l.publisher {
			continue
		}
		if pi.GetState() == livekit.ParticipantInfo_DISCONNECTED {
			delete(l.parts, pi.GetSid())
			continue
		}
		if old, ok := l.parts[pi.GetSid()]; ok && pi.GetVersion() < old.version {
			continue // updates may arrive out of order
		}
		pt := participantTracks{version: pi.GetVersion()}
		for _, dt := range pi.GetDataTracks() {
			pt.sids = append(pt.sids, dt.GetSid())
		}
		l.parts[pi.GetSid()] = pt
	}
	want := map[string]bool{}
	var updates []*livekit.UpdateDataSubscription_Update
	for _, pt := range l.parts {
		for _, sid := range pt.sids {
			want[sid] = true
			if !l.subscribed[sid] {
				l.subscribed[sid] = true
				updates = append(updates, &livekit.UpdateDataSubscription_Update{TrackSid: sid, Subscribe: true})
			}
		}
	}
	for sid := range l.subscribed {
		if !want[sid] {
			delete(l.subscribed, sid)
		}
	}
	l.mu.Unlock()
	if len(updates) == 0 {
		return
	}
	err := p.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_UpdateDataSubscription{
		UpdateDataSubscription: &livekit.UpdateDataSubscription{Updates: updates}}})
	if err != nil {
		l.s.log.Warn("loopback: subscribe", "err", err)
	}
}

// setHandles installs the SFU's map of subscriber handles (always the
// complete current set).
func (l *loopback) setHandles(m map[uint32]*livekit.DataTrackSubscriberHandles_PublishedDataTrack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := make(map[uint16]*handleState, len(m))
	for h, t := range m {
		if old, ok := l.handles[uint16(h)]; ok && old.sid == t.GetTrackSid() {
			next[uint16(h)] = old
			continue
		}
		next[uint16(h)] = &handleState{sid: t.GetTrackSid(), depkt: packetizer.NewDepacketizer(packetizer.DepacketizerOptions{})}
	}
	for h, old := range l.handles {
		if next[h] != old {
			l.foldIncomplete(old, true)
		}
	}
	l.handles = next
	l.updateHeldLocked()
}

// onPacket runs on the subscriber data channel's goroutine.
func (l *loopback) onPacket(b []byte) {
	pkt, err := packetizer.Parse(b)
	if err != nil {
		l.s.log.Debug("loopback: bad packet", "err", err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	hs := l.handles[pkt.Header.Handle]
	if hs == nil {
		return // before the handle map, or a track just gone
	}
	frame, ok := hs.depkt.Push(pkt)
	if !ok {
		return
	}
	if l.s.cfg.onFrame != nil {
		l.s.cfg.onFrame(hs.sid, frame)
	}
	sr := l.sid(hs.sid)
	sr.frames++
	sr.bytes += uint64(len(frame.Payload))
	payload := frame.Payload
	if frame.Extensions.HasE2EE {
		// Same shared key as the publisher: open it to read the probe.
		if l.s.e2ee == nil {
			sr.decryptFailed++
			return
		}
		plain, err := l.s.e2ee.Open(nil, payload, frame.Extensions.E2EE)
		if err != nil {
			sr.decryptFailed++
			return
		}
		payload = plain
	}
	h, isProbe := probe.Decode(payload)
	if !isProbe {
		sr.data++
		return
	}
	st := l.s.streamState(h.Stream)
	if st == nil {
		sr.foreign++
		return
	}
	switch st.ledgerFor(hs.sid, true).Arrived(h.Seq, len(payload)) {
	case probe.ArrivalFirst, probe.ArrivalPending:
	default:
		return // a duplicate, late, unfollowed or mangled: counted by the ledger, nothing else
	}
	now := time.Now()
	rx := &st.rx
	if rx.firstRx.IsZero() {
		rx.firstRx = now
	}
	rx.lastRx = now
	if !probe.Intact(payload) {
		rx.corrupt++
	}
	lat := now.Sub(h.Sent)
	if ext := frame.Extensions; ext.HasUserTimestamp {
		// Latency comes from the user-timestamp extension (UNIX ms), which
		// the SFU carries in every packet's header. The probe has its send
		// time in nanoseconds: the same instant, so where the two agree it
		// refines the millisecond; where they disagree the header was
		// mangled on the way.
		rx.userTimestamps++
		if h.Sent.UnixMilli() != int64(ext.UserTimestamp) {
			rx.corrupt++
			lat = now.Sub(time.UnixMilli(int64(ext.UserTimestamp)))
		}
	}
	l.s.rec.ObserveLatency(st.handle, now, lat)
}

func (l *loopback) sid(sid string) *sidRx {
	sr := l.sids[sid]
	if sr == nil {
		sr = &sidRx{}
		l.sids[sid] = sr
	}
	return sr
}

// foldIncomplete adds frames the depacketizer gave up on to the SID's
// count; final also gives up what is still partial (the handle is gone).
func (l *loopback) foldIncomplete(hs *handleState, final bool) {
	if final {
		hs.depkt.Flush()
	}
	n := hs.depkt.Stats().FramesIncomplete
	if n == hs.incompleteSeen {
		return
	}
	l.sid(hs.sid).incomplete += n - hs.incompleteSeen
	hs.incompleteSeen = n
}

// streamRx returns what arrived of a local track's probe stream.
func (l *loopback) streamRx(st *localState) streamRx {
	l.mu.Lock()
	defer l.mu.Unlock()
	return st.rx
}

// receive is the report's view of a local track: its stream's ledgers
// and counters, and what arrived on its SIDs.
func (l *loopback) receive(st *localState, sids []string) *report.Receive {
	c := st.counts()
	r := &report.Receive{Frames: c.Received, Bytes: c.ReceivedBytes, Lost: c.Lost, InGrace: c.InGrace,
		Grace: cmp.Or(st.grace, probe.DefaultLossGrace), Duplicates: c.Duplicates, Late: c.Late, Corrupt: c.Unexpected,
		Unfollowed: st.unfollowed.Load()}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, hs := range l.handles {
		// Folded here rather than per packet: cheap reads, same totals.
		l.foldIncomplete(hs, false)
	}
	r.Corrupt, r.UserTimestamps = r.Corrupt+st.rx.corrupt, st.rx.userTimestamps
	for i, sid := range sids {
		if sr := l.sids[sid]; sr != nil {
			r.Foreign += sr.foreign
			r.Data += sr.data
			r.Incomplete += sr.incomplete
			r.Corrupt += sr.decryptFailed
		}
		if i == len(sids)-1 {
			r.Subscribed = l.holds(sid)
		}
	}
	return r
}
