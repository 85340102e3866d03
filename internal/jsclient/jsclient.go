// Package jsclient drives a real livekit-client (the npm package, 2.23.0)
// in headless Chromium from Go tests, so dttui's frames can be checked by
// the SDK most users run, and a browser publisher can feed dttui.
//
// Each Client is one participant: a node process running
// interop/driver.mjs, which runs Chromium (Debian's /usr/bin/chromium, via
// playwright-core) with one page that loads livekit-client's ESM build
// from interop/node_modules over 127.0.0.1. Commands and answers are JSON
// lines, described below.
//
// # Protocol
//
// Each request is one line {"id": N, "cmd": "...", ...fields}; its answer
// is {"id": N, "ok": true, "result": {...}} or {"id": N, "ok": false,
// "error": "...", "errorName": "...", "errorReason": "..."} (errorName and
// errorReason are livekit-client's error class and reason, e.g.
// DataTrackPublishError / DuplicateName). Lines without an id are events
// {"event": "...", ...}. Requests run concurrently. u64 values (user
// timestamps, frame indexes) travel as decimal strings.
//
//	join        url, token, e2eePassphrase? → identity, participantSid, room, e2ee, serverVersion
//	publish     name → sid, name, pubHandle, usesE2ee
//	unpublish   name
//	push        name, count, rate (frames/s, 0 = back to back), size (Pattern
//	            payloads) or payloadHex (the same bytes each frame),
//	            userTimestamp ("now" or a decimal base), userTimestampStep,
//	            flush ("end" (default), "each", "none")
//	            → attempted, ok, failed, failures {reason: n}, firstError,
//	              firstIndex, elapsedMs
//	subscribe   mode ("frames": an event per frame; "counters": counters
//	            only; "count": frames, bytes and arrival times only),
//	            bufferSize (livekit-client's stream buffer, 1024),
//	            hexLimit (frames up to this size carry their bytes, 64),
//	            verifyPattern → tracks; subscribes to every remote data track
//	            now and later
//	unsubscribe sid → that track's counters
//	counters    → tracks [...], log {decryptErrors, depacketizeErrors,
//	            partialsEvicted, streamFull, warnings, errors}, encryptionErrors
//	stats       → connectionState, identity, e2ee, local [...], remote [...],
//	            log, lastLogs, encryptionErrors
//	simulate    scenario ("full-reconnect", "signal-reconnect", …):
//	            livekit-client's Room.simulateScenario
//	dataChannels → channels {label: {messagesSent, bytesSent,
//	            messagesReceived, bytesReceived}}: Chromium's
//	            RTCDataChannelStats, summed over both PeerConnections
//	leave, quit
//
// Events: ready {chromium, livekitClient, pid}; trackPublished,
// trackUnpublished, subscribed, subscribeFailed, streamEnded, streamError
// {sid, name, publisher, usesE2ee, error?}; frame {sid, name, publisher,
// seq, len, sha256, hex?, userTimestamp?, arrivalMs}; encryptionError,
// pageError {error}; reconnecting, reconnected; disconnected {reason};
// browserClosed.
package jsclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// RequireEnv, set to 1, turns a missing Chromium or interop/node_modules
	// from a skip into a failure. .ci/run sets it.
	RequireEnv = "DTTUI_REQUIRE_JS"
	// ChromiumEnv overrides DefaultChromium.
	ChromiumEnv = "DTTUI_CHROMIUM"
	// DefaultChromium is Debian's chromium package.
	DefaultChromium = "/usr/bin/chromium"
	// LivekitClientVersion is the livekit-client interop/package.json pins.
	LivekitClientVersion = "2.23.0"
)

// interopDir is the repository's interop/ directory (found from this
// source file, so it does not depend on the test's working directory).
func interopDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "interop")
}

func chromiumPath() string {
	if p := os.Getenv(ChromiumEnv); p != "" {
		return p
	}
	return DefaultChromium
}

