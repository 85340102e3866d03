package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/dttui/dttui/budget"
	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/textsafe"
)

// Role is what a participant of a run does.
type Role string

const (
	RolePublisher  Role = "publisher"
	RoleSubscriber Role = "subscriber"
)

// Summary is what a run did, per track and per participant. Summaries of
// runs that loaded one room together (on several machines) merge with
// Merge into the summary of them all.
type Summary struct {
	Room string `json:"room"`
	// Elapsed is the run's length in seconds, connects and the clean stop
	// included (for merged runs, the longest).
	Elapsed float64 `json:"elapsed_s"`
	// Runs is how many runs were merged into this one (1 for a run).
	Runs int `json:"runs"`
	// RunID names the run, at random, when it starts: Merge knows a run
	// given twice by it, whatever its room is called (merged runs: "").
	RunID        string             `json:"run_id,omitempty"`
	Participants []ParticipantState `json:"participants"`
	Tracks       []TrackSummary     `json:"tracks"`
	// Foreign counts frames the subscribers received from tracks not of
	// this run (other participants in the room).
	Foreign uint64 `json:"foreign"`
	// Subjects are the tracks' figures after the warmup, and Verdicts the
	// budgets (Config.Budgets) judged on them; the final line lists the
	// verdicts beside the summary, not in it.
	Subjects []budget.Subject `json:"-"`
	Verdicts []budget.Verdict `json:"-"`

	// merged holds, once Merge has run, the run IDs merged and, for runs
	// without one (files of older versions), each room and participant
	// identity, as room + "\x00" + identity.
	merged map[string]bool
}

// ParticipantState is how one participant's connection ended.
type ParticipantState struct {
	Identity   string `json:"identity"`
	Role       Role   `json:"role"`
	Connected  bool   `json:"connected"`
	State      string `json:"state,omitempty"` // when the run ended, before closing
	Reconnects int    `json:"reconnects"`
	// Stalls counts the times its connection stalled; nil when not
	// counted (it never joined, or the file is of a dttui before stalls
	// were counted), so a stalls budget is not judged on a zero never
	// measured.
	Stalls *int   `json:"stalls,omitempty"`
	Error  string `json:"error,omitempty"`
}

// TrackSummary is one publisher's track. Frames: Pushed = Sent + Dropped +
// Queued at the publisher; at the subscribers, each counted as report
// counts the loopback (probe.LedgerCounts.Receive) and summed over them,
// Delivered + Lost + InGrace + NotFollowed = Sent × Subscribers.
type TrackSummary struct {
	Participant string   `json:"participant"`
	Track       string   `json:"track"`
	SIDs        []string `json:"sids,omitempty"`
	Published   bool     `json:"published"`
	Error       string   `json:"error,omitempty"`
	// PublishNs is how long the publish took (request to the SFU's answer).
	PublishNs int64 `json:"publish_ns"`
	// Subscribers is how many subscribers the run had.
	Subscribers int `json:"subscribers"`

	Pushed    uint64            `json:"pushed"`
	Sent      uint64            `json:"sent"`
	Queued    uint64            `json:"queued"`
	Dropped   uint64            `json:"dropped"`
	DroppedBy map[string]uint64 `json:"dropped_by,omitempty"`
	// SentFPS is the frames sent per second, from the first frame sent to
	// the last (report.AverageRate).
	SentFPS float64 `json:"sent_fps"`
	// firstSent, lastSent are those frames' times (this process's runs
	// only: Since needs them).
	firstSent, lastSent time.Time

	// Over the subscribers: frames sent while each followed the track
	// (Expected), their first arrivals (Delivered), the ones that never
	// arrived within the loss grace period (Lost) or were still within it
	// when the run ended (InGrace, 0 after a clean stop), and frames sent
	// while a subscriber did not hold a subscription (NotFollowed).
	Expected    uint64 `json:"expected"`
	Delivered   uint64 `json:"delivered"`
	Lost        uint64 `json:"lost"`
	InGrace     uint64 `json:"in_grace"`
	NotFollowed uint64 `json:"not_followed"`
	Late        uint64 `json:"late"`
	Duplicates  uint64 `json:"duplicates"`
	// Arrivals counts every frame of the track the subscribers completed,
	// however the ledger counted it (first, late, duplicate, never sent,
	// sent before it was followed).
	Arrivals uint64 `json:"arrivals"`
	// Latency is from each frame's push at the publisher to its first
	// arrival at each subscriber, in ns (one clock: one process).
	Latency histogram.Histogram `json:"latency_ns"`

	// Rx is what the subscribers' own packet-level counters say of the
	// track (package incoming, summed over subscribers and SIDs): a second
	// account, kept apart from the frame ledger above.
	Rx RxCounters `json:"rx"`
}

