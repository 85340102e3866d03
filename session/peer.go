package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	protosignalling "github.com/livekit/protocol/signalling"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/livekit/server-sdk-go/v2/signalling"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"
)

// dataTrackLabel is the data channel LiveKit carries data-track packets on.
const dataTrackLabel = "_data_track"

// peerConfig says how one participant connects.
type peerConfig struct {
	url, token string
	log        *slog.Logger
	// publisher creates the `_data_track` channel on the publisher PC.
	publisher bool
	// autoSubscribeDataTracks asks the SFU to forward other participants'
	// data tracks (the loopback subscriber wants them; the publisher not).
	autoSubscribeDataTracks bool
	// onSignal sees every signal response the peer does not consume itself.
	onSignal func(*livekit.SignalResponse)
	// onDataTrackPacket sees each message on the subscriber's `_data_track`.
	onDataTrackPacket func([]byte)
	// resumable keeps the PeerConnections when the signal socket drops, so
	// the owner can resume the session instead of rejoining.
	resumable bool
}

// peer is one participant's connection: the signal websocket and the
// publisher and subscriber PeerConnections (LiveKit's dual-PC mode).
type peer struct {
	cfg peerConfig
	log *slog.Logger

	transport signalling.SignalTransport
	api       *webrtc.API

	mu        sync.Mutex
	join      *livekit.JoinResponse
	pub, sub  *webrtc.PeerConnection
	pendingIC map[livekit.SignalTarget][]webrtc.ICECandidateInit
	remoteSet map[livekit.SignalTarget]bool

	dc     *webrtc.DataChannel
	dcOpen chan struct{}
	lowCh  chan struct{} // buffered-amount-low events, latest wins
	subUp  chan struct{} // subscriber PC connected (loopback)

	rttNanos atomic.Int64
	lastPong atomic.Int64 // unix nanos of the last pong (or of the join)
	joined   chan struct{}
	sigLost  chan struct{} // closed when the current signal socket drops (resumable peers)

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  atomic.Pointer[error]
	wg        sync.WaitGroup
}

// Watermarks for the `_data_track` channel. The JS client waits above
// 256 KiB and resumes at 8 KiB; we resume at 64 KiB so a fast sender does
// not stall on every event at 16 KB packets, while 256 KiB still bounds the
// latency a full buffer adds.
const (
	highWatermark = 256 << 10
	lowWatermark  = 64 << 10
)

// dialPeer joins and waits until the peer is usable: the publisher's data
// channel open, or the subscriber PC connected. It owns the goroutines it
// starts; close stops them.
func dialPeer(ctx context.Context, cfg peerConfig) (*peer, error) {
	p := &peer{
		cfg: cfg, log: cfg.log,
		pendingIC: map[livekit.SignalTarget][]webrtc.ICECandidateInit{},
		remoteSet: map[livekit.SignalTarget]bool{},
		dcOpen:    make(chan struct{}),
		lowCh:     make(chan struct{}, 1),
		subUp:     make(chan struct{}),
		joined:    make(chan struct{}),
		closed:    make(chan struct{}),
		sigLost:   make(chan struct{}),
	}
	se := webrtc.SettingEngine{}
	se.LoggerFactory = pionLoggerFactory(cfg.log)
	// Loopback SFUs advertise 127.0.0.1; pion hides loopback candidates by default.
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(0) // no mDNS: nothing to resolve on a LAN-less box
	p.api = webrtc.NewAPI(webrtc.WithSettingEngine(se))

	lkLog := protocolLogger(cfg.log)
	sig := &dataTrackSignalling{Signalling: signalling.NewSignalling(signalling.SignallingParams{Logger: lkLog}), autoSubscribe: cfg.autoSubscribeDataTracks}
	p.transport = signalling.NewSignalTransportWebSocket(signalling.SignalTransportWebSocketParams{
		Logger:                 lkLog,
		Version:                lksdk.Version,
		Protocol:               lksdk.PROTOCOL,
		Signalling:             sig,
		SignalTransportHandler: p,
		SignalHandler:          p,
	})

	params := signalling.ConnectParams{AutoSubscribe: cfg.autoSubscribeDataTracks, ConnectTimeout: 5 * time.Second}
	if err := p.transport.Join(ctx, cfg.url, cfg.token, params, nil, webrtc.SessionDescription{}); err != nil {
		p.close(err)
		return nil, joinError(ctx, sig, cfg, err)
	}
	p.transport.Start()

	ready := p.dcOpen
	if !cfg.publisher {
		ready = p.subUp
	}
	select {
	case <-ready:
		p.wg.Add(1)
		go p.pingLoop()
		return p, nil
	case <-p.closed:
		return nil, fmt.Errorf("connection closed while setting up: %w", p.err())
	case <-ctx.Done():
		p.close(ctx.Err())
		return nil, fmt.Errorf("joined, but WebRTC did not connect: %w", ctx.Err())
	}
}

