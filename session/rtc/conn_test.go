package rtc

import (
	"context"
	"errors"
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
	p, tr, stop := pingingPeer()
	defer stop()
	select {
	case <-tr.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("silent socket not closed after the ping timeout")
	}
	// The status line says why the session resumes.
	if err := p.LostReason(); !errors.Is(err, ErrSignalSilent) || !errors.Is(err, errSignalLost) {
		t.Fatalf("lost reason %v, want the silent socket", err)
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

// A leave whose action is RESUME drops the socket, and the resume that
// follows says the SFU asked for it and why; the next socket starts
// without a cause.
func TestLeaveWithResumeSaysWhy(t *testing.T) {
	tr := &recordingTransport{closed: make(chan struct{})}
	p := &Conn{
		cfg:       Config{Resumable: true},
		log:       slog.New(slog.DiscardHandler),
		transport: tr,
		closed:    make(chan struct{}),
	}
	if err := p.LostReason(); err != errSignalLost {
		t.Fatalf("before any drop: %v", err)
	}
	_ = p.HandleMessage(&livekit.SignalResponse{Message: &livekit.SignalResponse_Leave{Leave: &livekit.LeaveRequest{
		Reason: livekit.DisconnectReason_SIGNAL_CLOSE, Action: livekit.LeaveRequest_RESUME}}})
	p.Wait()
	select {
	case <-tr.closed:
	default:
		t.Fatal("the socket was not dropped")
	}
	var rr *ResumeRequest
	if err := p.LostReason(); !errors.As(err, &rr) || rr.Reason != livekit.DisconnectReason_SIGNAL_CLOSE || !errors.Is(err, errSignalLost) {
		t.Fatalf("lost reason %v, want the SFU's resume request (SIGNAL_CLOSE)", err)
	}
	if err := p.Resume(context.Background(), "token", nil); err != nil {
		t.Fatal(err)
	}
	if err := p.LostReason(); err != errSignalLost {
		t.Fatalf("after the resume: %v, want no cause", err)
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