// Receive is the subscribers' account of the track, summed over them, as
// report keeps one subscriber's.
func (t *TrackSummary) Receive() report.Receive {
	return report.Receive{Frames: t.Delivered, Lost: t.Lost, InGrace: t.InGrace, Unfollowed: t.NotFollowed,
		Late: t.Late, Duplicates: t.Duplicates}
}

func (t *TrackSummary) setReceive(rx report.Receive) {
	t.Delivered, t.Lost, t.InGrace, t.NotFollowed = rx.Frames, rx.Lost, rx.InGrace, rx.Unfollowed
	t.Late, t.Duplicates = rx.Late, rx.Duplicates
}

// Loss is the track's loss at its subscribers, as report defines it: of
// the frames received or lost, not of Expected, which also holds those
// still within their grace.
func (t *TrackSummary) Loss() report.Loss { return t.Receive().Loss() }

// RxCounters are the subscribers' packet-level figures for a track.
type RxCounters struct {
	Packets          uint64 `json:"packets"`
	PacketsLost      uint64 `json:"packets_lost"`
	FramesCompleted  uint64 `json:"frames_completed"`
	FramesIncomplete uint64 `json:"frames_incomplete"`
}

// Totals sums a Summary's tracks, with the publish times and latencies
// of them all. It is load's own (report.LocalTotal sums one session's
// tracks): a summary's rows may come from several runs' files. What a
// row shows of it (loss, percentiles, rates) is report's, as for a track.
type Totals struct {
	Tracks, Published int
	Pushed, Sent      uint64
	Queued, Dropped   uint64
	DroppedBy         map[string]uint64
	Expected          uint64
	Delivered, Lost   uint64
	InGrace           uint64
	NotFollowed       uint64
	Late, Duplicates  uint64
	Latency           histogram.Histogram
	PublishTime       histogram.Histogram
}

// Add counts one track in. Sums saturate at the largest uint64 rather
// than wrap: a summary file is outside input, and a wrapped total reads
// as a small one.
func (t *Totals) Add(ts *TrackSummary) {
	t.Tracks++
	if ts.Published {
		t.Published++
		t.PublishTime.Record(ts.PublishNs)
	}
	for _, f := range []struct {
		to *uint64
		v  uint64
	}{
		{&t.Pushed, ts.Pushed}, {&t.Sent, ts.Sent}, {&t.Queued, ts.Queued}, {&t.Dropped, ts.Dropped},
		{&t.Expected, ts.Expected}, {&t.Delivered, ts.Delivered}, {&t.Lost, ts.Lost}, {&t.InGrace, ts.InGrace},
		{&t.NotFollowed, ts.NotFollowed}, {&t.Late, ts.Late}, {&t.Duplicates, ts.Duplicates},
	} {
		*f.to = satAdd(*f.to, f.v)
	}
	for k, v := range ts.DroppedBy {
		if t.DroppedBy == nil {
			t.DroppedBy = map[string]uint64{}
		}
		t.DroppedBy[k] = satAdd(t.DroppedBy[k], v)
	}
	t.Latency.Merge(&ts.Latency)
}

