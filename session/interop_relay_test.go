package session

import (
	"testing"
	"time"

	"github.com/dttui/dttui/impair"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/internal/jsclient"
)

// livekit-client crosses the same shaped path as dttui: in Chromium, on
// relayed candidates only, through the relay that drops 3 % of what it
// forwards toward the SFU. dttui's room monitor (on a clean path) counts
// the frames the relay forwarded, no more and no fewer, and the frames it
// lost are those the relay dropped: the path a comparison of the two
// publishers runs over is one path, and its counts are a second observer.
func TestInteropRelaySamePath(t *testing.T) { acrossSFUs(t, testInteropRelaySamePath) }

func testInteropRelaySamePath(t *testing.T) {
	jsclient.Require(t)
	srv, r := relayedSFU(t, impair.Spec{Loss: 0.03})
	ctx := bounded(t, 2*time.Minute)
	room := "relay-" + randomSuffix()
	s := connect(t, srv, Config{Room: room, Identity: "dttui", Monitor: true})
	js := jsclient.Start(t, jsclient.Options{Name: "js-relayed"})
	token, err := srv.Token(room, "js-pub")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Join(ctx, jsclient.JoinOptions{URL: srv.URL, Token: token, RelayOnly: true}); err != nil {
		t.Fatal(err)
	}
	tr, err := js.Publish(ctx, "js-relayed")
	if err != nil {
		t.Fatal(err)
	}
	waitRemote(t, s, tr.SID, "subscribed", subscribedTo)
	if r.Forwarded().Up.Datagrams == 0 {
		t.Fatal("livekit-client joined without crossing the relay")
	}
	up0 := r.Shaper.CountsOf(impair.Up)
	sent0 := dcCount(t, ctx, js, true)
	ovf0 := overflows(t)
	const n = 1000
	res, err := js.Push(ctx, jsclient.PushOptions{Track: tr.Name, Count: n, Rate: 200, Size: 1024})
	if err != nil || res.OK != n {
		t.Fatalf("livekit-client pushed %+v, %v", res, err)
	}
	// Chromium handed every frame to its SCTP, one message each.
	if got := arrived(func() uint64 { return dcCount(t, ctx, js, true) }, sent0+n) - sent0; got != n {
		t.Fatalf("Chromium sent %d data-track messages for %d frames", got, n)
	}
	// Every frame the relay did not drop reaches the monitor, and each
	// frame lost is a datagram it dropped (the SFU's queue toward the
	// monitor is 5 s deep here; its path is clean).
	st := waitRemote(t, s, tr.SID, "every frame received or lost", func(st incoming.TrackStats) bool {
		return st.FramesCompleted+st.LostFrames() >= n-3 // a lost tail is seen only once a later frame arrives
	})
	up := r.Shaper.CountsOf(impair.Up)
	dropped, offered := up.DroppedTotal()-up0.DroppedTotal(), up.Datagrams-up0.Datagrams
	// Beyond the relay, a loaded machine loses a few more: a socket's
	// receive buffer overflowing (the kernel's count) or the SFU shedding
	// toward the monitor (its own).
	elsewhere := overflows(t) - ovf0 + shedToward(t, srv, "dttui", []string{tr.SID})
	lost := n - st.FramesCompleted
	t.Logf("livekit-client pushed %d frames; the relay dropped %d of the %d datagrams it was offered, %d lost elsewhere; the monitor completed %d, counted %d lost",
		n, dropped, offered, elsewhere, st.FramesCompleted, st.LostFrames())
	// Chromium's SCTP fills a packet up to its MTU with a piece of the
	// next message: a frame now and then spans two datagrams, and a
	// datagram then carries pieces of two frames. Each such datagram comes
	// of a split, which adds a datagram: a dropped datagram loses one
	// frame, or two at most as often as there were datagrams beyond one a
	// frame.
	others := float64(offered - min(offered, n))
	if st.LostFrames() > lost || float64(lost) > float64(dropped+elsewhere)+others {
		t.Fatalf("%d frames missing at the monitor (%d counted lost); the relay dropped %d datagrams (%d beyond one a frame), %d were lost elsewhere",
			lost, st.LostFrames(), dropped, int(others), elsewhere)
	}
	lost -= min(lost, elsewhere)
	// The datagrams that are not frames are dropped at their 3 % share
	// too: no more than twice that share besides.
	if float64(lost) < float64(dropped)-0.06*others-5 {
		t.Fatalf("%d frames missing at the monitor; the relay dropped %d datagrams, %d not frames", lost, dropped, int(others))
	}
	if share := float64(lost) / n; share < 0.015 || share > 0.045 {
		t.Fatalf("lost %.2f %% of livekit-client's frames through a relay dropping 3 %%", 100*share)
	}
}
