package jsclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/testsfu"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func bounded(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// A livekit-client publisher and a livekit-client subscriber through each
// SFU build: the track is announced in the publisher's ParticipantInfo
// (data_tracks, read back through the admin API), every frame of every
// size class (one packet, just over one, 64 KiB = 5 packets) arrives once,
// byte-exact and in order with its user timestamp, a duplicate name is
// refused with livekit-client's own reason, and unpublishing ends the
// subscriber's stream.
func TestJSPublisherToJSSubscriber(t *testing.T) {
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		Require(t)
		srv := testsfu.StartT(t, kind, testsfu.Options{DataTrackTargetLatency: 5 * time.Second})
		ctx := bounded(t, 90*time.Second)
		room := "jsclient-" + kind.String()
		c := StartAll(t, Options{Name: "pub"}, Options{Name: "sub"})
		pub, sub := c[0], c[1]
		for _, p := range []*Client{pub, sub} {
			token, err := srv.Token(room, p.name)
			if err != nil {
				t.Fatal(err)
			}
			j, err := p.Join(ctx, JoinOptions{URL: srv.URL, Token: token})
			if err != nil {
				t.Fatal(err)
			}
			if j.Identity != p.name || j.Room != room || j.ServerVersion != "1.13.5" {
				t.Fatalf("joined %+v", j)
			}
		}
		if _, err := sub.SubscribeAll(ctx, SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := pub.Publish(ctx, "js-track")
		if err != nil {
			t.Fatal(err)
		}
		if tr.SID == "" || tr.UsesE2EE {
			t.Fatalf("published %+v", tr)
		}
		var e *Error
		if _, err := pub.Publish(ctx, "js-track"); !errors.As(err, &e) || e.Reason != "DuplicateName" {
			t.Fatalf("duplicate publish: %v", err)
		}
		got, err := sub.WaitSubscribed(ctx, "pub", "js-track")
		if err != nil {
			t.Fatal(err)
		}
		if got.SID != tr.SID {
			t.Fatalf("subscriber sees %+v, publisher %+v", got, tr)
		}
		assertAnnounced(t, ctx, srv, room, "pub", tr)

		const perSize, base = 4, 1_700_000_000_000
		sizes := []int{1 << 10, 15976, 15977, 64 << 10} // 15976 = one packet with the user-timestamp extension
		var want []Frame
		for i, size := range sizes {
			ts := uint64(base + i*perSize)
			r, err := pub.Push(ctx, PushOptions{Track: "js-track", Count: perSize, Rate: 100, Size: size, UserTimestamp: ts, UserTimestampStep: 1})
			if err != nil {
				t.Fatal(err)
			}
			if r.OK != perSize || r.Failed != 0 {
				t.Fatalf("%d-byte pushes: %+v", size, r)
			}
			for k := range perSize {
				sum := sha256.Sum256(Pattern(r.FirstIndex+uint64(k), size))
				want = append(want, Frame{Len: size, SHA256: hex.EncodeToString(sum[:]), UserTimestamp: strconv.FormatUint(ts+uint64(k), 10)})
			}
		}
		frames, err := sub.WaitFrames(ctx, "js-track", len(want))
		if err != nil {
			t.Fatalf("%v: %d of %d frames", err, len(frames), len(want))
		}
		for i, w := range want {
			f := frames[i]
			if f.Seq != i || f.SID != tr.SID || f.Publisher != "pub" || f.Len != w.Len || f.SHA256 != w.SHA256 || f.UserTimestamp != w.UserTimestamp {
				t.Fatalf("frame %d: got %+v, want len %d sha256 %s ts %s", i, f, w.Len, w.SHA256, w.UserTimestamp)
			}
		}
		counters, err := sub.Unsubscribe(ctx, tr.SID)
		if err != nil {
			t.Fatal(err)
		}
		if counters.Frames != uint64(len(want)) || counters.UserTimestamps != uint64(len(want)) || counters.OutOfOrder != 0 {
			t.Fatalf("counters %+v", counters)
		}
		if err := pub.Unpublish(ctx, "js-track"); err != nil {
			t.Fatal(err)
		}
		if _, err := sub.WaitEvent(ctx, func(e Event) bool { return e.Event == "trackUnpublished" && e.SID == tr.SID }); err != nil {
			t.Fatal(err)
		}
		st, err := sub.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Log.Errors != 0 || st.Log.DecryptErrors != 0 {
			t.Fatalf("livekit-client logged errors: %+v %q", st.Log, st.LastLogs)
		}
		for _, p := range c {
			if err := p.Leave(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// assertAnnounced checks the SFU lists the track in the publisher's
// ParticipantInfo.data_tracks, as every participant learns of it.
func assertAnnounced(t *testing.T, ctx context.Context, srv *testsfu.Server, room, identity string, tr TrackInfo) {
	t.Helper()
	rc := lksdk.NewRoomServiceClient(srv.HTTPURL(), srv.APIKey, srv.APISecret)
	p, err := rc.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room, Identity: identity})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range p.DataTracks {
		if d.Sid == tr.SID && d.Name == tr.Name && d.PubHandle == uint32(tr.PubHandle) && d.Encryption == livekit.Encryption_NONE {
			return
		}
	}
	t.Fatalf("%s's data_tracks %v lack %+v", identity, p.DataTracks, tr)
}

// Close ends node and every Chromium process it started. Before, the
// tree's CPU time counts what starting Chromium cost (far more than one
// clock tick), and no less the second time it is read.
func TestCloseLeavesNoProcess(t *testing.T) {
	c := Start(t, Options{})
	kids := descendants(c.PID())
	if len(kids) == 0 {
		t.Skip("no /proc descendants visible: nothing to check")
	}
	cpu, err := c.CPUTime()
	if err != nil || cpu < 50*time.Millisecond {
		t.Fatalf("CPU time %v, %v", cpu, err)
	}
	if again, err := c.CPUTime(); err != nil || again < cpu {
		t.Fatalf("CPU time %v, then %v (%v)", cpu, again, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(kids, proc{pid: c.PID()}) {
		if _, _, state, ok := stat(p.pid); ok && state != "Z" {
			t.Errorf("process %d still runs after Close", p.pid)
		}
	}
}

func TestPattern(t *testing.T) {
	got := Pattern(0x0102030405060708, 12)
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 0x08 + 8, 0x08 + 9, 0x08 + 10, 0x08 + 11}
	if string(got) != string(want) {
		t.Fatalf("Pattern = % x, want % x", got, want)
	}
	if got := Pattern(7, 3); string(got) != "\x00\x00\x00" {
		t.Fatalf("short Pattern = % x", got)
	}
}
