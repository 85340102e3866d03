package session

import (
	"os"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/procnet"
)

// Against an SFU on loopback, every socket the session opens (ICE's UDP
// sockets above all, which pion binds to every interface by default) is
// on loopback: nothing on the network can reach dttui.
func TestE2ESocketsStayOnLoopback(t *testing.T) { acrossSFUs(t, testE2ESocketsStayOnLoopback) }

func testE2ESocketsStayOnLoopback(t *testing.T) {
	s := connect(t, sfu(t), Config{Loopback: true, Monitor: true})
	tr, err := s.Publish(bounded(t, 15*time.Second), "sockets", false)
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, tr)
	socks, err := procnet.Listening(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	udp := 0
	for _, sk := range socks {
		if sk.Proto == "udp" || sk.Proto == "udp6" {
			udp++
		}
		if !sk.Local.IsLoopback() {
			t.Errorf("socket beyond loopback: %s", sk)
		}
	}
	if udp == 0 {
		t.Fatalf("no UDP socket at all (%v): the check above proved nothing", socks)
	}
}
