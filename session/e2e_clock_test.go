package session

import (
	"fmt"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/report"
)

// Dttui sessions in one process stand for machines with their own
// clocks: a publisher whose clock is 750 ms fast, a monitor whose clock
// is 300 ms slow and, for the same-clock figure, a second monitor on the
// publisher's own clock. Both monitors receive the same frames at the
// same time (a loaded machine slows both alike); each asks the
// publisher's clock over the reliable data channel. The skewed monitor's
// one-way p50 is within 2 ms of the same-clock one's, while the
// timestamps on the wire really are 1050 ms off its clock.
func TestE2EClockSyncAcrossSkewedClocks(t *testing.T) {
	acrossSFUs(t, testE2EClockSyncAcrossSkewedClocks)
}

func testE2EClockSyncAcrossSkewedClocks(t *testing.T) {
	srv := sfu(t)
	// The clock exchange's goroutine ends with each session (checked
	// after the sessions' cleanups: registered before them). Not goleak:
	// the embedded SFU keeps its rooms' goroutines a while after.
	t.Cleanup(func() {
		eventually(t, 5*time.Second, "every clock exchange stopped", func() bool { return clockLoops() == 0 })
	})
	const pubSkew, monSkew = 750 * time.Millisecond, -300 * time.Millisecond
	skewed := func(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }
	pub := connect(t, srv, Config{Clock: skewed(pubSkew)})
	room, who := pub.Status().Room, pub.Status().Identity
	same, skew := newClockMonitor(t, srv, room, skewed(pubSkew)), newClockMonitor(t, srv, room, skewed(monSkew))

	// A goroutine in the middle of a send can be missed by one look.
	eventually(t, 5*time.Second, "the two monitors' clock exchanges running", func() bool { return clockLoops() == 2 })
	tr, err := pub.Publish(bounded(t, 15*time.Second), "clock", false)
	if err != nil {
		t.Fatal(err)
	}
	// Synced within 2 ms (a round trip under 4 ms through the SFU): on a
	// loaded machine the first exchanges can take long round trips;
	// quieter ones come every 2 s. Under -race beside the other packages'
	// tests, CI once saw none under 4 ms for 30 s: 60 s, and what the
	// clock was if even that passes.
	for _, m := range []*clockMonitor{same, skew} {
		var last clocksync.Estimate
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("the monitor's last estimate of the publisher's clock: %+v", last)
			}
		})
		eventually(t, time.Minute, "the monitor subscribed, the publisher's clock synced within 2ms", func() bool {
			r, ok := remoteRow(m.s, who, "clock")
			last = r.Stats.Clock
			return ok && r.Stats.State == incoming.StateSubscribed && m.s.MonitorHolds(r.Stats.SID) &&
				r.Stats.Clock.State == clocksync.Synced && r.Stats.Clock.Uncertainty <= 2*time.Millisecond
		})
	}
	const n = 300
	if err := pushPaced(bounded(t, 20*time.Second), tr, n, 500, 100); err != nil {
		t.Fatal(err)
	}
	a, b := same.result(t, who, n), skew.result(t, who, n)
	t.Logf("same clock: p50 %v (probe %v), %v, offset %v, wire %v", a.p50, a.probeP50, a.clock, a.clock.Offset, a.wire)
	t.Logf("skewed:     p50 %v (probe %v), %v, offset %v, wire %v", b.p50, b.probeP50, b.clock, b.clock.Offset, b.wire)

	for _, c := range []struct {
		m     oneWay
		truth time.Duration // the publisher's clock minus the monitor's
	}{{a, 0}, {b, pubSkew - monSkew}} {
		// Within the 2 ms waited for, and the drift allowance since.
		if c.m.clock.State != clocksync.Synced || c.m.clock.Uncertainty <= 0 || c.m.clock.Uncertainty > 3*time.Millisecond {
			t.Fatalf("clock %+v: want synced, within 3 ms on loopback", c.m.clock)
		}
		if d := (c.m.clock.Offset - c.truth).Abs(); d > c.m.clock.Uncertainty {
			t.Errorf("estimated offset %v ± %v misses the true %v", c.m.clock.Offset, c.m.clock.Uncertainty, c.truth)
		}
		// The skew reached the wire: uncorrected, arrival minus the
		// publisher's timestamp is the path less the clocks' offset.
		if d := c.m.wire + c.truth; d < -time.Millisecond || d > time.Second {
			t.Fatalf("two-clock latency on the wire %v, want the path less %v", c.m.wire, c.truth)
		}
		if c.m.negative != 0 {
			t.Errorf("%d frames with a negative corrected latency", c.m.negative)
		}
	}
	if d := (b.p50 - a.p50).Abs(); d > 2*time.Millisecond {
		t.Errorf("one-way p50 %v skewed vs %v on one clock: %v apart, want ≤ 2ms", b.p50, a.p50, d)
	}
	if d := (b.probeP50 - a.probeP50).Abs(); d > 2*time.Millisecond {
		t.Errorf("probe p50 %v skewed vs %v on one clock: %v apart, want ≤ 2ms", b.probeP50, a.probeP50, d)
	}
}

type oneWay struct {
	p50, probeP50 time.Duration // the report's figures: user timestamps, probe send times
	wire          time.Duration // median of arrival − user timestamp, uncorrected
	negative      uint64
	clock         clocksync.Estimate
}

// clockMonitor is a room monitor on its own clock, keeping what arrived
// uncorrected: arrival minus the user timestamp on the wire.
type clockMonitor struct {
	s    *Session
	mu   sync.Mutex
	wire []time.Duration
}

func newClockMonitor(t *testing.T, srv *testsfu.Server, room string, clock func() time.Time) *clockMonitor {
	m := &clockMonitor{}
	m.s = connect(t, srv, Config{Room: room, Monitor: true, Clock: clock, OnRemoteFrame: func(_ string, f incoming.Frame) {
		if f.HasUserTimestamp {
			m.mu.Lock()
			m.wire = append(m.wire, f.Arrival.Sub(time.UnixMilli(int64(f.UserTimestamp))))
			m.mu.Unlock()
		}
	}})
	return m
}

// result waits for every frame of who's track and reads its figures.
func (m *clockMonitor) result(t *testing.T, who string, n uint64) oneWay {
	t.Helper()
	var r report.Remote
	eventually(t, 10*time.Second, "every frame at the monitor, its latency recorded", func() bool {
		r, _ = remoteRow(m.s, who, "clock")
		return r.Stats.FramesCompleted == n && r.Stats.Latency.Count() == n && r.RunLatency.Frames == n
	})
	if r.Probe == nil || r.Probe.Latency.Count() != n {
		t.Fatalf("probe %+v", r.Probe)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	slices.Sort(m.wire)
	return oneWay{p50: r.RunLatency.P50, probeP50: report.LatencyOf(&r.Probe.Latency).P50, wire: m.wire[len(m.wire)/2],
		negative: r.Stats.LatencyNegative, clock: r.Stats.Clock}
}

// clockLoops counts the sessions' clock-exchange goroutines running,
// from the goroutine profile (records of identical stacks, each with its
// count).
func clockLoops() int {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	n := 0
	for _, rec := range strings.Split(b.String(), "\n\n") {
		if !strings.Contains(rec, "session.(*Session).runClockSync+") {
			continue
		}
		var c int
		if _, err := fmt.Sscanf(rec, "%d @", &c); err == nil {
			n += c
		}
	}
	return n
}
