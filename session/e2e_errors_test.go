package session

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/livekit/protocol/livekit"
)

func TestE2EDuplicateName(t *testing.T) { acrossSFUs(t, testE2EDuplicateName) }

func testE2EDuplicateName(t *testing.T) {
	s := connect(t, sfu(t), Config{})
	if _, err := s.Publish(bounded(t, 15*time.Second), "dup", false); err != nil {
		t.Fatal(err)
	}
	_, err := s.Publish(bounded(t, 15*time.Second), "dup", false)
	if !errors.Is(err, outgoing.ErrDuplicateName) {
		t.Fatalf("second publish: %v", err)
	}
}

func TestE2ENoCanPublishData(t *testing.T) { acrossSFUs(t, testE2ENoCanPublishData) }

func testE2ENoCanPublishData(t *testing.T) {
	srv := sfu(t)
	token, err := mintToken(srv.APIKey, srv.APISecret, "nodata-"+randomSuffix(), "viewer", false, false)
	if err != nil {
		t.Fatal(err)
	}
	s := connect(t, srv, Config{Token: token})
	_, err = s.Publish(bounded(t, 15*time.Second), "x", false)
	var pe *outgoing.PublishError
	if !errors.Is(err, outgoing.ErrNotAllowed) || !errors.As(err, &pe) || pe.RawMessage == "" {
		t.Fatalf("publish without canPublishData: %v", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Fatal("token in error message")
	}
}

// Invalid names fail fast, locally; and when one does reach the SFU (the
// request is altered on the wire, past the local check), the SFU's own
// INVALID_NAME answer maps to the same typed error.
func TestE2EInvalidName(t *testing.T) { acrossSFUs(t, testE2EInvalidName) }

func testE2EInvalidName(t *testing.T) {
	var wireName atomic.Pointer[string]
	s := connect(t, sfu(t), Config{Net: NetOptions{WrapSignal: tamperPublish(func(r *livekit.PublishDataTrackRequest) {
		if n := wireName.Load(); n != nil {
			r.Name = *n
		}
	})}})
	for _, name := range []string{"", strings.Repeat("n", 257)} {
		_, err := s.Publish(bounded(t, 15*time.Second), name, false)
		var pe *outgoing.PublishError
		if !errors.Is(err, outgoing.ErrInvalidName) || !errors.As(err, &pe) || pe.SFUReason != 0 {
			t.Fatalf("%d-byte name: %v (want a local refusal)", len(name), err)
		}
		wireName.Store(&name)
		_, err = s.Publish(bounded(t, 15*time.Second), "valid-locally", false)
		wireName.Store(nil)
		if !errors.Is(err, outgoing.ErrInvalidName) || !errors.As(err, &pe) || pe.SFUReason != int32(livekit.RequestResponse_INVALID_NAME) {
			t.Fatalf("%d-byte name on the wire: %v (want the SFU's INVALID_NAME)", len(name), err)
		}
	}
}

func TestE2EUnpublish(t *testing.T) { acrossSFUs(t, testE2EUnpublish) }

func testE2EUnpublish(t *testing.T) {
	s := connect(t, sfu(t), Config{Loopback: true})
	tr, err := s.Publish(bounded(t, 15*time.Second), "gone", false)
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, tr)
	if err := tr.Unpublish(bounded(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if tr.State() != outgoing.StateUnpublished {
		t.Fatalf("state %v", tr.State())
	}
	if !errors.Is(tr.TryPush([]byte{1}, 0), outgoing.ErrTrackUnpublished) {
		t.Fatal("push after unpublish accepted")
	}
	eventually(t, 10*time.Second, "loopback to lose the track", func() bool { return !rx(s, tr).Subscribed })
	// The name is free again.
	if _, err := s.Publish(bounded(t, 15*time.Second), "gone", false); err != nil {
		t.Fatalf("republish same name: %v", err)
	}
}

// A burst far larger than the queue and the channel buffer: some frames
// are dropped, each counted with its reason, and after Flush the counters
// add up exactly.
func TestE2EBurstDropsAndCountersAddUp(t *testing.T) {
	acrossSFUs(t, testE2EBurstDropsAndCountersAddUp)
}

func testE2EBurstDropsAndCountersAddUp(t *testing.T) {
	s := connect(t, sfu(t), Config{Loopback: true})
	tr, err := s.Publish(bounded(t, 15*time.Second), "burst", false)
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, tr)
	src := tr.Probe()
	accepted, firstErr := src.Burst(2000, 64<<10)
	if !errors.Is(firstErr, outgoing.ErrQueueFull) {
		t.Fatalf("a 128 MB burst was not throttled: first error %v", firstErr)
	}
	if err := tr.Flush(bounded(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	if st.FramesPushed != 2000 || st.FramesPushed != st.FramesSent+st.FramesDropped || st.DroppedBy[outgoing.DropQueueFull] == 0 {
		t.Fatalf("stats %+v", st)
	}
	if st.FramesSent != uint64(accepted) {
		t.Fatalf("sent %d, accepted %d", st.FramesSent, accepted)
	}
	// Frames arrive (a saturated SFU may shed some: the channel is lossy by
	// design), and once the stragglers had their grace every frame sent
	// is received or lost, from counters kept apart.
	eventually(t, 30*time.Second, "frames at the subscriber", func() bool { return rx(s, tr).Frames > 0 })
	s.Settle(bounded(t, 30*time.Second))
	r := rx(s, tr)
	if r.Frames+r.Lost != st.FramesSent || r.InGrace != 0 || r.Corrupt != 0 || r.Foreign != 0 {
		t.Fatalf("received %+v of %d sent", r, st.FramesSent)
	}
}

func TestE2EUnreachableURL(t *testing.T) {
	start := time.Now()
	_, err := Connect(context.Background(), Config{URL: "ws://127.0.0.1:1", APIKey: "k", APISecret: strings.Repeat("s", 32),
		ConnectTimeout: 3 * time.Second, Logger: testLog})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), strings.Repeat("s", 32)) {
		t.Fatal("secret in error")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestE2EBadSecret(t *testing.T) { acrossSFUs(t, testE2EBadSecret) }

func testE2EBadSecret(t *testing.T) {
	srv := sfu(t)
	_, err := Connect(bounded(t, 15*time.Second), Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: strings.Repeat("x", 32), Logger: testLog})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v", err)
	}
}

func TestE2EDataTracksDisabled(t *testing.T) { acrossSFUs(t, testE2EDataTracksDisabled) }

func testE2EDataTracksDisabled(t *testing.T) {
	srv := startSFU(t, testsfu.Options{DisableDataTracks: true})
	s := connect(t, srv, Config{})
	_, err := s.Publish(bounded(t, 15*time.Second), "x", false)
	if !errors.Is(err, outgoing.ErrNotAllowed) {
		t.Fatalf("publish with data tracks disabled: %v", err)
	}
}

// The SFU goes away and comes back on the same port: the session rejoins,
// republishes with the same handle and a new SID, and frames flow again.
func TestE2EReconnectRepublishes(t *testing.T) { acrossSFUs(t, testE2EReconnectRepublishes) }

func testE2EReconnectRepublishes(t *testing.T) {
	srv := startSFU(t, testsfu.Options{})
	s := connect(t, srv, Config{Loopback: true})
	tr, err := s.Publish(bounded(t, 15*time.Second), "phoenix", false)
	if err != nil {
		t.Fatal(err)
	}
	oldSID, handle := tr.Info().SID, tr.Handle()
	waitSubscribed(t, s, tr)

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "reconnecting state", func() bool { return s.Status().State == StateReconnecting })
	// Once the resume window has passed, the session rejoins in full and
	// the track drops pushes as republishing, rather than writing them to
	// a connection that is gone.
	eventually(t, 20*time.Second, "republishing", func() bool { return tr.State() == outgoing.StateRepublishing })
	if err := tr.TryPush([]byte("while away"), 0); !errors.Is(err, outgoing.ErrQueueFull) ||
		tr.Stats().DroppedBy[outgoing.DropRepublishing] == 0 {
		t.Fatalf("push while republishing: %v, %+v", err, tr.Stats().DroppedBy)
	}
	if err := srv.Restart(bounded(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "republished", func() bool {
		return tr.State() == outgoing.StatePublished && tr.Info().SID != oldSID
	})
	if tr.Handle() != handle || s.Status().Reconnects != 1 {
		t.Fatalf("handle %d→%d, reconnects %d", handle, tr.Handle(), s.Status().Reconnects)
	}
	waitSubscribed(t, s, tr)
	before := rx(s, tr).Frames
	eventually(t, 15*time.Second, "frames after reconnect", func() bool {
		_ = tr.Probe().Push(64)
		return rx(s, tr).Frames > before
	})
	var sawRepublishing bool
	for _, c := range tr.Stats().Timeline {
		sawRepublishing = sawRepublishing || c.State == outgoing.StateRepublishing
	}
	if !sawRepublishing {
		t.Fatalf("timeline %+v", tr.Stats().Timeline)
	}
}

// The signal socket drops while WebRTC stays up: the session resumes the
// same participant (reconnect=1 + SyncState), so the track keeps its SID
// and is never republished, and frames keep flowing.
func TestE2EResumeAfterSignalDrop(t *testing.T) { acrossSFUs(t, testE2EResumeAfterSignalDrop) }

func testE2EResumeAfterSignalDrop(t *testing.T) {
	cfg, sig := tapped(Config{Loopback: true})
	s := connect(t, sfu(t), cfg)
	tr, err := s.Publish(bounded(t, 15*time.Second), "steady", false)
	if err != nil {
		t.Fatal(err)
	}
	sid := tr.Info().SID
	waitSubscribed(t, s, tr)
	p, err := s.current()
	if err != nil {
		t.Fatal(err)
	}
	sig.drop() // the socket drops; PeerConnections are untouched

	eventually(t, 20*time.Second, "resumed", func() bool {
		st := s.Status()
		return st.State == StateConnected && st.Reconnects == 1
	})
	if got, _ := s.current(); got != p {
		t.Fatal("a full rejoin happened instead of a resume")
	}
	if tr.Info().SID != sid || tr.State() != outgoing.StatePublished || tr.Stats().PublishAttempts != 1 {
		t.Fatalf("track changed: %+v", tr.Info())
	}
	// The report keeps it for the charts: the reconnect among the
	// connection's events, and counted in its second.
	eventually(t, 5*time.Second, "the reconnect in the report", func() bool {
		snap := s.Report(nil)
		return slices.ContainsFunc(snap.ConnEvents, func(e report.ConnEvent) bool { return e.Reconnected }) &&
			slices.ContainsFunc(snap.ConnHistory, func(c report.ConnSecond) bool { return c.Reconnects == 1 })
	})
	before := rx(s, tr).Frames
	eventually(t, 15*time.Second, "frames after resume", func() bool {
		_ = tr.Probe().Push(64)
		return rx(s, tr).Frames > before
	})
	// Signalling works again: a new publish goes through.
	if _, err := s.Publish(bounded(t, 15*time.Second), "after-resume", false); err != nil {
		t.Fatalf("publish after resume: %v", err)
	}
}

// The SFU goes away for good: the session gives up within its reconnect
// timeout, says why, and resets the manager so nothing hangs and pushes
// are refused with a clear error.
func TestE2EGivesUpWhenServerStaysDown(t *testing.T) {
	acrossSFUs(t, testE2EGivesUpWhenServerStaysDown)
}

func testE2EGivesUpWhenServerStaysDown(t *testing.T) {
	srv := startSFU(t, testsfu.Options{})
	s := connect(t, srv, Config{ReconnectTimeout: 2 * time.Second, Loopback: true})
	tr, err := s.Publish(bounded(t, 15*time.Second), "orphan", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "disconnected", func() bool { return s.Status().State == StateDisconnected })
	if st := s.Status(); st.Err == nil || !strings.Contains(st.Err.Error(), "could not reconnect within 2s") {
		t.Fatalf("status %+v", st)
	}
	if tr.State() != outgoing.StateUnpublished || !errors.Is(tr.TryPush([]byte{1}, 0), outgoing.ErrTrackUnpublished) {
		t.Fatalf("track not reset: %v", tr.State())
	}
	if err := tr.Flush(bounded(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(bounded(t, 5*time.Second), "after", false); !errors.Is(err, outgoing.ErrDisconnected) {
		t.Fatalf("publish after giving up: %v", err)
	}
	// The loopback gave up with the session: its rejoin loop ended
	// (before, it went on every 2 s until Close).
	stopped := make(chan struct{})
	go func() { s.loop.wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the loopback still rejoins after the session gave up")
	}
}

// A server that accepts the websocket and then says nothing (a wedged
// proxy, a wrong service on the port): the SDK would wait for the first
// message forever; Connect gives up within ConnectTimeout.
func TestE2ESilentServerFailsWithinTimeout(t *testing.T) {
	url := silentWebsocketServer(t)
	start := time.Now()
	_, err := Connect(context.Background(), Config{URL: url, APIKey: "k", APISecret: strings.Repeat("s", 32),
		ConnectTimeout: time.Second, Logger: testLog})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s with a 1s ConnectTimeout", d)
	}
}

// A refused token: the error carries the server's reason, and neither the
// error nor any log line (ours, the SDK's, the embedded server's) carries
// the token, although livekit-server echoes it in its answer.
func TestE2EBadTokenNeverShown(t *testing.T) {
	srv := sfu(t)
	token, err := mintToken(srv.APIKey, strings.Repeat("x", 32), "r", "who", true, false)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tapLibraryLogs(t, log.Handler()) // the embedded server's own lines
	_, err = Connect(bounded(t, 15*time.Second), Config{URL: srv.URL, Token: token, Logger: log})
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "invalid token") {
		t.Fatalf("err = %v", err)
	}
	sig := token[strings.LastIndexByte(token, '.')+1:]
	mu.Lock()
	defer mu.Unlock()
	for what, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
		if strings.Contains(text, sig) || strings.Contains(text, "eyJ") {
			t.Fatalf("token in %s: %s", what, text)
		}
	}
	// Both the SDK (ours) and the server (the library route) logged the
	// refusal, and neither line still holds the token.
	for _, line := range []string{`msg="error establishing signal connection"`, `msg="error handling request"`} {
		if !strings.Contains(logs.String(), line) {
			t.Fatalf("no %s in the logs:\n%s", line, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "invalid token: <redacted") {
		t.Fatalf("expected the refusal, redacted; logs:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// silentWebsocketServer completes the websocket handshake and then never
// sends a byte.
func silentWebsocketServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			req, err := http.ReadRequest(bufio.NewReader(c))
			if err != nil {
				continue
			}
			h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
				base64.StdEncoding.EncodeToString(h[:]))
		}
	}()
	return "ws://" + ln.Addr().String()
}
