package session

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dttui/dttui/impair"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/session/rtc"
	"github.com/livekit/protocol/livekit"
)

// loopback is a second, hidden participant that subscribes to the
// publisher's data tracks (and nobody else's) through incoming, and
// accounts for every probe frame our tracks send. Every frame is
// attributed by what it carries, never by a name: by the SID its
// subscriber handle maps to, and, for dttui's probe frames, by the probe
// stream of the local track that sent it. Frames of a stream we do not
// know (an earlier publication, another run) are counted foreign on their
// SID and change nothing else.
type loopback struct {
	s         *Session
	publisher string // identity whose tracks we subscribe to
	identity  string // the loopback's own
	sub       *subscriber
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu   sync.Mutex
	sids map[string]*sidRx // by track SID; kept after the track goes
}

// sidRx is what the loopback saw on one track SID beyond incoming's
// counters: what the frames carried.
type sidRx struct {
	foreign uint64 // probe frames of a stream that is not the track's
	data    uint64 // frames that carry no probe: the user's own data
}

// startLoopback joins the loopback participant within ctx; it then lives
// until the session closes.
func startLoopback(ctx context.Context, s *Session) (*loopback, error) {
	if s.cfg.APIKey == "" || s.cfg.APISecret == "" {
		return nil, errors.New("the loopback subscriber needs an API key and secret to mint its own token")
	}
	l := &loopback{s: s, publisher: s.Status().Identity, identity: s.loopIdentity, sids: map[string]*sidRx{}}
	var opener incoming.Opener
	if s.e2ee != nil {
		opener = s.e2ee
	}
	l.sub = newSubscriber(incoming.Options{
		Filter:  func(i incoming.Info) bool { return i.PublisherIdentity == l.publisher },
		Opener:  opener,
		OnFrame: l.onFrame,
		Now:     s.now,
		Logger:  s.cfg.Logger.With("component", "loopback"),
	})
	l.ctx, l.cancel = context.WithCancel(s.ctx)
	p, err := l.dial(ctx)
	if err != nil {
		l.cancel()
		l.sub.close()
		return nil, err
	}
	l.wg.Add(1)
	go l.supervise(p)
	return l, nil
}

func (l *loopback) dial(ctx context.Context) (*rtc.Conn, error) {
	cfg := l.s.cfg
	// canPublishData=false: it only listens. hidden: other participants
	// of a real room do not see a test tool's second participant.
	token, err := mintToken(cfg.APIKey, cfg.APISecret, l.s.Status().Room, l.identity, false, true)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	opts := cfg.Net
	if opts.Loopback != nil {
		opts = *opts.Loopback
	}
	// The loopback stands for a subscriber across the same path: it takes
	// the user's impairment of what we receive (dir=down), never of what
	// we send, which is the publisher's.
	hooks := rtc.Network{NetOptions: opts, Impair: cfg.Impair, ImpairWays: impair.Down}
	p, err := rtc.Dial(ctx, rtc.Config{
		URL: cfg.URL, Token: token, Log: cfg.Logger.With("participant", "loopback"),
		OnSignal:          func(p *rtc.Conn, res *livekit.SignalResponse) { l.onSignal(p, res) },
		OnDataTrackPacket: l.sub.onPacket, OnDataTrackOpen: l.sub.onDataChannelOpen, Net: hooks,
		RelayOnly: cfg.RelayOnly, LocalDrops: &l.s.localDrops,
	})
	return p, err
}

func (l *loopback) onSignal(p *rtc.Conn, res *livekit.SignalResponse) {
	if _, ok := res.Message.(*livekit.SignalResponse_Join); ok {
		l.sub.attach(p)
	}
	l.sub.onSignal(l.identity, res)
}

