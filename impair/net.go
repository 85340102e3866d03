package impair

import (
	"container/heap"
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v4"
)

// Net is a network whose UDP sockets send through a Shaper: what pion's
// SettingEngine.SetNet takes. Reads are untouched (the shaping is of the
// path away from us).
type Net struct {
	transport.Net
	Shaper *Shaper
}

// ListenUDP implements transport.Net.
func (n Net) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &udpConn{UDPConn: c, out: newOutbox(n.Shaper, c)}, nil
}

// ListenPacket implements transport.Net.
func (n Net) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return &packetConn{PacketConn: c, out: newOutbox(n.Shaper, c)}, nil
}

type udpConn struct {
	transport.UDPConn
	out *outbox
}

func (c *udpConn) WriteTo(b []byte, addr net.Addr) (int, error) { return c.out.write(b, addr) }
func (c *udpConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	return c.out.write(b, addr)
}

func (c *udpConn) Close() error {
	c.out.close()
	return c.UDPConn.Close()
}

type packetConn struct {
	net.PacketConn
	out *outbox
}

func (c *packetConn) WriteTo(b []byte, addr net.Addr) (int, error) { return c.out.write(b, addr) }

func (c *packetConn) Close() error {
	c.out.close()
	return c.PacketConn.Close()
}

// outbox holds the datagrams the shaper delays until they are due, and
// sends them in order from one goroutine it owns (close stops it).
type outbox struct {
	shaper *Shaper
	conn   interface {
		WriteTo([]byte, net.Addr) (int, error)
	}

	mu      sync.Mutex
	q       dueHeap
	seq     uint64
	wake    chan struct{}
	done    chan struct{}
	stopped bool
	running bool
}

// maxHeld bounds the datagrams an outbox holds: a delay far beyond what
// the rate sends in it drops at the tail rather than growing memory.
const maxHeld = 1 << 16

func newOutbox(s *Shaper, c interface {
	WriteTo([]byte, net.Addr) (int, error)
}) *outbox {
	return &outbox{shaper: s, conn: c, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (o *outbox) write(b []byte, addr net.Addr) (int, error) {
	now := time.Now()
	at, n, _ := o.shaper.Plan(now, len(b))
	for i := range n {
		if !at[i].After(now) {
			if _, err := o.conn.WriteTo(b, addr); err != nil {
				return 0, err
			}
			continue
		}
		o.hold(at[i], append([]byte(nil), b...), addr)
	}
	return len(b), nil // a dropped datagram is sent, as far as the caller knows
}

func (o *outbox) hold(at time.Time, b []byte, addr net.Addr) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped || len(o.q) >= maxHeld {
		return
	}
	o.seq++
	heap.Push(&o.q, due{at: at, seq: o.seq, b: b, addr: addr})
	if !o.running {
		o.running = true
		go o.run()
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// run sends held datagrams when due; it ends when close is called.
func (o *outbox) run() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		o.mu.Lock()
		var next *due
		now := time.Now()
		for len(o.q) > 0 && !o.q[0].at.After(now) {
			d := heap.Pop(&o.q).(due)
			o.mu.Unlock()
			_, _ = o.conn.WriteTo(d.b, d.addr) // a lost datagram is what UDP promises
			o.mu.Lock()
			now = time.Now()
		}
		if len(o.q) > 0 {
			next = &o.q[0]
			t.Reset(next.at.Sub(now))
		}
		o.mu.Unlock()
		select {
		case <-t.C:
		case <-o.wake:
		case <-o.done:
			return
		}
	}
}

func (o *outbox) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.stopped {
		o.stopped = true
		o.q = nil
		close(o.done)
	}
}

type due struct {
	at   time.Time
	seq  uint64
	b    []byte
	addr net.Addr
}

type dueHeap []due

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	*h = old[:len(old)-1]
	return d
}
