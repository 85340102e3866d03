package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/livekit/server-sdk-go/v2/signalling"
	"github.com/pion/webrtc/v4"
)

// peerConfig says how one participant connects.
type peerConfig struct {
	url, token string
	log        *slog.Logger
	// publisher creates the `_data_track` channel on the publisher PC.
	publisher bool
	// onSignal sees the JoinResponse (after the peer has used it) and every
	// signal response the peer does not consume itself. It runs on the
	// signal reader goroutine and must not block.
	onSignal func(*peer, *livekit.SignalResponse)
	// onDataTrackPacket sees each message on the subscriber's `_data_track`.
	onDataTrackPacket func([]byte)
	// onDataTrackOpen runs when the subscriber's `_data_track` opens.
	onDataTrackOpen func()
	// onUserPacket sees each message on the subscriber's `_reliable`
	// channel (a DataPacket); it runs on that channel's goroutine.
	onUserPacket func([]byte)
	// resumable keeps the PeerConnections when the signal socket drops or
	// ICE fails, so the owner can resume the session instead of rejoining.
	resumable bool
	// relayOnly gathers relayed candidates only (Config.RelayOnly).
	relayOnly bool
	// net is the network under this participant's connection.
	net netHooks
	// localDrops counts the datagrams pion received and dropped unread
	// (the session's, shared by its connections).
	localDrops *atomic.Uint64
	// received is what the loopback got of the publisher's packets (the
	// sender's congestion signal); nil or false: nothing follows them.
	received func() (rxTotals, bool)
}

// peer is one participant's connection: the signal websocket and the
// publisher and subscriber PeerConnections. livekit-server v1.13.5 runs a
// client that joins on /rtc without a wrapped join_request (as the Go SDK's
// signalling does) in dual-PC mode: we offer on the publisher PC, the SFU
// offers on the subscriber PC.
type peer struct {
	cfg peerConfig
	log *slog.Logger

	transport signalling.SignalTransport
	api       *webrtc.API
	// sigMu serialises our Start and Close of the transport: the SDK's
	// Start writes the reader's channel that its Close reads, unlocked.
	sigMu sync.Mutex

	mu        sync.Mutex
	join      *livekit.JoinResponse
	pub, sub  *webrtc.PeerConnection
	pendingIC map[livekit.SignalTarget][]webrtc.ICECandidateInit
	remoteSet map[livekit.SignalTarget]bool
	dc        *dataChannel        // the publisher's `_data_track`, nil for the loopback
	reliable  *webrtc.DataChannel // the publisher's `_reliable` (user packets), nil for the loopback
	sigLost   chan struct{}       // closed when the current signal socket drops (resumable peers)

	dcOpen chan struct{} // publisher data channel open
	subUp  chan struct{} // subscriber PC connected (loopback)
	// iceRestart is set when a PeerConnection failed: the next resume
	// restarts ICE. pcChange is closed and replaced on every PC state change.
	iceRestart bool
	iceErr     error // why (for the status line)
	pcChange   chan struct{}

	rttNanos  atomic.Int64
	lastHeard atomic.Int64 // unix nanos of the SFU's last message (or of the socket's start)

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  atomic.Pointer[error]
	// wg owns the ping loop and the socket closers; wait blocks on it.
	wg sync.WaitGroup
}

// dialPeer joins and waits until the peer is usable: the publisher's data
// channel open, or the subscriber PC connected, all within ctx. The peer
// owns the goroutines it starts; close and wait stop them.
func dialPeer(ctx context.Context, cfg peerConfig) (*peer, error) {
	p := &peer{
		cfg: cfg, log: cfg.log,
		pendingIC: map[livekit.SignalTarget][]webrtc.ICECandidateInit{},
		remoteSet: map[livekit.SignalTarget]bool{},
		dcOpen:    make(chan struct{}),
		subUp:     make(chan struct{}),
		closed:    make(chan struct{}),
		sigLost:   make(chan struct{}),
		pcChange:  make(chan struct{}),
	}
	p.api = newWebRTCAPI(cfg.log, cfg.net, isLoopbackURL(cfg.url), cfg.localDrops)

	lkLog := protocolLogger(cfg.log)
	sig := &dataTrackSignalling{Signalling: signalling.NewSignalling(signalling.SignallingParams{Logger: lkLog})}
	p.transport = signalling.NewSignalTransportWebSocket(signalling.SignalTransportWebSocketParams{
		Logger:                 lkLog,
		Version:                lksdk.Version,
		Protocol:               lksdk.PROTOCOL,
		Signalling:             sig,
		SignalTransportHandler: p,
		SignalHandler:          p,
	})
	if cfg.net.WrapSignal != nil {
		p.transport = cfg.net.WrapSignal(p.transport)
	}

	err := p.bounded(ctx, func(ctx context.Context) error {
		return p.transport.Join(ctx, cfg.url, cfg.token, p.connectParams(), nil, webrtc.SessionDescription{})
	})
	if err != nil {
		p.close(err)
		p.wait()
		return nil, joinError(ctx, sig, cfg, err)
	}
	p.startTransport()

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
		p.wait()
		return nil, fmt.Errorf("connection closed while setting up: %w", p.err())
	case <-ctx.Done():
		p.close(ctx.Err())
		p.wait()
		return nil, fmt.Errorf("joined, but WebRTC did not connect: %w", ctx.Err())
	}
}

