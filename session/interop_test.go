package session_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/jsclient"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/session"
)

// These tests check dttui's frames with a second observer: livekit-client
// 2.23 in headless Chromium, subscribed through each SFU build. They use
// the session package's public API only.

// interopSizes straddle the packet boundary: with the 24-byte header a
// user timestamp needs, one packet holds 15976 bytes (15960 with E2EE too),
// so 15988 and 16001 take two packets, and 64 KiB five.
var interopSizes = []int{1 << 10, 15988, 16001, 64 << 10}

const (
	interopPerSize = 5
	interopRate    = 50 // frames/s: modest, so every frame arrives
	interopTSBase  = 1_700_000_000_000
)

// interopRun is one dttui publisher and one livekit-client subscriber in a
// fresh room on a kind SFU: dttui publishes a track (E2EE when pass is
// set) and, once the JS side is subscribed, pushes interopPerSize frames of
// every size in interopSizes at interopRate, each with its own user
// timestamp. It returns what dttui sent, in order.
type interopRun struct {
	js    *jsclient.Client
	s     *session.Session
	track string
	sent  []jsclient.Frame // Len, SHA256, UserTimestamp of each frame pushed
}

func startInterop(t *testing.T, kind testsfu.Kind, dttuiPass, jsPass string) *interopRun {
	t.Helper()
	jsclient.Require(t)
	ctx := bounded(t, 60*time.Second)
	srv := testsfu.StartT(t, kind, testsfu.Options{DataTrackTargetLatency: 5 * time.Second})
	room := "interop-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	js := jsclient.Start(t, jsclient.Options{Name: "js-" + kind.String()})
	token, err := srv.Token(room, "js")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Join(ctx, jsclient.JoinOptions{URL: srv.URL, Token: token, E2EEPassphrase: jsPass}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.SubscribeAll(ctx, jsclient.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret,
		Room: room, Identity: "dttui", E2EEPassphrase: dttuiPass})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	r := &interopRun{js: js, s: s, track: "dttui-frames"}
	tr, err := s.Publish(ctx, r.track, dttuiPass != "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := js.WaitSubscribed(ctx, "dttui", r.track); err != nil || got.SID != tr.Info().SID || got.UsesE2EE != (dttuiPass != "") {
		t.Fatalf("JS subscription %+v, %v; dttui published %+v", got, err, tr.Info())
	}

	tick := time.NewTicker(time.Second / interopRate)
	defer tick.Stop()
	for _, size := range interopSizes {
		for range interopPerSize {
			<-tick.C
			payload := jsclient.Pattern(uint64(len(r.sent)), size)
			ts := uint64(interopTSBase + len(r.sent))
			sum := sha256.Sum256(payload)
			// TryPush owns what it is given.
			if err := tr.TryPush(bytes.Clone(payload), ts); err != nil {
				t.Fatalf("push %d: %v", len(r.sent), err)
			}
			r.sent = append(r.sent, jsclient.Frame{Len: size, SHA256: hex.EncodeToString(sum[:]), UserTimestamp: strconv.FormatUint(ts, 10)})
		}
	}
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.FramesSent != uint64(len(r.sent)) || st.FramesDropped != 0 {
		t.Fatalf("dttui sent %d of %d frames: %+v", st.FramesSent, len(r.sent), st)
	}
	return r
}

// (a) Every frame dttui sends reaches livekit-client once, in order,
// byte-exact, with the user timestamp dttui set.
func TestInteropJSReceivesFrames(t *testing.T) {
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		r := startInterop(t, kind, "", "")
		r.assertReceived(t)
	})
}

// (b) The same with end-to-end encryption: livekit-client decrypts dttui's
// AES-GCM frames with the shared passphrase.
func TestInteropJSDecryptsE2EEFrames(t *testing.T) {
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		const pass = "correct horse battery staple"
		r := startInterop(t, kind, pass, pass)
		r.assertReceived(t)
	})
}

// (c) A livekit-client with the wrong passphrase: nothing crashes, no frame
// is handed to the application, and the library reports one decryption
// failure per frame.
func TestInteropJSWrongPassphrase(t *testing.T) {
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		r := startInterop(t, kind, "correct horse battery staple", "wrong passphrase")
		ctx := bounded(t, 30*time.Second)
		c, err := r.js.WaitCounters(ctx, func(c jsclient.Counters) bool { return c.Log.DecryptErrors >= uint64(len(r.sent)) })
		if err != nil {
			t.Fatalf("waiting for a decryption failure per frame: %v (%+v)", err, c.Log)
		}
		tc, ok := c.Track(r.track)
		t.Logf("livekit-client with the wrong passphrase: %+v", c.Log)
		if c.Log.DecryptErrors != uint64(len(r.sent)) || !ok || tc.Frames != 0 || tc.State != "subscribed" {
			t.Fatalf("JS counters %+v, track %+v (sent %d)", c, tc, len(r.sent))
		}
		st, err := r.js.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.ConnectionState != "connected" || len(r.js.Frames(r.track)) != 0 {
			t.Fatalf("JS after failures: %s, %d frames", st.ConnectionState, len(r.js.Frames(r.track)))
		}
		for _, ev := range r.js.Events() {
			if ev.Event == "pageError" || ev.Event == "streamError" || ev.Event == "disconnected" {
				t.Fatalf("JS side: %s %s", ev.Event, ev.Raw)
			}
		}
		if got := r.s.Status().State; got != session.StateConnected {
			t.Fatalf("dttui session %v", got)
		}
	})
}

func (r *interopRun) assertReceived(t *testing.T) {
	t.Helper()
	ctx := bounded(t, 30*time.Second)
	frames, err := r.js.WaitFrames(ctx, r.track, len(r.sent))
	if err != nil {
		t.Fatalf("%v: %d of %d frames arrived", err, len(frames), len(r.sent))
	}
	for i, w := range r.sent {
		f := frames[i]
		if f.Seq != i || f.Publisher != "dttui" || f.Len != w.Len || f.SHA256 != w.SHA256 || f.UserTimestamp != w.UserTimestamp {
			t.Fatalf("frame %d: got %+v, want len %d sha256 %s user timestamp %s", i, f, w.Len, w.SHA256, w.UserTimestamp)
		}
	}
	c, err := r.js.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tc, _ := c.Track(r.track)
	if tc.Frames != uint64(len(r.sent)) || tc.UserTimestamps != uint64(len(r.sent)) || c.Log.Errors != 0 || c.Log.Warnings != 0 {
		t.Fatalf("JS counters: %+v, log %+v (sent %d)", tc, c.Log, len(r.sent))
	}
}

func bounded(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
