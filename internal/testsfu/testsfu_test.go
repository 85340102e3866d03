package testsfu

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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

// assertLoopbackOnly checks every IP socket of process pid is bound to
// 127.0.0.1 (read from /proc, so it covers listeners we did not think of),
// and that the server's signalling and RTC ports are among them.
func assertLoopbackOnly(t *testing.T, pid int, s *Server) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Log("not Linux: listening addresses not checked")
		return
	}
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	sawTCP, sawUDP := false, false
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/net/" + table)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || !inodes[fields[9]] {
				continue
			}
			host, port, _ := strings.Cut(fields[1], ":")
			p, _ := strconv.ParseInt(port, 16, 32)
			if host != "0100007F" { // 127.0.0.1, as /proc prints it on little-endian hosts
				t.Errorf("%s socket of pid %d bound to %s (port %d), not 127.0.0.1", table, pid, host, p)
			}
			sawTCP = sawTCP || (table == "tcp" && int(p) == s.Port)
			sawUDP = sawUDP || (table == "udp" && int(p) == s.RTCPort)
		}
		f.Close()
	}
	if !sawTCP || !sawUDP {
		t.Errorf("pid %d: signalling port %d seen %v, RTC UDP port %d seen %v", pid, s.Port, sawTCP, s.RTCPort, sawUDP)
	}
}

// $DTTUI_LIVEKIT_SERVER is taken at its word only if it is the right
// build: a wrong file is an error, not a silent fallback.
func TestBinaryEnvMustBeTheRelease(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(BinaryEnv, self)
	if _, err := findReleased(); err == nil {
		t.Fatal("the test binary accepted as livekit-server")
	}
}

// The build lock is exclusive across processes (flock), and the second
// taker waits for the first.
func TestLockFileWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockFile(path, 100*time.Millisecond); err == nil {
		t.Fatal("a second lock was granted while the first is held")
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(200 * time.Millisecond)
		close(released)
		unlock()
	}()
	unlock2, err := lockFile(path, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock2()
	select {
	case <-released:
	default:
		t.Fatal("the lock was granted before it was released")
	}
}
