// Package localsfu runs LiveKit's own SFU (livekit-server v1.13.5) inside
// this process, bound to loopback, so dttui works with no LiveKit account
// and the end-to-end tests talk to the real server rather than a mock. The
// rest of dttui sees only a URL and a key pair.
package localsfu

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dttui/dttui/internal/freeport"
	"github.com/livekit/livekit-server/pkg/config"
	"github.com/livekit/livekit-server/pkg/routing"
	"github.com/livekit/livekit-server/pkg/service"
	"github.com/livekit/livekit-server/pkg/telemetry/prometheus"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// Options tunes the embedded server. The zero value is what dttui runs.
type Options struct {
	// Port is the signalling/HTTP port; 0 picks a free one. Tests that
	// restart the server pass the previous Port to keep the URL.
	Port int
	// RTCPort is the single UDP port for media and data; 0 picks a free one.
	RTCPort int
	// DisableDataTracks turns off enable_data_tracks, to test how dttui
	// fails against a server without data tracks.
	DisableDataTracks bool
	// DisableDataBlobs leaves enable_participant_data_blob off, as a
	// server's default is, to test storing a schema against it.
	DisableDataBlobs bool
	// APIKey and APISecret; generated when empty.
	APIKey, APISecret string
	// DataTrackTargetLatency is how much queueing the SFU allows toward a
	// data-track subscriber before it sheds packets; 0 keeps the server's
	// default (100 ms). Tests that need whole 1 MiB frames on a loaded
	// machine raise it.
	DataTrackTargetLatency time.Duration
	// Redis is the address (host:port) of a Redis that several servers
	// share to form one multi-node deployment; empty runs a single node
	// with its state in memory (what dttui runs).
	Redis string
	// Region names the node in a multi-node deployment (rooms are still
	// placed on any node: the selector stays "any").
	Region string
	// TURN lists TURN servers (UDP) the SFU offers its clients in the join
	// response, as a deployment behind firewalls does.
	TURN []TURN
}

// TURN is a TURN server over UDP with static credentials.
type TURN struct {
	Host                 string
	Port                 int
	Username, Credential string
}

// Server is a running embedded SFU.
type Server struct {
	URL       string // ws://127.0.0.1:<port>
	APIKey    string
	APISecret string
	Port      int
	RTCPort   int

	srv  *service.LivekitServer
	done chan error

	closeOnce sync.Once
	closeErr  error
}

// ErrPortInUse is a start on a signal port something else listens on.
var ErrPortInUse = errors.New("localsfu: port in use")

// startMu serialises starts: livekit-server's start-up touches
// process-wide state (metrics registry, node identity).
var startMu sync.Mutex

// Start launches the SFU and returns once it accepts connections on its
// port, or an error if it cannot within ctx.
func Start(ctx context.Context, opts Options) (*Server, error) {
	startMu.Lock()
	defer startMu.Unlock()

	var err error
	if opts.Port == 0 {
		if opts.Port, err = freeport.TCP(); err != nil {
			return nil, fmt.Errorf("localsfu: %w", err)
		}
	} else if err := portFree(opts.Port); err != nil {
		// Said now: the server would fail the same way, but only after
		// its whole start-up.
		return nil, err
	}
	if opts.RTCPort == 0 {
		if opts.RTCPort, err = freeport.UDP(); err != nil {
			return nil, fmt.Errorf("localsfu: %w", err)
		}
	}
	if opts.APIKey == "" || opts.APISecret == "" {
		key, secret := GenerateKeys()
		opts.APIKey = cmp.Or(opts.APIKey, key)
		opts.APISecret = cmp.Or(opts.APISecret, secret)
	}

	conf, err := config.NewConfig(ConfigYAML(opts), true, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("localsfu: config: %w", err)
	}
	conf.Keys = map[string]string{opts.APIKey: opts.APISecret}
	if err := conf.ValidateKeys(); err != nil {
		return nil, fmt.Errorf("localsfu: keys: %w", err)
	}

	node, err := routing.NewLocalNode(conf)
	if err != nil {
		return nil, fmt.Errorf("localsfu: node: %w", err)
	}
	if err := prometheus.Init(string(node.NodeID()), node.NodeType()); err != nil {
		return nil, fmt.Errorf("localsfu: metrics: %w", err)
	}
	srv, err := service.InitializeServer(conf, node)
	if err != nil {
		return nil, fmt.Errorf("localsfu: init: %w", err)
	}

	s := &Server{
		URL:       fmt.Sprintf("ws://127.0.0.1:%d", opts.Port),
		APIKey:    opts.APIKey,
		APISecret: opts.APISecret,
		Port:      opts.Port,
		RTCPort:   opts.RTCPort,
		srv:       srv,
		done:      make(chan error, 1),
	}
	// Start blocks until the server stops; its owner is Close.
	go func() { s.done <- srv.Start() }()

	if err := waitReady(ctx, srv, opts.Port, s.done); err != nil {
		var exited *exitError
		if !errors.As(err, &exited) {
			stopStarting(srv, s.done)
		}
		if errors.Is(err, syscall.EADDRINUSE) {
			// Taken between portFree and the server's own listen.
			return nil, fmt.Errorf("%w: 127.0.0.1:%d (%v)", ErrPortInUse, opts.Port, err)
		}
		return nil, fmt.Errorf("localsfu: %w", err)
	}
	return s, nil
}

