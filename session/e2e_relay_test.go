package session

import (
	"errors"
	"testing"
	"time"

	"github.com/dttui/dttui/impair"
	"github.com/dttui/dttui/internal/relay"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/session/localsfu"
)

// relayedSFU starts a relay whose forwarded datagrams cross spec, and an
// SFU of the test's build that lists it as its TURN server.
func relayedSFU(t *testing.T, spec impair.Spec) (*testsfu.Server, *relay.Relay) {
	t.Helper()
	sh := impair.NewShaper(21)
	sh.Set(time.Now(), spec)
	r, err := relay.Start(sh, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	srv := startSFU(t, testsfu.Options{DataTrackTargetLatency: 5 * time.Second, TURN: []localsfu.TURN{r.TURN()}})
	return srv, r
}

// Through a relay that drops 3 % of what it forwards toward the SFU, with
// the publisher and the loopback on relayed candidates only, dttui's
// figures agree with the relay's own counts: every frame sent crossed the
// relay (or was dropped there), every frame the loopback received crossed
// it on the way back, and the frames lost are the datagrams the relay
// dropped (plus what the SFU shed toward the loopback), counted apart.
func TestE2ERelayFiguresAgree(t *testing.T) { acrossSFUs(t, testE2ERelayFiguresAgree) }

func testE2ERelayFiguresAgree(t *testing.T) {
	srv, r := relayedSFU(t, impair.Spec{Loss: 0.03})
	s := connect(t, srv, Config{Loopback: true, RelayOnly: true, LossGrace: time.Second})
	tr := probeRun(t, s, 200, 6*time.Second)
	st, got := tr.Stats(), rx(s, tr)
	fw, up := r.Forwarded(), r.Shaper.CountsOf(impair.Up)
	shed := shedToward(t, srv, s.loopIdentity, row(s, tr).SIDs)
	local := s.Status().LocalDrops
	net := onThePath(got, shed)
	net -= min(net, local) // crossed the relay, dropped on our side of it
	t.Logf("sent %d, received %d, lost %d (the SFU shed %d, %d came after their grace, pion dropped %d datagrams unread); the relay forwarded up %d large of %d datagrams (dropped %d), down %d large of %d",
		st.FramesSent, got.Frames, got.Lost, shed, got.Late, local, fw.Up.Large, fw.Up.Datagrams, up.DroppedTotal(), fw.Down.Large, fw.Down.Datagrams)
	// A 1 KiB frame is one datagram of about 1.1 KB each way: the relay
	// saw every frame sent (forwarded or dropped), and forwarded every
	// frame the loopback received, in its grace or after it (a loaded
	// machine), or that pion dropped unread on our side of the relay.
	if fw.Up.Large > st.FramesSent || fw.Up.Large+up.DroppedTotal() < st.FramesSent {
		t.Fatalf("sent %d frames; the relay forwarded %d large datagrams up and dropped %d datagrams", st.FramesSent, fw.Up.Large, up.DroppedTotal())
	}
	arrived := got.Frames + got.Late
	if d := int64(fw.Down.Large) - int64(arrived); d < 0 || float64(d) > 0.02*float64(arrived)+float64(local) {
		t.Fatalf("the loopback received %d frames (%d late); the relay forwarded %d large datagrams down; pion dropped %d unread",
			got.Frames, got.Late, fw.Down.Large, local)
	}
	// Frames lost on the path: what the relay dropped, less the few of
	// the connections' other datagrams it dropped (STUN, acknowledgements),
	// no more than twice their 3 % share.
	others := float64(up.Datagrams - min(up.Datagrams, st.FramesSent))
	if float64(net) > float64(up.DroppedTotal()) || float64(net) < float64(up.DroppedTotal())-0.06*others-5 {
		t.Fatalf("the loopback lost %d frames on the path; the relay dropped %d datagrams (%d not frames)", net, up.DroppedTotal(), int(others))
	}
	if share := float64(net) / float64(st.FramesSent); share < 0.015 || share > 0.045 {
		t.Fatalf("lost %.2f %% through a relay dropping 3 %%", 100*share)
	}
}

// Relay only against an SFU that lists no TURN server: a clear error,
// not a connection that never comes up.
func TestE2ERelayOnlyWithoutATURNServer(t *testing.T) {
	srv := sfu(t)
	s, err := Connect(bounded(t, 20*time.Second), Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret,
		Room: "no-relay-" + randomSuffix(), Identity: "dttui", RelayOnly: true, Logger: testLog})
	if err == nil {
		_ = s.Close()
	}
	if !errors.Is(err, ErrNoRelay) {
		t.Fatalf("relay only without a TURN server: %v", err)
	}
}
