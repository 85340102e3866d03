package session

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
)

// Issue 20 item 1 against real SFUs: 100 tracks of one participant each
// begin a frame of 20 × 12 000 B packets and go silent, 24 MB in all,
// against a monitor with an 8 MiB budget (2 MiB a participant). What the
// monitor holds never passes the budget, the oldest partials are evicted
// for the participant's share, and once the tracks have been silent for
// the partial timeout their last partial frames are given up too: the
// monitor holds nothing (before: every partial kept until the publisher
// left, 3 GB for 100 tracks of 15 MB frames).
func TestE2EHostilePartialFramesStayWithinTheBudget(t *testing.T) {
	acrossSFUs(t, testE2EHostilePartialFramesStayWithinTheBudget)
}

func testE2EHostilePartialFramesStayWithinTheBudget(t *testing.T) {
	const budget = 8 << 20
	srv := sfu(t)
	mon := connect(t, srv, Config{Monitor: true, MaxHeldBytes: budget})
	h := newHostile(t, srv, mon.Status().Room, 100)
	h.waitHeld(mon)
	ctx := bounded(t, 60*time.Second)
	for i := range h.tracks {
		if err := h.partialFrame(ctx, i, 20, 12_000); err != nil {
			t.Fatal(err)
		}
	}
	memory := func() incoming.Held { return mon.Report(nil).Memory }
	eventually(t, 30*time.Second, "evictions for the participant's share", func() bool {
		return memory().Evicted[incoming.EvictParticipantShare] > 0
	})
	// Silent now: within the partial timeout (and a Tick), nothing is held.
	eventually(t, incoming.DefaultPartialTimeout+10*time.Second, "the silent tracks' partial frames given up", func() bool {
		m := memory()
		return m.Bytes == 0 && m.Evicted[incoming.EvictIdle] > 0
	})
	m := memory()
	if m.Budget != budget || m.PerParticipant != budget/incoming.DefaultParticipantShare || m.Peak > m.PerParticipant {
		t.Fatalf("held at most %d of a %d budget (%d a participant)", m.Peak, m.Budget, m.PerParticipant)
	}
	// Every partial frame is accounted for: evicted, by one reason or the
	// other, and counted incomplete on its track.
	var evicted, incomplete uint64
	for _, r := range mon.Report(nil).Remote {
		if r.Stats.PublisherIdentity != h.identity() {
			continue
		}
		evicted += r.Stats.Evicted[incoming.EvictParticipantShare] + r.Stats.Evicted[incoming.EvictIdle]
		incomplete += r.Stats.FramesIncomplete
	}
	if evicted != m.EvictedTotal() || evicted < 90 || incomplete < evicted {
		t.Fatalf("tracks evicted %d, the room %d (%v), incomplete %d", evicted, m.EvictedTotal(), m.Evicted, incomplete)
	}
}

// Issue 20 item 2 against real SFUs: 10 hostile tracks send 100 probe
// frames/s each whose numbers jump 65 536 a frame, beside an honest
// dttui track at 50 frames/s. The honest track loses nothing and its p99
// stays in its clean range; the hostile streams' "sent" stays within 17
// times what arrived (beyond a first 65 536) and their jumps are flagged
// (before: 150 million sent, a core pinned, the honest p99 11.5 s and
// 204 frames lost).
func TestE2EHostileJumpsBesideAnHonestTrack(t *testing.T) {
	acrossSFUs(t, testE2EHostileJumpsBesideAnHonestTrack)
}

func testE2EHostileJumpsBesideAnHonestTrack(t *testing.T) {
	srv := sfu(t)
	mon := connect(t, srv, Config{Monitor: true})
	room := mon.Status().Room
	honest := connect(t, srv, Config{Room: room})
	tr, err := honest.Publish(bounded(t, 15*time.Second), "honest", false)
	if err != nil {
		t.Fatal(err)
	}
	h := newHostile(t, srv, room, 10)
	h.waitHeld(mon)
	eventually(t, 15*time.Second, "the monitor holds the honest track", func() bool { return mon.MonitorHolds(tr.Info().SID) })
	sids := []string{tr.Info().SID}
	for _, ht := range h.tracks {
		sids = append(sids, ht.Info().SID)
	}
	child := startMonitorChild(t, srv, room, honest.Status().Identity, sids)
	hon := func() report.Remote { r, _ := remoteRow(mon, honest.Status().Identity, "honest"); return r }

	// The clean range: the honest track alone for 2 s, on this machine now.
	if err := pushPaced(bounded(t, 15*time.Second), tr, 100, 1024, 50); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the clean frames settled", func() bool {
		p := hon().Probe
		return p != nil && p.InGrace == 0 && p.Received == 100
	})
	clean := hon().Probe.Latency
	cleanP99 := time.Duration(clean.Quantile(.99))
	// Within the clean range: twice its p99 and 100 ms of slack, or half
	// a second (twice that under the race detector, as the CPU bound
	// below). The honest publisher shares this process with the
	// attacker's 1 000 packets a second (and, on the embedded build, with
	// the SFU): its own sending is delayed, by about 250 ms on the
	// released build under the race detector, which every monitor sees;
	// in a CI run beside the other packages' tests, the embedded build's
	// p99 reached 721 ms at the child and 755 ms here, with nothing lost.
	bound := max(2*cleanP99+100*time.Millisecond, raceCPUFactor*500*time.Millisecond)

	const attack = 5 * time.Second
	ctx, stop := context.WithTimeout(bounded(t, 60*time.Second), attack)
	defer stop()
	cpu0, start := child.cpu(t), time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var seq uint64
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for i := range h.tracks {
				if h.probeFrame(ctx, i, uint32(1000+i), seq) != nil {
					return
				}
			}
			seq += 1 << 16
		}
	}()
	err = pushPaced(ctx, tr, 250, 1024, 50)
	wg.Wait()
	if err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
	// The child is a dttui monitor and nothing else: its CPU time over the
	// attack is what the hostile streams cost us (before: a core).
	used, wall := child.cpu(t)-cpu0, time.Since(start)
	share := used.Seconds() / wall.Seconds()
	t.Logf("the monitor used %v of CPU in %v: %.1f %% of a core (race detector ×%d)", used, wall.Round(time.Millisecond), 100*share, raceCPUFactor)
	if share > 0.25*raceCPUFactor {
		t.Errorf("the monitor used %.1f %% of a core beside the attack, over 25 %% (×%d under the race detector)", 100*share, raceCPUFactor)
	}
	if cr := child.end(t); cr.Lost != 0 || cr.FramesLost != 0 || cr.PacketsLost != 0 || cr.Received < 200 || cr.P99 > bound {
		t.Errorf("the child's honest track beside the attack: %+v (p99 bound %v)", cr, bound)
	}
	eventually(t, 15*time.Second, "the honest frames settled", func() bool {
		p := hon().Probe
		return p != nil && p.InGrace == 0 && p.Sent > 300
	})
	r := hon()
	if p := r.Probe; p.Lost != 0 || p.Jumps != 0 || r.Stats.FramesLost != 0 || r.Stats.PacketsLost != 0 {
		t.Fatalf("honest track: probe %+v, frames lost %d, packets lost %d", *p, r.Stats.FramesLost, r.Stats.PacketsLost)
	}
	during := r.Probe.Latency
	during.Sub(&clean)
	p99 := time.Duration(during.Quantile(.99))
	t.Logf("honest p99: %v clean, %v beside the attack (bound %v)", cleanP99, p99, bound)
	if p99 > bound {
		t.Fatalf("honest p99 %v beside the attack, clean %v", p99, cleanP99)
	}
	var sent, jumps, received uint64
	for _, r := range mon.Report(nil).Remote {
		if r.Stats.PublisherIdentity == h.identity() && r.Probe != nil {
			sent, jumps, received = sent+r.Probe.Sent, jumps+r.Probe.Jumps, received+r.Probe.Received
		}
	}
	// Each stream may claim 16 frames lost for each that arrived, beyond a
	// first 65 536.
	limit := 17*received + uint64(len(h.tracks))<<16
	if received == 0 || jumps < received/2 || sent > limit {
		t.Fatalf("hostile streams: %d received, %d sent (limit %d), %d jumps", received, sent, limit, jumps)
	}
}

// Issue 20 item 11 against real SFUs: a publisher whose sender drops
// frames as stale after numbering them (a 1 ms frame age, a burst of
// large frames). Another dttui's monitor counts those frames lost, and
// the counts the later frames carry tell it they were the publisher's:
// on loopback the network lost none (before: "lost N" and nothing more).
func TestE2EMonitorTellsThePublishersDropsFromTheNetworks(t *testing.T) {
	acrossSFUs(t, testE2EMonitorTellsThePublishersDropsFromTheNetworks)
}

