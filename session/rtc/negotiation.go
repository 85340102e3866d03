package rtc

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/impair"
	"github.com/livekit/protocol/livekit"
	protosignalling "github.com/livekit/protocol/signalling"
	"github.com/livekit/server-sdk-go/v2/signalling"
	"github.com/pion/ice/v4"
	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/webrtc/v4"
)

// Network is the network under one participant's connection: the
// caller's NetOptions (zero in dttui) and the user's impairment.
type Network struct {
	NetOptions
	// Impair shapes what the sockets send and receive (dttui's --impair;
	// not a test hook), in ImpairWays (zero: both).
	Impair     *impair.Shaper
	ImpairWays impair.Direction
}

// NetOptions shape the path under a connection, as pion's SettingEngine
// does under a PeerConnection. Every field's zero value leaves that part
// as it is: the real network, which is what dttui runs; tests cut or
// stall the path with it while the SFU stays real.
type NetOptions struct {
	// Wrap wraps the network pion's sockets use, outside the impairment
	// (to cut or stall the path).
	Wrap func(transport.Net) transport.Net
	// ICEFailedTimeout replaces pion's 25 s before a silent path is
	// declared failed.
	ICEFailedTimeout time.Duration
	// WrapSignal wraps the signal transport of each join: everything the
	// connection sends the SFU goes through it (to alter a request on the
	// wire, past the local checks, and see the SFU's own answer).
	WrapSignal func(signalling.SignalTransport) signalling.SignalTransport
	// Loopback, when set, replaces these options for the loopback
	// subscriber alone (to cut what it receives while the publisher's
	// path stays up).
	Loopback *NetOptions
}

// SCTPRTOMax bounds SCTP's retransmission timeout (pion's default is
// 60 s): how long after a path comes back sending resumes, at worst.
const SCTPRTOMax = time.Second

// SCTPReceiveBuffer is what each PeerConnection's SCTP stack may hold of
// packets received but not yet read by dttui (pion's default is 1 MiB).
// A subscriber on loopback gets a multi-megabyte frame from the SFU in one
// burst; when the buffer is full pion drops the next DATA chunk, and on a
// maxRetransmits-0 channel the SFU never sends it again: a packet lost
// that no counter outside this process sees. The room monitor's packet
// handler runs on pion's read loop, so a burst while it is busy (a GC
// pause, a loaded machine) lands here. Chromium's SCTP stack holds 5 MiB.
const SCTPReceiveBuffer = 8 << 20