func (p *peer) connectParams() signalling.ConnectParams {
	// The publisher does not want other participants' media; the loopback
	// subscriber picks data tracks itself (UpdateDataSubscription).
	return signalling.ConnectParams{AutoSubscribe: false, ConnectTimeout: 5 * time.Second}
}

// bounded runs a join or reconnect and makes it respect ctx. gorilla's
// dialer ignores cancellation while it waits for the upgrade answer, so
// the connections fn dials are watched (dial.go) and closed when ctx ends.
// After the upgrade the SDK reads the SFU's first message with no
// deadline, so a server that accepts the websocket and then says nothing
// would hang it forever; closing the socket is the only way to end that
// read. Close may race the socket being stored, hence the retries until
// fn returns.
func (p *peer) bounded(ctx context.Context, fn func(context.Context) error) error {
	dctx, watch := withDialWatch(ctx)
	done := make(chan error, 1)
	go func() { done <- fn(dctx) }()
	select {
	case err := <-done:
		watch.release()
		return err
	case <-ctx.Done():
	}
	watch.abort()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		p.closeTransport()
		select {
		case err := <-done:
			if err == nil || errors.Is(err, net.ErrClosed) {
				// It completed just as we gave up (the caller closes the
				// peer), or failed because we closed its socket.
				return ctx.Err()
			}
			return fmt.Errorf("%w (%v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

func (p *peer) err() error {
	if e := p.closeErr.Load(); e != nil {
		return *e
	}
	return nil
}

// done is closed when the peer is gone, for whatever reason.
func (p *peer) done() <-chan struct{} { return p.closed }

// close tears the peer down once; err says why (nil: asked to). It may run
// on the signal reader goroutine, so it does not wait for anything that
// reader might be blocked on: wait does.
func (p *peer) close(err error) {
	p.closeOnce.Do(func() {
		if err == nil {
			err = errors.New("closed")
		}
		p.closeErr.Store(&err)
		// Closing the transport waits for its reader, which may be the
		// goroutine running this very call (a Leave, say). Registered
		// before closed is: whoever sees closed and calls wait waits for it.
		p.goCloseTransport()
		close(p.closed)
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

// goCloseTransport closes the signal socket on an owned goroutine.
func (p *peer) goCloseTransport() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.closeTransport()
	}()
}

func (p *peer) startTransport() {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	p.transport.Start()
}

// closeTransport closes the socket and waits for its reader. The reader
// never takes sigMu, so holding it here cannot deadlock.
func (p *peer) closeTransport() {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	p.transport.Close()
}

// wait blocks until every goroutine the peer started has returned. Call it
// after close, never from the signal reader.
func (p *peer) wait() { p.wg.Wait() }

// leave says goodbye to the SFU, then closes and waits.
func (p *peer) leave() {
	lost := p.signalLost()
	err := p.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Leave{Leave: &livekit.LeaveRequest{
		Reason: livekit.DisconnectReason_CLIENT_INITIATED, Action: livekit.LeaveRequest_DISCONNECT}}})
	if err == nil {
		// The SFU closes the socket once it has handled the leave. Closing
		// it first can lose the leave still queued behind other requests:
		// the SFU then sees a dropped connection, expects a resume, and
		// keeps the participant until it times out.
		t := time.NewTimer(leaveTimeout)
		select {
		case <-lost:
		case <-p.closed:
		case <-t.C:
		}
		t.Stop()
	}
	p.close(nil)
	p.wait()
}

// leaveTimeout bounds the wait for the SFU to close the signal socket
// after our leave.
const leaveTimeout = time.Second

// rtt is the last measured signal round-trip time.
func (p *peer) rtt() time.Duration { return time.Duration(p.rttNanos.Load()) }

// lostReason says why the owner is about to resume: ICE or the socket.
func (p *peer) lostReason() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.iceRestart && p.iceErr != nil {
		return p.iceErr
	}
	return errSignalLost
}

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

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}
