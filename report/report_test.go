package report

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

func sent(n uint64) Totals {
	return Totals{Out: outgoing.Counters{FramesSent: n, PacketsSent: 2 * n, BytesSent: 1000 * n}}
}

// Rates are over the last second, from samples taken every 100 ms, up to
// the current totals.
func TestRatesOverTheLastSecond(t *testing.T) {
	r := NewRecorder(60)
	// 10 frames per 100 ms for 3 s, then nothing.
	for i := 0; i <= 30; i++ {
		r.Sample(LocalKey(1), ms(i*100), sent(uint64(10*i)))
	}
	l := Local{Handle: 1}
	r.Fill(&l, ms(3000), sent(300), time.Time{})
	if l.Rate.SentFPS != 100 || l.Rate.SentPPS != 200 || l.Rate.SentBPS != 100000 || l.Rate.Window != time.Second {
		t.Fatalf("steady: %+v", l.Rate)
	}
	for i := 31; i <= 50; i++ {
		r.Sample(LocalKey(1), ms(i*100), sent(300))
	}
	r.Fill(&l, ms(5000), sent(300), time.Time{})
	if l.Rate.SentFPS != 0 {
		t.Fatalf("idle: %+v", l.Rate)
	}
}

// A steady track's rate is what it sent in a whole second, read at any
// instant: a 1 frame/s track reads 1 (not 0 or 1.07), 3 frames/s read 3
// (not 3.2). Frames, samples and reads each have their own phase.
func TestRatesAreWholeSeconds(t *testing.T) {
	for _, fps := range []int{1, 3, 7, 10, 1000} {
		for _, phase := range []time.Duration{0, 13 * time.Millisecond, 550 * time.Millisecond} {
			r := NewRecorder(60)
			interval := time.Second / time.Duration(fps)
			sentBy := func(at time.Time) uint64 { // frames at t0+phase+k*interval
				d := at.Sub(t0) - phase
				if d < 0 {
					return 0
				}
				return uint64(d/interval) + 1
			}
			sample := 37 * time.Millisecond // the sampler's phase
			for step := 0; step < 300; step++ {
				now := t0.Add(sample + time.Duration(step)*SampleInterval)
				r.Sample(LocalKey(1), now, sent(sentBy(now)))
				read := now.Add(61 * time.Millisecond) // a reader between samples
				if read.Sub(t0) < 2*time.Second {
					continue // the first second is partial
				}
				l := Local{Handle: 1}
				r.Fill(&l, read, sent(sentBy(read)), time.Time{})
				if l.Rate.SentFPS != float64(fps) || l.Rate.Window != time.Second || l.Rate.SentPPS != float64(2*fps) {
					t.Fatalf("%d frames/s, phase %v, at %v: %+v", fps, phase, read.Sub(t0), l.Rate)
				}
			}
		}
	}
}

// The whole run's average counts n frames over the n-1 intervals between
// the first and the last, so a short steady run reads its true rate.
func TestAverageOfAShortRun(t *testing.T) {
	cur := sent(20)
	cur.FirstSent, cur.LastSent = ms(300), ms(300+19*100) // 10 frames/s for 2 s
	l := Local{Handle: 1}
	NewRecorder(1).Fill(&l, ms(2500), cur, time.Time{})
	if math.Abs(l.Average.SentFPS-10) > 1e-9 || l.Average.Window != 1900*time.Millisecond {
		t.Fatalf("average %+v", l.Average)
	}
	one := sent(1)
	one.FirstSent, one.LastSent = ms(0), ms(0)
	NewRecorder(1).Fill(&l, ms(2500), one, time.Time{})
	if l.Average.SentFPS != 0 {
		t.Fatalf("one frame has no rate: %+v", l.Average)
	}
}

// A remote track's whole-run average (the headless final line's) has its
// packets and packet loss as well as its frames, over its own window: it
// sent nothing.
func TestAverageOfARemoteTrack(t *testing.T) {
	cur := Totals{Received: 20, RxBytes: 20000, RxPackets: 60, PacketsLost: 3, Lost: 1,
		FirstRx: ms(300), LastRx: ms(300 + 19*100)} // 10 frames/s for 2 s
	a := NewRecorder(1).Figures(RemoteKey("DTR_x"), ms(2500), cur, time.Time{}, true).Average
	near := func(x, want float64) bool { return math.Abs(x-want) < 1e-9 }
	if !near(a.ReceivedFPS, 10) || !near(a.ReceivedBPS, 10000) || !near(a.ReceivedPPS, 30) ||
		!near(a.PacketsLostPS, 3/1.9) || !near(a.LostFPS, 1/1.9) || a.Window != 1900*time.Millisecond || !a.ReceivedValid {
		t.Fatalf("average %+v", a)
	}
}

