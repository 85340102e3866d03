package testsfu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/procnet"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// Each build answers the admin API with its keys, listens on loopback
// only, stops (refusing connections), and restarts on the same ports; the
// released one leaves no process behind.
func TestStartStopRestart(t *testing.T) {
	Run(t, func(t *testing.T, kind Kind) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		s := StartT(t, kind, Options{DataTrackTargetLatency: time.Second})
		if s.Kind() != kind || s.URL == "" || len(s.APISecret) < 32 {
			t.Fatalf("server %+v", s)
		}
		if err := listRooms(ctx, s); err != nil {
			t.Fatal(err)
		}
		pid := os.Getpid()
		if kind == Released {
			pid = s.released.cmd.Process.Pid
		}
		assertLoopbackOnly(t, pid, s)

		url := s.URL
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		if kind == Released {
			assertGone(t, pid)
		}
		if err := listRooms(ctx, s); err == nil {
			t.Fatal("admin API still answers after Stop")
		}
		if err := s.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		if s.URL != url {
			t.Fatalf("URL changed: %s → %s", url, s.URL)
		}
		if err := listRooms(ctx, s); err != nil {
			t.Fatalf("after restart: %v", err)
		}
		if kind == Released {
			pid = s.released.cmd.Process.Pid
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			assertGone(t, pid)
			if _, err := os.Stat(s.dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s left behind: %v", s.dir, err)
			}
		}
	})
}

// A server that cannot start says why, with its own words.
func TestReleasedStartFailureIsReported(t *testing.T) {
	Require(t, Released)
	s := StartT(t, Released, Options{})
	// The same port twice: the second cannot bind, and Start does not
	// retry ports the caller chose.
	s2, err := Start(context.Background(), Released, Options{Port: s.Port})
	if err == nil {
		s2.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("err = %v", err)
	}
}

func TestCheckReleasedRejectsOtherBinaries(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkReleased(self); err == nil || !strings.Contains(err.Error(), releasedPackage) {
		t.Fatalf("the test binary passed as livekit-server: %v", err)
	}
	if err := checkReleased(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("a missing file passed")
	}
}

func TestDefaultBinaryFollowsXDG(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if got, want := DefaultBinary(), "/x/cache/dttui-test/livekit-server-v1.13.5/bin/server"; got != want {
		t.Fatalf("DefaultBinary() = %s, want %s", got, want)
	}
}

func listRooms(ctx context.Context, s *Server) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := lksdk.NewRoomServiceClient(s.HTTPURL(), s.APIKey, s.APISecret).ListRooms(ctx, &livekit.ListRoomsRequest{})
	return err
}

func assertGone(t *testing.T, pid int) {
	t.Helper()
	// Reaped by the reaper goroutine: not even a zombie is left.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process %d still exists after Stop (kill 0: %v)", pid, err)
	}
}

// assertLoopbackOnly checks every socket process pid listens on is on
// loopback (read from /proc, so it covers listeners we did not think of),
// and that the server's signalling and RTC ports (if it has one) are among
// them.
func assertLoopbackOnly(t *testing.T, pid int, s *Server) {
	t.Helper()
	socks, err := procnet.Listening(pid)
	if err != nil {
		t.Logf("listening addresses not checked: %v", err)
		return
	}
	sawTCP, sawUDP := false, false
	for _, sock := range socks {
		if !sock.Local.IsLoopback() {
			t.Errorf("pid %d listens beyond loopback: %s", pid, sock)
		}
		sawTCP = sawTCP || (strings.HasPrefix(sock.Proto, "tcp") && sock.Port == s.Port)
		sawUDP = sawUDP || (strings.HasPrefix(sock.Proto, "udp") && sock.Port == s.RTCPort)
	}
	sawUDP = sawUDP || s.RTCPort == 0
	if !sawTCP || !sawUDP {
		t.Errorf("pid %d: signalling port %d seen %v, RTC UDP port %d seen %v, among %v", pid, s.Port, sawTCP, s.RTCPort, sawUDP, socks)
	}
}
