// Package rtc is one participant's connection to a LiveKit SFU, below the
// session: the signal websocket (server-sdk-go's signalling) with its
// pings and resume, the publisher and subscriber PeerConnections and their
// negotiation, the `_data_track` channel with its flow control and
// congestion limit, and the `_reliable` channel for user packets. It
// knows nothing of tracks: its owner hands it packets and gets the SFU's
// messages back (Config's callbacks). The network under it is the
// caller's (Config.Net: pion's SettingEngine hooks and dttui's
// impairment).
//
// Files: conn.go (Dial, Close, Leave), signal.go (messages, resume, ping),
// negotiation.go (the PeerConnections, ICE, the network), datachannel.go
// and flow.go (the channel and its window and pacing), congestion.go
// (the limit on a lossy or capped path), dial.go (an interrupted join
// closes its socket), logging.go (pion's and the SDK's loggers).
package rtc

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

// Config says how one participant connects: the server, its token, what
// the connection is for, the network under it, and the callbacks that see
// what it receives. The zero value of every optional field leaves that
// part out.
type Config struct {
	URL, Token string
	Log        *slog.Logger
	// Publisher creates the `_data_track` and `_reliable` channels on the
	// publisher PC and waits for the first to open; otherwise Dial waits
	// for the subscriber PC to connect.
	Publisher bool
	// OnSignal sees the JoinResponse (after the connection has used it)
	// and every signal response the connection does not consume itself.
	// It runs on the signal reader goroutine and must not block.
	OnSignal func(*Conn, *livekit.SignalResponse)
	// OnDataTrackPacket sees each message on the subscriber's `_data_track`.
	OnDataTrackPacket func([]byte)
	// OnDataTrackOpen runs when the subscriber's `_data_track` opens.
	OnDataTrackOpen func()
	// OnUserPacket sees each message on the subscriber's `_reliable`
	// channel (a DataPacket); it runs on that channel's goroutine.
	OnUserPacket func([]byte)
	// Resumable keeps the PeerConnections when the signal socket drops or
	// ICE fails, so the owner can Resume instead of rejoining.
	Resumable bool
	// RelayOnly gathers relayed candidates only.
	RelayOnly bool
	// Net is the network under this participant's connection.
	Net Network
	// LocalDrops counts the datagrams pion received and dropped unread
	// (nil: not counted).
	LocalDrops *atomic.Uint64
	// Received is what a subscriber following the publisher's packets got
	// of them (the sender's congestion signal); nil or false: nothing
	// follows them.
	Received func() (RxTotals, bool)
}

