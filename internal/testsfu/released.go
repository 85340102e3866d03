package testsfu

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dttui/dttui/internal/freeport"
	"github.com/dttui/dttui/session/localsfu"
)

const (
	// ReleasedVersion is the livekit-server release the tests run: the
	// newest that builds from the module proxy.
	ReleasedVersion = "v1.13.5"
	// BinaryEnv names a livekit-server binary to use instead of the
	// default path. .ci/run sets it.
	BinaryEnv = "DTTUI_LIVEKIT_SERVER"

	releasedModule  = "github.com/livekit/livekit-server"
	releasedPackage = releasedModule + "/cmd/server"
	logFile         = "server.log"

	runningGrace = 150 * time.Millisecond
	stopGrace    = 5 * time.Second
)

// ErrReleasedUnavailable wraps every reason the released binary cannot be
// had (not built and no go toolchain or network to build it, a wrong
// version at $DTTUI_LIVEKIT_SERVER).
var ErrReleasedUnavailable = errors.New("released livekit-server " + ReleasedVersion + " unavailable")

// DefaultBinary is where .ci/run and on-demand builds put the released
// binary: ${XDG_CACHE_HOME:-$HOME/.cache}/dttui-test/livekit-server-v1.13.5/bin/server.
func DefaultBinary() string { return filepath.Join(defaultBinDir(), "server") }

func defaultDir() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "dttui-test", "livekit-server-"+ReleasedVersion)
}

func defaultBinDir() string { return filepath.Join(defaultDir(), "bin") }

var releasedBin struct {
	once sync.Once
	path string
	err  error
}

// ReleasedBinary finds the released livekit-server: $DTTUI_LIVEKIT_SERVER,
// else DefaultBinary, else it builds it once into DefaultBinary with
// `go install` (its own go.mod) under a file lock, so test binaries of
// several packages running at once build it once. The result is kept for
// the life of the process. Errors wrap ErrReleasedUnavailable.
func ReleasedBinary() (string, error) {
	releasedBin.once.Do(func() {
		releasedBin.path, releasedBin.err = findReleased()
		if releasedBin.err != nil {
			releasedBin.err = fmt.Errorf("%w: %w", ErrReleasedUnavailable, releasedBin.err)
		}
	})
	return releasedBin.path, releasedBin.err
}

func findReleased() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		return p, checkReleased(p)
	}
	p := DefaultBinary()
	if _, err := os.Stat(p); err == nil {
		return p, checkReleased(p)
	}
	if err := buildReleased(); err != nil {
		return "", err
	}
	return p, checkReleased(p)
}

// checkReleased reads the binary's embedded module information rather than
// running it: it must be livekit-server's cmd/server at ReleasedVersion.
func checkReleased(path string) error {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if bi.Path != releasedPackage || bi.Main.Version != ReleasedVersion {
		return fmt.Errorf("%s is %s %s, want %s %s", path, bi.Path, bi.Main.Version, releasedPackage, ReleasedVersion)
	}
	return nil
}

// buildReleased runs `go install livekit-server@v1.13.5` into a temporary
// GOBIN and renames the result into place, so no one ever runs a partly
// written binary; the lock makes concurrent test binaries wait for one
// build instead of starting their own.
func buildReleased() error {
	dir := defaultDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(dir+".lock", 20*time.Minute)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(DefaultBinary()); err == nil {
		return nil // built by whoever held the lock
	}
	gobin, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(gobin)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", releasedPackage+"@"+ReleasedVersion)
	cmd.Dir = dir // outside any module: the install uses livekit-server's own go.mod
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOBIN="+gobin, "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go install %s@%s: %v\n%s", releasedPackage, ReleasedVersion, err, lastLines(out.String(), 20))
	}
	if err := os.MkdirAll(defaultBinDir(), 0o755); err != nil {
		return err
	}
	return os.Rename(filepath.Join(gobin, "server"), DefaultBinary())
}

// child is one run of the released binary.
type child struct {
	*proc
	opts Options
}

// errAddrInUse says a port picked as free was taken before the server
// bound it; startChild then picks others.
var errAddrInUse = errors.New("address already in use")

// startChild starts the binary with opts, picking free ports for those
// that are 0 (and writing them back), retrying with new ones if a picked
// port was taken in the meantime.
func startChild(ctx context.Context, bin, dir string, opts *Options) (*child, error) {
	autoPort, autoRTC := opts.Port == 0, opts.RTCPort == 0
	for attempt := 1; ; attempt++ {
		var err error
		if autoPort {
			if opts.Port, err = freeport.TCP(); err != nil {
				return nil, fmt.Errorf("testsfu: %w", err)
			}
		}
		if autoRTC {
			if opts.RTCPort, err = freeport.UDP(); err != nil {
				return nil, fmt.Errorf("testsfu: %w", err)
			}
		}
		c, err := runChild(ctx, bin, dir, *opts)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errAddrInUse) || !(autoPort || autoRTC) || attempt == 3 {
			return nil, err
		}
	}
}

// childConfig is the released server's configuration: the embedded
// server's (so both builds are set up alike), with its logging at info.
// The keys go in the environment, not in a file.
func childConfig(o Options) string {
	return localsfu.ConfigYAML(localsfu.Options{
		Port:                   o.Port,
		RTCPort:                o.RTCPort,
		DisableDataTracks:      o.DisableDataTracks,
		DisableDataBlobs:       o.DisableDataBlobs,
		DataTrackTargetLatency: o.DataTrackTargetLatency,
		Redis:                  o.Redis,
		Region:                 o.Region,
		TURN:                   o.TURN,
	}) + "logging:\n  level: info\n"
}

func runChild(ctx context.Context, bin, dir string, o Options) (*child, error) {
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(childConfig(o)), 0o600); err != nil {
		return nil, fmt.Errorf("testsfu: %w", err)
	}
	cmd := exec.Command(bin, "--config", cfg)
	// A clean environment: nothing of the caller's (LIVEKIT_CONFIG,
	// NODE_IP, UDP_PORT... are read by the server) leaks into the test.
	cmd.Env = []string{"LIVEKIT_KEYS=" + o.APIKey + `: "` + o.APISecret + `"`, "HOME=" + dir, "TMPDIR=" + dir}
	cmd.Dir = dir
	p, err := startProc("released server", cmd, filepath.Join(dir, logFile),
		fmt.Sprintf("%s on port %d, UDP %d", bin, o.Port, o.RTCPort))
	if err != nil {
		return nil, err
	}
	c := &child{proc: p, opts: o}
	if err := c.waitReady(ctx); err != nil {
		_ = c.stop()
		return nil, err
	}
	return c, nil
}

// waitReady polls the server's health endpoint, which answers only once
// every listener (the RTC UDP mux is set up before it) is bound.
func (c *child) waitReady(ctx context.Context) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/", c.opts.Port)
	client := &http.Client{Timeout: time.Second}
	err := c.proc.waitReady(ctx, 30*time.Second, url, func(ctx context.Context) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		// Ours, not a stray server on a reused port, if our log says so.
		return resp.StatusCode == http.StatusOK && strings.Contains(c.tail(50), "starting LiveKit server")
	})
	if err == nil {
		// livekit-server calls itself running 100 ms after it starts
		// serving and ignores stop signals until then; a test that stops
		// it at once would otherwise wait for the SIGKILL fallback.
		time.Sleep(runningGrace)
	}
	return err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