// supervise rejoins when the loopback's connection dies (an SFU restart),
// so receive stats resume along with the publisher.
func (l *loopback) supervise(p *rtc.Conn) {
	defer l.wg.Done()
	for {
		select {
		case <-l.ctx.Done():
			p.Leave()
			return
		case <-p.Done():
		}
		p.Wait()
		l.sub.attach(nil)
		l.sub.mgr.Reset(errLoopbackRejoin)
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

var errLoopbackRejoin = errors.New("the loopback subscriber rejoins")

func (l *loopback) close() {
	l.cancel()
	l.wg.Wait()
	l.sub.close()
}

// holds says whether frames sent now under sid reach the loopback.
func (l *loopback) holds(sid string) bool { return l.sub.holds(sid) }

// onFrame sees every frame incoming completed (decrypted, for E2EE
// tracks), with incoming's manager locked.
func (l *loopback) onFrame(t *incoming.RemoteTrack, f *incoming.Frame) {
	sid := t.Info().SID
	if fn := l.s.cfg.OnLoopbackFrame; fn != nil {
		fn(sid, *f)
	}
	h, isProbe := probe.Decode(f.Payload)
	var st *localState
	if isProbe {
		st = l.s.streamState(h.Stream)
	}
	if st == nil {
		l.mu.Lock()
		sr := l.sid(sid)
		if isProbe {
			sr.foreign++
		} else {
			sr.data++
		}
		l.mu.Unlock()
		return
	}
	now := f.Arrival
	lat := now.Sub(h.Sent)
	// Latency comes from the user-timestamp extension (UNIX ms), which
	// the SFU carries in every packet's header. The probe has its send
	// time in nanoseconds: the same instant, so where the two agree it
	// refines the millisecond; where they disagree one of them was
	// mangled on the way, and the header, which the SFU reads, is taken.
	mangled := f.HasUserTimestamp && h.Sent.UnixMilli() != int64(f.UserTimestamp)
	if mangled {
		lat = now.Sub(time.UnixMilli(int64(f.UserTimestamp)))
	}
	// The ledger records the latency, and feeds the per-second series
	// (OnLatency), only for a frame it counts received: one producer.
	switch st.ledgerFor(sid, true).Arrived(h.Seq, len(f.Payload), now, lat) {
	case probe.ArrivalFirst, probe.ArrivalPending:
	default:
		return // a duplicate, late, unfollowed or mangled: counted by the ledger, nothing else
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	rx := &st.rx
	if rx.firstRx.IsZero() {
		rx.firstRx = now
	}
	rx.lastRx = now
	if !probe.Intact(f.Payload) {
		rx.corrupt++
	}
	if f.HasUserTimestamp {
		rx.userTimestamps++
	}
	if mangled {
		rx.corrupt++
	}
}

// received is what the loopback got of our packets so far.
func (l *loopback) received() rtc.RxTotals {
	p, b, lost := l.sub.mgr.Received()
	return rtc.RxTotals{Packets: p, Bytes: b, Lost: lost}
}

// loopReceived is the loopback's totals for the publisher's congestion
// limit; false without a loopback.
func (s *Session) loopReceived() (rtc.RxTotals, bool) {
	if s.loop == nil {
		return rtc.RxTotals{}, false
	}
	return s.loop.received(), true
}

// sid is sid's counters; l.mu is held.
func (l *loopback) sid(sid string) *sidRx {
	sr := l.sids[sid]
	if sr == nil {
		sr = &sidRx{}
		l.sids[sid] = sr
	}
	return sr
}

// streamRx returns what arrived of a local track's probe stream.
func (l *loopback) streamRx(st *localState) streamRx {
	l.mu.Lock()
	defer l.mu.Unlock()
	return st.rx
}

// receive is the report's view of a local track: its stream's ledgers and
// counters, and what arrived on its SIDs.
func (l *loopback) receive(st *localState, sids []string) *report.Receive {
	rx := st.counts().Receive(st.unfollowed.Load())
	r := &rx
	r.Grace = st.grace
	for _, sid := range sids {
		if t, ok := l.sub.mgr.Track(sid); ok {
			ts := t.Stats()
			r.Incomplete += ts.FramesIncomplete
			r.Corrupt += ts.DecryptFailuresTotal()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Corrupt, r.UserTimestamps = r.Corrupt+st.rx.corrupt, st.rx.userTimestamps
	for _, sid := range sids {
		if sr := l.sids[sid]; sr != nil {
			r.Foreign += sr.foreign
			r.Data += sr.data
		}
	}
	if n, in := st.dataMissing(r.Data, st.now()); in {
		r.InGrace += n
	} else {
		r.Lost += n
	}
	if len(sids) > 0 {
		r.Subscribed = l.holds(sids[len(sids)-1])
	}
	return r
}

// dataArrived is how many frames without a probe arrived on sids.
func (l *loopback) dataArrived(sids []string) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n uint64
	for _, sid := range sids {
		if sr := l.sids[sid]; sr != nil {
			n += sr.data
		}
	}
	return n
}
