package testsfu

import (
	"cmp"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// A cluster of each build: redis-server and both nodes listen on loopback
// only, the nodes register in Redis under their own IDs, a room placed on
// a node is recorded as hosted there and listed by both nodes' admin
// APIs, and Close leaves no process and no directory behind.
func TestClusterStartPlaceClose(t *testing.T) {
	Run(t, func(t *testing.T, kind Kind) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c := StartClusterT(t, kind, 2, Options{})
		a, b := c.Nodes[0], c.Nodes[1]
		if a.Port == b.Port || a.RTCPort == b.RTCPort || a.APIKey != b.APIKey || a.APISecret != b.APISecret {
			t.Fatalf("nodes %+v and %+v", a, b)
		}
		idA, errA := c.NodeID(ctx, 0)
		idB, errB := c.NodeID(ctx, 1)
		if errA != nil || errB != nil || idA == idB {
			t.Fatalf("node IDs %q (%v), %q (%v)", idA, errA, idB, errB)
		}
		redisPid := c.Redis.p.cmd.Process.Pid
		assertRedisLoopbackOnly(t, redisPid, c.Redis)
		if kind == Released {
			for _, s := range c.Nodes {
				assertLoopbackOnly(t, s.released.cmd.Process.Pid, s)
			}
		} else {
			assertLoopbackOnly(t, os.Getpid(), a)
			assertLoopbackOnly(t, os.Getpid(), b)
		}

		if _, err := c.RoomNode(ctx, "placed"); !errors.Is(err, ErrNoRoom) {
			t.Fatalf("a room nobody created: %v", err)
		}
		if err := c.PlaceRoom(ctx, "placed", 1); err != nil {
			t.Fatal(err)
		}
		if i, err := c.RoomNode(ctx, "placed"); i != 1 || err != nil {
			t.Fatalf("room on node %d (%v), want 1", i, err)
		}
		for _, s := range c.Nodes { // the room store is shared
			rooms, err := lksdk.NewRoomServiceClient(s.HTTPURL(), s.APIKey, s.APISecret).ListRooms(ctx, &livekit.ListRoomsRequest{})
			if err != nil || len(rooms.GetRooms()) != 1 || rooms.GetRooms()[0].GetName() != "placed" {
				t.Fatalf("node on port %d lists %v (%v)", s.Port, rooms.GetRooms(), err)
			}
		}

		dir := c.Redis.dir
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		assertGone(t, redisPid)
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left behind: %v", dir, err)
		}
	})
}

// assertRedisLoopbackOnly checks redis-server listens on its port, on
// loopback only.
func assertRedisLoopbackOnly(t *testing.T, pid int, r *Redis) {
	t.Helper()
	assertLoopbackOnly(t, pid, &Server{Port: r.Port}) // no RTC port: no UDP expected
}

// Without redis-server a multi-node test is skipped, or fails when
// RequireRedisEnv says it must run; StartRedis says why.
func TestRedisMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := StartRedis(context.Background()); !errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("StartRedis without redis-server: %v", err)
	}
	for env, want := range map[string]string{"": "skip", "1": "fatal"} {
		t.Setenv(RequireRedisEnv, env)
		tb := &recordingTB{TB: t}
		RequireRedis(tb)
		if tb.called != want {
			t.Errorf("%s=%q: %q, want %q", RequireRedisEnv, env, tb.called, want)
		}
	}
}

// recordingTB notes whether Skipf or Fatalf was called first, instead of
// doing it (so the caller runs on).
type recordingTB struct {
	testing.TB
	called string
}

func (r *recordingTB) Helper()               {}
func (r *recordingTB) Skipf(string, ...any)  { r.called = cmp.Or(r.called, "skip") }
func (r *recordingTB) Fatalf(string, ...any) { r.called = cmp.Or(r.called, "fatal") }