// Available says why the harness cannot run here, or nil.
func Available() error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("node not found: %w", err)
	}
	if _, err := os.Stat(chromiumPath()); err != nil {
		return fmt.Errorf("chromium not found (%w): apt-get install chromium, or set %s", err, ChromiumEnv)
	}
	pkg := filepath.Join(interopDir(), "node_modules", "livekit-client", "package.json")
	b, err := os.ReadFile(pkg)
	if err != nil {
		return fmt.Errorf("livekit-client not installed (%w): run `npm ci` in interop/", err)
	}
	var v struct{ Version string }
	if json.Unmarshal(b, &v) != nil || v.Version != LivekitClientVersion {
		return fmt.Errorf("interop/node_modules has livekit-client %q, want %s: run `npm ci` in interop/", v.Version, LivekitClientVersion)
	}
	if _, err := os.Stat(filepath.Join(interopDir(), "node_modules", "playwright-core")); err != nil {
		return fmt.Errorf("playwright-core not installed (%w): run `npm ci` in interop/", err)
	}
	return nil
}

// Require skips tb when the harness cannot run here, or fails it under
// DTTUI_REQUIRE_JS=1.
func Require(tb testing.TB) {
	tb.Helper()
	if err := Available(); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("livekit-client harness: %v (%s=1)", err, RequireEnv)
		}
		tb.Skipf("skipping the livekit-client interop test: %v", err)
	}
}

// Options configures a Client.
type Options struct {
	// Name labels the client's lines in the test log.
	Name string
}

// Client is one livekit-client participant in its own Chromium.
type Client struct {
	tb   testing.TB
	name string
	cmd  *exec.Cmd
	in   *os.File // the driver's stdin
	pid  int

	writeMu sync.Mutex
	nextID  int

	mu      sync.Mutex
	pending map[int]chan response
	events  []Event
	frames  []Frame
	changed chan struct{} // closed and replaced on every event
	ready   Event

	exited     chan struct{} // closed once the node process is reaped
	readerDone chan struct{} // closed once stdout hits EOF
	closeOnce  sync.Once
	closeErr   error
	logs       *lineLogger
}

type response struct {
	ID          int             `json:"id"`
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	Error       string          `json:"error"`
	ErrorName   string          `json:"errorName"`
	ErrorReason string          `json:"errorReason"`
}

// Error is a command the driver (or livekit-client) refused.
type Error struct {
	Cmd     string
	Message string
	// Name and Reason are livekit-client's error class and reason name
	// (DataTrackPublishError, DuplicateName), when it gave them.
	Name, Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("livekit-client %s: %s", e.Cmd, e.Message)
}

// ErrExited says the driver process is gone.
var ErrExited = errors.New("jsclient: driver exited")

// Start launches a participant for tb: skipped (or failed, under
// DTTUI_REQUIRE_JS=1) when Chromium or interop/node_modules is missing,
// closed when tb ends. node's and Chromium's stderr go to the test log.
func Start(tb testing.TB, opts Options) *Client {
	tb.Helper()
	Require(tb)
	c, err := start(tb, opts)
	if err != nil {
		tb.Fatalf("jsclient: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("jsclient %s: close: %v", c.name, err)
		}
	})
	return c
}

// StartAll starts one participant per Options at once (each launch takes
// about a second of Chromium start-up).
func StartAll(tb testing.TB, opts ...Options) []*Client {
	tb.Helper()
	Require(tb)
	clients := make([]*Client, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i, o := range opts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i], errs[i] = start(tb, o)
		}()
	}
	wg.Wait()
	for _, c := range clients {
		if c != nil {
			tb.Cleanup(func() {
				if err := c.Close(); err != nil {
					tb.Errorf("jsclient %s: close: %v", c.name, err)
				}
			})
		}
	}
	if err := errors.Join(errs...); err != nil {
		tb.Fatalf("jsclient: %v", err)
	}
	return clients
}