// portFree checks that the signal port can be listened on.
func portFree(port int) error {
	if port < 0 || port > 65535 {
		return fmt.Errorf("localsfu: port %d out of range", port)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: 127.0.0.1:%d", ErrPortInUse, port)
	}
	if err != nil {
		return fmt.Errorf("localsfu: %w", err)
	}
	return l.Close()
}

// exitError is the server having exited during start-up: there is
// nothing left to stop.
type exitError struct{ err error }

func (e *exitError) Error() string { return fmt.Sprintf("server exited during start-up: %v", e.err) }
func (e *exitError) Unwrap() error { return e.err }

// stopStarting stops a server that did not become ready in time. Stop is
// a no-op until the server calls itself running, so wait for that (or for
// it to exit) first; otherwise it would run on, unowned.
func stopStarting(srv *service.LivekitServer, done <-chan error) {
	deadline := time.After(10 * time.Second)
	for !srv.IsRunning() {
		select {
		case <-done:
			return
		case <-deadline:
			return // stuck in start-up; nothing more we can do
		case <-time.After(20 * time.Millisecond):
		}
	}
	srv.Stop(true)
	select {
	case <-done:
	case <-deadline:
	}
}

// Drain waits, within ctx, until no participant is left in any room: a
// client that has just sent its leave is then known to have left, rather
// than dropped by Close (ROOM_MANAGER_STOP). It returns ctx's error if
// participants remain.
func (s *Server) Drain(ctx context.Context) error {
	rc := lksdk.NewRoomServiceClient("http"+strings.TrimPrefix(s.URL, "ws"), s.APIKey, s.APISecret)
	for {
		rooms, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
		if err == nil {
			left := 0
			for _, r := range rooms.GetRooms() {
				if ps, err := rc.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: r.GetName()}); err == nil {
					left += len(ps.GetParticipants())
				}
			}
			if left == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops the server at once (participants are dropped, not drained)
// and waits for it to release its ports.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.srv.Stop(true)
		select {
		case err := <-s.done:
			s.closeErr = err
		case <-time.After(10 * time.Second):
			s.closeErr = errors.New("localsfu: server did not stop within 10s")
		}
	})
	return s.closeErr
}

// ConfigYAML is the server configuration for opts, without the keys: every
// listener on loopback (signalling, and the RTC UDP port, which would
// otherwise listen on every interface), no TCP ICE, room auto-creation. The
// tests run the released binary with the same configuration.
func ConfigYAML(o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "port: %d\n", o.Port)
	b.WriteString("bind_addresses: [\"127.0.0.1\"]\n")
	fmt.Fprintf(&b, "enable_data_tracks: %t\n", !o.DisableDataTracks)
	// Typed tracks store their schemas as data blobs (off by default in
	// livekit-server).
	fmt.Fprintf(&b, "enable_participant_data_blob: %t\n", !o.DisableDataBlobs)
	b.WriteString("rtc:\n")
	fmt.Fprintf(&b, "  udp_port: %d\n", o.RTCPort)
	// ICE over TCP would need a second port; loopback UDP always works.
	b.WriteString("  tcp_port: 0\n")
	b.WriteString("  use_external_ip: false\n")
	b.WriteString("  node_ip: 127.0.0.1\n")
	b.WriteString("  enable_loopback_candidate: true\n")
	// The RTC port is bound on every address that passes this filter: on
	// loopback only, nothing on the network can reach the SFU (without it,
	// the port listened on every interface's addresses).
	b.WriteString("  ips:\n    includes: [\"127.0.0.0/8\", \"::1/128\"]\n")
	if o.DataTrackTargetLatency > 0 {
		fmt.Fprintf(&b, "  datachannel_data_track_target_latency: %s\n", o.DataTrackTargetLatency)
	}
	if len(o.TURN) > 0 {
		b.WriteString("  turn_servers:\n")
		for _, t := range o.TURN {
			fmt.Fprintf(&b, "    - host: %q\n      port: %d\n      protocol: udp\n      username: %q\n      credential: %q\n",
				t.Host, t.Port, t.Username, t.Credential)
		}
	}
	b.WriteString("room:\n  auto_create: true\n  empty_timeout: 300\n")
	if o.Redis != "" {
		fmt.Fprintf(&b, "redis:\n  address: %q\n", o.Redis)
	}
	if o.Region != "" {
		fmt.Fprintf(&b, "region: %q\n", o.Region)
	}
	return b.String()
}

// waitReady waits for the port to accept and for the server to call itself
// running: Stop is a no-op before that, so an early Close would leak it.
func waitReady(ctx context.Context, srv *service.LivekitServer, port int, done <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			if srv.IsRunning() {
				return nil
			}
		}
		select {
		case err := <-done:
			return &exitError{err}
		case <-ctx.Done():
			return fmt.Errorf("server not listening on %s: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// GenerateKeys returns a fresh API key and secret, as Start makes when
// none are given. Callers that must redact the secret from logs before the
// server starts generate them first.
func GenerateKeys() (key, secret string) {
	// livekit-server rejects secrets shorter than 32 characters.
	return "dttui" + randomHex(4), randomHex(24)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