// dataTrackSignalling adds auto_subscribe_data_track to the join URL; the
// Go SDK's signalling does not know the parameter yet.
type dataTrackSignalling struct {
	signalling.Signalling
	autoSubscribe bool
}

func (s *dataTrackSignalling) ConnectQueryParams(version string, protocol int, cp *signalling.ConnectParams,
	add []*livekit.AddTrackRequest, offer webrtc.SessionDescription, sid string) (string, error) {
	q, err := s.Signalling.ConnectQueryParams(version, protocol, cp, add, offer, sid)
	return q + fmt.Sprintf("&auto_subscribe_data_track=%t", s.autoSubscribe), err
}

// joinError turns a failed websocket handshake into the server's own
// words (bad token, no such room...), asking the validate endpoint as the
// Go SDK does. The token never appears in the message.
func joinError(ctx context.Context, sig signalling.Signalling, cfg peerConfig, err error) error {
	if ctx.Err() != nil {
		return describeJoinError(cfg.url, fmt.Errorf("%w (timed out; is the server reachable?)", err))
	}
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	req, rerr := sig.HTTPRequestForValidate(vctx, lksdk.Version, lksdk.PROTOCOL, cfg.url, cfg.token, &signalling.ConnectParams{}, "")
	if rerr == nil {
		if resp, herr := http.DefaultClient.Do(req); herr == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return describeJoinError(cfg.url, fmt.Errorf("server refused the join (HTTP %d): %s", resp.StatusCode, strings.TrimSpace(string(body))))
			}
		}
	}
	return describeJoinError(cfg.url, err)
}

func (p *peer) err() error {
	if e := p.closeErr.Load(); e != nil {
		return *e
	}
	return nil
}

// done is closed when the peer is gone, for whatever reason.
func (p *peer) done() <-chan struct{} { return p.closed }

// close tears the peer down once; err says why (nil: asked to).
func (p *peer) close(err error) {
	p.closeOnce.Do(func() {
		if err == nil {
			err = errors.New("closed")
		}
		p.closeErr.Store(&err)
		close(p.closed)
		go func() {
			// Closing the transport waits for its reader, which may be
			// inside HandleMessage calling close: don't wait here.
			p.transport.Close()
		}()
		p.mu.Lock()
		pub, sub := p.pub, p.sub
		p.mu.Unlock()
		if pub != nil {
			_ = pub.Close()
		}
		if sub != nil {
			_ = sub.Close()
		}
	})
}

// leave says goodbye to the SFU, then closes.
func (p *peer) leave() {
	_ = p.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Leave{Leave: &livekit.LeaveRequest{
		Reason: livekit.DisconnectReason_CLIENT_INITIATED, Action: livekit.LeaveRequest_DISCONNECT}}})
	p.close(nil)
	p.wg.Wait()
}

func (p *peer) send(msg *livekit.SignalRequest) error {
	select {
	case <-p.closed:
		return fmt.Errorf("signal connection closed: %w", p.err())
	default:
	}
	return p.transport.SendMessage(msg)
}