// satAdd is a + b, or the largest uint64 when that overflows.
func satAdd(a, b uint64) uint64 {
	if s, carry := bits.Add64(a, b, 0); carry == 0 {
		return s
	}
	return math.MaxUint64
}

// report is t's frames as report's Totals (sent, and delivered as
// received), for the rates report computes from them.
func (t *Totals) report() report.Totals {
	return report.Totals{Out: outgoing.Counters{FramesSent: t.Sent}, Received: t.Delivered}
}

// Loss is the subscribers' loss, as report defines it.
func (t *Totals) Loss() report.Loss { return report.LossOf(t.Delivered, t.Lost) }

// Totals sums every track.
func (s *Summary) Totals() Totals {
	var t Totals
	for i := range s.Tracks {
		t.Add(&s.Tracks[i])
	}
	return t
}

// Problems lists what went wrong beyond the figures: participants that
// could not connect or ended disconnected, tracks that could not publish.
func (s *Summary) Problems() []string {
	var out []string
	for _, p := range s.Participants {
		switch {
		case !p.Connected:
			out = append(out, fmt.Sprintf("%s could not connect: %s", p.Identity, p.Error))
		case p.State == "disconnected":
			out = append(out, fmt.Sprintf("%s ended disconnected: %s", p.Identity, p.Error))
		}
	}
	for _, t := range s.Tracks {
		if !t.Published {
			out = append(out, fmt.Sprintf("%s/%s was not published: %s", t.Participant, t.Track, t.Error))
		}
	}
	return out
}

// ErrSameRun is a merge of one run twice, whose figures would count
// twice: the same run ID, or, for runs without one, the same participant
// in the same room.
var ErrSameRun = errors.New("the same run twice")

// ErrTooManyTracks: the summaries hold more than MaxSummaryTracks tracks
// or participants.
var ErrTooManyTracks = errors.New("too many tracks")

// MaxSummaryTracks bounds the tracks, and the participants, a summary is
// read or merged with: each costs a few kilobytes (its histograms), and a
// file is outside input (100 000 tracks took 4.7 GB).
const MaxSummaryTracks = 10_000

// Merge adds o's participants and tracks to s: the summary of runs that
// loaded one room together. It refuses (ErrSameRun) a run merged already:
// the same run ID or, for a run without one, a participant in the same
// room (LiveKit keeps one participant per identity in a room, so that is
// one run twice); and (ErrTooManyTracks) more than MaxSummaryTracks.
func (s *Summary) Merge(o *Summary) error {
	if s.merged == nil {
		s.merged = map[string]bool{}
		if s.Runs > 0 { // s is a run, not the empty summary merged into
			s.noteMerged(s)
		}
	}
	if o.RunID != "" && s.merged["run\x00"+o.RunID] {
		return fmt.Errorf("%w: run %s (the same file given twice?)", ErrSameRun, textsafe.Line(o.RunID))
	}
	if o.RunID == "" {
		for _, p := range o.Participants {
			if s.merged[o.Room+"\x00"+p.Identity] {
				return fmt.Errorf("%w: %q in room %q (the same file given twice?)", ErrSameRun, textsafe.Line(p.Identity), textsafe.Line(o.Room))
			}
		}
	}
	if len(s.Tracks)+len(o.Tracks) > MaxSummaryTracks || len(s.Participants)+len(o.Participants) > MaxSummaryTracks {
		return fmt.Errorf("%w: more than %d tracks or participants in all", ErrTooManyTracks, MaxSummaryTracks)
	}
	s.noteMerged(o)
	if s.Room == "" {
		s.Room = o.Room
	} else if o.Room != "" && o.Room != s.Room {
		s.Room += ", " + o.Room
	}
	if s.Runs == 0 {
		s.RunID = o.RunID
	} else {
		s.RunID = "" // several runs now
	}
	s.Elapsed = max(s.Elapsed, o.Elapsed)
	s.Runs += o.Runs
	s.Participants = append(s.Participants, o.Participants...)
	s.Tracks = append(s.Tracks, o.Tracks...)
	s.Foreign = satAdd(s.Foreign, o.Foreign)
	return nil
}

