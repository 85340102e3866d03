package report

import (
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
)

// Every stall counts, however many events came after it (ConnEvents keep
// only the latest MaxConnEvents), and Rebase counts those after the base.
func TestStallsAreCounted(t *testing.T) {
	r := NewRecorder(60)
	n := 0
	for i := 0; i < 3*MaxConnEvents; i++ {
		st := Status{State: Connected, Since: ms(i * 100)}
		if i%2 == 1 {
			st.State = Stalled
			n++
		}
		r.SampleConn(ms(i*100), st)
		r.SampleConn(ms(i*100+50), st) // the same state sampled again is not another stall
	}
	var s Snapshot
	r.FillConn(&s, time.Time{})
	if s.Stalls != n || r.Stalls() != n || len(s.ConnEvents) != MaxConnEvents {
		t.Fatalf("%d stalls (want %d), %d events", s.Stalls, n, len(s.ConnEvents))
	}
	if got := s.Rebase(&Snapshot{At: ms(100), Stalls: 10}); got.Stalls != n-10 {
		t.Fatalf("rebased: %d stalls, want %d", got.Stalls, n-10)
	}
}

// p95 is between p50 and p99, from the same histogram: over the run, and
// in each second of the history the charts draw.
func TestLatencyP95(t *testing.T) {
	r := NewRecorder(60)
	r.Sample(LocalKey(1), ms(0), Totals{})
	for i := 1; i <= 100; i++ {
		r.ObserveLatency(LocalKey(1), ms(i), time.Duration(i)*time.Millisecond)
	}
	r.Sample(LocalKey(1), ms(1000), sent(100)) // closes the first second
	l := Local{Handle: 1}
	r.Fill(&l, ms(1500), sent(100), time.Time{})
	lat := l.RunLatency
	near := func(d, want time.Duration) bool { return d > want*95/100 && d < want*105/100 }
	if !near(lat.P50, 50*time.Millisecond) || !near(lat.P95, 95*time.Millisecond) || !near(lat.P99, 99*time.Millisecond) || !near(lat.Max, 100*time.Millisecond) {
		t.Fatalf("%+v", lat)
	}
	if len(l.History) != 1 {
		t.Fatalf("history %+v", l.History)
	}
	if s := l.History[0]; s.LatencyFrames != 100 || !near(s.LatencyP50, 50*time.Millisecond) ||
		!near(s.LatencyP95, 95*time.Millisecond) || !near(s.LatencyP99, 99*time.Millisecond) {
		t.Fatalf("second 0: p50 %s p95 %s p99 %s of %d frames", s.LatencyP50, s.LatencyP95, s.LatencyP99, s.LatencyFrames)
	}
}

// Measured counts from the base on: the counters, the latency of the
// frames after it, rates over [base, end], reconnects and stalls.
func TestMeasuredAfterWarmup(t *testing.T) {
	r := NewRecorder(60)
	key := LocalKey(1)
	remote := RemoteKey("TR_x")
	// Warmup: 100 slow frames (1 s each); then 200 fast ones (1 ms).
	for i := 0; i < 100; i++ {
		r.ObserveLatency(key, ms(i), time.Second)
	}
	remoteCum := incoming.TrackStats{Info: incoming.Info{SID: "TR_x"}, FramesCompleted: 40, FramesLost: 10}
	remoteCum.Latency.Record(int64(time.Second))
	r.ObserveLatencies(remote, ms(100), &remoteCum.Latency)
	snap := func(at time.Time, sentN, rxN, lost uint64, reconnects, stalls int, rs incoming.TrackStats) Snapshot {
		l := Local{Handle: 1, Out: sent(sentN).Out, Rx: &Receive{Frames: rxN, Lost: lost}}
		r.Fill(&l, at, sent(sentN), time.Time{})
		rem := Remote{Stats: rs}
		rem.Figures = r.Figures(remote, at, Totals{Received: rs.FramesCompleted}, time.Time{}, true)
		return Snapshot{At: at, Local: []Local{l}, Remote: []Remote{rem}, Stalls: stalls,
			Connection: Status{Reconnects: reconnects}}
	}
	warm := snap(ms(2000), 100, 90, 10, 1, 2, remoteCum)
	for i := 0; i < 200; i++ {
		r.ObserveLatency(key, ms(2000+i), time.Millisecond)
	}
	remoteCum.FramesCompleted, remoteCum.FramesLost = 240, 10
	for i := 0; i < 200; i++ {
		remoteCum.Latency.Record(int64(2 * time.Millisecond))
	}
	r.ObserveLatencies(remote, ms(3000), &remoteCum.Latency)
	stopped := snap(ms(6000), 300, 280, 10, 3, 2, remoteCum) // pushing stopped at 6 s: 4 s measured
	final := snap(ms(9000), 304, 294, 10, 3, 2, remoteCum)   // the exit flush sent 4 more

	m := final.Measured(&warm, &stopped)
	l := m.Local[0]
	if l.Out.FramesSent != 204 || l.Rx.Frames != 204 || l.Rx.Lost != 0 {
		t.Fatalf("counters %+v rx %+v", l.Out, *l.Rx)
	}
	if l.RunLatency.Frames != 200 || l.RunLatency.P99 > 2*time.Millisecond || l.RunLatency.Max > 2*time.Millisecond {
		t.Fatalf("latency after warmup %+v", l.RunLatency)
	}
	if l.Average.SentFPS != 50 || l.Average.ReceivedFPS != 47.5 || l.Average.Window != 4*time.Second {
		t.Fatalf("average %+v", l.Average)
	}
	rm := m.Remote[0]
	if rm.Stats.FramesCompleted != 200 || rm.Stats.FramesLost != 0 || rm.Average.ReceivedFPS != 50 ||
		rm.RunLatency.Frames != 200 || rm.RunLatency.Max > 3*time.Millisecond {
		t.Fatalf("remote %+v %+v %+v", rm.Stats, rm.Average, rm.RunLatency)
	}
	if m.Connection.Reconnects != 2 || m.Stalls != 0 {
		t.Fatalf("reconnects %d stalls %d", m.Connection.Reconnects, m.Stalls)
	}
	// The whole run without a base.
	if w := final.Measured(nil, &stopped); w.Local[0].RunLatency.Frames != 300 || w.Connection.Reconnects != 3 {
		t.Fatalf("whole run %+v", w.Local[0].RunLatency)
	}
}
