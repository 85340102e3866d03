package testsfu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/freeport"
	"github.com/redis/go-redis/v9"
)

const (
	// RedisBinary is the Redis server the multi-node tests run, from
	// $PATH (Debian's redis-server package; .ci/run installs it).
	RedisBinary = "redis-server"
	// RequireRedisEnv, set to 1, turns a missing redis-server from a skip
	// into a failure. .ci/run sets it, so CI can never pass by skipping
	// the multi-node tests.
	RequireRedisEnv = "DTTUI_REQUIRE_REDIS"

	redisLogFile = "redis.log"
)

// ErrRedisUnavailable is a multi-node test on a machine without
// redis-server.
var ErrRedisUnavailable = errors.New(RedisBinary + " unavailable")

// RequireRedis skips tb when redis-server is not installed, or fails it
// when RequireRedisEnv says it must run.
func RequireRedis(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath(RedisBinary); err != nil {
		if os.Getenv(RequireRedisEnv) == "1" {
			tb.Fatalf("%v: %v (%s=1)", ErrRedisUnavailable, err, RequireRedisEnv)
		}
		tb.Skipf("skipping a multi-node test: %v: %v. Run .ci/run, or `apt-get install redis-server`", ErrRedisUnavailable, err)
	}
}

// Redis is a redis-server for one test: on loopback, on a port of its
// own, keeping nothing on disk, killed with the test binary.
type Redis struct {
	Addr string // 127.0.0.1:<Port>
	Port int

	dir string // its working directory and log; removed by Close
	p   *proc
}

// StartRedis starts redis-server and returns once it answers PING. The
// caller must Close it. Errors wrap ErrRedisUnavailable when there is no
// redis-server.
func StartRedis(ctx context.Context) (*Redis, error) {
	bin, err := exec.LookPath(RedisBinary)
	if err != nil {
		return nil, fmt.Errorf("testsfu: %w: %w", ErrRedisUnavailable, err)
	}
	dir, err := os.MkdirTemp("", "dttui-redis-")
	if err != nil {
		return nil, fmt.Errorf("testsfu: %w", err)
	}
	for attempt := 1; ; attempt++ {
		r, err := startRedis(ctx, bin, dir)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, errAddrInUse) || attempt == 3 {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
}

func startRedis(ctx context.Context, bin, dir string) (*Redis, error) {
	port, err := freeport.TCP()
	if err != nil {
		return nil, fmt.Errorf("testsfu: %w", err)
	}
	// The whole configuration on the command line: loopback only (the
	// default binds every interface), no snapshots or append-only file,
	// its files (none expected) in dir, its log on stdout.
	cmd := exec.Command(bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--protected-mode", "yes",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "", "--daemonize", "no")
	cmd.Env = []string{"HOME=" + dir}
	cmd.Dir = dir
	p, err := startProc(RedisBinary, cmd, filepath.Join(dir, redisLogFile), fmt.Sprintf("%s on port %d", bin, port))
	if err != nil {
		return nil, err
	}
	r := &Redis{Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: port, dir: dir, p: p}
	if err := r.waitReady(ctx); err != nil {
		_ = p.stop()
		return nil, err
	}
	return r, nil
}

// waitReady pings until redis-server answers, and checks from its log
// that the one answering is ours.
func (r *Redis) waitReady(ctx context.Context) error {
	rc := r.Client()
	defer rc.Close()
	return r.p.waitReady(ctx, 20*time.Second, r.Addr, func(ctx context.Context) bool {
		return rc.Ping(ctx).Err() == nil && strings.Contains(r.p.tail(50), "Ready to accept connections")
	})
}

// Client is a new client of this Redis; the caller closes it.
func (r *Redis) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: r.Addr, DialTimeout: time.Second, MaxRetries: -1})
}

// Close stops redis-server and removes its directory. Idempotent.
func (r *Redis) Close() error {
	if r.p == nil {
		return nil
	}
	err := r.p.stop()
	r.p = nil
	_ = os.RemoveAll(r.dir)
	return err
}

// LogTail logs the last n lines of redis-server's log.
func (r *Redis) LogTail(tb testing.TB, n int) {
	tb.Helper()
	if r.p != nil {
		tb.Logf("redis-server's log ends:\n%s", r.p.tail(n))
	}
}
