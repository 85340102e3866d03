// Package relay is a TURN relay on loopback whose relayed datagrams cross
// an impair.Shaper, each way. Clients made to use only relayed candidates
// (dttui's --relay-only, livekit-client's iceTransportPolicy "relay") then
// share one shaped path to the SFU, so that dttui and livekit-client are
// compared over the same bad network; and the relay's own counts of what it
// forwarded and dropped are a second observer of every figure dttui shows.
package relay

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"sync"

	"github.com/dttui/dttui/impair"
	"github.com/dttui/dttui/session/localsfu"
	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/turn/v5"
)

// Relay is a running TURN server on 127.0.0.1 (UDP).
type Relay struct {
	// Shaper shapes what the relay forwards: its Up from its clients to
	// their peers (the SFU); its Down from the peers back to the clients
	// unless Down is set, which then shapes that way alone.
	Shaper, Down *impair.Shaper

	addr     *net.UDPAddr
	user     string
	password string
	srv      *turn.Server
	tally    *Tally
}

// Start runs a relay whose forwarded datagrams go through sh, or, when
// down is not nil, through sh toward the SFU and down back from it (each
// way its own spec: a delay both ways, loss and a cap on the uplink).
func Start(sh, down *impair.Shaper) (*Relay, error) {
	std, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	r := &Relay{Shaper: sh, Down: down, addr: conn.LocalAddr().(*net.UDPAddr), user: "dttui", password: secret(), tally: &Tally{}}
	const realm = "dttui"
	key := turn.GenerateAuthKey(r.user, realm, r.password)
	// The tally sees each datagram as the peer side sends or receives it,
	// after the shaper: what really crossed the relay.
	var shaped transport.Net = impair.Net{Net: countingNet{Net: std, tally: r.tally}, Shaper: sh}
	if down != nil {
		shaped = impair.Net{Net: impair.Net{Net: countingNet{Net: std, tally: r.tally}, Shaper: down, Ways: impair.Down}, Shaper: sh, Ways: impair.Up}
	}
	r.srv, err = turn.NewServer(turn.ServerConfig{
		Realm: realm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			if ra.Username != r.user {
				return "", nil, false
			}
			return ra.Username, key, true
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: conn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.IPv4(127, 0, 0, 1),
				Address:      "127.0.0.1",
				Net:          shaped,
			},
		}},
	})
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("relay: %w", err)
	}
	return r, nil
}

// Close stops the relay and every allocation.
func (r *Relay) Close() error { return r.srv.Close() }

// TURN is the relay as an SFU lists it to its clients.
func (r *Relay) TURN() localsfu.TURN {
	return localsfu.TURN{Host: r.addr.IP.String(), Port: r.addr.Port, Username: r.user, Credential: r.password}
}

// Forwarded is what crossed the relay so far.
func (r *Relay) Forwarded() Counts { return r.tally.counts() }

// Counts is what a relay forwarded each way after shaping: datagrams and
// bytes, and datagrams of at least LargeDatagram bytes (a data-track
// packet of a 1 KiB frame and up, never a STUN message or an SCTP
// acknowledgement).
type Counts struct {
	Up, Down Way
}

// Way is one direction's count.
type Way struct {
	Datagrams, Bytes, Large uint64
}

// LargeDatagram is the size from which a datagram counts as Large.
const LargeDatagram = 1000

// Tally counts datagrams by direction.
type Tally struct {
	mu sync.Mutex
	c  Counts
}

func (t *Tally) add(w *Way, n int) {
	t.mu.Lock()
	w.Datagrams++
	w.Bytes += uint64(n)
	if n >= LargeDatagram {
		w.Large++
	}
	t.mu.Unlock()
}

func (t *Tally) counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.c
}

func secret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// countingNet counts what the relay's peer-side sockets send (Up, after
// the shaper let it go) and receive (Down, before the shaper decides:
// the inbox reads through it, so a Down count is offered, not delivered;
// Down deliveries are the datagrams read minus the shaper's drops).
type countingNet struct {
	transport.Net
	tally *Tally
}

func (n countingNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return &countingConn{PacketConn: c, tally: n.tally}, nil
}

type countingConn struct {
	net.PacketConn
	tally *Tally
}

func (c *countingConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(b, addr)
	if err == nil {
		c.tally.add(&c.tally.c.Up, n)
	}
	return n, err
}

func (c *countingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(b)
	if err == nil {
		c.tally.add(&c.tally.c.Down, n)
	}
	return n, addr, err
}
