package localsfu

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// socket is one of this process's sockets as the kernel lists it.
type socket struct {
	proto string // tcp, tcp6, udp, udp6
	local net.IP
	port  int
	state string // TCP: 0A is LISTEN
}

func (s socket) String() string {
	return fmt.Sprintf("%s %s", s.proto, net.JoinHostPort(s.local.String(), strconv.Itoa(s.port)))
}

// listening returns this process's listening TCP sockets and all its UDP
// sockets (UDP has no listen state: every bound socket receives), matched
// from /proc/self/net/* to the socket inodes in /proc/self/fd.
func listening(t *testing.T) []socket {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []socket
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open("/proc/self/net/" + proto)
		if err != nil {
			continue // no IPv6, say
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || !inodes[fields[9]] {
				continue
			}
			s := socket{proto: proto, state: fields[3]}
			s.local, s.port = parseProcAddr(t, fields[1])
			if strings.HasPrefix(proto, "tcp") && s.state != "0A" {
				continue
			}
			out = append(out, s)
		}
		f.Close()
	}
	return out
}

// parseProcAddr reads "0100007F:1EC8": the address as the kernel prints
// it (each 32-bit word as a hex number in host byte order) and the port.
func parseProcAddr(t *testing.T, s string) (net.IP, int) {
	t.Helper()
	addr, port, _ := strings.Cut(s, ":")
	ip := make(net.IP, len(addr)/2)
	for i := 0; i+8 <= len(addr); i += 8 {
		w, err := strconv.ParseUint(addr[i:i+8], 16, 32)
		if err != nil {
			t.Fatalf("bad address %q", s)
		}
		binary.NativeEndian.PutUint32(ip[i/2:], uint32(w))
	}
	p, _ := strconv.ParseUint(port, 16, 16)
	return ip, int(p)
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
	var ours []socket
	for _, s := range listening(t) {
		if !before[s.String()] {
			ours = append(ours, s)
		}
	}
	sawSignal, sawRTC := false, false
	for _, s := range ours {
		t.Logf("listening: %s", s)
		if !s.local.IsLoopback() {
			t.Errorf("the embedded SFU listens beyond loopback: %s", s)
		}
		sawSignal = sawSignal || (strings.HasPrefix(s.proto, "tcp") && s.port == srv.Port)
		sawRTC = sawRTC || (strings.HasPrefix(s.proto, "udp") && s.port == srv.RTCPort)
	}
	if !sawSignal || !sawRTC {
		t.Fatalf("did not find the signal port %d and the RTC port %d among %v", srv.Port, srv.RTCPort, ours)
	}
}
