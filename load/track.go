package load

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
)

// track is one publisher's track and what every subscriber received of
// it. Its ledgers are load's own: the session follows its frames to its
// one loopback, a load run to each of its subscribers, which are other
// participants' sessions. A frame is followed to subscriber j when it
// was sent while j held a subscription to the track's SID (the SFU
// forwards it then); a frame sent while j did not counts as not followed
// for j, never as lost. Per subscriber, from counters kept apart
// (report.Receive's account):
//
//	delivered + lost + in grace + not followed = sent
type track struct {
	participant string
	name        string
	subs        []*session.Session // the run's subscribers (nil: not connected)
	grace       time.Duration
	stream      atomic.Uint32 // the probe stream its frames carry, once published

	mu          sync.Mutex
	lt          *session.Track
	publishTime time.Duration
	err         error
	sids        []string                   // oldest first
	ledgers     map[string][]*probe.Ledger // by SID, then subscriber
	notFollowed []uint64                   // by subscriber
	// firstSent and lastSent are when its first and latest probe frame
	// left: the span its frames/s are over.
	firstSent, lastSent time.Time
}

func newTrack(participant string, spec Track, subs []*session.Session, grace time.Duration) *track {
	return &track{participant: participant, name: spec.Name, subs: subs, grace: grace,
		ledgers: map[string][]*probe.Ledger{}, notFollowed: make([]uint64, len(subs))}
}

func (t *track) setPublished(lt *session.Track, took time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lt, t.publishTime, t.err = lt, took, err
}

func (t *track) sidList() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.sids...)
}

func (t *track) local() *session.Track {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lt
}

// ledgerLocked is subscriber j's ledger of sid, made on first use.
func (t *track) ledgerLocked(sid string, j int) *probe.Ledger {
	ls, ok := t.ledgers[sid]
	if !ok {
		ls = make([]*probe.Ledger, len(t.subs))
		t.ledgers[sid] = ls
		t.sids = append(t.sids, sid)
	}
	if ls[j] == nil {
		ls[j] = probe.NewLedger(t.grace)
	}
	return ls[j]
}

// onSent is the track's session.PublishOptions.OnSent.
func (t *track) onSent(sid string, payload []byte) {
	h, ok := probe.Decode(payload)
	if !ok || h.Stream != t.stream.Load() {
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.firstSent.IsZero() {
		t.firstSent = now
	}
	t.lastSent = now
	for j, s := range t.subs {
		if s != nil && s.MonitorHolds(sid) {
			t.ledgerLocked(sid, j).Sent(h.Seq, now)
		} else {
			t.notFollowed[j]++
		}
	}
}

// arrived records a frame of this track subscriber j completed.
func (t *track) arrived(j int, sid string, h probe.Header, size int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if j < 0 || j >= len(t.subs) {
		return
	}
	t.ledgerLocked(sid, j).Arrived(h.Seq, size, at, at.Sub(h.Sent))
}

// expire counts frames past their grace as lost; it says whether any
// followed frame is still within its grace.
func (t *track) expire(now time.Time) (waiting bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ls := range t.ledgers {
		for _, l := range ls {
			if l != nil {
				l.Expire(now)
				waiting = waiting || l.Counts().InGrace > 0
			}
		}
	}
	return waiting
}

func (t *track) settle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ls := range t.ledgers {
		for _, l := range ls {
			if l != nil {
				l.Settle()
			}
		}
	}
}

// rx is what the subscribers received of the track, summed over them as
// report counts one subscriber (probe.LedgerCounts.Receive), the ledgers' raw
// counts (for what report's account leaves out: frames sent while
// followed, every arrival) and the latency (push to first arrival) of
// every frame delivered.
func (t *track) rx() (report.Receive, probe.LedgerCounts, histogram.Histogram) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var c probe.LedgerCounts
	var lat histogram.Histogram
	for _, ls := range t.ledgers {
		for _, l := range ls {
			if l != nil {
				c = c.Add(l.Counts())
				l.AddLatency(&lat)
			}
		}
	}
	var notFollowed uint64
	for _, n := range t.notFollowed {
		notFollowed += n
	}
	return c.Receive(notFollowed), c, lat
}
