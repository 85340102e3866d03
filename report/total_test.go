package report

import (
	"testing"
	"time"

	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
)

// The totals add every track's figures; a track without a loopback adds
// nothing to Rx, and no loopback at all leaves Rx nil.
func TestLocalTotal(t *testing.T) {
	var by [outgoing.NumDropReasons]uint64
	by[outgoing.DropStale] = 2
	a := Local{Out: outgoing.Counters{FramesPushed: 10, FramesSent: 7, FramesDropped: 2, FramesQueued: 1, DroppedBy: by, UnpublishedErrors: 1},
		Rx: &Receive{Frames: 6, Lost: 1}, Figures: Figures{Rate: Rates{Window: time.Second, SentFPS: 7, SentBPS: 700, ReceivedFPS: 6}}}
	b := Local{Out: outgoing.Counters{FramesPushed: 5, FramesSent: 5, PacketsSent: 9}, Figures: Figures{Rate: Rates{Window: time.Second, SentFPS: 5, SentBPS: 50}}}
	got := LocalTotal([]Local{a, b})
	if o := got.Out; o.FramesPushed != 15 || o.FramesSent != 12 || o.FramesDropped != 2 || o.FramesQueued != 1 || o.PacketsSent != 9 ||
		o.DroppedBy[outgoing.DropStale] != 2 || o.UnpublishedErrors != 1 {
		t.Fatalf("Out = %+v", o)
	}
	if r := got.Rate; r.SentFPS != 12 || r.SentBPS != 750 || r.ReceivedFPS != 6 || r.Window != time.Second {
		t.Fatalf("Rate = %+v", r)
	}
	if got.Rx == nil || got.Rx.Frames != 6 || got.Rx.Lost != 1 {
		t.Fatalf("Rx = %+v", got.Rx)
	}
	if LocalTotal([]Local{b}).Rx != nil {
		t.Fatal("no loopback: Rx should be nil")
	}
}

// The room's lost frames are the tracks' LostFrames summed; an E2EE track
// makes the total E2EE, its decrypt failures kept by reason.
func TestRemoteTotal(t *testing.T) {
	var f [incoming.NumDecryptReasons]uint64
	f[0] = 3
	a := Remote{Stats: incoming.TrackStats{Packets: 10, PacketsLost: 1, FramesCompleted: 8, FramesLost: 1, FramesIncomplete: 2}, Figures: Figures{Rate: Rates{ReceivedFPS: 8, ReceivedPPS: 10}}}
	b := Remote{Stats: incoming.TrackStats{Info: incoming.Info{Encryption: incoming.EncryptionGCM}, FramesCompleted: 4, FramesLost: 3, DecryptFailures: f},
		Figures: Figures{Rate: Rates{ReceivedFPS: 4}}}
	got := RemoteTotal([]Remote{a, b})
	s := got.Stats
	if s.LostFrames() != a.Stats.LostFrames()+b.Stats.LostFrames() || s.FramesCompleted != 12 || s.Packets != 10 || s.PacketsLost != 1 {
		t.Fatalf("Stats = %+v", s)
	}
	if !s.E2EE() || s.DecryptFailuresTotal() != 3 {
		t.Fatalf("E2EE %v, decrypt failures %d", s.E2EE(), s.DecryptFailuresTotal())
	}
	if got.Rate.ReceivedFPS != 12 || got.Rate.ReceivedPPS != 10 {
		t.Fatalf("Rate = %+v", got.Rate)
	}
}

// A probe's percentiles are its histogram's, over the whole run.
func TestRemoteProbePercentiles(t *testing.T) {
	p := &RemoteProbe{}
	for i := range 100 {
		p.Latency.Record(int64(time.Duration(i+1) * time.Millisecond))
	}
	h := p.Latency
	if got, want := p.Percentiles(), LatencyOf(&h); got != want || got.Frames != 100 || got.P50 <= 0 || got.P99 < got.P50 {
		t.Fatalf("Percentiles() = %+v, want %+v", got, want)
	}
	var none histogram.Histogram
	if got := (&RemoteProbe{Latency: none}).Percentiles(); got.Frames != 0 {
		t.Fatalf("empty: %+v", got)
	}
}

// A whole run's rate is n frames over their n-1 intervals: eleven frames
// over ten seconds are 1/s; one frame, or frames no time apart, no rate.
func TestAverageRate(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		n          uint64
		first, end time.Time
		want       float64
	}{{11, t0, t0.Add(10 * time.Second), 1}, {101, t0, t0.Add(time.Second), 100}, {1, t0, t0.Add(time.Second), 0}, {5, t0, t0, 0}, {5, t0, t0.Add(-time.Second), 0}} {
		if got := AverageRate(c.n, c.first, c.end); got != c.want {
			t.Errorf("AverageRate(%d, %s) = %v, want %v", c.n, c.end.Sub(c.first), got, c.want)
		}
	}
}

// Frame sizes: frames all of one size are told by their mean, and the
// estimates of a spread never contradict it (min ≤ mean ≤ max).
func TestSizesOf(t *testing.T) {
	var h histogram.Histogram
	if got := SizesOf(&h); got != (Sizes{}) {
		t.Fatalf("empty: %+v", got)
	}
	for range 10 {
		h.Record(2068)
	}
	if got := SizesOf(&h); got.Frames != 10 || got.Min != 2068 || got.P50 != 2068 || got.Max != 2068 || got.Mean != 2068 {
		t.Fatalf("one size: %+v", got)
	}
	h.Reset()
	for range 99 {
		h.Record(100)
	}
	h.Record(5000)
	got := SizesOf(&h)
	if float64(got.Min) > got.Mean || float64(got.Max) < got.Mean || got.P50 > got.P99 || got.Frames != 100 {
		t.Fatalf("spread: %+v", got)
	}
}

// A room track's whole-run loss rate counts its frames that never arrived
// whole, incomplete ones too (Stats.LostFrames), as its Rate does.
func TestMeasuredRemoteLossRateIsLostFrames(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	st := incoming.TrackStats{Info: incoming.Info{SID: "DTR_x"}}
	base := Snapshot{At: t0, Remote: []Remote{{Stats: st}}}
	st.FramesCompleted, st.FramesLost, st.FramesIncomplete = 100, 4, 6
	end := Snapshot{At: t0.Add(10 * time.Second), Remote: []Remote{{Stats: st}}}
	if got := end.Measured(&base, nil).Remote[0].Average.LostFPS; got != 1 {
		t.Fatalf("LostFPS = %v, want 1 (10 frames over 10 s)", got)
	}
}
