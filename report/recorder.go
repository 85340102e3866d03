package report

import (
	"strconv"
	"sync"
	"time"

	"github.com/dttui/dttui/histogram"
)

// Recorder keeps, per track handle, a per-second history (the latest
// complete second is the rates), per-second latency histograms and the first
// and last frame times for whole-run averages, and the connection's
// per-second history and state changes. The session samples every track
// and the connection at SampleInterval and reports each frame's latency
// as it arrives; Fill and FillConn then compute a Snapshot's figures. It
// is safe for concurrent use.
type Recorder struct {
	history int

	mu     sync.Mutex
	tracks map[Key]*trackRec
	conn   connRec
}

// Key names a track in the recorder: a local track by its handle, a
// remote one by its SID.
type Key string

// LocalKey is the key of the local track with handle h.
func LocalKey(h uint16) Key { return Key("local/" + strconv.Itoa(int(h))) }

// RemoteKey is the key of the remote track sid.
func RemoteKey(sid string) Key { return Key("remote/" + sid) }

// NewRecorder keeps historySeconds of per-second history per track
// (DefaultHistorySeconds when ≤ 0).
func NewRecorder(historySeconds int) *Recorder {
	if historySeconds <= 0 {
		historySeconds = DefaultHistorySeconds
	}
	return &Recorder{history: historySeconds, tracks: map[Key]*trackRec{}}
}

// latencySeconds covers LatencyWindow plus the second being filled.
const latencySeconds = int(LatencyWindow/time.Second) + 1

type trackRec struct {
	secStart time.Time // start of the second being filled
	secBase  Totals    // totals at secStart
	// last is the latest complete second's totals at its start and end:
	// the rates (zero Start: none yet).
	last struct {
		start time.Time
		a, b  Totals
	}
	history []Second // complete seconds: grows to histMax, then a ring
	histMax int
	hn      int // seconds completed

	// lat is a ring by second, each slot made when a latency first falls
	// in it: an idle track carries no histograms.
	lat     [latencySeconds]*latencySecond
	run     histogram.Histogram // every frame of the run, in ns
	latSeen histogram.Histogram // ObserveLatencies' previous cumulative histogram
	// win caches the latency window (made when there is one to cache).
	win *latencyWindow
}

type latencySecond struct {
	start time.Time // zero: unused
	h     histogram.Histogram
}

func (r *Recorder) track(h Key) *trackRec {
	t := r.tracks[h]
	if t == nil {
		t = &trackRec{histMax: r.history}
		r.tracks[h] = t
	}
	return t
}

// Sample records a track's totals at now. Samples of one track come in
// time order.
func (r *Recorder) Sample(h Key, now time.Time, tot Totals) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.track(h)
	sec := now.Truncate(time.Second)
	switch {
	case t.secStart.IsZero():
		// The base stays zero: a track's totals count from its start, and
		// what it did before this first sample (a frame sent at once after
		// the publish) belongs to its history too.
		t.secStart = sec
	case sec.After(t.secStart):
		// Close the second(s) since secStart: all the change since the
		// base falls into the first; an idle stretch adds empty seconds.
		t.closeSecond(tot)
		for s := t.secStart.Add(time.Second); s.Before(sec); s = s.Add(time.Second) {
			t.secStart = s
			t.closeSecond(tot)
		}
		t.secStart, t.secBase = sec, tot
	}
}

func (t *trackRec) closeSecond(tot Totals) {
	b := t.secBase
	s := Second{Start: t.secStart,
		Sent: tot.Out.FramesSent - b.Out.FramesSent, Packets: tot.Out.PacketsSent - b.Out.PacketsSent,
		Bytes: tot.Out.BytesSent - b.Out.BytesSent, PayloadBytes: tot.SentPayload - b.SentPayload, Dropped: tot.Out.FramesDropped - b.Out.FramesDropped,
		Received: tot.Received - b.Received, RxBytes: tot.RxBytes - b.RxBytes, Lost: tot.Lost - b.Lost}
	for i := range s.DroppedBy {
		s.DroppedBy[i] = tot.Out.DroppedBy[i] - b.Out.DroppedBy[i]
	}
	t.last.start, t.last.a, t.last.b = t.secStart, b, tot
	if ls := t.latencyFor(t.secStart, false); ls != nil {
		l := latencyOf(&ls.h, time.Second)
		s.LatencyP50, s.LatencyP95, s.LatencyP99, s.LatencyFrames = l.P50, l.P95, l.P99, l.Frames
	}
	if len(t.history) < t.histMax {
		t.history = append(t.history, s)
	} else {
		t.history[t.hn%len(t.history)] = s
	}
	t.hn++
	t.secBase = tot
}

// latencyFor is the histogram of the second starting at sec; create makes
// (or recycles) its slot.
func (t *trackRec) latencyFor(sec time.Time, create bool) *latencySecond {
	slot := &t.lat[sec.Unix()%int64(len(t.lat))]
	ls := *slot
	if ls != nil && ls.start.Equal(sec) {
		return ls
	}
	if !create {
		return nil
	}
	if ls == nil {
		ls = &latencySecond{}
		*slot = ls
	}
	ls.start = sec
	ls.h.Reset()
	return ls
}

