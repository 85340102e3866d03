package testsfu

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dttui/dttui/session/localsfu"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"
)

// livekit-server's routing state in Redis (pkg/routing/redisrouter.go):
// every node's livekit.Node by node ID, and the node hosting each room.
const (
	redisNodesKey    = "nodes"
	redisRoomNodeKey = "room_node_map"
)

// ErrNoRoom is a room that no node hosts (yet, or any more).
var ErrNoRoom = errors.New("testsfu: no node hosts the room")

// Cluster is a multi-node LiveKit deployment on loopback, as livekit-server
// builds one: a redis-server, and nodes of one build that register in it,
// each with its own signalling and RTC ports, all with the same keys. A
// node's Region names it ("node-a", "node-b", ...), so its node ID, which
// the server generates, can be found in Redis.
type Cluster struct {
	Redis *Redis
	Nodes []*Server

	rc     *redis.Client
	closed bool
}

// NodeRegion is the region the Cluster gives its node i: "node-a", "node-b"...
func NodeRegion(i int) string { return fmt.Sprintf("node-%c", 'a'+i) }

// StartCluster starts redis-server and n nodes of kind with opts (their
// Redis and Region, and Port and RTCPort unless 0, are the cluster's).
// The caller owns it and must Close it; tests use StartClusterT.
func StartCluster(ctx context.Context, kind Kind, n int, opts Options) (*Cluster, error) {
	if n < 1 || n > 26 {
		return nil, fmt.Errorf("testsfu: a cluster of %d nodes", n)
	}
	rds, err := StartRedis(ctx)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Redis: rds, rc: rds.Client()}
	if opts.APIKey == "" || opts.APISecret == "" {
		opts.APIKey, opts.APISecret = localsfu.GenerateKeys()
	}
	opts.Redis, opts.Port, opts.RTCPort = rds.Addr, 0, 0
	for i := range n {
		o := opts
		o.Region = NodeRegion(i)
		s, err := Start(ctx, kind, o)
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("testsfu: cluster node %s: %w", o.Region, err)
		}
		c.Nodes = append(c.Nodes, s)
	}
	return c, nil
}

// StartClusterT starts a cluster for one test: skipped (or failed, under
// DTTUI_REQUIRE_REDIS=1 or, for the released build,
// DTTUI_REQUIRE_RELEASED_SFU=1) when redis-server or the binary cannot be
// had, and closed, every process killed, when the test ends. If the test
// failed, the tails of the logs are logged.
func StartClusterT(tb testing.TB, kind Kind, n int, opts Options) *Cluster {
	tb.Helper()
	RequireRedis(tb)
	Require(tb, kind)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := StartCluster(ctx, kind, n, opts)
	if err != nil {
		tb.Fatalf("%s cluster: %v", kind, err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			for _, s := range c.Nodes {
				s.LogTail(tb, 40)
			}
			c.Redis.LogTail(tb, 20)
		}
		if err := c.Close(); err != nil {
			tb.Errorf("%s cluster: close: %v", kind, err)
		}
	})
	return c
}

// NodeID is node i's ID as it registered in Redis (a new one after each
// Restart).
func (c *Cluster) NodeID(ctx context.Context, i int) (livekit.NodeID, error) {
	all, err := c.rc.HGetAll(ctx, redisNodesKey).Result()
	if err != nil {
		return "", fmt.Errorf("testsfu: nodes: %w", err)
	}
	var found []string
	for id, b := range all {
		var n livekit.Node
		if err := proto.Unmarshal([]byte(b), &n); err != nil {
			return "", fmt.Errorf("testsfu: node %s: %w", id, err)
		}
		if n.GetRegion() == NodeRegion(i) {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("testsfu: %d nodes registered in region %s: %v", len(found), NodeRegion(i), found)
	}
	return livekit.NodeID(found[0]), nil
}

// RoomNode is the index of the node hosting room, as livekit-server's
// routing records it, or an error wrapping ErrNoRoom.
func (c *Cluster) RoomNode(ctx context.Context, room string) (int, error) {
	id, err := c.rc.HGet(ctx, redisRoomNodeKey, room).Result()
	if errors.Is(err, redis.Nil) {
		return -1, fmt.Errorf("%w: %s", ErrNoRoom, room)
	}
	if err != nil {
		return -1, fmt.Errorf("testsfu: room %s: %w", room, err)
	}
	for i := range c.Nodes {
		if nid, err := c.NodeID(ctx, i); err == nil && string(nid) == id {
			return i, nil
		}
	}
	return -1, fmt.Errorf("testsfu: room %s is on %s, none of the cluster's running nodes", room, id)
}

// PlaceRoom creates room on node i (through node i's admin API), so the
// participants who join it later, through any node, are hosted there. A
// room otherwise goes to a node livekit-server picks at random.
func (c *Cluster) PlaceRoom(ctx context.Context, room string, i int) error {
	id, err := c.NodeID(ctx, i)
	if err != nil {
		return err
	}
	s := c.Nodes[i]
	_, err = lksdk.NewRoomServiceClient(s.HTTPURL(), s.APIKey, s.APISecret).
		CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room, NodeId: string(id)})
	if err != nil {
		return fmt.Errorf("testsfu: create room %s on %s: %w", room, NodeRegion(i), err)
	}
	return nil
}

// Close stops every node, then redis-server (nodes unregister from it as
// they stop). Idempotent.
func (c *Cluster) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	for _, s := range c.Nodes {
		errs = append(errs, s.Close())
	}
	errs = append(errs, c.rc.Close(), c.Redis.Close())
	return errors.Join(errs...)
}