func start(tb testing.TB, opts Options) (*Client, error) {
	name := opts.Name
	if name == "" {
		name = "js"
	}
	c := &Client{
		tb: tb, name: name, pending: map[int]chan response{}, changed: make(chan struct{}),
		exited: make(chan struct{}), readerDone: make(chan struct{}),
		logs: &lineLogger{tb: tb, prefix: name + ": "},
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.cmd = exec.Command("node", "driver.mjs")
	c.cmd.Dir = interopDir()
	c.cmd.Env = append(os.Environ(), ChromiumEnv+"="+chromiumPath(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = inR, outW, c.logs
	c.cmd.SysProcAttr = driverProcAttr()
	c.cmd.WaitDelay = 5 * time.Second // a grandchild holding stderr must not hang Wait
	if err := c.cmd.Start(); err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("start node: %w", err)
	}
	inR.Close()
	outW.Close()
	c.in, c.pid = inW, c.cmd.Process.Pid
	// The reaper and the reader; Close waits for both.
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	go c.read(outR)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ev, err := c.WaitEvent(ctx, func(e Event) bool { return e.Event == "ready" })
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("driver not ready: %w", err)
	}
	c.ready = ev
	tb.Logf("jsclient %s: livekit-client %s in Chromium %s (node pid %d)", name, ev.LivekitClient, ev.Chromium, c.pid)
	return c, nil
}

// read parses the driver's stdout: answers go to their callers, events to
// the event log.
func (c *Client) read(r *os.File) {
	defer close(c.readerDone)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var probe struct {
			ID    *int   `json:"id"`
			Event string `json:"event"`
		}
		if err := json.Unmarshal(line, &probe); err != nil {
			c.logs.Write([]byte("unparsable driver line: " + string(line) + "\n"))
			continue
		}
		if probe.ID != nil {
			var resp response
			_ = json.Unmarshal(line, &resp)
			c.mu.Lock()
			ch := c.pending[resp.ID]
			delete(c.pending, resp.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- resp
			}
			continue
		}
		var ev Event
		_ = json.Unmarshal(line, &ev)
		ev.Raw = bytes.Clone(line)
		c.mu.Lock()
		if ev.Event == "frame" {
			var f Frame
			_ = json.Unmarshal(line, &f)
			c.frames = append(c.frames, f)
		} else {
			c.events = append(c.events, ev)
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

// call sends cmd with the fields of args and decodes the result into out.
func (c *Client) call(ctx context.Context, cmd string, args any, out any) error {
	fields := map[string]any{}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &fields); err != nil {
			return err
		}
	}
	ch := make(chan response, 1)
	c.writeMu.Lock()
	c.nextID++
	id := c.nextID
	fields["id"], fields["cmd"] = id, cmd
	line, _ := json.Marshal(fields)
	c.mu.Lock()
	c.pending[id] = ch
	c.mu.Unlock()
	_, err := c.in.Write(append(line, '\n'))
	c.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("jsclient %s: %w (%v)", cmd, ErrExited, err)
	}
	select {
	case resp := <-ch:
		if !resp.OK {
			return &Error{Cmd: cmd, Message: resp.Error, Name: resp.ErrorName, Reason: resp.ErrorReason}
		}
		if out != nil && len(resp.Result) > 0 {
			return json.Unmarshal(resp.Result, out)
		}
		return nil
	case <-c.readerDone:
		return fmt.Errorf("jsclient %s: %w", cmd, ErrExited)
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("jsclient %s: %w", cmd, ctx.Err())
	}
}

// JoinOptions says where to join.
type JoinOptions struct {
	URL            string `json:"url"`
	Token          string `json:"token"`
	E2EEPassphrase string `json:"e2eePassphrase,omitempty"`
	// RelayOnly connects through the TURN servers the SFU lists and
	// nothing else (iceTransportPolicy "relay").
	RelayOnly bool `json:"relayOnly,omitempty"`
}

// Joined describes the participant after Join.
type Joined struct {
	Identity       string `json:"identity"`
	ParticipantSID string `json:"participantSid"`
	Room           string `json:"room"`
	E2EE           bool   `json:"e2ee"`
	ServerVersion  string `json:"serverVersion"`
}

// Join connects the participant. With a passphrase the room uses
// livekit-client's ExternalE2EEKeyProvider and E2EE worker, so its data
// tracks are published encrypted and remote ones decrypted.
func (c *Client) Join(ctx context.Context, o JoinOptions) (Joined, error) {
	var j Joined
	err := c.call(ctx, "join", o, &j)
	return j, err
}

// TrackInfo is a data track as livekit-client describes it.
type TrackInfo struct {
	SID       string `json:"sid"`
	Name      string `json:"name"`
	Publisher string `json:"publisher"`
	PubHandle int    `json:"pubHandle"`
	UsesE2EE  bool   `json:"usesE2ee"`
}