// window is the latency histogram of the seconds from LatencyWindow
// before now (or since, if later) up to now. The complete seconds'
// merge is kept until the second turns, so a caller ten times a second
// merges ten histograms once a second, not at every call.
func (t *trackRec) window(now, since time.Time) *histogram.Histogram {
	from := now.Add(-LatencyWindow).Truncate(time.Second)
	if since.After(from) {
		from = since.Truncate(time.Second)
	}
	cur := now.Truncate(time.Second)
	w := t.win
	if w == nil || !w.from.Equal(from) || !w.upTo.Equal(cur) {
		var h histogram.Histogram
		for _, ls := range t.lat {
			if ls != nil && !ls.start.IsZero() && !ls.start.Before(from) && ls.start.Before(cur) {
				h.Merge(&ls.h)
			}
		}
		if w == nil && h.Count() == 0 && t.latencyFor(cur, false) == nil {
			return &noLatency // an idle track keeps no window
		}
		if w == nil {
			w = &latencyWindow{}
			t.win = w
		}
		w.from, w.upTo, w.done = from, cur, h
	}
	w.now = w.done
	if ls := t.latencyFor(cur, false); ls != nil && !cur.Before(from) {
		w.now.Merge(&ls.h)
	}
	return &w.now
}

// latencyWindow is a track's latency window, cached: done merges the
// complete seconds [from, upTo); now adds the current second to them,
// as last returned.
type latencyWindow struct {
	from, upTo time.Time
	done, now  histogram.Histogram
}

// noLatency is the window of a track with none; read only.
var noLatency histogram.Histogram

// ObserveLatency records one frame's latency, at its arrival time.
func (r *Recorder) ObserveLatency(h Key, at time.Time, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.track(h)
	t.latencyFor(at.Truncate(time.Second), true).h.Record(int64(d))
	t.run.Record(int64(d))
}

// Forget drops a track's records (a row the user removed).
func (r *Recorder) Forget(h Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.tracks, h)
}

// Fill sets l's figures (rates, averages, latency, history) from the
// records of its handle and its current totals cur at now. Latency and
// history only count what happened at or after since (a display reset); a
// zero since counts the whole window.
func (r *Recorder) Fill(l *Local, now time.Time, cur Totals, since time.Time) {
	r.FillScope(l, now, cur, since, Scope{})
}

// FillScope is Fill with the history cut to sc.
func (r *Recorder) FillScope(l *Local, now time.Time, cur Totals, since time.Time, sc Scope) {
	l.Figures = r.FiguresScope(LocalKey(l.Handle), now, cur, since, l.Rx != nil, sc)
}

// Scope narrows the per-second history a snapshot carries to what its
// consumer draws: a screen of 256 rows draws ten seconds of each and the
// whole history of one, and copying 15 minutes of every track ten times a
// second would cost more than everything else it does. Every other
// figure is the same whatever the scope. The zero Scope keeps everything.
type Scope struct {
	// History keeps each track's newest History complete seconds (0: all).
	History int
	// Full keeps the whole history of this track anyway (the row the
	// chart pane draws); "" none.
	Full Key
	// NoRun leaves out the whole run's latency (a screen shows the last
	// window's).
	NoRun bool
}

// Figures computes a track's figures from its records and its current
// totals cur at now; hasRx says a subscriber's figures are in cur.
func (r *Recorder) Figures(key Key, now time.Time, cur Totals, since time.Time, hasRx bool) Figures {
	return r.FiguresScope(key, now, cur, since, hasRx, Scope{})
}

// FiguresScope is Figures with the history cut to sc.
func (r *Recorder) FiguresScope(key Key, now time.Time, cur Totals, since time.Time, hasRx bool, sc Scope) Figures {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := Figures{Rate: Rates{Window: RateWindow}, Latency: Latency{Window: LatencyWindow}, Average: average(cur, hasRx)}
	t := r.tracks[key]
	if t == nil {
		return f
	}
	// Rates are the latest complete second's counts: what was sent in a
	// whole second, the figure its history bar shows too. A window of
	// samples ending at an arbitrary instant would read a 1 frame/s track
	// as 0 or 1.07 and a 3 frames/s one as 3.2. A second that ended more
	// than a second ago is stale (the samples stopped): no rate.
	if ls := t.last.start; !ls.IsZero() && now.Sub(ls) < 3*time.Second {
		f.Rate = RatesBetween(t.last.a, t.last.b, RateWindow)
		f.Rate.ReceivedValid = hasRx
	}

	f.Latency = latencyOf(t.window(now, since), LatencyWindow)
	if !sc.NoRun {
		run := t.run
		f.RunLatency, f.RunLatencyHist = latencyOf(&run, 0), &run
	}

	n := min(t.hn, len(t.history))
	if sc.History > 0 && key != sc.Full {
		n = min(n, sc.History)
	}
	if n > 0 {
		f.History = make([]Second, 0, n)
	}
	for k := n; k >= 1; k-- {
		s := t.history[(t.hn-k)%len(t.history)]
		if !since.IsZero() && s.Start.Before(since.Truncate(time.Second)) {
			continue
		}
		f.History = append(f.History, s)
	}
	return f
}

