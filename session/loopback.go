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
// publisher's data tracks and measures what arrives: frames, bytes, loss,
// incomplete frames and end-to-end latency, per track name.
type loopback struct {
	s      *Session
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	p         *peer
	sidToName map[string]string        // data track SID → name, from participant info
	handles   map[uint16]*handleState  // subscriber handle → state
	tracks    map[string]*receiveState // by track name
}

type handleState struct {
	sid   string
	depkt *packetizer.Depacketizer
	// incompleteSeen is what this handle's depacketizer had counted when
	// last folded into the track's totals.
	incompleteSeen uint64
}

// latencySamples bounds the latency reservoir: the percentiles describe
// the last few seconds at any rate, in constant memory.
const latencySamples = 2048

type receiveState struct {
	frames, bytes, incomplete uint64
	corrupt                   uint64
	seqInit                   bool
	minSeq, maxSeq, distinct  uint64
	lat                       [latencySamples]time.Duration
	latN                      int
}

func startLoopback(ctx context.Context, s *Session) (*loopback, error) {
	if s.cfg.APIKey == "" || s.cfg.APISecret == "" {
		return nil, errors.New("the loopback subscriber needs an API key and secret to mint its own token")
	}
	l := &loopback{s: s, sidToName: map[string]string{}, handles: map[uint16]*handleState{}, tracks: map[string]*receiveState{}}
	l.ctx, l.cancel = context.WithCancel(ctx)
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
	token, err := mintToken(cfg.APIKey, cfg.APISecret, l.s.Status().Room, cfg.Identity+"-loopback", false, true)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	p, err := dialPeer(ctx, peerConfig{
		url: cfg.URL, token: token, log: cfg.Logger.With("participant", "loopback"),
		autoSubscribeDataTracks: true, onSignal: l.onSignal, onDataTrackPacket: l.onPacket,
	})
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.p = p
	// Packets only flow after the subscriber handles arrive, so fresh maps are safe.
	l.handles = map[uint16]*handleState{}
	l.mu.Unlock()
	l.learnParticipants(p.joinResponse().GetOtherParticipants())
	return p, nil
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

func (l *loopback) learnParticipants(ps []*livekit.ParticipantInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, pi := range ps {
		for _, dt := range pi.GetDataTracks() {
			l.sidToName[dt.GetSid()] = dt.GetName()
		}
	}
}

func (l *loopback) onSignal(res *livekit.SignalResponse) {
	switch msg := res.Message.(type) {
	case *livekit.SignalResponse_Update:
		l.learnParticipants(msg.Update.GetParticipants())
	case *livekit.SignalResponse_DataTrackSubscriberHandles:
		l.mu.Lock()
		next := map[uint16]*handleState{}
		for h, t := range msg.DataTrackSubscriberHandles.GetSubHandles() {
			if old, ok := l.handles[uint16(h)]; ok && old.sid == t.GetTrackSid() {
				next[uint16(h)] = old
				continue
			}
			next[uint16(h)] = &handleState{sid: t.GetTrackSid(), depkt: packetizer.NewDepacketizer(packetizer.DepacketizerOptions{})}
		}
		for h, old := range l.handles {
			if _, kept := next[h]; !kept {
				l.foldIncomplete(old, true)
			}
		}
		l.handles = next
		l.mu.Unlock()
	}
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
		return
	}
	frame, ok := hs.depkt.Push(pkt)
	l.foldIncomplete(hs, false)
	if !ok {
		return
	}
	rs := l.trackLocked(hs.sid)
	if rs == nil {
		return
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
	if seq, sent, ok := probe.Decode(payload); ok {
		rs.observe(seq, time.Since(sent))
		if !probe.Intact(payload) {
			rs.corrupt++
		}
	}
}

func (l *loopback) trackLocked(sid string) *receiveState {
	name, ok := l.sidToName[sid]
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
// count; final also flushes what is still partial (the handle is gone).
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

func (r *receiveState) observe(seq uint64, latency time.Duration) {
	if !r.seqInit {
		r.seqInit, r.minSeq, r.maxSeq = true, seq, seq
	}
	r.minSeq, r.maxSeq = min(r.minSeq, seq), max(r.maxSeq, seq)
	r.distinct++
	r.lat[r.latN%latencySamples] = latency
	r.latN++
}

func (l *loopback) stats() map[string]ReceiveStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]ReceiveStats, len(l.tracks))
	subscribed := map[string]bool{}
	for _, hs := range l.handles {
		if name, ok := l.sidToName[hs.sid]; ok {
			subscribed[name] = true
		}
	}
	for name := range subscribed {
		if l.tracks[name] == nil {
			l.tracks[name] = &receiveState{}
		}
	}
	for name, r := range l.tracks {
		st := ReceiveStats{Subscribed: subscribed[name], FramesReceived: r.frames, BytesReceived: r.bytes,
			FramesIncomplete: r.incomplete, FramesCorrupt: r.corrupt}
		if r.seqInit {
			if expected := r.maxSeq - r.minSeq + 1; expected > r.distinct {
				st.FramesLost = expected - r.distinct
			}
		}
		n := min(r.latN, latencySamples)
		if n > 0 {
			s := slices.Clone(r.lat[:n])
			slices.Sort(s)
			st.LatencyP50 = s[n*50/100]
			st.LatencyP99 = s[min(n*99/100, n-1)]
		}
		out[name] = st
	}
	return out
}