// Publish publishes a data track (LocalParticipant.publishDataTrack).
func (c *Client) Publish(ctx context.Context, name string) (TrackInfo, error) {
	var t TrackInfo
	err := c.call(ctx, "publish", map[string]string{"name": name}, &t)
	return t, err
}

// Unpublish unpublishes a data track and waits for the SFU to confirm.
func (c *Client) Unpublish(ctx context.Context, name string) error {
	return c.call(ctx, "unpublish", map[string]string{"name": name}, nil)
}

// Flush modes for PushOptions.
const (
	FlushEnd  = "end"  // await LocalDataTrack.flush() once, after the last push (default)
	FlushEach = "each" // after every push
	FlushNone = "none"
)

// PushOptions describes a run of frames.
type PushOptions struct {
	Track string  `json:"name"`
	Count int     `json:"count"`
	Rate  float64 `json:"rate,omitempty"` // frames/s; 0 sends back to back
	// Size is the length of Pattern payloads; Payload, when set, is sent as
	// is in every frame instead.
	Size    int    `json:"size,omitempty"`
	Payload []byte `json:"-"`
	// UserTimestamp, when not 0, is the user timestamp of the first frame;
	// each next frame adds UserTimestampStep. UserTimestampNow stamps each
	// frame with Date.now() instead.
	UserTimestamp     uint64 `json:"-"`
	UserTimestampStep uint64 `json:"-"`
	UserTimestampNow  bool   `json:"-"`
	Flush             string `json:"flush,omitempty"`
	// Duration, when not 0, ends the run once it has lasted that long
	// (Count still bounds it); FlushEvery > 0 awaits flush() after every
	// FlushEvery frames.
	Duration   time.Duration `json:"-"`
	FlushEvery int           `json:"flushEvery,omitempty"`
}

// PushResult is what the pushes did. livekit-client has no frame queue:
// tryPush fails only when the track is unpublished or republishing, or the
// frame cannot be encrypted or packetized.
type PushResult struct {
	Attempted  int            `json:"attempted"`
	OK         int            `json:"ok"`
	Failed     int            `json:"failed"`
	Failures   map[string]int `json:"failures"` // by DataTrackPushFrameError reason
	FirstError string         `json:"firstError"`
	FirstIndex uint64         `json:"firstIndex"` // Pattern index of the first frame
	ElapsedMs  float64        `json:"elapsedMs"`
	// TryPushMs is the time spent awaiting tryPush, of ElapsedMs (the
	// rest: pacing, building payloads, flushes).
	TryPushMs float64 `json:"tryPushMs"`
}

// Push sends frames and returns when they are all pushed (and flushed,
// per Flush).
func (c *Client) Push(ctx context.Context, o PushOptions) (PushResult, error) {
	args := struct {
		PushOptions
		PayloadHex        string `json:"payloadHex,omitempty"`
		UserTimestamp     string `json:"userTimestamp,omitempty"`
		UserTimestampStep string `json:"userTimestampStep,omitempty"`
		DurationMs        int64  `json:"durationMs,omitempty"`
	}{PushOptions: o, DurationMs: o.Duration.Milliseconds()}
	if o.Payload != nil {
		args.PayloadHex = fmt.Sprintf("%x", o.Payload)
	}
	switch {
	case o.UserTimestampNow:
		args.UserTimestamp = "now"
	case o.UserTimestamp != 0:
		args.UserTimestamp = strconv.FormatUint(o.UserTimestamp, 10)
		args.UserTimestampStep = strconv.FormatUint(o.UserTimestampStep, 10)
	}
	var r PushResult
	err := c.call(ctx, "push", args, &r)
	return r, err
}

// SubscribeOptions says how to report received frames.
type SubscribeOptions struct {
	// Counters reports only aggregated counters (for high rates); by
	// default every frame is an event (see Frames).
	Counters bool `json:"-"`
	// CountOnly keeps only frames, bytes and arrival times (no user
	// timestamps, latency, Pattern indexes): what a benchmark charges the
	// subscriber is then livekit-client's work, not the harness's.
	CountOnly bool `json:"-"`
	// BufferSize is livekit-client's per-stream frame buffer; frames
	// beyond it are dropped by the library (log.streamFull). Default 1024.
	BufferSize int `json:"bufferSize,omitempty"`
	// HexLimit: frames up to this many bytes carry their bytes (default 64).
	HexLimit int `json:"hexLimit,omitempty"`
	// VerifyPattern counts frames that are not Pattern payloads.
	VerifyPattern bool `json:"verifyPattern,omitempty"`
}