func testE2EMonitorTellsThePublishersDropsFromTheNetworks(t *testing.T) {
	srv := sfu(t)
	mon := connect(t, srv, Config{Monitor: true})
	pub := connect(t, srv, Config{Room: mon.Status().Room, MaxFrameAge: time.Millisecond})
	tr, err := pub.Publish(bounded(t, 15*time.Second), "stale", false)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the monitor holds the track", func() bool { return mon.MonitorHolds(tr.Info().SID) })
	ctx := bounded(t, 60*time.Second)
	if _, _, err := tr.Probe().Deliver(ctx, 300, 64<<10); err != nil && ctx.Err() != nil {
		t.Fatal(err)
	}
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stale := tr.Counters().DroppedBy[outgoing.DropStale]
	if stale == 0 {
		t.Skip("the sender kept up with a 1 ms frame age: nothing dropped as stale to tell apart")
	}
	t.Logf("%d frames dropped as stale after they were numbered", stale)
	// Frames sent after the drops carry their count, one at a time.
	for range 5 {
		if err := tr.Probe().PushWait(ctx, 100); err != nil {
			t.Fatal(err)
		}
		if err := tr.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 15*time.Second, "the monitor's account settled", func() bool {
		r, ok := remoteRow(mon, pub.Status().Identity, "stale")
		return ok && r.Probe != nil && r.Probe.InGrace == 0 && r.Probe.Received == tr.Counters().FramesSent
	})
	r, _ := remoteRow(mon, pub.Status().Identity, "stale")
	p := r.Probe
	// The frames pushed one at a time after the drops may be dropped as
	// stale too on a loaded machine (a 1 ms frame age): the publisher's
	// count now is what the monitor's is bounded by (once 290 for the
	// 289 read above).
	stale = tr.Counters().DroppedBy[outgoing.DropStale]
	// Frames dropped before the first one the monitor received are before
	// its account (its first frame's count is its base): at most stale.
	if p.PublisherDropped == 0 || p.PublisherDropped > stale || p.Lost != p.PublisherDropped || r.Stats.PacketsLost != 0 {
		t.Fatalf("the publisher dropped %d as stale; the monitor: lost %d, of which the publisher's %d; packets lost %d",
			stale, p.Lost, p.PublisherDropped, r.Stats.PacketsLost)
	}
}

// Issue 20 item 10 against real SFUs: one participant publishes 500
// data tracks, 8 publish requests at a time, while an honest track
// streams beside them; then a second monitor joins the room they are in.
// Each monitor subscribes to every track and keeps its signal connection
// throughout: no resume, no rejoin, and the honest track loses nothing
// (before: the SFU answers each subscription with two messages, and
// dropped a monitor's signal connection when more than 200 waited for
// it — every time for the monitor that joins, in 4 runs of 5 for the
// other; the resume's ICE restart lost packets on every track).
func TestE2EMonitorKeepsItsSignalConnectionThrough500Tracks(t *testing.T) {
	acrossSFUs(t, testE2EMonitorKeepsItsSignalConnectionThrough500Tracks)
}