// errSignalLost is the signal websocket ending under us.
var errSignalLost = errors.New("signal connection lost")

// OnTransportClose is the websocket reader ending. A resumable peer keeps
// its PeerConnections (data may still flow) and tells its owner, who can
// resume; others close.
func (p *peer) OnTransportClose() {
	if !p.cfg.resumable {
		p.close(errSignalLost)
		return
	}
	p.mu.Lock()
	closeOnce(p.sigLost)
	p.mu.Unlock()
}

// signalLost is closed when the current signal socket has dropped.
func (p *peer) signalLost() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sigLost
}

// resume reopens the signal socket for the same participant (reconnect=1)
// and sends the SyncState that tells the SFU what we still publish. An
// error means the session cannot be resumed and needs a full rejoin.
func (p *peer) resume(ctx context.Context, token string, dataTracks []*livekit.PublishDataTrackResponse) error {
	select {
	case <-p.closed:
		return p.err()
	default:
	}
	params := signalling.ConnectParams{AutoSubscribe: p.cfg.autoSubscribeDataTracks, ConnectTimeout: 5 * time.Second}
	if err := p.transport.Reconnect(ctx, p.cfg.url, token, params, p.participantSID()); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	p.mu.Lock()
	p.sigLost = make(chan struct{})
	sub, dc := p.sub, p.dc
	p.mu.Unlock()
	p.transport.Start()

	sync := &livekit.SyncState{
		Subscription:      &livekit.UpdateSubscription{Subscribe: true},
		PublishDataTracks: dataTracks,
	}
	if sub != nil {
		if ld := sub.CurrentLocalDescription(); ld != nil {
			sync.Answer = protosignalling.ToProtoSessionDescription(*ld, 0, nil)
		}
	}
	if dc != nil && dc.ID() != nil {
		sync.DataChannels = []*livekit.DataChannelInfo{{Label: dc.Label(), Id: uint32(*dc.ID()), Target: livekit.SignalTarget_PUBLISHER}}
	}
	return p.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_SyncState{SyncState: sync}})
}

// SetLogger is part of signalling.SignalHandler; our logger is fixed.
func (p *peer) SetLogger(logger.Logger) {}

// HandleMessage runs on the signal reader goroutine.
func (p *peer) HandleMessage(m proto.Message) error {
	res, ok := m.(*livekit.SignalResponse)
	if !ok || res == nil {
		return nil
	}
	switch msg := res.Message.(type) {
	case *livekit.SignalResponse_Join:
		return p.onJoin(msg.Join)
	case *livekit.SignalResponse_Offer:
		p.onOffer(msg.Offer)
	case *livekit.SignalResponse_Answer:
		p.onAnswer(msg.Answer)
	case *livekit.SignalResponse_Trickle:
		p.onTrickle(msg.Trickle)
	case *livekit.SignalResponse_PongResp:
		p.lastPong.Store(time.Now().UnixNano())
		if ts := msg.PongResp.GetLastPingTimestamp(); ts > 0 {
			p.rttNanos.Store(time.Since(time.UnixMilli(ts)).Nanoseconds())
		}
	case *livekit.SignalResponse_Leave:
		p.log.Info("SFU asked us to leave", "reason", msg.Leave.GetReason().String(), "action", msg.Leave.GetAction().String())
		if p.cfg.onSignal != nil {
			p.cfg.onSignal(res)
		}
		p.close(&LeaveError{Reason: msg.Leave.GetReason(), Action: msg.Leave.GetAction()})
	default:
		if p.cfg.onSignal != nil {
			p.cfg.onSignal(res)
		}
	}
	return nil
}

// LeaveError is the SFU ending our session; Action says whether it wants
// us back (RECONNECT, RESUME) or gone (DISCONNECT).
type LeaveError struct {
	Reason livekit.DisconnectReason
	Action livekit.LeaveRequest_Action
}

func (e *LeaveError) Error() string {
	return fmt.Sprintf("the SFU ended the session (%s, %s)", e.Reason, e.Action)
}

