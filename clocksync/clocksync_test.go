package clocksync

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// world is true time and two clocks on it: ours and theirs, each an
// offset from true time, theirs also running fast by drift.
type world struct {
	t0     time.Time
	now    time.Duration // true time since t0
	ours   time.Duration
	theirs time.Duration
	drift  float64 // theirs runs this fraction fast
}

func (w *world) our() time.Time { return w.t0.Add(w.now + w.ours) }
func (w *world) their() time.Time {
	return w.t0.Add(w.now + w.theirs + time.Duration(float64(w.now)*w.drift))
}

// trueOffset is their clock minus ours now.
func (w *world) trueOffset() time.Duration { return w.their().Sub(w.our()) }

// exchange runs one request through s to "peer": there by fwd, answered
// after hold, back by back.
func (w *world) exchange(t *testing.T, s *Syncer, fwd, hold, back time.Duration) error {
	t.Helper()
	out := s.Due(w.our(), nil)
	if len(out) != 1 {
		t.Fatalf("due: %d requests, want 1", len(out))
	}
	req, err := Parse(out[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	w.now += fwd
	t2 := w.their()
	w.now += hold
	resp := Answer(req, t2, w.their())
	w.now += back
	m, err := Parse(resp.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	return s.Observe("peer", m, w.our())
}

func newWorld(ours, theirs time.Duration) *world {
	return &world{t0: time.Unix(1_800_000_000, 0), ours: ours, theirs: theirs}
}

func TestAsymmetricDelaysBoundedByHalfRTT(t *testing.T) {
	for _, c := range []struct{ fwd, back time.Duration }{
		{time.Millisecond, time.Millisecond},
		{10 * time.Millisecond, time.Millisecond},
		{time.Millisecond, 30 * time.Millisecond},
		{0, 5 * time.Millisecond},
	} {
		w := newWorld(-300*time.Millisecond, 750*time.Millisecond)
		s := New(Options{})
		s.Watch("peer", "PA_1", w.our())
		if err := w.exchange(t, s, c.fwd, 200*time.Microsecond, c.back); err != nil {
			t.Fatal(err)
		}
		e := s.Estimate("peer", w.our())
		truth := w.trueOffset()
		wantErr := (c.fwd - c.back) / 2 // the estimate is off by half the asymmetry
		if got := e.Offset - truth; got != wantErr {
			t.Errorf("fwd %v back %v: offset %v, truth %v: error %v, want %v", c.fwd, c.back, e.Offset, truth, got, wantErr)
		}
		if e.RTT != c.fwd+c.back || e.Uncertainty != e.RTT/2 {
			t.Errorf("fwd %v back %v: rtt %v uncertainty %v", c.fwd, c.back, e.RTT, e.Uncertainty)
		}
		if d := (e.Offset - truth).Abs(); d > e.Uncertainty {
			t.Errorf("fwd %v back %v: true offset %v outside %v ± %v", c.fwd, c.back, truth, e.Offset, e.Uncertainty)
		}
	}
}

func TestLowestRoundTripWinsOverOutliers(t *testing.T) {
	w := newWorld(0, 1050*time.Millisecond)
	s := New(Options{})
	s.Watch("peer", "PA_1", w.our())
	delays := []struct{ fwd, back time.Duration }{
		{40 * time.Millisecond, 2 * time.Millisecond}, // queued one way: an outlier
		{3 * time.Millisecond, 3 * time.Millisecond},
		{700 * time.Microsecond, 500 * time.Microsecond}, // the quietest
		{2 * time.Millisecond, 90 * time.Millisecond},
		{5 * time.Millisecond, 4 * time.Millisecond},
	}
	for _, d := range delays {
		w.now += DefaultBurstGap
		if err := w.exchange(t, s, d.fwd, 0, d.back); err != nil {
			t.Fatal(err)
		}
	}
	e := s.Estimate("peer", w.our())
	if e.RTT != 1200*time.Microsecond || e.Samples != len(delays) {
		t.Fatalf("chose rtt %v of %d samples, want the 1.2ms one of %d", e.RTT, e.Samples, len(delays))
	}
	if got, want := e.Offset, 1050*time.Millisecond+100*time.Microsecond; got != want {
		t.Errorf("offset %v, want %v", got, want)
	}
	// The bound grew by the drift allowance over the sample's age.
	age := w.our().Sub(w.t0.Add(w.ours))
	if e.Uncertainty <= e.RTT/2 || e.Uncertainty > e.RTT/2+time.Duration(float64(age)*DefaultDrift)+time.Microsecond {
		t.Errorf("uncertainty %v for rtt %v", e.Uncertainty, e.RTT)
	}
}

func TestUncertaintyContainsTrueOffsetUnderDriftAndJitter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := newWorld(-300*time.Millisecond, 750*time.Millisecond)
	w.drift = 40e-6 // within the allowance
	s := New(Options{})
	s.Watch("peer", "PA_1", w.our())
	jitter := func() time.Duration { return time.Duration(rng.Int64N(int64(20 * time.Millisecond))) }
	for i := range 200 {
		if err := w.exchange(t, s, jitter(), time.Duration(rng.Int64N(int64(time.Millisecond))), jitter()); err != nil {
			t.Fatal(err)
		}
		// Look again at several points until the next request is due.
		for range 4 {
			e := s.Estimate("peer", w.our())
			if d := (e.Offset - w.trueOffset()).Abs(); d > e.Uncertainty {
				t.Fatalf("exchange %d: true offset %v outside %v ± %v", i, w.trueOffset(), e.Offset, e.Uncertainty)
			}
			w.now += DefaultInterval / 4
		}
	}
}

func TestBurstThenIntervalThenTwoClocks(t *testing.T) {
	w := newWorld(0, 0)
	s := New(Options{})
	s.Watch("dttui", "PA_1", w.our())
	s.Watch("other", "PA_2", w.our())
	sent := map[string]int{}
	var answered bool
	for w.now = 0; w.now < 10*time.Second; w.now += s.TickEvery() {
		for _, o := range s.Due(w.our(), nil) {
			sent[o.To]++
			if o.To == "dttui" && !answered {
				req, _ := Parse(o.Payload)
				if err := s.Observe("dttui", Answer(req, w.our(), w.our()), w.our()); err != nil {
					t.Fatal(err)
				}
				answered = true
			}
		}
		if w.now < DefaultAnswerTimeout {
			if st := s.Estimate("other", w.our()).State; st != Unknown {
				t.Fatalf("at %v other is %v before the timeout", w.now, st)
			}
		}
	}
	if st := s.Estimate("dttui", w.our()).State; st != Synced {
		t.Errorf("dttui: %v", st)
	}
	if e := s.Estimate("other", w.our()); e.State != TwoClocks || e.String() != "two clocks" {
		t.Errorf("other: %v", e)
	}
	// dttui: the burst, then one every interval over the rest of 10 s.
	burstEnd := time.Duration(DefaultBurst-1) * DefaultBurstGap
	want := DefaultBurst + int((10*time.Second-burstEnd-time.Nanosecond)/DefaultInterval)
	if sent["dttui"] != want {
		t.Errorf("dttui got %d requests, want %d", sent["dttui"], want)
	}
	// other: the burst and nothing after the answer timeout.
	if sent["other"] != DefaultBurst+1 { // the burst, and the one due at 2.35 s
		t.Errorf("other got %d requests, want %d", sent["other"], DefaultBurst+1)
	}
}

func TestObserveRefusesWhatItDidNotAsk(t *testing.T) {
	w := newWorld(0, 0)
	s := New(Options{})
	s.Watch("a", "PA_1", w.our())
	out := s.Due(w.our(), nil)
	req, _ := Parse(out[0].Payload)
	good := Answer(req, w.our(), w.our())
	forged := good
	forged.T1++
	for name, c := range map[string]struct {
		from string
		m    Message
	}{
		"other sender": {"b", good},
		"wrong t1":     {"a", forged},
		"unknown id":   {"a", Message{Kind: Response, ID: 999, T1: good.T1}},
		"a request":    {"a", req},
	} {
		if err := s.Observe(c.from, c.m, w.our()); !errors.Is(err, ErrUnsolicited) {
			t.Errorf("%s: %v, want ErrUnsolicited", name, err)
		}
	}
	back := good
	back.T2, back.T3 = good.T1, good.T1+int64(time.Second) // held longer than the round trip
	if err := s.Observe("a", back, w.our().Add(time.Millisecond)); !errors.Is(err, ErrBadSample) {
		t.Errorf("negative rtt: %v", err)
	}
	// Consumed: the real answer after it is unsolicited too.
	if err := s.Observe("a", good, w.our()); !errors.Is(err, ErrUnsolicited) {
		t.Errorf("answered twice: %v", err)
	}
}

func TestParseRoundTripAndRefusals(t *testing.T) {
	for _, m := range []Message{
		{Kind: Request, ID: 7, T1: 1_800_000_000_000_000_000},
		{Kind: Response, ID: 1 << 31, T1: 1, T2: 2, T3: 3},
	} {
		got, err := Parse(m.Append(nil))
		if err != nil || got != m {
			t.Errorf("%+v: got %+v, %v", m, got, err)
		}
	}
	req := Message{Kind: Request, ID: 1, T1: 5}.Append(nil)
	for name, b := range map[string][]byte{
		"empty":         nil,
		"short":         req[:10],
		"long":          append(append([]byte(nil), req...), 0),
		"magic":         append([]byte{'X'}, req[1:]...),
		"version":       append([]byte{'D', 'c', 9}, req[3:]...),
		"kind":          append([]byte{'D', 'c', 1, 3}, req[4:]...),
		"negative time": Message{Kind: Request, T1: -1}.Append(nil),
	} {
		if _, err := Parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestEstimateString(t *testing.T) {
	for _, c := range []struct {
		e    Estimate
		want string
	}{
		{Estimate{}, "syncing"},
		{Estimate{State: TwoClocks}, "two clocks"},
		{Estimate{State: Synced, Uncertainty: 420 * time.Microsecond}, "synced ±0.4ms"},
		{Estimate{State: Synced, Uncertainty: 25 * time.Millisecond}, "synced ±25ms"},
	} {
		if got := c.e.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.e, got, c.want)
		}
	}
	e := Estimate{State: Synced, Offset: time.Second}
	if got := e.ToOurs(time.Unix(10, 0)); !got.Equal(time.Unix(9, 0)) {
		t.Errorf("ToOurs: %v", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Message{Kind: Request, ID: 1, T1: 1_800_000_000_000_000_000}.Append(nil))
	f.Add(Message{Kind: Response, ID: 2, T1: 1, T2: 2, T3: 3}.Append(nil))
	f.Add([]byte("Dc"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		if got := m.Append(nil); string(got) != string(b) {
			t.Fatalf("re-encoded %x, parsed from %x", got, b)
		}
		// Whatever parses yields a sample or a refusal, never a panic.
		SampleOf(m, time.Unix(0, m.T1))
	})
}

// A participant that left is not asked until it is seen again; what was
// known of its clock stays.
func TestGoneStopsAskingAndKeepsTheEstimate(t *testing.T) {
	w := newWorld(0, 5*time.Millisecond)
	s := New(Options{})
	s.Watch("peer", "PA_1", w.our())
	if err := w.exchange(t, s, time.Millisecond, 0, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// A rejoin: the new participant seen before the old one's departure.
	s.Watch("peer", "PA_2", w.our())
	s.Gone("peer", "PA_1")
	w.now += DefaultInterval
	if out := s.Due(w.our(), nil); len(out) != 1 {
		t.Fatalf("after a rejoin: %d requests, want 1", len(out))
	}
	s.Gone("peer", "PA_2")
	for range 100 {
		w.now += DefaultInterval
		if out := s.Due(w.our(), nil); len(out) != 0 {
			t.Fatalf("asked %d times after it left", len(out))
		}
	}
	if e := s.Estimate("peer", w.our()); e.State != Synced || e.Offset != 5*time.Millisecond {
		t.Fatalf("estimate after it left: %+v", e)
	}
	s.Watch("peer", "PA_3", w.our())
	if out := s.Due(w.our(), nil); len(out) != 1 {
		t.Fatalf("back: %d requests, want 1 at once", len(out))
	}
}
