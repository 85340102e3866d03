package session

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/logger"

	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/report"
)

// The SFU's records reach the view through the livekit logger as the
// embedded SFU writes them: attributes from the down track's logger, the
// error as Warnw passes it, the stats as Infow's key-values.
func TestSFUViewReadsTheSFUsRecords(t *testing.T) {
	v := &sfuView{tracks: map[string]*sfuTrack{}}
	lk := logger.LogRLogger(logr.FromSlogHandler(sfuObserver{view: v}))
	down := lk.WithValues("room", "r", "participant", "me-loopback", "trackID", "DTR_a", "name", "a")
	for range 3 {
		down.Warnw("could not send data track message", errors.New(sfuShedErr+": bitrate 88183272, buffered amount 1103756, target latency limit 1102290"))
	}
	down.Warnw("could not send data track message", errors.New("data channel is not available"))
	lk.WithValues("participant", "other", "trackID", "DTR_a").Warnw("could not send data track message", errors.New(sfuShedErr))
	lk.WithValues("participant", "me-loopback", "trackID", "DTR_b").Infow("created data track")
	lk.WithValues("participant", "me", "trackID", "DTR_a").Infow("data track stats",
		"duration", 1.5, "numPackets", 120, "numPacketsLost", 2, "numPacketsOutOfOrder", 1, "numFrames", 40, "fps", 26.6, "numBytes", 9000)

	got, ok := v.of([]string{"DTR_a", "DTR_b"}, "me-loopback")
	want := report.SFUObserved{Shed: 3, ShedAll: 4, NotReady: 1, Up: &report.SFUUp{Packets: 120, PacketsLost: 2, PacketsOutOfOrder: 1, Frames: 40}}
	if !ok || got.Shed != want.Shed || got.ShedAll != want.ShedAll || got.NotReady != want.NotReady || got.Up == nil || *got.Up != *want.Up {
		t.Fatalf("got %+v (up %+v), want %+v (up %+v)", got, got.Up, want, want.Up)
	}
	if _, ok := v.of([]string{"DTR_b"}, "me"); ok {
		t.Fatal("a track the SFU logged nothing about is known")
	}
}

func TestSFUViewIsBounded(t *testing.T) {
	v := &sfuView{tracks: map[string]*sfuTrack{}}
	for i := range maxSFUTracks + 10 {
		v.notForwarded(string(rune('a'+i%26))+string(rune(i)), "x", true)
	}
	if len(v.tracks) != maxSFUTracks || len(v.order) != maxSFUTracks {
		t.Fatalf("%d tracks, %d in order", len(v.tracks), len(v.order))
	}
}

// Against the embedded SFU at its default 100 ms target latency, the
// loopback subscriber stops reading for a moment while frames stream: the
// SFU's queue toward it passes the target and it sheds packets. Its own
// account and the loopback's then agree exactly: every packet the
// loopback found missing is one the SFU says it shed toward it, and the
// SFU received every packet dttui counted as sent (its count at
// unpublish).
func TestE2ESFUAccountAgreesWithTheLoopback(t *testing.T) {
	srv := startSFU(t, testsfu.Options{})
	stall := new(atomic.Bool)
	s := connect(t, srv, Config{Loopback: true, loopNet: ptr(stallNet(stall))})
	ctx := bounded(t, 60*time.Second)
	tr, err := s.Publish(ctx, "shed", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitFollowed(ctx, tr); err != nil {
		t.Fatal(err)
	}
	sid := tr.Info().SID
	push := func(n, size int, gap time.Duration) {
		for range n {
			if err := tr.Probe().PushWait(ctx, size); err != nil {
				t.Fatal(err)
			}
			time.Sleep(gap)
		}
	}
	push(10, 1000, 5*time.Millisecond)
	stall.Store(true)
	push(40, 64<<10, 5*time.Millisecond) // 2.6 MB while the loopback reads nothing
	stall.Store(false)
	// Small paced frames last, so the loopback sees where the gaps end
	// (the SFU may still shed the first of them while its queue drains).
	push(40, 200, 10*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rt, _ := s.loop.sub.mgr.Track(sid)
		if r := rx(s, tr); tr.Counters().FramesQueued == 0 && r.Frames+r.Lost+r.InGrace+r.Unfollowed == tr.Counters().FramesSent &&
			r.Frames+r.Unfollowed+uint64(r.Incomplete) > 10 && rt.Stats().LastPacketAt.Before(time.Now().Add(-200*time.Millisecond)) {
			break // small frames came after the stall, and nothing has arrived for a while
		}
		if time.Now().After(deadline) {
			st := rt.Stats()
			t.Fatalf("the last frame never reached the loopback: completed %d, last %+v, packets %d lost %d; sent %+v; SFU %+v",
				st.FramesCompleted, st.LastFrame.Size, st.Packets, st.PacketsLost, tr.Counters(), row(s, tr).SFU)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The loopback settles a packet's loss once its reorder window has
	// passed; the two accounts then agree, and stay so.
	rt, _ := s.loop.sub.mgr.Track(sid)
	var lost, shed uint64
	deadline = time.Now().Add(10 * time.Second)
	for {
		lost, shed = rt.Stats().PacketsLost, row(s, tr).SFU.Shed
		if shed > 0 && lost == shed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the loopback lost %d packets, the SFU shed %d toward it", lost, shed)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tr.Unpublish(ctx); err != nil {
		t.Fatal(err)
	}
	var o report.SFUObserved
	eventually(t, 10*time.Second, "the SFU's account of the uplink", func() bool {
		l := row(s, tr)
		if l.SFU != nil && l.SFU.Up != nil {
			o = *l.SFU
			return true
		}
		return false
	})
	t.Logf("SFU: shed %d toward the loopback (%d in all), up %+v; loopback: %d packets lost", shed, o.ShedAll, *o.Up, lost)
	if o.Shed != shed || rt.Stats().PacketsLost != lost {
		t.Errorf("after the unpublish: shed %d (was %d), loopback lost %d (was %d)", o.Shed, shed, rt.Stats().PacketsLost, lost)
	}
	if o.Up.PacketsLost != 0 || o.Up.Packets != tr.Counters().PacketsSent {
		t.Errorf("the SFU received %d packets and lost %d; dttui sent %d", o.Up.Packets, o.Up.PacketsLost, tr.Counters().PacketsSent)
	}
}