// Each complete second lands in the history once, idle seconds included,
// and drops keep their reasons.
func TestHistoryPerSecond(t *testing.T) {
	r := NewRecorder(5)
	tot := Totals{}
	for i := 0; i <= 80; i++ { // 8 s at 100 ms
		if i < 40 {
			tot.Out.FramesSent += 3
			tot.Out.DroppedBy[outgoing.DropQueueFull]++
			tot.Out.FramesDropped++
		}
		r.Sample(LocalKey(7), ms(i*100), tot)
	}
	l := Local{Handle: 7}
	r.Fill(&l, ms(8000), tot, time.Time{})
	if len(l.History) != 5 {
		t.Fatalf("history keeps %d seconds, want the last 5", len(l.History))
	}
	// A sample holds what happened since the one before: the increment
	// seen at 3.0 s happened in (2.9, 3.0], in second 2.
	if first := l.History[0]; !first.Start.Equal(t0.Add(3*time.Second)) || first.Sent != 27 || first.DroppedBy[outgoing.DropQueueFull] != 9 {
		t.Fatalf("second 3: %+v", first)
	}
	for _, s := range l.History[1:] {
		if s.Sent != 0 || s.Dropped != 0 {
			t.Fatalf("idle second %+v", s)
		}
	}
	var total uint64
	for _, s := range l.History {
		total += s.Sent
	}
	if total != 27 {
		t.Fatalf("history sums to %d", total)
	}
}

// Frames a track sent before its first sample (pushed at once after the
// publish, within the 100 ms between samples) are in its history: the
// totals count from the track's start, and the history adds up to them.
func TestHistoryKeepsWhatCameBeforeTheFirstSample(t *testing.T) {
	r := NewRecorder(0)
	tot := sent(4)
	tot.SentPayload, tot.Received, tot.RxBytes = 4000, 4, 4000
	r.Sample(LocalKey(1), ms(50), tot)
	r.Sample(LocalKey(1), ms(1050), tot)
	l := Local{Handle: 1, Rx: &Receive{}}
	r.Fill(&l, ms(1050), tot, time.Time{})
	if len(l.History) != 1 {
		t.Fatalf("history %+v", l.History)
	}
	if s := l.History[0]; s.Sent != 4 || s.Bytes != 4000 || s.PayloadBytes != 4000 || s.Received != 4 || s.RxBytes != 4000 {
		t.Fatalf("second 0: %+v, want the 4 frames sent before the first sample", s)
	}
}

// Latency describes the last ten seconds: an idle track shows none after
// that, and a display reset starts it afresh.
func TestLatencyWindowAndReset(t *testing.T) {
	r := NewRecorder(60)
	for i := range 100 {
		r.ObserveLatency(LocalKey(1), ms(i*10), 4*time.Second) // a slow burst at t0
	}
	l := Local{Handle: 1}
	r.Sample(LocalKey(1), ms(0), Totals{})
	r.Fill(&l, ms(1000), Totals{}, time.Time{})
	if l.Latency.Frames != 100 || l.Latency.P99 < 3800*time.Millisecond || l.Latency.P99 > 4200*time.Millisecond {
		t.Fatalf("burst: %+v", l.Latency)
	}
	r.ObserveLatency(LocalKey(1), ms(5500), 2*time.Millisecond)
	r.Fill(&l, ms(5600), Totals{}, ms(5000)) // reset at 5 s
	if l.Latency.Frames != 1 || l.Latency.P99 > 3*time.Millisecond {
		t.Fatalf("after reset: %+v", l.Latency)
	}
	r.Fill(&l, ms(20000), Totals{}, time.Time{})
	if l.Latency.Frames != 0 || l.Latency.P99 != 0 {
		t.Fatalf("idle for 10 s: %+v", l.Latency)
	}
}

