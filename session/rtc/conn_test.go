package rtc

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/livekit/server-sdk-go/v2/signalling"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"
)

// recordingTransport is a signal transport that answers nothing: what a
// socket looks like when the network silently drops it.
type recordingTransport struct {
	mu     sync.Mutex
	sent   []proto.Message
	closed chan struct{}
}

func (r *recordingTransport) SetLogger(logger.Logger) {}
func (r *recordingTransport) Start()                  {}
func (r *recordingTransport) IsStarted() bool         { return true }
func (r *recordingTransport) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	closeOnce(r.closed)
}
func (r *recordingTransport) Join(context.Context, string, string, signalling.ConnectParams, []*livekit.AddTrackRequest, webrtc.SessionDescription) error {
	return nil
}
func (r *recordingTransport) Reconnect(context.Context, string, string, signalling.ConnectParams, string) error {
	return nil
}
func (r *recordingTransport) SendMessage(m proto.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return nil
}

// pingingPeer runs a peer's ping loop (1 s interval and timeout) over a
// transport that records and never answers; stop ends the loop.
func pingingPeer() (p *Conn, tr *recordingTransport, stop func()) {
	tr = &recordingTransport{closed: make(chan struct{})}
	p = &Conn{
		log:       slog.New(slog.DiscardHandler),
		transport: tr,
		join:      &livekit.JoinResponse{PingInterval: 1, PingTimeout: 1},
		closed:    make(chan struct{}),
	}
	p.wg.Add(1)
	go p.pingLoop()
	return p, tr, func() { closeOnce(p.closed); p.wg.Wait() }
}

// A socket that stays silent past the JoinResponse's ping timeout is
// closed, which hands the session over to resume.
func TestPingTimeoutDropsSilentSocket(t *testing.T) {
	_, tr, stop := pingingPeer()
	defer stop()
	select {
	case <-tr.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("silent socket not closed after the ping timeout")
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.sent) == 0 {
		t.Fatal("no ping sent")
	}
	if _, ok := tr.sent[0].(*livekit.SignalRequest).Message.(*livekit.SignalRequest_PingReq); !ok {
		t.Fatalf("first message %T, want a ping", tr.sent[0])
	}
}

// Pongs keep the socket: with answers arriving, nothing is closed.
func TestPongsKeepSocket(t *testing.T) {
	p := keepsSocket(t, func() *livekit.SignalResponse {
		return &livekit.SignalResponse{Message: &livekit.SignalResponse_PongResp{
			PongResp: &livekit.Pong{LastPingTimestamp: time.Now().Add(-time.Millisecond).UnixMilli()}}}
	})
	if p.RTT() <= 0 {
		t.Fatal("no RTT measured from pongs")
	}
}

// Any message from the SFU proves the socket alive: a loaded SFU drops
// the signal messages it cannot queue toward us, pongs among them, while
// others still arrive (issue 20 item 10: a monitor of 500 tracks resumed
// on a loaded machine).
func TestAnyMessageKeepsSocket(t *testing.T) {
	keepsSocket(t, func() *livekit.SignalResponse {
		return &livekit.SignalResponse{Message: &livekit.SignalResponse_RoomUpdate{RoomUpdate: &livekit.RoomUpdate{}}}
	})
}

// keepsSocket feeds a pinging peer msg() every 200 ms for 2.5 s, past
// its 1 s ping timeout, and fails if the socket was closed meanwhile.
func keepsSocket(t *testing.T, msg func() *livekit.SignalResponse) *Conn {
	t.Helper()
	p, tr, stopPing := pingingPeer()
	stop := time.After(2500 * time.Millisecond)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-tick.C:
			_ = p.HandleMessage(msg())
		case <-stop:
			done = true
		}
	}
	stopPing()
	select {
	case <-tr.closed:
		t.Fatal("socket closed although the SFU's messages arrived")
	default:
	}
	return p
}
