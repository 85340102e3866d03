package localsfu

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/procnet"
)

// listening returns this process's listening sockets (procnet.Listening).
func listening(t *testing.T) []procnet.Socket {
	t.Helper()
	socks, err := procnet.Listening(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return socks
}

// Every socket the embedded SFU listens on is on loopback: nothing on the
// network can reach it (on main, its RTC UDP port was bound on every
// address of every interface).
func TestListensOnLoopbackOnly(t *testing.T) {
	if _, err := os.Stat("/proc/self/net/tcp"); err != nil {
		t.Skip("needs Linux's /proc")
	}
	before := map[string]bool{}
	for _, s := range listening(t) {
		before[s.String()] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var ours []procnet.Socket
	for _, s := range listening(t) {
		if !before[s.String()] {
			ours = append(ours, s)
		}
	}
	sawSignal, sawRTC := false, false
	for _, s := range ours {
		t.Logf("listening: %s", s)
		if !s.Local.IsLoopback() {
			t.Errorf("the embedded SFU listens beyond loopback: %s", s)
		}
		sawSignal = sawSignal || (strings.HasPrefix(s.Proto, "tcp") && s.Port == srv.Port)
		sawRTC = sawRTC || (strings.HasPrefix(s.Proto, "udp") && s.Port == srv.RTCPort)
	}
	if !sawSignal || !sawRTC {
		t.Fatalf("did not find the signal port %d and the RTC port %d among %v", srv.Port, srv.RTCPort, ours)
	}
}