// SubscribeAll subscribes to every remote data track, now and later. A
// track is receiving once its "subscribed" event arrives (WaitSubscribed).
func (c *Client) SubscribeAll(ctx context.Context, o SubscribeOptions) ([]TrackInfo, error) {
	args := struct {
		SubscribeOptions
		Mode string `json:"mode"`
	}{SubscribeOptions: o, Mode: "frames"}
	switch {
	case o.CountOnly:
		args.Mode = "count"
	case o.Counters:
		args.Mode = "counters"
	}
	var r struct {
		Tracks []TrackInfo `json:"tracks"`
	}
	err := c.call(ctx, "subscribe", args, &r)
	return r.Tracks, err
}

// WaitSubscribed waits until the track called name (from publisher, if
// not empty) is subscribed: frames pushed from then on can arrive.
func (c *Client) WaitSubscribed(ctx context.Context, publisher, name string) (TrackInfo, error) {
	ev, err := c.WaitEvent(ctx, func(e Event) bool {
		return (e.Event == "subscribed" || e.Event == "subscribeFailed") && e.Name == name && (publisher == "" || e.Publisher == publisher)
	})
	if err != nil {
		return TrackInfo{}, err
	}
	if ev.Event == "subscribeFailed" {
		return TrackInfo{}, &Error{Cmd: "subscribe", Message: ev.Error, Name: ev.ErrorName, Reason: ev.ErrorReason}
	}
	return ev.TrackInfo, nil
}

// Unsubscribe ends the subscription to a track and returns its counters.
func (c *Client) Unsubscribe(ctx context.Context, sid string) (TrackCounters, error) {
	var tc TrackCounters
	err := c.call(ctx, "unsubscribe", map[string]string{"sid": sid}, &tc)
	return tc, err
}

// TrackCounters is what a subscriber saw on one track.
type TrackCounters struct {
	TrackInfo
	State          string  `json:"state"`
	Frames         uint64  `json:"frames"`
	Bytes          uint64  `json:"bytes"`
	UserTimestamps uint64  `json:"userTimestamps"`
	FirstArrivalMs float64 `json:"firstArrivalMs"`
	LastArrivalMs  float64 `json:"lastArrivalMs"`
	// PatternErrors counts frames that are not Pattern payloads (with
	// SubscribeOptions.VerifyPattern). MinIndex/MaxIndex are the lowest and
	// highest Pattern indexes seen (decimal), OutOfOrder the frames whose
	// index was not above the previous one.
	PatternErrors uint64 `json:"patternErrors"`
	MinIndex      string `json:"minIndex"`
	MaxIndex      string `json:"maxIndex"`
	OutOfOrder    uint64 `json:"outOfOrder"`
	// LatencyMs is arrival minus user timestamp, meaningful when the
	// publisher stamped frames with Unix milliseconds.
	LatencyMs *struct {
		N                  int
		Min, P50, P99, Max float64
	} `json:"latencyMs"`
}

// LogCounts counts livekit-client's own warnings and errors, by kind: the
// library reports undecryptable and dropped frames only in its logs.
type LogCounts struct {
	DecryptErrors     uint64 `json:"decryptErrors"`
	DepacketizeErrors uint64 `json:"depacketizeErrors"`
	PartialsEvicted   uint64 `json:"partialsEvicted"`
	StreamFull        uint64 `json:"streamFull"`
	Warnings          uint64 `json:"warnings"`
	Errors            uint64 `json:"errors"`
}

// Counters is every subscription's counters and the library's log counts.
type Counters struct {
	Tracks           []TrackCounters `json:"tracks"`
	Log              LogCounts       `json:"log"`
	EncryptionErrors uint64          `json:"encryptionErrors"`
}

// Track returns the counters of the track called name, if subscribed.
func (cs Counters) Track(name string) (TrackCounters, bool) {
	for _, t := range cs.Tracks {
		if t.Name == name {
			return t, true
		}
	}
	return TrackCounters{}, false
}

