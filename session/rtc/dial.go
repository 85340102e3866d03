package rtc

import (
	"context"
	"net"
	"net/http/httptrace"
	"sync"
)

// The SDK dials the signal websocket with gorilla's DefaultDialer, which
// honours only its context's deadline, not its cancellation, while it
// waits for the server's answer to the upgrade request: a server that
// accepts and never answers held Ctrl+C for the whole connect timeout.
// gorilla hands the connection it dialled to the context's
// httptrace.ClientTrace (GotConn) before it writes the upgrade request, so
// the join's own context carries a trace that gives each connection to
// the abortable join that dialled it, and that join closes it when
// interrupted. Nothing process-wide is changed: the DefaultDialer keeps
// its settings (proxy from the environment, 45 s handshake timeout), and
// other users of gorilla in the process are untouched. Through an HTTP
// proxy the connection is handed over once the proxy has answered
// CONNECT; a proxy that never answers is bounded by the connect timeout.

// dialWatch holds the connections a join dialled until the join ends.
type dialWatch struct {
	mu      sync.Mutex
	conns   []net.Conn
	aborted bool
}

// withDialWatch returns ctx carrying a new watch for the websocket dials
// made with it.
func withDialWatch(ctx context.Context) (context.Context, *dialWatch) {
	w := &dialWatch{}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { w.add(info.Conn) },
	}), w
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