func (p *peer) onJoin(j *livekit.JoinResponse) error {
	cfg := webrtc.Configuration{ICEServers: protosignalling.FromProtoIceServers(j.IceServers)}
	pub, err := p.api.NewPeerConnection(cfg)
	if err != nil {
		return err
	}
	sub, err := p.api.NewPeerConnection(cfg)
	if err != nil {
		_ = pub.Close()
		return err
	}
	p.mu.Lock()
	p.join, p.pub, p.sub = j, pub, sub
	p.mu.Unlock()
	close(p.joined)

	for target, pc := range map[livekit.SignalTarget]*webrtc.PeerConnection{livekit.SignalTarget_PUBLISHER: pub, livekit.SignalTarget_SUBSCRIBER: sub} {
		pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c == nil {
				return
			}
			_ = p.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{
				Trickle: protosignalling.ToProtoTrickle(c.ToJSON(), target, false)}})
		})
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			p.log.Debug("peer connection state", "pc", target.String(), "state", s.String())
			switch s {
			case webrtc.PeerConnectionStateConnected:
				if target == livekit.SignalTarget_SUBSCRIBER {
					closeOnce(p.subUp)
				}
			case webrtc.PeerConnectionStateFailed:
				p.close(fmt.Errorf("%s ICE connection failed", strings.ToLower(target.String())))
			}
		})
	}
	sub.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() != dataTrackLabel || p.cfg.onDataTrackPacket == nil {
			return
		}
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			if !m.IsString {
				p.cfg.onDataTrackPacket(m.Data)
			}
		})
	})

	if !p.cfg.publisher {
		return nil
	}
	// Unordered with no retransmissions, as the JS and Rust clients and
	// the SFU's own test client create it.
	ordered, retransmits := false, uint16(0)
	dc, err := pub.CreateDataChannel(dataTrackLabel, &webrtc.DataChannelInit{Ordered: &ordered, MaxRetransmits: &retransmits})
	if err != nil {
		return err
	}
	dc.SetBufferedAmountLowThreshold(lowWatermark)
	dc.OnBufferedAmountLow(func() {
		select {
		case p.lowCh <- struct{}{}:
		default:
		}
	})
	dc.OnOpen(func() { closeOnce(p.dcOpen) })
	p.mu.Lock()
	p.dc = dc
	p.mu.Unlock()

	offer, err := pub.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := pub.SetLocalDescription(offer); err != nil {
		return err
	}
	return p.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{
		Offer: protosignalling.ToProtoSessionDescription(offer, 0, nil)}})
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// onOffer answers the SFU's offer for the subscriber PeerConnection.
func (p *peer) onOffer(o *livekit.SessionDescription) {
	sd, id, _ := protosignalling.FromProtoSessionDescription(o)
	sub := p.setRemote(livekit.SignalTarget_SUBSCRIBER, sd)
	if sub == nil {
		return
	}
	answer, err := sub.CreateAnswer(nil)
	if err == nil {
		err = sub.SetLocalDescription(answer)
	}
	if err != nil {
		p.log.Warn("subscriber answer", "err", err)
		return
	}
	_ = p.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Answer{
		Answer: protosignalling.ToProtoSessionDescription(answer, id, nil)}})
}

// onAnswer completes the publisher's negotiation.
func (p *peer) onAnswer(a *livekit.SessionDescription) {
	sd, _, _ := protosignalling.FromProtoSessionDescription(a)
	p.setRemote(livekit.SignalTarget_PUBLISHER, sd)
}

// setRemote applies a remote description to the target's PeerConnection
// and adds the candidates that arrived before it. It returns the
// PeerConnection, or nil if there is none or the description was refused.
func (p *peer) setRemote(target livekit.SignalTarget, sd webrtc.SessionDescription) *webrtc.PeerConnection {
	p.mu.Lock()
	pc := p.pub
	if target == livekit.SignalTarget_SUBSCRIBER {
		pc = p.sub
	}
	p.mu.Unlock()
	if pc == nil {
		return nil
	}
	if err := pc.SetRemoteDescription(sd); err != nil {
		p.log.Warn("remote description", "pc", target.String(), "type", sd.Type.String(), "err", err)
		return nil
	}
	p.flushCandidates(target, pc)
	return pc
}

