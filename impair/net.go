package impair

import (
	"container/heap"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v4"
)

// Net is a network whose UDP sockets send, and receive, through a Shaper:
// what pion's SettingEngine.SetNet takes.
type Net struct {
	transport.Net
	Shaper *Shaper
	// Ways are the directions its sockets apply the shaper in (zero:
	// both); the spec in force says which it shapes.
	Ways Direction
}

func (n Net) ways() Direction {
	if n.Ways == 0 {
		return Both
	}
	return n.Ways
}

// ListenUDP implements transport.Net.
func (n Net) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	w := &udpConn{UDPConn: c}
	if n.ways().Has(Up) {
		w.out = newOutbox(n.Shaper, c)
	}
	if n.ways().Has(Down) {
		w.in = &inbox{shaper: n.Shaper, conn: c}
	}
	return w, nil
}

// ListenPacket implements transport.Net.
func (n Net) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	w := &packetConn{PacketConn: c}
	if n.ways().Has(Up) {
		w.out = newOutbox(n.Shaper, c)
	}
	if n.ways().Has(Down) {
		w.in = &inbox{shaper: n.Shaper, conn: c}
	}
	return w, nil
}

type udpConn struct {
	transport.UDPConn
	out *outbox
	in  *inbox
}

func (c *udpConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.out == nil {
		return c.UDPConn.WriteTo(b, addr)
	}
	return c.out.write(b, addr)
}

func (c *udpConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	return c.WriteTo(b, addr)
}

func (c *udpConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.in == nil {
		return c.UDPConn.ReadFrom(b)
	}
	return c.in.read(b)
}

func (c *udpConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, addr, err := c.ReadFrom(b)
	ua, _ := addr.(*net.UDPAddr)
	return n, ua, err
}

func (c *udpConn) SetReadDeadline(t time.Time) error {
	if c.in != nil {
		return c.in.setDeadline(t)
	}
	return c.UDPConn.SetReadDeadline(t)
}

func (c *udpConn) SetDeadline(t time.Time) error {
	if c.in != nil {
		if err := c.UDPConn.SetWriteDeadline(t); err != nil {
			return err
		}
		return c.in.setDeadline(t)
	}
	return c.UDPConn.SetDeadline(t)
}

func (c *udpConn) Close() error {
	if c.out != nil {
		c.out.close()
	}
	return c.UDPConn.Close()
}

type packetConn struct {
	net.PacketConn
	out *outbox
	in  *inbox
}

func (c *packetConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.out == nil {
		return c.PacketConn.WriteTo(b, addr)
	}
	return c.out.write(b, addr)
}

func (c *packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.in == nil {
		return c.PacketConn.ReadFrom(b)
	}
	return c.in.read(b)
}

func (c *packetConn) SetReadDeadline(t time.Time) error {
	if c.in != nil {
		return c.in.setDeadline(t)
	}
	return c.PacketConn.SetReadDeadline(t)
}

func (c *packetConn) SetDeadline(t time.Time) error {
	if c.in != nil {
		if err := c.PacketConn.SetWriteDeadline(t); err != nil {
			return err
		}
		return c.in.setDeadline(t)
	}
	return c.PacketConn.SetDeadline(t)
}

func (c *packetConn) Close() error {
	if c.out != nil {
		c.out.close()
	}
	return c.PacketConn.Close()
}

// inbox delays and drops what a socket receives, in the reader's own
// goroutine: datagrams held back wait in a heap, and the socket's read
// deadline is set to the earliest of them, so no goroutine of ours runs
// and nothing is copied while the spec leaves this way alone.
type inbox struct {
	shaper *Shaper
	conn   interface {
		ReadFrom([]byte) (int, net.Addr, error)
		SetReadDeadline(time.Time) error
	}

	mu   sync.Mutex // one reader at a time
	held dueHeap
	seq  uint64
	next atomic.Int64 // the earliest held datagram's due time (Unix ns), 0: none

	dmu      sync.Mutex
	deadline time.Time // the caller's read deadline
	set      time.Time // the deadline last set on conn
}

// setDeadline takes the caller's read deadline and arms the socket with it
// (or with a held datagram's, if earlier), so a read blocked now wakes
// for whichever comes first.
func (in *inbox) setDeadline(t time.Time) error {
	in.dmu.Lock()
	defer in.dmu.Unlock()
	in.deadline = t
	return in.armLocked(true)
}

// arm sets the socket's read deadline to the earlier of the caller's and
// the next held datagram's, and returns the caller's.
func (in *inbox) arm() (time.Time, error) {
	in.dmu.Lock()
	defer in.dmu.Unlock()
	return in.deadline, in.armLocked(false)
}

func (in *inbox) armLocked(force bool) error {
	dl := in.deadline
	if n := in.next.Load(); n != 0 {
		if due := time.Unix(0, n); dl.IsZero() || due.Before(dl) {
			dl = due
		}
	}
	if !force && dl.Equal(in.set) {
		return nil
	}
	in.set = dl
	return in.conn.SetReadDeadline(dl)
}

func (in *inbox) read(b []byte) (int, net.Addr, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for {
		now := time.Now()
		if len(in.held) > 0 && !in.held[0].at.After(now) {
			d := heap.Pop(&in.held).(due)
			in.noteNext()
			return copy(b, d.b), d.addr, nil
		}
		dl, err := in.arm()
		if err != nil {
			return 0, nil, err
		}
		if !dl.IsZero() && !now.Before(dl) {
			return 0, nil, os.ErrDeadlineExceeded
		}
		n, addr, err := in.conn.ReadFrom(b)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // a held datagram is due, or the caller's deadline passed
			}
			return n, addr, err
		}
		if !in.shaper.Shapes(Down) && len(in.held) == 0 {
			return n, addr, nil
		}
		now = time.Now()
		at, k, _ := in.shaper.PlanWay(Down, now, n)
		if k > 0 && !at[0].After(now) && len(in.held) == 0 {
			if k == 2 {
				in.hold(at[1], b[:n], addr)
			}
			return n, addr, nil
		}
		for i := range k {
			in.hold(at[i], b[:n], addr)
		}
	}
}

// noteNext publishes the earliest held due time for setDeadline.
func (in *inbox) noteNext() {
	if len(in.held) == 0 {
		in.next.Store(0)
		return
	}
	in.next.Store(in.held[0].at.UnixNano())
}

func (in *inbox) hold(at time.Time, b []byte, addr net.Addr) {
	if len(in.held) >= maxHeld {
		return
	}
	in.seq++
	heap.Push(&in.held, due{at: at, seq: in.seq, b: append([]byte(nil), b...), addr: addr})
	in.noteNext()
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

// maxHeld bounds the datagrams an outbox or inbox holds: a delay far beyond what
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