// Frames that arrive before the track's first rate sample (a fast path,
// right after publishing) are in the latency figures at once, as they are
// in the receive counters.
func TestLatencyBeforeTheFirstSample(t *testing.T) {
	r := NewRecorder(60)
	r.ObserveLatency(LocalKey(1), ms(30), 2*time.Millisecond)
	l := Local{Handle: 1}
	r.Fill(&l, ms(40), Totals{}, time.Time{})
	if l.Latency.Frames != 1 || l.Latency.P50 <= 0 || l.RunLatency.Frames != 1 || l.Rate.Window != RateWindow {
		t.Fatalf("latency %+v, run %+v, rates %+v", l.Latency, l.RunLatency, l.Rate)
	}
}

// Rebase counts from the base on: counters per handle, errors and history
// after the base's time.
func TestRebase(t *testing.T) {
	base := Snapshot{At: ms(1500), Local: []Local{
		{Handle: 1, Out: outgoing.Counters{FramesPushed: 10, FramesSent: 8, FramesDropped: 2, FramesQueued: 1}, Rx: &Receive{Frames: 7, Lost: 1, InGrace: 3}},
	}}
	now := Snapshot{At: ms(3000), Local: []Local{
		{Handle: 1, Out: outgoing.Counters{FramesPushed: 30, FramesSent: 25, FramesDropped: 4, FramesQueued: 1}, Rx: &Receive{Frames: 20, Lost: 4, InGrace: 1},
			Errors:  []outgoing.ErrorEvent{{At: ms(1000), Err: "old"}, {At: ms(2000), Err: "new"}},
			Figures: Figures{History: []Second{{Start: ms(0), Sent: 5}, {Start: ms(1000), Sent: 5}, {Start: ms(2000), Sent: 9}}}},
		{Handle: 2, Out: outgoing.Counters{FramesSent: 3}},
	}}
	got := now.Rebase(&base)
	a := got.Local[0]
	if a.Out.FramesPushed != 20 || a.Out.FramesSent != 17 || a.Out.FramesDropped != 2 || a.Out.FramesQueued != 1 {
		t.Fatalf("counters %+v", a.Out)
	}
	if a.Rx.Frames != 13 || a.Rx.Lost != 3 || a.Rx.InGrace != 1 {
		t.Fatalf("rx %+v", a.Rx)
	}
	if len(a.Errors) != 1 || a.Errors[0].Err != "new" {
		t.Fatalf("errors %+v", a.Errors)
	}
	if len(a.History) != 2 || a.History[0].Start != ms(1000) {
		t.Fatalf("history %+v", a.History)
	}
	if got.Local[1].Out.FramesSent != 3 {
		t.Fatal("a track new since the base keeps its counters")
	}
	if now.Local[0].Out.FramesSent != 25 || now.Local[0].Rx.Frames != 20 {
		t.Fatal("Rebase changed its receiver")
	}
}

// A display reset rebases every cumulative counter of a remote track, so
// a counter added to incoming.TrackStats and forgotten in Rebase fails
// here rather than showing its total after a reset.
func TestRebaseEveryRemoteCounter(t *testing.T) {
	// Subscriptions counts the track's handles, not traffic: it is a
	// level a reset does not touch.
	levels := map[string]bool{"Subscriptions": true}
	fill := func(v uint64) incoming.TrackStats {
		s := incoming.TrackStats{Info: incoming.Info{SID: "DTR_x"}}
		rv := reflect.ValueOf(&s).Elem()
		for i := range rv.NumField() {
			switch f := rv.Field(i); {
			case f.Kind() == reflect.Uint64:
				f.SetUint(v)
			case f.Kind() == reflect.Array && f.Type().Elem().Kind() == reflect.Uint64:
				for j := range f.Len() {
					f.Index(j).SetUint(v)
				}
			}
		}
		return s
	}
	base := Snapshot{At: t0, Remote: []Remote{{Stats: fill(5)}}}
	got := Snapshot{At: ms(1000), Remote: []Remote{{Stats: fill(7)}}}.Rebase(&base).Remote[0].Stats
	rv := reflect.ValueOf(got)
	for i := range rv.NumField() {
		name, f := rv.Type().Field(i).Name, rv.Field(i)
		want := uint64(2)
		if levels[name] {
			want = 7
		}
		switch {
		case f.Kind() == reflect.Uint64:
			if f.Uint() != want {
				t.Errorf("%s = %d after the reset, want %d", name, f.Uint(), want)
			}
		case f.Kind() == reflect.Array && f.Type().Elem().Kind() == reflect.Uint64:
			for j := range f.Len() {
				if f.Index(j).Uint() != want {
					t.Errorf("%s[%d] = %d after the reset, want %d", name, j, f.Index(j).Uint(), want)
				}
			}
		}
	}
}

