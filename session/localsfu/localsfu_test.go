package localsfu

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/livekit/livekit-server/pkg/config"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// The embedded server must answer the admin API with the keys it generated,
// stop, and start again on the same port (the reconnect tests rely on it).
func TestStartServeRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	listRooms(t, ctx, s)
	port := s.Port
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2, err := Start(ctx, Options{Port: port, APIKey: s.APIKey, APISecret: s.APISecret})
	if err != nil {
		t.Fatalf("restart on port %d: %v", port, err)
	}
	defer s2.Close()
	if s2.URL != s.URL {
		t.Fatalf("URL changed on restart: %s → %s", s.URL, s2.URL)
	}
	listRooms(t, ctx, s2)
}

func listRooms(t *testing.T, ctx context.Context, s *Server) {
	t.Helper()
	httpURL := "http" + s.URL[len("ws"):]
	rc := lksdk.NewRoomServiceClient(httpURL, s.APIKey, s.APISecret)
	if _, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{}); err != nil {
		t.Fatalf("ListRooms against %s: %v", s.URL, err)
	}
}

// A busy signal port fails the start at once, with an error that says so
// (on main, start-up stalled 10 s waiting out a server that had exited).
func TestBusyPortFailsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	s, err := Start(ctx, Options{Port: port})
	if err == nil {
		s.Close()
		t.Fatalf("started on busy port %d", port)
	}
	if !errors.Is(err, ErrPortInUse) {
		t.Fatalf("err = %v, want ErrPortInUse", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v to fail", d)
	}
	t.Logf("%v (after %v)", err, time.Since(start).Round(time.Millisecond))
}

// A node of a multi-node deployment: the server reads the Redis address
// and the region from the configuration; without them it is one node with
// its state in memory.
func TestConfigForAClusterNode(t *testing.T) {
	conf, err := config.NewConfig(ConfigYAML(Options{Port: 7880, RTCPort: 7882, Redis: "127.0.0.1:6390", Region: "node-a"}), true, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if conf.Redis.Address != "127.0.0.1:6390" || !conf.Redis.IsConfigured() || conf.Region != "node-a" {
		t.Fatalf("redis %+v, region %q", conf.Redis, conf.Region)
	}
	single, err := config.NewConfig(ConfigYAML(Options{Port: 7880, RTCPort: 7882}), true, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if single.Redis.IsConfigured() || single.Region != "" {
		t.Fatalf("a single node has redis %+v, region %q", single.Redis, single.Region)
	}
}