// Counters reads the subscriber counters.
func (c *Client) Counters(ctx context.Context) (Counters, error) {
	var cs Counters
	err := c.call(ctx, "counters", nil, &cs)
	return cs, err
}

// WaitCounters polls the counters until done accepts them (or ctx ends,
// returning the last read).
func (c *Client) WaitCounters(ctx context.Context, done func(Counters) bool) (Counters, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		cs, err := c.Counters(ctx)
		if err == nil && done(cs) {
			return cs, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return cs, errors.Join(ctx.Err(), err)
		}
	}
}

// Stats is the participant's state as a whole.
type Stats struct {
	ConnectionState string `json:"connectionState"`
	Identity        string `json:"identity"`
	E2EE            bool   `json:"e2ee"`
	Local           []struct {
		Name      string `json:"name"`
		SID       string `json:"sid"`
		Published bool   `json:"published"`
		Pushed    uint64 `json:"pushed"`
		Failed    uint64 `json:"failed"`
	} `json:"local"`
	Remote           []TrackCounters `json:"remote"`
	Log              LogCounts       `json:"log"`
	LastLogs         []string        `json:"lastLogs"`
	EncryptionErrors uint64          `json:"encryptionErrors"`
}

// Stats reads the participant's state.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := c.call(ctx, "stats", nil, &s)
	return s, err
}

// ChannelCounts is what Chromium says one data channel carried.
type ChannelCounts struct {
	MessagesSent     uint64 `json:"messagesSent"`
	BytesSent        uint64 `json:"bytesSent"`
	MessagesReceived uint64 `json:"messagesReceived"`
	BytesReceived    uint64 `json:"bytesReceived"`
}

// DataTrackChannel is the label of the data channel data-track packets
// travel on, one packet a message.
const DataTrackChannel = "_data_track"

// DataChannels reads Chromium's own statistics of the participant's data
// channels, by label, summed over its PeerConnections: for
// DataTrackChannel, the data-track packets that reached the browser,
// whatever livekit-client then made of them.
func (c *Client) DataChannels(ctx context.Context) (map[string]ChannelCounts, error) {
	var r struct {
		Channels map[string]ChannelCounts `json:"channels"`
	}
	err := c.call(ctx, "dataChannels", nil, &r)
	return r.Channels, err
}

// Path is the candidate pair Chromium selected for one PeerConnection.
type Path struct {
	Role          string  `json:"role"`          // "publisher" or "subscriber"
	Protocol      string  `json:"protocol"`      // "udp" or "tcp"
	CandidateType string  `json:"candidateType"` // "host", "srflx", "relay"…
	RTTMs         float64 `json:"rttMs"`
	BytesSent     uint64  `json:"bytesSent"`
}

// Paths reads the transports the participant's PeerConnections selected.
func (c *Client) Paths(ctx context.Context) ([]Path, error) {
	var r struct {
		Paths []Path `json:"paths"`
	}
	err := c.call(ctx, "paths", nil, &r)
	return r.Paths, err
}

// CPUTime is the processor time (user and system) node and every
// Chromium process below it have used so far: what this participant
// costs the machine. Processes that already exited are not counted.
func (c *Client) CPUTime() (time.Duration, error) {
	return treeCPU(c.pid)
}

// Reconnect scenarios for Simulate.
const (
	// FullReconnect rejoins as a new participant: livekit-client
	// republishes every data track with its handle, under a new SID.
	FullReconnect = "full-reconnect"
	// SignalReconnect drops the signal connection: livekit-client resumes
	// the same participant, whose tracks and SIDs stay. (Its
	// "resume-reconnect" makes the resume fail, so it ends a full one.)
	SignalReconnect = "signal-reconnect"
)

// Simulate runs one of livekit-client's reconnect scenarios
// (Room.simulateScenario); it returns once the scenario has started.
func (c *Client) Simulate(ctx context.Context, scenario string) error {
	return c.call(ctx, "simulate", map[string]string{"scenario": scenario}, nil)
}

// Leave disconnects from the room (the browser stays up).
func (c *Client) Leave(ctx context.Context) error { return c.call(ctx, "leave", nil, nil) }