// noteMerged records what tells o's run apart: its ID, and its room's
// participants (for runs without an ID).
func (s *Summary) noteMerged(o *Summary) {
	if o.RunID != "" {
		s.merged["run\x00"+o.RunID] = true
	}
	for _, p := range o.Participants {
		s.merged[o.Room+"\x00"+p.Identity] = true
	}
}

// UnmarshalJSON reads a summary with at most MaxSummaryTracks tracks and
// participants, refusing more before decoding them.
func (s *Summary) UnmarshalJSON(b []byte) error {
	type plain Summary
	aux := struct {
		*plain
		Participants capped[ParticipantState] `json:"participants"`
		Tracks       capped[TrackSummary]     `json:"tracks"`
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	s.Participants, s.Tracks = aux.Participants.items, aux.Tracks.items
	return nil
}

// capped is a JSON list of at most MaxSummaryTracks items, decoded one by
// one.
type capped[T any] struct{ items []T }

func (c *capped[T]) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('[') {
		return errors.New("want a list")
	}
	for d.More() {
		if len(c.items) >= MaxSummaryTracks {
			return fmt.Errorf("%w: more than %d", ErrTooManyTracks, MaxSummaryTracks)
		}
		var zero T
		c.items = append(c.items, zero)
		if err := d.Decode(&c.items[len(c.items)-1]); err != nil {
			return err
		}
	}
	return nil
}

// summary reads every figure once the run has settled, before closing.
func (r *run) summary() Summary {
	s := Summary{Room: r.cfg.Session.Room, Runs: 1, RunID: r.id, Tracks: []TrackSummary{}}
	r.mu.Lock()
	parts := append(append([]*participant(nil), r.subs...), r.pubs...)
	for _, f := range r.foreign {
		s.Foreign += f
	}
	r.mu.Unlock()
	for _, p := range parts {
		if p == nil {
			continue
		}
		ps := ParticipantState{Identity: p.identity, Role: p.role}
		r.mu.Lock()
		sess, err := p.s, p.err
		r.mu.Unlock()
		switch {
		case sess != nil:
			st := sess.Status()
			stalls := sess.Stalls()
			ps.Connected, ps.State, ps.Reconnects, ps.Stalls = true, st.State.String(), st.Reconnects, &stalls
			if st.Err != nil {
				ps.Error = textsafe.Line(st.Err.Error())
			}
		case err != nil:
			ps.Error = textsafe.Line(err.Error())
		default:
			ps.Error = "the run ended before it joined"
		}
		s.Participants = append(s.Participants, ps)
	}
	for _, t := range r.allTracks() {
		s.Tracks = append(s.Tracks, t.summary())
	}
	return s
}

func (t *track) summary() TrackSummary {
	// The subscribers' counters first, the ledger second: a straggler
	// arriving in between is then in the ledger only.
	var pk RxCounters
	for _, sid := range t.sidList() {
		for _, s := range t.subs {
			if s == nil || s.Monitor() == nil {
				continue
			}
			if rt, ok := s.Monitor().Track(sid); ok {
				st := rt.Stats()
				pk.Packets += st.Packets
				pk.PacketsLost += st.PacketsLost
				pk.FramesCompleted += st.FramesCompleted
				pk.FramesIncomplete += st.FramesIncomplete
			}
		}
	}
	rx, c, lat := t.rx()
	t.mu.Lock()
	ts := TrackSummary{Participant: t.participant, Track: t.name, SIDs: append([]string(nil), t.sids...),
		Published: t.lt != nil && t.err == nil, PublishNs: int64(t.publishTime), Subscribers: len(t.subs), Latency: lat, Rx: pk,
		firstSent: t.firstSent, lastSent: t.lastSent}
	if t.err != nil {
		ts.Error = textsafe.Line(t.err.Error())
	}
	lt := t.lt
	t.mu.Unlock()
	if lt != nil {
		out := lt.Counters()
		ts.Pushed, ts.Sent, ts.Queued, ts.Dropped = out.FramesPushed, out.FramesSent, out.FramesQueued, out.FramesDropped
		ts.DroppedBy = report.DropsByName(out)
	}
	ts.SentFPS = report.AverageRate(ts.Sent, ts.firstSent, ts.lastSent)
	ts.Expected, ts.Arrivals = c.Sent, c.Arrivals()
	ts.setReceive(rx)
	return ts
}