// NewAPI builds the pion API every PeerConnection of a peer uses.
// Datagrams pion drops before reading them are counted in drops (nil: not
// counted).
func NewAPI(log *slog.Logger, hooks Network, loopbackOnly bool, drops *atomic.Uint64) *webrtc.API {
	se := webrtc.SettingEngine{}
	// pion logs to stderr unless told otherwise; that would corrupt the TUI.
	se.LoggerFactory = pionLoggerFactory(log, drops)
	// A local SFU advertises 127.0.0.1 only; pion drops loopback candidates
	// by default and would never connect to it.
	se.SetIncludeLoopbackCandidate(true)
	// mDNS candidates only help browsers hide their addresses; resolving
	// them needs multicast, which containers and CI often lack.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// SCTP doubles its retransmission timeout after each one that fires,
	// up to 60 s by default: after a few seconds without a path (Wi-Fi
	// dropping) nothing is sent again until the next timeout, 2–4 s after
	// the path came back. Our packets are never retransmitted anyway
	// (maxRetransmits 0); a short ceiling resumes sending within a second.
	se.SetSCTPRTOMax(SCTPRTOMax)
	se.SetSCTPMaxReceiveBufferSize(SCTPReceiveBuffer)
	if loopbackOnly {
		// The SFU is on this machine: gather, and so bind ICE sockets,
		// on loopback only, as the embedded SFU listens; nothing on
		// the network can reach either.
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	if n, err := stdnet.NewNet(); err == nil {
		var nw transport.Net = bigBufferNet{n}
		if hooks.Impair != nil {
			nw = impair.Net{Net: nw, Shaper: hooks.Impair, Ways: hooks.ImpairWays}
		}
		if hooks.Wrap != nil {
			nw = hooks.Wrap(nw)
		}
		se.SetNet(nw)
	}
	if t := hooks.ICEFailedTimeout; t > 0 {
		se.SetICETimeouts(t/2, t, t/8)
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// onJoin sets up both PeerConnections from the JoinResponse. The publisher
// creates `_data_track` before its first offer, so the channel is part of
// the initial negotiation (as the JS and Rust clients and the SFU's own
// test client do); the subscriber PC waits for the SFU's offer.
func (p *Conn) onJoin(j *livekit.JoinResponse) error {
	cfg := webrtc.Configuration{ICEServers: protosignalling.FromProtoIceServers(j.IceServers)}
	switch {
	case p.cfg.RelayOnly:
		cfg.ICEServers = turnServers(cfg.ICEServers)
		if len(cfg.ICEServers) == 0 {
			return ErrNoRelay
		}
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	case IsLoopbackURL(p.cfg.URL):
		// livekit-server always lists STUN servers (Google's when none are
		// configured). Against a server on this machine they can only
		// cost: resolving their names without a network takes seconds, and
		// closing a PeerConnection waits for that gathering to finish.
		cfg.ICEServers = nil
	}
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

	for target, pc := range map[livekit.SignalTarget]*webrtc.PeerConnection{livekit.SignalTarget_PUBLISHER: pub, livekit.SignalTarget_SUBSCRIBER: sub} {
		pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c == nil {
				return
			}
			_ = p.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{
				Trickle: protosignalling.ToProtoTrickle(c.ToJSON(), target, false)}})
		})
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			p.log.Debug("peer connection state", "pc", target.String(), "state", s.String())
			p.mu.Lock()
			close(p.pcChange)
			p.pcChange = make(chan struct{})
			p.mu.Unlock()
			switch s {
			case webrtc.PeerConnectionStateConnected:
				if target == livekit.SignalTarget_SUBSCRIBER {
					closeOnce(p.subUp)
				}
			case webrtc.PeerConnectionStateFailed:
				p.onICEFailed(target)
			}
		})
	}
	sub.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() == ReliableLabel && p.cfg.OnUserPacket != nil {
			dc.OnMessage(func(m webrtc.DataChannelMessage) {
				if !m.IsString {
					p.cfg.OnUserPacket(m.Data)
				}
			})
			return
		}
		if dc.Label() != DataTrackLabel || p.cfg.OnDataTrackPacket == nil {
			return
		}
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			if !m.IsString { // packets are binary; anything else is not ours
				p.cfg.OnDataTrackPacket(m.Data)
			}
		})
		if p.cfg.OnDataTrackOpen != nil {
			dc.OnOpen(p.cfg.OnDataTrackOpen)
		}
	})

	if !p.cfg.Publisher {
		return nil
	}
	dc, err := NewDataChannel(pub, p.dcOpen, p.cfg.Received)
	if err != nil {
		return err
	}
	rel, err := pub.CreateDataChannel(ReliableLabel, nil) // ordered and reliable, as LiveKit's clients make it
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.dc, p.reliable = dc, rel
	p.mu.Unlock()

	offer, err := pub.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := pub.SetLocalDescription(offer); err != nil {
		return err
	}
	return p.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{
		Offer: protosignalling.ToProtoSessionDescription(offer, 0, nil)}})
}

// onICEFailed handles a PeerConnection whose path died. A resumable peer
// drops its signal socket, which hands over to the owner's resume: the SFU
// keeps the participant and its tracks, restarts ICE on the subscriber PC
// when we come back, and we restart it on the publisher PC (resume sees
// iceRestart). Others close.
func (p *Conn) onICEFailed(target livekit.SignalTarget) {
	err := fmt.Errorf("%s ICE connection failed", strings.ToLower(target.String()))
	if !p.cfg.Resumable {
		p.Close(err)
		return
	}
	p.mu.Lock()
	already := p.iceRestart
	p.iceRestart, p.iceErr = true, err
	p.mu.Unlock()
	if !already { // both PCs usually fail together: one resume
		p.log.Info("resuming with an ICE restart", "err", err)
		p.goCloseTransport()
	}
}

// restartICE offers the publisher PC an ICE restart (after the SyncState
// of a resume) and waits until it is connected again or ctx ends.
func (p *Conn) restartICE(ctx context.Context) error {
	pub := p.PeerConnection(livekit.SignalTarget_PUBLISHER)
	offer, err := pub.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		return err
	}
	if err := pub.SetLocalDescription(offer); err != nil {
		return err
	}
	if err := p.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{
		Offer: protosignalling.ToProtoSessionDescription(offer, 0, nil)}}); err != nil {
		return err
	}
	for {
		p.mu.Lock()
		change := p.pcChange
		p.mu.Unlock()
		if pub.ConnectionState() == webrtc.PeerConnectionStateConnected {
			p.mu.Lock()
			p.iceRestart = false
			p.mu.Unlock()
			return nil
		}
		select {
		case <-change:
		case <-p.closed:
			return p.Err()
		case <-ctx.Done():
			return fmt.Errorf("ICE restart: publisher not connected: %w", ctx.Err())
		}
	}
}

