package rtc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	protosignalling "github.com/livekit/protocol/signalling"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/livekit/server-sdk-go/v2/signalling"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"

	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/textsafe"
)

// dataTrackSignalling turns off auto_subscribe_data_track in the join URL
// (the Go SDK's signalling does not know the parameter yet). The server
// defaults it to on: the publisher would then receive every other
// participant's data tracks, and the loopback subscriber would mix other
// publishers' tracks that share a name with ours.
type dataTrackSignalling struct {
	signalling.Signalling
}

func (s *dataTrackSignalling) ConnectQueryParams(version string, protocol int, cp *signalling.ConnectParams,
	add []*livekit.AddTrackRequest, offer webrtc.SessionDescription, sid string) (string, error) {
	q, err := s.Signalling.ConnectQueryParams(version, protocol, cp, add, offer, sid)
	return q + "&auto_subscribe_data_track=false", err
}

// joinError turns a failed websocket handshake into the server's own
// words (bad token, no such room...), asking the validate endpoint as the
// Go SDK does. The body is the server's, so it is reduced to one safe line
// (textsafe.Body: no escape sequences, no HTML page) with the token it may
// echo redacted; an interrupted connect says so rather than blaming the
// server.
func joinError(ctx context.Context, sig signalling.Signalling, cfg Config, err error) error {
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return describeJoinError(cfg.URL, fmt.Errorf("%w (interrupted)", err))
		}
		return describeJoinError(cfg.URL, fmt.Errorf("%w (timed out; is the server reachable?)", err))
	}
	vctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, rerr := sig.HTTPRequestForValidate(vctx, lksdk.Version, lksdk.PROTOCOL, cfg.URL, cfg.Token, &signalling.ConnectParams{}, "")
	if rerr == nil {
		// No keep-alive: a pooled connection would outlive the session.
		req.Close = true
		if resp, herr := http.DefaultClient.Do(req); herr == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return describeJoinError(cfg.URL, &RefusedError{
					Status:  resp.StatusCode,
					Message: textsafe.Body(resp.Header.Get("Content-Type"), []byte(redact.Secrets(string(body), cfg.Token))),
				})
			}
		}
	}
	return describeJoinError(cfg.URL, err)
}

// maxErrorBody is how much of a refusal is read: enough for the line that
// is shown and for a whole token the server echoes, so it is redacted.
const maxErrorBody = 4096

// RefusedError is the server refusing a join over HTTP (a bad token, a
// room that may not be joined, a proxy's error page).
type RefusedError struct {
	Status int
	// Message is the first line of the server's answer, safe to print
	// (textsafe.Body), secrets redacted; empty for an HTML page.
	Message string
}

func (e *RefusedError) Error() string {
	msg := fmt.Sprintf("server refused the join (HTTP %d %s)", e.Status, textsafe.Line(http.StatusText(e.Status)))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

func (p *Conn) Send(msg *livekit.SignalRequest) error {
	select {
	case <-p.closed:
		return fmt.Errorf("signal connection closed: %w", p.Err())
	default:
	}
	return p.transport.SendMessage(msg)
}

// errSignalLost is the signal websocket ending under us.
var errSignalLost = errors.New("signal connection lost")

// ErrSignalSilent: nothing came from the SFU within the ping timeout it
// set, so we dropped the socket.
var ErrSignalSilent = errors.New("nothing from the SFU within the ping timeout")

// OnTransportClose is the websocket reader ending. A resumable peer keeps
// its PeerConnections (data may still flow) and tells its owner, who can
// resume; others close.
func (p *Conn) OnTransportClose() {
	if !p.cfg.Resumable {
		p.Close(errSignalLost)
		return
	}
	p.mu.Lock()
	closeOnce(p.sigLost)
	p.mu.Unlock()
}

// signalLost is closed when the current signal socket has dropped.
func (p *Conn) SignalLost() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sigLost
}

// resume reopens the signal socket for the same participant (reconnect=1)
// and sends the SyncState that tells the SFU what we still publish; the SFU
// checks those SIDs and forces a full reconnect if it does not know them.
// An error means the session cannot be resumed and needs a full rejoin.
func (p *Conn) Resume(ctx context.Context, token string, dataTracks []*livekit.PublishDataTrackResponse) error {
	select {
	case <-p.closed:
		return p.Err()
	default:
	}
	sid := p.ParticipantSID()
	err := p.bounded(ctx, func(ctx context.Context) error {
		return p.transport.Reconnect(ctx, p.cfg.URL, token, p.connectParams(), sid)
	})
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	p.mu.Lock()
	p.sigLost, p.sigCause = make(chan struct{}), nil
	sub, dc, rel := p.sub, p.dc, p.reliable
	p.mu.Unlock()
	// A fresh socket: the ping timeout counts from now, not from the last
	// message of the one that died.
	p.lastHeard.Store(time.Now().UnixNano())
	p.startTransport()

	sync := &livekit.SyncState{
		Subscription:      &livekit.UpdateSubscription{Subscribe: true},
		PublishDataTracks: dataTracks,
	}
	if sub != nil {
		if ld := sub.CurrentLocalDescription(); ld != nil {
			sync.Answer = protosignalling.ToProtoSessionDescription(*ld, 0, nil)
		}
	}
	if dc != nil {
		if id := dc.dc.ID(); id != nil {
			sync.DataChannels = []*livekit.DataChannelInfo{{Label: DataTrackLabel, Id: uint32(*id), Target: livekit.SignalTarget_PUBLISHER}}
		}
	}
	if rel != nil {
		if id := rel.ID(); id != nil {
			sync.DataChannels = append(sync.DataChannels, &livekit.DataChannelInfo{Label: ReliableLabel, Id: uint32(*id), Target: livekit.SignalTarget_PUBLISHER})
		}
	}
	if err := p.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_SyncState{SyncState: sync}}); err != nil {
		return err
	}
	p.mu.Lock()
	restart := p.iceRestart
	p.mu.Unlock()
	if restart {
		return p.restartICE(ctx)
	}
	return nil
}

// SetLogger is part of signalling.SignalHandler; our logger is fixed.
func (p *Conn) SetLogger(logger.Logger) {}

// HandleMessage runs on the signal reader goroutine.
func (p *Conn) HandleMessage(m proto.Message) error {
	res, ok := m.(*livekit.SignalResponse)
	if !ok || res == nil {
		return nil
	}
	// Any message proves the socket alive, not only a pong: a loaded SFU
	// drops what it cannot queue toward us, pongs too.
	p.lastHeard.Store(time.Now().UnixNano())
	switch msg := res.Message.(type) {
	case *livekit.SignalResponse_Join:
		if err := p.onJoin(msg.Join); err != nil {
			return err
		}
		if p.cfg.OnSignal != nil {
			p.cfg.OnSignal(p, res)
		}
	case *livekit.SignalResponse_Offer:
		p.onOffer(msg.Offer)
	case *livekit.SignalResponse_Answer:
		p.onAnswer(msg.Answer)
	case *livekit.SignalResponse_Trickle:
		p.onTrickle(msg.Trickle)
	case *livekit.SignalResponse_PongResp:
		if ts := msg.PongResp.GetLastPingTimestamp(); ts > 0 {
			p.rttNanos.Store(time.Since(time.UnixMilli(ts)).Nanoseconds())
		}
	case *livekit.SignalResponse_Leave:
		p.onLeave(msg.Leave)
	default:
		if p.cfg.OnSignal != nil {
			p.cfg.OnSignal(p, res)
		}
	}
	return nil
}

// onLeave handles the SFU ending our session. RESUME keeps the
// PeerConnections and only drops the socket, which hands over to resume;
// RECONNECT and DISCONNECT end the peer, and the owner decides from the
// LeaveError whether to rejoin.
func (p *Conn) onLeave(l *livekit.LeaveRequest) {
	p.log.Info("SFU asked us to leave", "reason", l.GetReason().String(), "action", l.GetAction().String())
	if l.GetAction() == livekit.LeaveRequest_RESUME && p.cfg.Resumable {
		select {
		case <-p.closed: // close has the socket in hand
		default:
			p.noteSignalCause(&ResumeRequest{Reason: l.GetReason()})
			p.goCloseTransport()
		}
		return
	}
	p.Close(&LeaveError{Reason: l.GetReason(), Action: l.GetAction()})
}

// ResumeRequest is the SFU dropping our signal socket with a leave whose
// action is RESUME: it keeps the session and wants us to resume.
type ResumeRequest struct {
	Reason livekit.DisconnectReason
}

func (e *ResumeRequest) Error() string {
	return fmt.Sprintf("the SFU asked us to resume (%s)", e.Reason)
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

// pingLoop keeps the signal connection alive at the interval the SFU asked
// for and measures the round-trip time. A socket that stays silent past the
// ping timeout is dead even if TCP has not noticed (a sleeping laptop, a
// dropped NAT entry): closing it hands over to resume.
func (p *Conn) pingLoop() {
	defer p.wg.Done()
	p.mu.Lock()
	interval := time.Duration(p.join.GetPingInterval()) * time.Second
	timeout := time.Duration(p.join.GetPingTimeout()) * time.Second
	p.mu.Unlock()
	if interval <= 0 {
		interval = 5 * time.Second
	}
	p.lastHeard.Store(time.Now().UnixNano())
	t := time.NewTicker(interval)
	defer t.Stop()
	var rtt int64
	for {
		// A failed send is a dropped socket; keep ticking so pings resume
		// after a resume. Only close ends the loop.
		_ = p.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{
			PingReq: &livekit.Ping{Timestamp: time.Now().UnixMilli(), Rtt: rtt}}})
		select {
		case <-p.closed:
			return
		case <-t.C:
		}
		rtt = time.Duration(p.rttNanos.Load()).Milliseconds()
		select {
		case <-p.SignalLost():
			continue // already dropped; resume owns the socket now
		default:
		}
		if timeout > 0 && time.Since(time.Unix(0, p.lastHeard.Load())) > timeout {
			p.log.Info("nothing from the SFU within the ping timeout; dropping the signal socket", "timeout", timeout)
			p.lastHeard.Store(time.Now().UnixNano()) // one drop per timeout, not one per tick
			p.noteSignalCause(fmt.Errorf("%w (%s)", ErrSignalSilent, timeout))
			p.closeTransport()
		}
	}
}

// ErrNoRelay: Config.RelayOnly, and the SFU lists no TURN server.
var ErrNoRelay = errors.New("relay only, and the server lists no TURN server")

// describeJoinError says which server a join failed against, its URL
// without credentials.
func describeJoinError(u string, err error) error {
	return fmt.Errorf("connect to %s: %w", redact.URL(u), err)
}
