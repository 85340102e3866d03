package session

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/session/probe"
	"github.com/livekit/protocol/livekit"
)

// loopback is a second, hidden participant that subscribes to the
// publisher's data tracks (and nobody else's) and measures what arrives:
// frames, bytes, loss, incomplete frames and end-to-end latency, per track
// name.
type loopback struct {
	s         *Session
	publisher string // identity whose tracks we subscribe to
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu sync.Mutex
	// names maps every SID our publisher ever had to its track name; kept
	// after a track goes so late packets and final counts find their row.
	names map[string]string
	// parts holds the current data tracks of each participant SID with our
	// publisher's identity (two during a full rejoin: old and new).
	parts      map[string]participantTracks
	subscribed map[string]bool          // track SIDs requested on the current peer
	handles    map[uint16]*handleState  // subscriber handle → state
	tracks     map[string]*receiveState // by track name
}

type participantTracks struct {
	version uint32
	sids    []string
}

type handleState struct {
	sid   string
	depkt *packetizer.Depacketizer
	// incompleteSeen is what this handle's depacketizer had counted when
	// last folded into the track's totals.
	incompleteSeen uint64
}

// latencySamples bounds the latency reservoir: the percentiles describe
// the last 2048 frames at any rate, in constant memory.
const latencySamples = 2048

type receiveState struct {
	frames, bytes, incomplete uint64
	corrupt, userTimestamps   uint64
	seqInit                   bool
	minSeq, maxSeq, distinct  uint64
	lat                       [latencySamples]time.Duration
	latN                      int
}

// startLoopback joins the loopback participant within ctx; it then lives
// until the session closes.
func startLoopback(ctx context.Context, s *Session) (*loopback, error) {
	if s.cfg.APIKey == "" || s.cfg.APISecret == "" {
		return nil, errors.New("the loopback subscriber needs an API key and secret to mint its own token")
	}
	l := &loopback{
		s: s, publisher: s.Status().Identity,
		names: map[string]string{}, parts: map[string]participantTracks{}, subscribed: map[string]bool{},
		handles: map[uint16]*handleState{}, tracks: map[string]*receiveState{},
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
	return dialPeer(ctx, peerConfig{
		url: cfg.URL, token: token, log: cfg.Logger.With("participant", "loopback"),
		onSignal: l.onSignal, onDataTrackPacket: l.onPacket, net: cfg.net,
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
			l.names[dt.GetSid()] = dt.GetName()
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
	rs := l.trackLocked(hs.sid)
	if rs == nil {
		return
	}
	if l.s.cfg.onFrame != nil {
		l.s.cfg.onFrame(l.names[hs.sid], frame)
	}
	rs.frames++
	rs.bytes += uint64(len(frame.Payload))
	payload := frame.Payload
	if frame.Extensions.HasE2EE && l.s.e2ee != nil {
		// Same shared key as the publisher: open it to read the probe.
		if plain, err := l.s.e2ee.Open(nil, payload, frame.Extensions.E2EE); err == nil {
			payload = plain
		}
	}
	now := time.Now()
	seq, sent, isProbe := probe.Decode(payload)
	if isProbe && !probe.Intact(payload) {
		rs.corrupt++
	}
	switch ext := frame.Extensions; {
	case ext.HasUserTimestamp:
		// Latency comes from the user-timestamp extension (UNIX ms), which
		// the SFU carries in every packet's header. A probe also has its
		// send time in nanoseconds: the same instant, so where the two
		// agree it refines the millisecond to sub-millisecond precision;
		// where they disagree the header was mangled on the way.
		rs.userTimestamps++
		lat := now.Sub(time.UnixMilli(int64(ext.UserTimestamp)))
		if isProbe {
			if sent.UnixMilli() != int64(ext.UserTimestamp) {
				rs.corrupt++
			} else {
				lat = now.Sub(sent)
			}
		}
		rs.observeLatency(lat)
	case isProbe:
		rs.observeLatency(now.Sub(sent)) // pushed without the extension
	}
	if isProbe {
		rs.observeSeq(seq)
	}
}

func (l *loopback) trackLocked(sid string) *receiveState {
	name, ok := l.names[sid]
	if !ok {
		return nil
	}
	rs := l.tracks[name]
	if rs == nil {
		rs = &receiveState{}
		l.tracks[name] = rs
	}
	return rs
}

// foldIncomplete adds frames the depacketizer gave up on to the track's
// count; final also gives up what is still partial (the handle is gone).
func (l *loopback) foldIncomplete(hs *handleState, final bool) {
	if final {
		hs.depkt.Flush()
	}
	n := hs.depkt.Stats().FramesIncomplete
	if n == hs.incompleteSeen {
		return
	}
	if rs := l.trackLocked(hs.sid); rs != nil {
		rs.incomplete += n - hs.incompleteSeen
	}
	hs.incompleteSeen = n
}

func (r *receiveState) observeSeq(seq uint64) {
	if !r.seqInit {
		r.seqInit, r.minSeq, r.maxSeq = true, seq, seq
	}
	r.minSeq, r.maxSeq = min(r.minSeq, seq), max(r.maxSeq, seq)
	r.distinct++
}

func (r *receiveState) observeLatency(latency time.Duration) {
	r.lat[r.latN%latencySamples] = latency
	r.latN++
}

func (l *loopback) stats() map[string]ReceiveStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	subscribed := map[string]bool{}
	for _, hs := range l.handles {
		// Folded here rather than per packet: cheap reads, same totals.
		l.foldIncomplete(hs, false)
		// The SFU ends a subscription some seconds after the track goes;
		// the publisher's participant info says so at once.
		if name, ok := l.names[hs.sid]; ok && l.subscribed[hs.sid] {
			subscribed[name] = true
			if l.tracks[name] == nil {
				l.tracks[name] = &receiveState{}
			}
		}
	}
	out := make(map[string]ReceiveStats, len(l.tracks))
	for name, r := range l.tracks {
		st := ReceiveStats{Subscribed: subscribed[name], FramesReceived: r.frames, BytesReceived: r.bytes,
			FramesIncomplete: r.incomplete, FramesCorrupt: r.corrupt, UserTimestamps: r.userTimestamps}
		if r.seqInit {
			if expected := r.maxSeq - r.minSeq + 1; expected > r.distinct {
				st.FramesLost = expected - r.distinct
			}
		}
		if n := min(r.latN, latencySamples); n > 0 {
			s := slices.Clone(r.lat[:n])
			slices.Sort(s)
			st.LatencyP50 = s[n*50/100]
			st.LatencyP99 = s[min(n*99/100, n-1)]
		}
		out[name] = st
	}
	return out
}