// Line is one JSON line of a load run: progress every interval, and a
// final one holding the Summary.
type Line struct {
	Time    time.Time `json:"time"`
	Elapsed float64   `json:"elapsed_s"`
	// Progress is the run so far (not on the final line).
	Progress *Progress `json:"load,omitempty"`
	Final    bool      `json:"final,omitempty"`
	Summary  *Summary  `json:"summary,omitempty"`
	// Budgets, on the final line of a run given any, is each budget
	// judged on each track, with the value measured after the warmup.
	Budgets []budget.JSON `json:"budgets,omitempty"`
}

// Progress is the whole run at one instant, over every track.
type Progress struct {
	Publishers  Count `json:"publishers"`
	Subscribers Count `json:"subscribers"`
	Tracks      Count `json:"tracks"` // published / to publish
	// Cumulative frames (see TrackSummary).
	Pushed    uint64 `json:"pushed"`
	Sent      uint64 `json:"sent"`
	Dropped   uint64 `json:"dropped"`
	Delivered uint64 `json:"delivered"`
	Lost      uint64 `json:"lost"`
	InGrace   uint64 `json:"in_grace"`
	// Over the last interval.
	SentPerSec      float64 `json:"sent_fps"`
	DeliveredPerSec float64 `json:"delivered_fps"`
	LatencyP50ms    float64 `json:"latency_p50_ms"`
	LatencyP95ms    float64 `json:"latency_p95_ms"`
	LatencyP99ms    float64 `json:"latency_p99_ms"`
}

// Count is how many of how many wanted.
type Count struct {
	Now  int `json:"now"`
	Want int `json:"want"`
}

// snapshot is the run's totals at one instant, for progress lines.
type snapshot struct {
	at   time.Time
	tot  Totals
	pubd int
}

func (r *run) totals() snapshot {
	now := time.Now()
	var s snapshot
	s.at = now
	for _, t := range r.allTracks() {
		t.expire(now)
		ts := t.summary()
		s.tot.Add(&ts)
	}
	s.pubd = s.tot.Published
	return s
}

func progressLine(start, now time.Time, cfg Config, connected func() (int, int), prev, cur snapshot) Line {
	pubs, subs := connected()
	p := &Progress{
		Publishers:  Count{pubs, cfg.Participants},
		Subscribers: Count{subs, cfg.Subscribers},
		Tracks:      Count{cur.pubd, cfg.Participants * len(cfg.Tracks)},
		Pushed:      cur.tot.Pushed, Sent: cur.tot.Sent, Dropped: cur.tot.Dropped,
		Delivered: cur.tot.Delivered, Lost: cur.tot.Lost, InGrace: cur.tot.InGrace,
	}
	if dt := cur.at.Sub(prev.at); dt > 0 {
		r := report.RatesBetween(prev.tot.report(), cur.tot.report(), dt)
		p.SentPerSec, p.DeliveredPerSec = r.SentFPS, r.ReceivedFPS
	}
	win := cur.tot.Latency
	win.Sub(&prev.tot.Latency)
	lat := report.LatencyOf(&win)
	p.LatencyP50ms, p.LatencyP95ms, p.LatencyP99ms = ms(int64(lat.P50)), ms(int64(lat.P95)), ms(int64(lat.P99))
	return Line{Time: now.UTC(), Elapsed: now.Sub(start).Seconds(), Progress: p}
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }
