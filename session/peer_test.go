package session

import (
	"context"
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
func pingingPeer() (p *peer, tr *recordingTransport, stop func()) {
	tr = &recordingTransport{closed: make(chan struct{})}
	p = &peer{
		log:       discardLogger(),
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
	p, tr, stopPing := pingingPeer()
	stop := time.After(2500 * time.Millisecond)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-tick.C:
			_ = p.HandleMessage(&livekit.SignalResponse{Message: &livekit.SignalResponse_PongResp{
				PongResp: &livekit.Pong{LastPingTimestamp: time.Now().Add(-time.Millisecond).UnixMilli()}}})
		case <-stop:
			done = true
		}
	}
	stopPing()
	select {
	case <-tr.closed:
		t.Fatal("socket closed although pongs arrived")
	default:
	}
	if p.rtt() <= 0 {
		t.Fatal("no RTT measured from pongs")
	}
}
