// Package testsfu starts a real LiveKit SFU on loopback for a test and
// hides which build it is: the embedded one (session/localsfu, compiled
// into the test binary with this module's pion versions) or the released
// livekit-server v1.13.5 binary (its own go.mod, the build users run),
// started as a child process. End-to-end tests run against both, because
// the two differ (pion/sctp among others) and users run the released one.
package testsfu

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/session/localsfu"
	"github.com/livekit/protocol/auth"
)

// Kind is a build of livekit-server.
type Kind int

const (
	// Embedded is session/localsfu: livekit-server v1.13.5 compiled into
	// the test binary with this module's (newer) pion modules.
	Embedded Kind = iota
	// Released is the livekit-server v1.13.5 binary built from its own
	// go.mod, run as a child process.
	Released
)

// Kinds lists every build, in the order tests run them.
var Kinds = []Kind{Embedded, Released}

func (k Kind) String() string {
	switch k {
	case Embedded:
		return "embedded"
	case Released:
		return "released"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Options tunes a server. The zero value is the server's defaults with
// data tracks on and fresh ports and keys.
type Options struct {
	// DisableDataTracks turns enable_data_tracks off.
	DisableDataTracks bool
	// DisableDataBlobs turns enable_participant_data_blob off (the
	// server's default; testsfu turns it on, as localsfu does).
	DisableDataBlobs bool
	// DataTrackTargetLatency is rtc.datachannel_data_track_target_latency:
	// how much queueing toward a data-track subscriber the SFU allows before
	// it sheds packets. 0 keeps the server's default (100 ms).
	DataTrackTargetLatency time.Duration
	// APIKey and APISecret; generated when empty.
	APIKey, APISecret string
	// Port (signalling/HTTP) and RTCPort (the single UDP port); 0 picks a
	// free one.
	Port, RTCPort int
	// Redis and Region make the server one node of a multi-node
	// deployment (see Cluster); empty for a single node.
	Redis, Region string
	// TURN lists TURN servers the SFU offers its clients (internal/relay
	// is one on loopback).
	TURN []localsfu.TURN
}

// Server is a running (or stopped, awaiting Restart) SFU. Its address and
// keys stay the same across Stop and Restart.
type Server struct {
	URL       string // ws://127.0.0.1:<Port>
	APIKey    string
	APISecret string
	Port      int
	RTCPort   int

	kind     Kind
	opts     Options
	embedded *localsfu.Server
	released *child
	dir      string // the released server's config and log; removed by Close
	closed   bool
}

// Kind says which build this is.
func (s *Server) Kind() Kind { return s.kind }

// HTTPURL is the server's address for the admin (Twirp) API.
func (s *Server) HTTPURL() string { return "http" + strings.TrimPrefix(s.URL, "ws") }

// Start starts a server of the given kind and returns once it accepts
// connections. The caller owns it and must Close it; tests use StartT.
// For Released it fails with an error wrapping ErrReleasedUnavailable when
// the binary cannot be had.
func Start(ctx context.Context, kind Kind, opts Options) (*Server, error) {
	if opts.APIKey == "" || opts.APISecret == "" {
		key, secret := localsfu.GenerateKeys()
		opts.APIKey = cmp.Or(opts.APIKey, key)
		opts.APISecret = cmp.Or(opts.APISecret, secret)
	}
	s := &Server{kind: kind, opts: opts, APIKey: opts.APIKey, APISecret: opts.APISecret}
	switch kind {
	case Embedded:
		if err := s.startEmbedded(ctx); err != nil {
			return nil, err
		}
	case Released:
		bin, err := ReleasedBinary()
		if err != nil {
			return nil, err
		}
		if s.dir, err = os.MkdirTemp("", "dttui-sfu-"); err != nil {
			return nil, fmt.Errorf("testsfu: %w", err)
		}
		if s.released, err = startChild(ctx, bin, s.dir, &s.opts); err != nil {
			_ = os.RemoveAll(s.dir)
			return nil, err
		}
	default:
		return nil, fmt.Errorf("testsfu: unknown kind %v", kind)
	}
	s.opts.Port, s.opts.RTCPort = s.ports()
	s.Port, s.RTCPort = s.opts.Port, s.opts.RTCPort
	s.URL = fmt.Sprintf("ws://127.0.0.1:%d", s.Port)
	return s, nil
}

// StartT starts a server for one test: the released kind is skipped (or
// fails, under DTTUI_REQUIRE_RELEASED_SFU=1) when its binary cannot be had,
// and the server is closed, its process killed, when the test ends. If the
// test failed, the tail of the released server's log is logged.
func StartT(tb testing.TB, kind Kind, opts Options) *Server {
	tb.Helper()
	Require(tb, kind)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Start(ctx, kind, opts)
	if err != nil {
		tb.Fatalf("%s SFU: %v", kind, err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			s.LogTail(tb, 40)
		}
		if err := s.Close(); err != nil {
			tb.Errorf("%s SFU: close: %v", kind, err)
		}
	})
	return s
}

func (s *Server) startEmbedded(ctx context.Context) error {
	srv, err := localsfu.Start(ctx, localsfu.Options{
		Port:                   s.opts.Port,
		RTCPort:                s.opts.RTCPort,
		DisableDataTracks:      s.opts.DisableDataTracks,
		DisableDataBlobs:       s.opts.DisableDataBlobs,
		APIKey:                 s.opts.APIKey,
		APISecret:              s.opts.APISecret,
		DataTrackTargetLatency: s.opts.DataTrackTargetLatency,
		Redis:                  s.opts.Redis,
		Region:                 s.opts.Region,
		TURN:                   s.opts.TURN,
	})
	if err != nil {
		return err
	}
	s.embedded = srv
	return nil
}

func (s *Server) ports() (port, rtcPort int) {
	if s.embedded != nil {
		return s.embedded.Port, s.embedded.RTCPort
	}
	return s.released.opts.Port, s.released.opts.RTCPort
}

// Stop stops the server, dropping every participant at once, and waits
// until its ports are free. A stopped server can Restart.
func (s *Server) Stop() error {
	switch {
	case s.embedded != nil:
		err := s.embedded.Close()
		s.embedded = nil
		return err
	case s.released != nil:
		err := s.released.stop()
		s.released = nil
		return err
	}
	return nil
}

// Restart starts the server again on the same ports with the same keys
// (stopping it first if it runs), so clients reconnect to the same URL.
func (s *Server) Restart(ctx context.Context) error {
	if s.closed {
		return fmt.Errorf("testsfu: restart after Close")
	}
	if err := s.Stop(); err != nil {
		return err
	}
	if s.kind == Embedded {
		return s.startEmbedded(ctx)
	}
	bin, err := ReleasedBinary()
	if err != nil {
		return err
	}
	s.released, err = startChild(ctx, bin, s.dir, &s.opts)
	return err
}

// Close stops the server for good and removes its files. Idempotent.
func (s *Server) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.Stop()
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
	return err
}

