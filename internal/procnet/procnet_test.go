package procnet

import (
	"net"
	"os"
	"testing"
)

// A listener this test opens shows up with its address and port.
func TestListeningFindsOwnSockets(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	socks, err := Listening(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var tcp, udp bool
	for _, s := range socks {
		tcp = tcp || (s.Proto == "tcp" && s.Local.Equal(net.IPv4(127, 0, 0, 1)) && s.Port == l.Addr().(*net.TCPAddr).Port)
		udp = udp || (s.Proto == "udp" && s.Local.Equal(net.IPv4(127, 0, 0, 1)) && s.Port == u.LocalAddr().(*net.UDPAddr).Port)
	}
	if !tcp || !udp {
		t.Fatalf("own listeners missing from %v", socks)
	}
}

func TestUDPCounters(t *testing.T) {
	snmp := "Ip: Forwarding DefaultTTL\nIp: 2 64\n" +
		"Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n" +
		"Udp: 461 1 7 463 4399 0 0 0 0\nUdpLite: InDatagrams RcvbufErrors\nUdpLite: 0 5\n"
	for name, want := range map[string]uint64{"RcvbufErrors": 4399, "OutDatagrams": 463, "InDatagrams": 461} {
		if n, err := udpCounter(snmp, name); err != nil || n != want {
			t.Fatalf("%s: got %d, %v; want %d", name, n, err, want)
		}
	}
	if _, err := udpCounter(snmp, "Nothing"); err == nil {
		t.Fatal("no such counter: want an error")
	}
	if _, err := udpCounter("Ip: a\nIp: 1\n", "RcvbufErrors"); err == nil {
		t.Fatal("no Udp lines: want an error")
	}
	if _, err := UDPRcvbufErrors(); err != nil {
		t.Skip("no /proc/net/snmp here:", err)
	}
}
