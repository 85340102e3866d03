// Package freeport finds loopback ports that are free right now, for
// servers that must be told their port before they bind it (and keep it
// across a restart). Another process may take the port in between: callers
// that picked it retry with a new one.
package freeport

import (
	"fmt"
	"net"
)

// TCP returns a TCP port on 127.0.0.1 that nothing listens on.
func TCP() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("no free TCP port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// UDP returns a UDP port on 127.0.0.1 that nothing is bound to.
func UDP() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("no free UDP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