// ObserveLatencies adds what a cumulative latency histogram (in ns)
// gained since the last call, at now: for a subscriber that keeps its own
// histogram (incoming) rather than reporting each frame.
func (r *Recorder) ObserveLatencies(key Key, now time.Time, cum *histogram.Histogram) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.track(key)
	delta := *cum
	delta.Sub(&t.latSeen)
	t.latSeen = *cum
	if delta.Count() == 0 {
		return
	}
	t.latencyFor(now.Truncate(time.Second), true).h.Merge(&delta)
	t.run.Merge(&delta)
}

// AverageRate is n frames' rate over a run, the first at first and the
// last at last: n frames over the n-1 intervals between them, so a steady
// stream's average is its rate however short the run (0 for fewer than
// two frames or no time between them). Every whole-run rate (Average,
// load's sent_fps) is this one.
func AverageRate(n uint64, first, last time.Time) float64 {
	span := last.Sub(first)
	if n < 2 || span <= 0 {
		return 0
	}
	return float64(n-1) / span.Seconds()
}

// average is the whole run's rates: n frames over the n-1 intervals
// between the first and the last frame, so a steady stream's average is
// its rate however short the run. Bytes and packets are scaled alike.
// Window is the span of the frames sent or, for a track that only
// receives (a remote one), of the frames received.
func average(cur Totals, rx bool) Rates {
	var a Rates
	if n := cur.Out.FramesSent; n > 1 {
		if span := cur.LastSent.Sub(cur.FirstSent); span > 0 {
			scale := AverageRate(n, cur.FirstSent, cur.LastSent) / float64(n)
			a.Window = span
			a.SentFPS = float64(n) * scale
			a.SentPPS = float64(cur.Out.PacketsSent) * scale
			a.SentBPS = float64(cur.Out.BytesSent) * scale
			a.DroppedFPS = float64(cur.Out.FramesDropped) / span.Seconds()
		}
	}
	if n := cur.Received; rx && n > 1 {
		if span := cur.LastRx.Sub(cur.FirstRx); span > 0 {
			scale := AverageRate(n, cur.FirstRx, cur.LastRx) / float64(n)
			a.ReceivedFPS = float64(n) * scale
			a.ReceivedBPS = float64(cur.RxBytes) * scale
			a.ReceivedPPS = float64(cur.RxPackets) * scale
			a.LostFPS = float64(cur.Lost) / span.Seconds()
			a.PacketsLostPS = float64(cur.PacketsLost) / span.Seconds()
			a.ReceivedValid = true
			if a.Window == 0 {
				a.Window = span
			}
		}
	}
	return a
}

// AverageOver sets l's whole-run rates to its totals over d: for a run
// that ended when its data did, where the frames left in an instant and
// the time the run took is the honest denominator. d ≤ 0 leaves them.
func (l *Local) AverageOver(d time.Duration) {
	if d <= 0 {
		return
	}
	cur := Totals{Out: l.Out}
	if l.Rx != nil {
		cur.Received, cur.RxBytes, cur.Lost = l.Rx.Frames+l.Rx.Data, l.Rx.Bytes, l.Rx.Lost
	}
	a := RatesBetween(Totals{}, cur, d)
	a.ReceivedValid = l.Rx != nil
	l.Average = a
}

// RatesBetween is the rates from totals a to totals b, taken dt apart
// (Window dt): a counter that went down counts nothing. The rates of the
// latest second and a load run's progress lines are these.
func RatesBetween(a, b Totals, dt time.Duration) Rates {
	sec := dt.Seconds()
	per := func(x, y uint64) float64 {
		if y < x {
			return 0
		}
		return float64(y-x) / sec
	}
	return Rates{Window: dt,
		SentFPS: per(a.Out.FramesSent, b.Out.FramesSent), SentPPS: per(a.Out.PacketsSent, b.Out.PacketsSent),
		SentBPS: per(a.Out.BytesSent, b.Out.BytesSent), DroppedFPS: per(a.Out.FramesDropped, b.Out.FramesDropped),
		ReceivedFPS: per(a.Received, b.Received), ReceivedBPS: per(a.RxBytes, b.RxBytes), LostFPS: per(a.Lost, b.Lost),
		ReceivedPPS: per(a.RxPackets, b.RxPackets), PacketsLostPS: per(a.PacketsLost, b.PacketsLost),
	}
}

func latencyOf(h *histogram.Histogram, window time.Duration) Latency {
	var q [4]int64
	h.Quantiles([]float64{0.5, 0.95, 0.99, 1}, q[:])
	return Latency{Window: window, Frames: h.Count(), P50: time.Duration(q[0]), P95: time.Duration(q[1]), P99: time.Duration(q[2]), Max: time.Duration(q[3])}
}