// onOffer answers the SFU's offer for the subscriber PeerConnection.
func (p *Conn) onOffer(o *livekit.SessionDescription) {
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
	_ = p.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Answer{
		Answer: protosignalling.ToProtoSessionDescription(answer, id, nil)}})
}

// onAnswer completes the publisher's negotiation.
func (p *Conn) onAnswer(a *livekit.SessionDescription) {
	sd, _, _ := protosignalling.FromProtoSessionDescription(a)
	p.setRemote(livekit.SignalTarget_PUBLISHER, sd)
}

// setRemote applies a remote description to the target's PeerConnection
// and adds the candidates that arrived before it. It returns the
// PeerConnection, or nil if there is none or the description was refused.
func (p *Conn) setRemote(target livekit.SignalTarget, sd webrtc.SessionDescription) *webrtc.PeerConnection {
	pc := p.PeerConnection(target)
	if pc == nil {
		return nil
	}
	if err := pc.SetRemoteDescription(sd); err != nil {
		p.log.Warn("remote description", "pc", target.String(), "type", sd.Type.String(), "err", err)
		return nil
	}
	p.mu.Lock()
	p.remoteSet[target] = true
	pending := p.pendingIC[target]
	delete(p.pendingIC, target)
	p.mu.Unlock()
	for _, c := range pending {
		p.addCandidate(pc, c)
	}
	return pc
}

// onTrickle adds a remote candidate, or keeps it until the description
// it belongs to is set (the SFU may trickle before answering).
func (p *Conn) onTrickle(t *livekit.TrickleRequest) {
	c, err := protosignalling.FromProtoTrickle(t)
	if err != nil {
		p.log.Debug("bad trickle", "err", err)
		return
	}
	pc := p.PeerConnection(t.Target)
	p.mu.Lock()
	if pc == nil || !p.remoteSet[t.Target] {
		p.pendingIC[t.Target] = append(p.pendingIC[t.Target], c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.addCandidate(pc, c)
}

func (p *Conn) addCandidate(pc *webrtc.PeerConnection, c webrtc.ICECandidateInit) {
	if err := pc.AddICECandidate(c); err != nil {
		p.log.Debug("add ICE candidate", "err", err)
	}
}

// PeerConnection is the publisher's or the subscriber's PeerConnection
// (nil before the join), for what pion reports of it (ICE pairs, SCTP).
func (p *Conn) PeerConnection(target livekit.SignalTarget) *webrtc.PeerConnection {
	p.mu.Lock()
	defer p.mu.Unlock()
	if target == livekit.SignalTarget_SUBSCRIBER {
		return p.sub
	}
	return p.pub
}

// udpReadBuffer is the receive buffer asked for on our ICE sockets (the
// kernel caps it at net.core.rmem_max). The SFU sends in bursts as large
// as its congestion window; the Linux default (208 KiB) overflows on a fast
// path, and on `_data_track` a packet lost is a frame lost. livekit-server
// sizes its own socket the same way.
const udpReadBuffer = 4 << 20

// bigBufferNet is the standard network with larger UDP receive buffers.
type bigBufferNet struct{ transport.Net }

func (n bigBufferNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(udpReadBuffer) // best effort: a smaller buffer still works
	// Unwrapped, so pion keeps its allocation-free path for *net.UDPConn.
	return c, nil
}

func (n bigBufferNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	if rb, ok := c.(interface{ SetReadBuffer(int) error }); ok {
		_ = rb.SetReadBuffer(udpReadBuffer)
	}
	return c, nil
}

// IsLoopbackURL says whether the server runs on this machine.
func IsLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// turnServers keeps the TURN URLs of servers, dropping STUN ones: with
// relayed candidates only they could only cost a lookup.
func turnServers(servers []webrtc.ICEServer) []webrtc.ICEServer {
	var out []webrtc.ICEServer
	for _, sv := range servers {
		var urls []string
		for _, u := range sv.URLs {
			if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
				urls = append(urls, u)
			}
		}
		if len(urls) > 0 {
			sv.URLs = urls
			out = append(out, sv)
		}
	}
	return out
}