// onTrickle adds a remote candidate, or keeps it until the description
// it belongs to is set (the SFU may trickle before answering).
func (p *peer) onTrickle(t *livekit.TrickleRequest) {
	c, err := protosignalling.FromProtoTrickle(t)
	if err != nil {
		return
	}
	p.mu.Lock()
	pc := p.pub
	if t.Target == livekit.SignalTarget_SUBSCRIBER {
		pc = p.sub
	}
	if pc == nil || !p.remoteSet[t.Target] {
		p.pendingIC[t.Target] = append(p.pendingIC[t.Target], c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	if err := pc.AddICECandidate(c); err != nil {
		p.log.Debug("add ICE candidate", "err", err)
	}
}

func (p *peer) flushCandidates(target livekit.SignalTarget, pc *webrtc.PeerConnection) {
	p.mu.Lock()
	p.remoteSet[target] = true
	pending := p.pendingIC[target]
	delete(p.pendingIC, target)
	p.mu.Unlock()
	for _, c := range pending {
		if err := pc.AddICECandidate(c); err != nil {
			p.log.Debug("add ICE candidate", "err", err)
		}
	}
}

// pingLoop keeps the signal connection alive at the interval the SFU asked
// for and measures the round-trip time. A socket that stays silent past the
// ping timeout is dead even if TCP has not noticed (a sleeping laptop, a
// dropped NAT entry): closing it hands over to resume.
func (p *peer) pingLoop() {
	defer p.wg.Done()
	p.mu.Lock()
	interval := time.Duration(p.join.GetPingInterval()) * time.Second
	timeout := time.Duration(p.join.GetPingTimeout()) * time.Second
	p.mu.Unlock()
	if interval <= 0 {
		interval = 5 * time.Second
	}
	p.lastPong.Store(time.Now().UnixNano())
	t := time.NewTicker(interval)
	defer t.Stop()
	var rtt int64
	for {
		// A failed send is a dropped socket; keep ticking so pings resume
		// after a resume. Only close ends the loop.
		_ = p.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{
			PingReq: &livekit.Ping{Timestamp: time.Now().UnixMilli(), Rtt: rtt}}})
		select {
		case <-p.closed:
			return
		case <-t.C:
		}
		rtt = time.Duration(p.rttNanos.Load()).Milliseconds()
		if timeout > 0 && time.Since(time.Unix(0, p.lastPong.Load())) > timeout {
			p.log.Info("no pong within the ping timeout; dropping the signal socket", "timeout", timeout)
			p.lastPong.Store(time.Now().UnixNano()) // one drop per timeout, not one per tick
			p.transport.Close()
		}
	}
}

// rtt is the last measured signal round-trip time.
func (p *peer) rtt() time.Duration { return time.Duration(p.rttNanos.Load()) }

func (p *peer) participantSID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.join.GetParticipant().GetSid()
}

func (p *peer) joinResponse() *livekit.JoinResponse {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.join
}

var errNoDataChannel = errors.New("data channel not open")

// writePacket sends one binary message on `_data_track`, waiting while the
// channel's buffer is above the high watermark.
func (p *peer) writePacket(ctx context.Context, pkt []byte) error {
	p.mu.Lock()
	dc := p.dc
	p.mu.Unlock()
	if dc == nil {
		return errNoDataChannel
	}
	for dc.BufferedAmount() > highWatermark {
		select {
		case <-p.lowCh:
		case <-p.closed:
			return fmt.Errorf("connection closed: %w", p.err())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
			// The low event is edge-triggered; re-check in case it was
			// consumed by another writer.
		}
	}
	return dc.Send(pkt)
}