// Event is one event line from the driver (frames are kept apart, see
// Frames).
type Event struct {
	Event string `json:"event"`
	TrackInfo
	Error         string `json:"error"`
	ErrorName     string `json:"errorName"`
	ErrorReason   string `json:"errorReason"`
	Reason        *int   `json:"reason"` // disconnected: livekit-client's DisconnectReason
	Chromium      string `json:"chromium"`
	LivekitClient string `json:"livekitClient"`
	Raw           json.RawMessage
}

// Events returns every event so far.
func (c *Client) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// WaitEvent waits for the first event (past or future) that match accepts.
func (c *Client) WaitEvent(ctx context.Context, match func(Event) bool) (Event, error) {
	for seen := 0; ; {
		c.mu.Lock()
		for ; seen < len(c.events); seen++ {
			if match(c.events[seen]) {
				ev := c.events[seen]
				c.mu.Unlock()
				return ev, nil
			}
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-c.readerDone:
			return Event{}, ErrExited
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Frame is one frame a subscription received, in arrival order per track.
type Frame struct {
	SID       string `json:"sid"`
	Name      string `json:"name"`
	Publisher string `json:"publisher"`
	Seq       int    `json:"seq"` // arrival index on this subscription
	Len       int    `json:"len"`
	SHA256    string `json:"sha256"` // hex
	Hex       string `json:"hex"`    // the bytes, for frames up to HexLimit
	// UserTimestamp is the decimal user timestamp, "" when the frame had
	// none.
	UserTimestamp string  `json:"userTimestamp"`
	ArrivalMs     float64 `json:"arrivalMs"` // Unix ms, sub-millisecond, in the page
}

// Frames returns the frames received so far on tracks called name.
func (c *Client) Frames(name string) []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Frame
	for _, f := range c.frames {
		if f.Name == name {
			out = append(out, f)
		}
	}
	return out
}

// WaitFrames waits until at least n frames arrived on tracks called name.
func (c *Client) WaitFrames(ctx context.Context, name string, n int) ([]Frame, error) {
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		if fs := c.Frames(name); len(fs) >= n {
			return fs, nil
		}
		select {
		case <-changed:
		case <-c.readerDone:
			return c.Frames(name), ErrExited
		case <-ctx.Done():
			return c.Frames(name), ctx.Err()
		}
	}
}

// Pattern is the driver's deterministic payload for frame index: the index
// as a big-endian u64 in the first 8 bytes (as many as fit), then byte j
// is (index + j) mod 256.
func Pattern(index uint64, size int) []byte {
	b := make([]byte, size)
	var idx [8]byte
	binary.BigEndian.PutUint64(idx[:], index)
	copy(b, idx[:])
	for j := 8; j < size; j++ {
		b[j] = byte(index) + byte(j)
	}
	return b
}

// PID is the node process's id (Chromium runs below it).
func (c *Client) PID() int { return c.pid }

// Close quits the driver (closing Chromium), then escalates: SIGTERM to
// node (its handler closes Chromium), then SIGKILL to node and to every
// process it had started. Idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		kids := descendants(c.pid)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		select {
		case <-c.exited:
		default:
			_ = c.call(ctx, "quit", nil, nil)
		}
		c.in.Close() // the driver also quits when its stdin ends
		if !waitClosed(c.exited, 10*time.Second) {
			_ = c.cmd.Process.Signal(terminate)
			if !waitClosed(c.exited, 5*time.Second) {
				_ = c.cmd.Process.Kill()
				c.closeErr = errors.New("driver did not exit: killed")
			}
		}
		<-c.exited
		<-c.readerDone
		if left := killAll(kids); len(left) > 0 {
			c.closeErr = errors.Join(c.closeErr, fmt.Errorf("killed leftover processes %v", left))
		}
		c.logs.stop()
	})
	return c.closeErr
}

func waitClosed(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// lineLogger writes each line to the test log until stopped.
type lineLogger struct {
	mu      sync.Mutex
	tb      testing.TB
	prefix  string
	buf     []byte
	stopped bool
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return len(p), nil
	}
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.tb.Log(l.prefix + strings.TrimRight(string(l.buf[:i]), "\r"))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineLogger) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.tb.Log(l.prefix + string(l.buf))
	}
	l.stopped = true
}
