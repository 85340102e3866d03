// Package procnet lists a process's IP sockets as Linux's /proc shows
// them, for tests that check what a server listens on: every socket, not
// only the listeners the test thought of.
package procnet

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Socket is one socket of a process.
type Socket struct {
	Proto string // tcp, tcp6, udp, udp6
	Local net.IP
	Port  int
}

func (s Socket) String() string {
	return fmt.Sprintf("%s %s", s.Proto, net.JoinHostPort(s.Local.String(), strconv.Itoa(s.Port)))
}

// Listening returns process pid's listening TCP sockets and all its UDP
// sockets (UDP has no listen state: every bound socket receives), matched
// from /proc/<pid>/net/* to the socket inodes in /proc/<pid>/fd. It fails
// where there is no /proc.
func Listening(pid int) ([]Socket, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []Socket
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open(filepath.Join(dir, "net", proto))
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
			if strings.HasPrefix(proto, "tcp") && fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			ip, port, err := parseAddr(fields[1])
			if err != nil {
				f.Close()
				return nil, err
			}
			out = append(out, Socket{Proto: proto, Local: ip, Port: port})
		}
		f.Close()
	}
	return out, nil
}

// parseAddr reads "0100007F:1EC8": the address as the kernel prints it
// (each 32-bit word as a hex number in host byte order) and the port.
func parseAddr(s string) (net.IP, int, error) {
	addr, port, _ := strings.Cut(s, ":")
	ip := make(net.IP, len(addr)/2)
	for i := 0; i+8 <= len(addr); i += 8 {
		w, err := strconv.ParseUint(addr[i:i+8], 16, 32)
		if err != nil {
			return nil, 0, fmt.Errorf("procnet: bad address %q", s)
		}
		binary.NativeEndian.PutUint32(ip[i/2:], uint32(w))
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return nil, 0, fmt.Errorf("procnet: bad port %q", s)
	}
	return ip, int(p), nil
}

// UDPRcvbufErrors is the kernel's count of UDP datagrams dropped because
// a socket's receive buffer was full (Udp: RcvbufErrors in /proc/net/snmp),
// over every socket of the network namespace.
func UDPRcvbufErrors() (uint64, error) { return UDP("RcvbufErrors") }

// UDP is one of the kernel's UDP counters in /proc/net/snmp (Udp:
// InDatagrams, OutDatagrams, RcvbufErrors, …), over every socket of the
// network namespace.
func UDP(name string) (uint64, error) {
	data, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	return udpCounter(string(data), name)
}

func udpCounter(snmp, name string) (uint64, error) {
	var header []string
	for _, line := range strings.Split(snmp, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "Udp:" {
			continue
		}
		if header == nil {
			header = fields
			continue
		}
		for i, h := range header {
			if h == name && i < len(fields) {
				return strconv.ParseUint(fields[i], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("procnet: no Udp %s in /proc/net/snmp", name)
}
