package session

import (
	"context"
	"net"
	"sync"

	"github.com/gorilla/websocket"
)

// The SDK dials the signal websocket with gorilla's DefaultDialer, which
// honours only its context's deadline, not its cancellation, while it
// waits for the server's answer to the upgrade request: a server that
// accepts and never answers held Ctrl+C for the whole connect timeout.
// The dialer's NetDialContext is the one place the connection can be
// reached, so it hands each connection to the abortable join that dialled
// it (found in the context), and that join closes it when interrupted.
func init() {
	d := websocket.DefaultDialer
	base := d.NetDialContext
	if base == nil {
		base = (&net.Dialer{}).DialContext
	}
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := base(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if w, ok := ctx.Value(dialWatchKey{}).(*dialWatch); ok {
			w.add(c)
		}
		return c, nil
	}
}

type dialWatchKey struct{}

// dialWatch holds the connections a join dialled until the join ends.
type dialWatch struct {
	mu      sync.Mutex
	conns   []net.Conn
	aborted bool
}

// withDialWatch returns ctx carrying a new watch for the dials made with it.
func withDialWatch(ctx context.Context) (context.Context, *dialWatch) {
	w := &dialWatch{}
	return context.WithValue(ctx, dialWatchKey{}, w), w
}

func (w *dialWatch) add(c net.Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.aborted {
		_ = c.Close()
		return
	}
	w.conns = append(w.conns, c)
}

// abort closes every connection dialled so far and any dialled later.
func (w *dialWatch) abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.aborted = true
	for _, c := range w.conns {
		_ = c.Close()
	}
	w.conns = nil
}

// release forgets the connections: the join is over and the one it kept
// belongs to the transport now.
func (w *dialWatch) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conns = nil
}