// Conn is one participant's connection: the signal websocket and the
// publisher and subscriber PeerConnections. livekit-server v1.13.5 runs a
// client that joins on /rtc without a wrapped join_request (as the Go SDK's
// signalling does) in dual-PC mode: we offer on the publisher PC, the SFU
// offers on the subscriber PC.
type Conn struct {
	cfg Config
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
	dc        *DataChannel        // the publisher's `_data_track`, nil for the loopback
	reliable  *webrtc.DataChannel // the publisher's `_reliable` (user packets), nil for the loopback
	sigLost   chan struct{}       // closed when the current signal socket drops (resumable peers)
	sigCause  error               // why we dropped it ourselves, if we did (for the status line)

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

// Dial joins and waits until the connection is usable: the publisher's
// data channel open, or the subscriber PC connected, all within ctx. The
// connection owns the goroutines it starts; Close and Wait stop them.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	p := &Conn{
		cfg: cfg, log: cfg.Log,
		pendingIC: map[livekit.SignalTarget][]webrtc.ICECandidateInit{},
		remoteSet: map[livekit.SignalTarget]bool{},
		dcOpen:    make(chan struct{}),
		subUp:     make(chan struct{}),
		closed:    make(chan struct{}),
		sigLost:   make(chan struct{}),
		pcChange:  make(chan struct{}),
	}
	p.api = NewAPI(cfg.Log, cfg.Net, IsLoopbackURL(cfg.URL), cfg.LocalDrops)

	lkLog := ProtocolLogger(cfg.Log)
	sig := &dataTrackSignalling{Signalling: signalling.NewSignalling(signalling.SignallingParams{Logger: lkLog})}
	p.transport = signalling.NewSignalTransportWebSocket(signalling.SignalTransportWebSocketParams{
		Logger:                 lkLog,
		Version:                lksdk.Version,
		Protocol:               lksdk.PROTOCOL,
		Signalling:             sig,
		SignalTransportHandler: p,
		SignalHandler:          p,
	})
	if cfg.Net.WrapSignal != nil {
		p.transport = cfg.Net.WrapSignal(p.transport)
	}

	err := p.bounded(ctx, func(ctx context.Context) error {
		return p.transport.Join(ctx, cfg.URL, cfg.Token, p.connectParams(), nil, webrtc.SessionDescription{})
	})
	if err != nil {
		p.Close(err)
		p.Wait()
		return nil, joinError(ctx, sig, cfg, err)
	}
	p.startTransport()

	ready := p.dcOpen
	if !cfg.Publisher {
		ready = p.subUp
	}
	select {
	case <-ready:
		p.wg.Add(1)
		go p.pingLoop()
		return p, nil
	case <-p.closed:
		p.Wait()
		return nil, fmt.Errorf("connection closed while setting up: %w", p.Err())
	case <-ctx.Done():
		p.Close(ctx.Err())
		p.Wait()
		return nil, fmt.Errorf("joined, but WebRTC did not connect: %w", ctx.Err())
	}
}

func (p *Conn) connectParams() signalling.ConnectParams {
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
func (p *Conn) bounded(ctx context.Context, fn func(context.Context) error) error {
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

func (p *Conn) Err() error {
	if e := p.closeErr.Load(); e != nil {
		return *e
	}
	return nil
}

// done is closed when the peer is gone, for whatever reason.
func (p *Conn) Done() <-chan struct{} { return p.closed }

// close tears the peer down once; err says why (nil: asked to). It may run
// on the signal reader goroutine, so it does not wait for anything that
// reader might be blocked on: wait does.
func (p *Conn) Close(err error) {
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
func (p *Conn) goCloseTransport() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.closeTransport()
	}()
}

func (p *Conn) startTransport() {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	p.transport.Start()
}

// closeTransport closes the socket and waits for its reader. The reader
// never takes sigMu, so holding it here cannot deadlock.
func (p *Conn) closeTransport() {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	p.transport.Close()
}

// wait blocks until every goroutine the peer started has returned. Call it
// after close, never from the signal reader.
func (p *Conn) Wait() { p.wg.Wait() }

// leave says goodbye to the SFU, then closes and waits.
func (p *Conn) Leave() {
	lost := p.SignalLost()
	err := p.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Leave{Leave: &livekit.LeaveRequest{
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
	p.Close(nil)
	p.Wait()
}

// leaveTimeout bounds the wait for the SFU to close the signal socket
// after our leave.
const leaveTimeout = time.Second

// rtt is the last measured signal round-trip time.
func (p *Conn) RTT() time.Duration { return time.Duration(p.rttNanos.Load()) }

// LostReason says why the owner is about to resume: ICE, the SFU's leave
// with RESUME, a silent socket, or the socket ending under us.
func (p *Conn) LostReason() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.iceRestart && p.iceErr != nil {
		return p.iceErr
	}
	if p.sigCause != nil {
		return fmt.Errorf("%w: %w", errSignalLost, p.sigCause)
	}
	return errSignalLost
}

// noteSignalCause keeps why we are about to drop the signal socket (the
// first cause of this socket's end) for LostReason.
func (p *Conn) noteSignalCause(cause error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sigCause == nil {
		p.sigCause = cause
	}
}

func (p *Conn) ParticipantSID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.join.GetParticipant().GetSid()
}

func (p *Conn) JoinResponse() *livekit.JoinResponse {
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
