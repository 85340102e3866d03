package report

import (
	"errors"
	"testing"
	"time"

	"github.com/dttui/dttui/impair"
)

// The connection's history keeps, per second, the worst state and the
// largest RTT sampled and the reconnects completed; its events are the
// state changes at the times they began, a reconnect too quick for any
// sample to see included.
func TestConnectionHistory(t *testing.T) {
	r := NewRecorder(60)
	lost := errors.New("signal socket closed")
	st := Status{State: Connected, Since: ms(0), RTT: time.Millisecond}
	for i := 0; i <= 60; i++ { // 6 s at 100 ms
		now := ms(i * 100)
		switch i {
		case 24: // the socket dropped at 2.35 s
			st = Status{State: Reconnecting, Since: ms(2350), Err: lost, RTT: time.Millisecond}
		case 28: // resumed at 2.8 s
			st = Status{State: Connected, Since: ms(2800), Reconnects: 1, RTT: 5 * time.Millisecond}
		case 30:
			st.RTT = 2 * time.Millisecond
		case 45: // dropped and resumed between two samples
			st = Status{State: Connected, Since: ms(4450), Reconnects: 2, RTT: 2 * time.Millisecond}
		}
		r.SampleConn(now, st)
	}
	var s Snapshot
	r.FillConn(&s, time.Time{})
	if len(s.ConnHistory) != 6 {
		t.Fatalf("%d seconds: %+v", len(s.ConnHistory), s.ConnHistory)
	}
	want := []ConnSecond{
		{Start: ms(0), RTT: time.Millisecond, State: Connected},
		{Start: ms(1000), RTT: time.Millisecond, State: Connected},
		{Start: ms(2000), RTT: 5 * time.Millisecond, State: Reconnecting, Reconnects: 1},
		{Start: ms(3000), RTT: 2 * time.Millisecond, State: Connected},
		{Start: ms(4000), RTT: 2 * time.Millisecond, State: Connected, Reconnects: 1},
		{Start: ms(5000), RTT: 2 * time.Millisecond, State: Connected},
	}
	for i, w := range want {
		if s.ConnHistory[i] != w {
			t.Fatalf("second %d: %+v, want %+v", i, s.ConnHistory[i], w)
		}
	}
	evs := s.ConnEvents
	if len(evs) != 4 || evs[0].State != Connected || !evs[0].At.Equal(ms(0)) ||
		evs[1].State != Reconnecting || !evs[1].At.Equal(ms(2350)) || !errors.Is(evs[1].Err, lost) ||
		evs[2].State != Connected || !evs[2].Reconnected || !evs[2].At.Equal(ms(2800)) ||
		!evs[3].Reconnected || !evs[3].At.Equal(ms(4450)) {
		t.Fatalf("events %+v", evs)
	}

	// A display reset at 2.5 s: the seconds and events before it go.
	r.FillConn(&s, ms(2500))
	if len(s.ConnHistory) != 4 || !s.ConnHistory[0].Start.Equal(ms(2000)) || len(s.ConnEvents) != 2 {
		t.Fatalf("after reset: %+v %+v", s.ConnHistory, s.ConnEvents)
	}
	full := Snapshot{}
	r.FillConn(&full, time.Time{})
	if got := full.Rebase(&Snapshot{At: ms(2500)}); len(got.ConnHistory) != 4 || len(got.ConnEvents) != 2 {
		t.Fatalf("Rebase: %+v %+v", got.ConnHistory, got.ConnEvents)
	}
}

// The history is bounded: a long run keeps its last seconds and events.
func TestConnectionHistoryIsBounded(t *testing.T) {
	r := NewRecorder(10)
	for i := range 2000 {
		st := Status{State: Connected, Since: ms(i * 100)} // a change every sample
		r.SampleConn(ms(i*100), st)
	}
	var s Snapshot
	r.FillConn(&s, time.Time{})
	if len(s.ConnHistory) != 10 || len(s.ConnEvents) != MaxConnEvents || !s.ConnEvents[MaxConnEvents-1].At.Equal(ms(199900)) {
		t.Fatalf("%d seconds, %d events", len(s.ConnHistory), len(s.ConnEvents))
	}
}

// Every second an impairment was in force says so, with the spec; the
// seconds before and after do not.
func TestConnHistoryNamesTheImpairment(t *testing.T) {
	r := NewRecorder(60)
	t0 := time.Unix(5000, 0)
	sp := impair.Spec{Loss: 0.05}
	for i := range 6 {
		st := Status{State: Connected, Since: t0}
		if i >= 2 && i < 4 {
			st.Impair = Impairment{Spec: sp, Since: t0.Add(2 * time.Second)}
		}
		r.SampleConn(t0.Add(time.Duration(i)*time.Second+100*time.Millisecond), st)
	}
	var s Snapshot
	r.FillConn(&s, time.Time{})
	if len(s.ConnHistory) != 5 {
		t.Fatalf("%d seconds kept; want 5 closed", len(s.ConnHistory))
	}
	for i, sec := range s.ConnHistory {
		want := i >= 2 && i < 4
		if sec.Impaired != want || (want && sec.Impair != sp) {
			t.Fatalf("second %d: impaired %v (%v); want %v", i, sec.Impaired, sec.Impair, want)
		}
	}
}