func testE2EMonitorKeepsItsSignalConnectionThrough500Tracks(t *testing.T) {
	const tracks = 500
	srv := sfu(t)
	// A resume's cause (the SFU's leave, a silent socket, ICE) is in the
	// sessions' and the SFU's lines only.
	log := logOnFailure(t, srv, 200)
	mon := connect(t, srv, Config{Monitor: true, Logger: log.With("who", "monitor")})
	room := mon.Status().Room
	honest := connect(t, srv, Config{Room: room, Logger: log.With("who", "honest")})
	tr, err := honest.Publish(bounded(t, 15*time.Second), "honest", false)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the monitor holds the honest track", func() bool { return mon.MonitorHolds(tr.Info().SID) })

	ctx, stop := context.WithCancel(bounded(t, 180*time.Second))
	defer stop()
	pushed := make(chan error, 1)
	go func() { pushed <- pushPaced(ctx, tr, 1<<30, 256, 50) }()
	h := newHostile(t, srv, room, tracks)
	h.waitHeld(mon)
	late := connect(t, srv, Config{Room: room, Monitor: true, Logger: log.With("who", "late monitor")})
	h.waitHeld(late)
	eventually(t, 15*time.Second, "the late monitor holds the honest track", func() bool { return late.MonitorHolds(tr.Info().SID) })
	// The SFU's last handle maps and participant updates may still be on
	// their way: a drop would come now, if at all.
	time.Sleep(3 * time.Second)
	stop()
	if err := <-pushed; err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}

	resumed := false
	for name, m := range map[string]*Session{"the monitor": mon, "the late monitor": late} {
		st := m.Status()
		if st.State != StateConnected {
			t.Errorf("%s's connection: %s after %d reconnects (%v)", name, st.State, st.Reconnects, st.Err)
		}
		if st.Reconnects != 0 {
			// The SFU's relay from its room to the websocket hands over its
			// queue of updates (each listing all 500 tracks) within 7.5 s or
			// skips it, whatever the reader does; a CPU-starved SFU (the
			// embedded one, under -race, beside these sessions) does not
			// always make it. A reader that falls behind shows as the
			// websocket's channel filling instead.
			why := log.sfuSaid(sfuRelayGaveUp, st.Identity)
			if len(why) == 0 || st.Reconnects > 1 {
				t.Errorf("%s's connection: %d reconnects, not explained by the SFU's relay giving up", name, st.Reconnects)
			} else {
				t.Logf("%s resumed: the SFU's relay gave up on its queue (%s)", name, why[0])
				resumed = true
			}
		}
		held := 0
		for _, r := range m.Report(nil).Remote {
			if r.Stats.PublisherIdentity == h.identity() && r.Stats.State == incoming.StateSubscribed {
				held++
			}
		}
		if held != tracks {
			t.Errorf("%s: %d of the %d hostile tracks subscribed", name, held, tracks)
		}
	}
	hon := func() report.Remote { r, _ := remoteRow(mon, honest.Status().Identity, "honest"); return r }
	eventually(t, 15*time.Second, "the honest frames settled", func() bool {
		p := hon().Probe
		return p != nil && p.InGrace == 0 && p.Received > 100
	})
	r := hon()
	p := r.Probe
	switch {
	case p.Lost != r.Stats.FramesLost || r.Stats.FramesLost != r.Stats.PacketsLost:
		// One-packet frames: the probe, the frame count and the packet
		// count are three observers of one loss.
		t.Fatalf("honest track: probe lost %d, frames lost %d, packets lost %d", p.Lost, r.Stats.FramesLost, r.Stats.PacketsLost)
	case !resumed && p.Lost != 0, p.Lost > 50:
		// A resume restarts ICE toward the monitor: up to a second of
		// frames (50) may go with it, and nothing otherwise.
		t.Fatalf("honest track (the monitor resumed: %v): %d of %d frames lost", resumed, p.Lost, p.Sent)
	}
	t.Logf("honest track: %d frames received, %d lost, p99 %v", p.Received, p.Lost, time.Duration(p.Latency.Quantile(.99)))
}

// Issue 20 (memory budget) against real SFUs: a participant publishing
// more tracks than its share of the monitor's track cap gets that share
// followed and the rest counted as refused, in the report's memory
// account; an honest participant's track beside them is followed.
func TestE2EHostileTracksPastTheCapAreRefused(t *testing.T) {
	acrossSFUs(t, testE2EHostileTracksPastTheCapAreRefused)
}

func testE2EHostileTracksPastTheCapAreRefused(t *testing.T) {
	const capTracks, hostileTracks = 16, 30 // a participant 8
	srv := sfu(t)
	mon := connect(t, srv, Config{Monitor: true, MaxRemoteTracks: capTracks})
	room := mon.Status().Room
	h := newHostile(t, srv, room, hostileTracks)
	honest := connect(t, srv, Config{Room: room})
	tr, err := honest.Publish(bounded(t, 15*time.Second), "honest", false)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the monitor holds the honest track", func() bool { return mon.MonitorHolds(tr.Info().SID) })
	eventually(t, 15*time.Second, "the hostile's tracks past its share refused", func() bool {
		return mon.Report(nil).Memory.TracksRefused == hostileTracks-capTracks/incoming.DefaultTrackShare
	})
	followed := 0
	for _, r := range mon.Report(nil).Remote {
		if r.Stats.PublisherIdentity == h.identity() {
			followed++
		}
	}
	if followed != capTracks/incoming.DefaultTrackShare {
		t.Fatalf("%d of the hostile's tracks followed", followed)
	}
}
