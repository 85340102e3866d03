// Package silent is a test server that accepts TCP connections and never
// answers: the upgrade request of a websocket dial waits on it forever, as
// on a hung LiveKit server or a proxy that swallows the request.
package silent

import (
	"net"
	"sync"
	"testing"
)

// Server listens on loopback for tb and returns its ws:// URL. It accepts
// every connection and says nothing; the listener and the connections
// close when tb ends.
func Server(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "ws://" + ln.Addr().String()
}