// Every counter of a remote track's probe account is rebased; InGrace,
// a level, is not.
func TestRebaseEveryProbeCounter(t *testing.T) {
	fill := func(v uint64) *RemoteProbe {
		p := &RemoteProbe{}
		rv := reflect.ValueOf(p).Elem()
		for i := range rv.NumField() {
			if f := rv.Field(i); f.Kind() == reflect.Uint64 {
				f.SetUint(v)
			}
		}
		for range v {
			p.Latency.Record(1000)
		}
		return p
	}
	base := Snapshot{At: t0, Remote: []Remote{{Stats: incoming.TrackStats{Info: incoming.Info{SID: "DTR_x"}}, Probe: fill(5)}}}
	got := Snapshot{At: ms(1000), Remote: []Remote{{Stats: incoming.TrackStats{Info: incoming.Info{SID: "DTR_x"}}, Probe: fill(7)}}}.Rebase(&base).Remote[0].Probe
	rv := reflect.ValueOf(*got)
	for i := range rv.NumField() {
		name, f := rv.Type().Field(i).Name, rv.Field(i)
		want := uint64(2)
		if name == "InGrace" {
			want = 7
		}
		if f.Kind() == reflect.Uint64 && f.Uint() != want {
			t.Errorf("%s = %d after the reset, want %d", name, f.Uint(), want)
		}
	}
	if got.Latency.Count() != 2 {
		t.Errorf("latency of %d frames after the reset, want 2", got.Latency.Count())
	}
}

// The latency window is cached between calls within a second; asked ten
// times a second while frames arrive, with a reset in between, it says
// what a recorder asked once says (its cache cold), every time.
func TestLatencyWindowCacheIsExact(t *testing.T) {
	warm := NewRecorder(60)
	var obs []struct {
		at time.Time
		d  time.Duration
	}
	since := time.Time{}
	for step := 0; step < 300; step++ { // 30 s in 100 ms steps
		now := ms(step * 100)
		for k := range step % 7 {
			d := time.Duration(1+(step*k)%40) * time.Millisecond
			warm.ObserveLatency(LocalKey(1), now, d)
			obs = append(obs, struct {
				at time.Time
				d  time.Duration
			}{now, d})
		}
		if step == 170 {
			since = now // a display reset
		}
		cold := NewRecorder(60)
		for _, o := range obs {
			cold.ObserveLatency(LocalKey(1), o.at, o.d)
		}
		var a, b Local
		a.Handle, b.Handle = 1, 1
		warm.FillScope(&a, now.Add(50*time.Millisecond), Totals{}, since, Scope{NoRun: true})
		cold.Fill(&b, now.Add(50*time.Millisecond), Totals{}, since)
		if a.Latency != b.Latency {
			t.Fatalf("step %d: cached window %+v, fresh %+v", step, a.Latency, b.Latency)
		}
		if a.RunLatencyHist != nil || a.RunLatency != (Latency{}) || (len(obs) > 0 && b.RunLatencyHist == nil) {
			t.Fatalf("step %d: NoRun left the run's latency in (%+v), or the unscoped report left it out", step, a.RunLatency)
		}
	}
}

// A scope keeps each track's newest seconds, and the whole history of
// the one it names.
func TestScopeCutsHistory(t *testing.T) {
	r := NewRecorder(60)
	for i := 0; i <= 30; i++ {
		r.Sample(LocalKey(1), ms(i*1000), sent(uint64(10*i)))
		r.Sample(LocalKey(2), ms(i*1000), sent(uint64(10*i)))
	}
	var a, b Local
	a.Handle, b.Handle = 1, 2
	sc := Scope{History: 5, Full: LocalKey(2)}
	r.FillScope(&a, ms(30000), sent(300), time.Time{}, sc)
	r.FillScope(&b, ms(30000), sent(300), time.Time{}, sc)
	if len(a.History) != 5 || len(b.History) != 30 || a.History[4] != b.History[29] {
		t.Fatalf("cut to %d and %d seconds", len(a.History), len(b.History))
	}
}
