package session

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/server-sdk-go/v2/signalling"
	"github.com/pion/transport/v4"
	"google.golang.org/protobuf/proto"
)

// switchedNet wraps a session's network with the tests' switches: cut
// drops every datagram both ways while set (a network that goes silent
// without closing anything, as when Wi-Fi drops); stall holds every read
// while set (a receiver that stops reading; the kernel's buffer keeps
// what arrives meanwhile). A nil switch is never set.
func switchedNet(cut, stall *atomic.Bool) func(transport.Net) transport.Net {
	sw := netSwitches{cut: cut, stall: stall}
	if sw.cut == nil {
		sw.cut = new(atomic.Bool)
	}
	if sw.stall == nil {
		sw.stall = new(atomic.Bool)
	}
	return func(n transport.Net) transport.Net { return switchedNetwork{n, sw} }
}

// cutNet is NetOptions that cut the network while cut is set.
func cutNet(cut *atomic.Bool) NetOptions { return NetOptions{Wrap: switchedNet(cut, nil)} }

// stallNet is NetOptions that stall every read while stall is set.
func stallNet(stall *atomic.Bool) NetOptions { return NetOptions{Wrap: switchedNet(nil, stall)} }

type netSwitches struct{ cut, stall *atomic.Bool }

// wait holds a read while stall is set.
func (sw netSwitches) wait() {
	for sw.stall.Load() {
		time.Sleep(time.Millisecond)
	}
}

type switchedNetwork struct {
	transport.Net
	sw netSwitches
}

func (n switchedNetwork) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return switchedConn{c, n.sw}, nil
}

func (n switchedNetwork) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return switchedPacketConn{c, n.sw}, nil
}

// packetIO is what both socket kinds read and write with.
type packetIO interface {
	ReadFrom(b []byte) (int, net.Addr, error)
	WriteTo(b []byte, addr net.Addr) (int, error)
}

// writeTo drops b while cut is set.
func (sw netSwitches) writeTo(c packetIO, b []byte, addr net.Addr) (int, error) {
	if sw.cut.Load() {
		return len(b), nil
	}
	return c.WriteTo(b, addr)
}

// readFrom holds while stall is set and drops what arrives while cut is.
func (sw netSwitches) readFrom(c packetIO, b []byte) (int, net.Addr, error) {
	for {
		sw.wait()
		n, addr, err := c.ReadFrom(b)
		if err != nil || !sw.cut.Load() {
			return n, addr, err
		}
	}
}

type switchedConn struct {
	transport.UDPConn
	sw netSwitches
}

func (c switchedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	return c.sw.writeTo(c.UDPConn, b, addr)
}

func (c switchedConn) ReadFrom(b []byte) (int, net.Addr, error) { return c.sw.readFrom(c.UDPConn, b) }

type switchedPacketConn struct {
	net.PacketConn
	sw netSwitches
}

func (c switchedPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	return c.sw.writeTo(c.PacketConn, b, addr)
}

func (c switchedPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	return c.sw.readFrom(c.PacketConn, b)
}

// signalTap is a NetOptions.WrapSignal that keeps the signal transport of
// the session's latest join, so a test can drop the socket under it while
// the PeerConnections stay up, as a network does. Give the loopback its
// own NetOptions, or the tap holds the loopback's.
type signalTap struct {
	mu  sync.Mutex
	cur signalling.SignalTransport
}

func (s *signalTap) wrap(t signalling.SignalTransport) signalling.SignalTransport {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = t
	return t
}

// drop closes the socket; the SDK's reader ends and the session resumes.
func (s *signalTap) drop() {
	s.mu.Lock()
	t := s.cur
	s.mu.Unlock()
	t.Close()
}

// tapped returns Config c with a tap on its publisher's signal socket.
func tapped(c Config) (Config, *signalTap) {
	tap := &signalTap{}
	c.Net.WrapSignal = tap.wrap
	if c.Net.Loopback == nil {
		c.Net.Loopback = &NetOptions{}
	}
	return c, tap
}

// tamperPublish is a NetOptions.WrapSignal that lets edit change each
// PublishDataTrackRequest on its way to the SFU, past the manager's own
// checks, to show the SFU's answer to what the manager refuses locally.
func tamperPublish(edit func(*livekit.PublishDataTrackRequest)) func(signalling.SignalTransport) signalling.SignalTransport {
	return func(t signalling.SignalTransport) signalling.SignalTransport { return tamperingSignal{t, edit} }
}

type tamperingSignal struct {
	signalling.SignalTransport
	edit func(*livekit.PublishDataTrackRequest)
}

func (t tamperingSignal) SendMessage(msg proto.Message) error {
	if req, ok := msg.(*livekit.SignalRequest); ok {
		if r := req.GetPublishDataTrackRequest(); r != nil {
			t.edit(r)
		}
	}
	return t.SignalTransport.SendMessage(msg)
}