// LogPath is the file that holds the released server's stdout and stderr
// (every run, restarts appended) until Close; "" for the embedded server,
// which logs through the process-wide library loggers instead.
func (s *Server) LogPath() string {
	if s.dir == "" {
		return ""
	}
	return filepath.Join(s.dir, logFile)
}

// LogTail logs the last n lines of the released server's output.
func (s *Server) LogTail(tb testing.TB, n int) {
	tb.Helper()
	if s.LogPath() == "" {
		return
	}
	b, err := os.ReadFile(s.LogPath())
	if err != nil {
		tb.Logf("released SFU log: %v", err)
		return
	}
	tb.Logf("the released SFU's log (%s) ends:\n%s", s.LogPath(), lastLines(string(b), n))
}

// Token mints a join token for identity in room, with every grant a data
// track test needs (publish and subscribe data). It expires in an hour.
func (s *Server) Token(room, identity string) (string, error) {
	yes := true
	return auth.NewAccessToken(s.APIKey, s.APISecret).
		SetIdentity(identity).
		SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room, CanPublishData: &yes, CanSubscribe: &yes}).
		ToJWT()
}

// Run runs f once per build, as subtests (or sub-benchmarks) named
// "embedded" and "released". The released one is skipped (or fails under
// DTTUI_REQUIRE_RELEASED_SFU=1) when the binary cannot be had.
func Run[T interface {
	testing.TB
	Run(string, func(T)) bool
}](tb T, f func(tb T, kind Kind)) {
	tb.Helper()
	for _, k := range Kinds {
		tb.Run(k.String(), func(tb T) {
			Require(tb, k)
			f(tb, k)
		})
	}
}

// RequireEnv, set to 1, turns a missing released binary from a skip into a
// failure. .ci/run sets it, so CI can never pass by skipping.
const RequireEnv = "DTTUI_REQUIRE_RELEASED_SFU"

// Require skips tb when kind cannot run here, or fails it when RequireEnv
// says it must.
func Require(tb testing.TB, kind Kind) {
	tb.Helper()
	if kind != Released {
		return
	}
	if _, err := ReleasedBinary(); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("%v (%s=1)", err, RequireEnv)
		}
		tb.Skipf("skipping the released-SFU variant: %v. Run .ci/run, or `GOFLAGS= GOBIN=%s go install %s@%s`, or set %s to a livekit-server %s binary",
			err, defaultBinDir(), releasedPackage, ReleasedVersion, BinaryEnv, ReleasedVersion)
	}
}
