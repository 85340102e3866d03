// Package sfulog reads the embedded SFU's own account of every data track
// from the records it logs through this process: a second observer of
// what dttui sends and receives. It knows nothing of the session; the
// session installs View.Handler on the libraries' log route and asks the
// view about the tracks it shows.
package sfulog

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/dttui/dttui/report"
)

// The embedded SFU runs in this process and logs through it (session's
// logging.go).
// Two of its records are its own account of every data track, a second
// observer of what dttui sends and receives (livekit-server v1.13.5):
//
//   - "could not send data track message" (pkg/rtc/datadowntrack.go), one
//     per packet it did not forward to a subscriber, on the down track's
//     logger (participant: the subscriber; trackID: the published track).
//     Its error says why: "data dropped due to high buffered amount" (more
//     than its target latency queued toward that subscriber: shed), or
//     "data channel is not available" (the subscriber's channel not open).
//   - "data track stats" (pkg/rtc/datatrack_stats.go), once a published
//     track closes: the packets it received from the publisher, the gaps
//     in their sequence numbers, the frames.
//
// A remote SFU's logs are not ours to read: then nothing is known, and the
// report says nothing rather than zero.

// NotSent is the SFU's message for each packet it did not forward, at
// Warn.
const NotSent = "could not send data track message"

// ShedError is the SFU's error for a packet it shed.
const ShedError = "data dropped due to high buffered amount"

// maxSFUTracks bounds what the view keeps: the oldest tracks go first.
const maxSFUTracks = 4096

// sfuTrack is what the SFU logged about one track SID.
type sfuTrack struct {
	shed, notReady map[string]uint64 // packets not forwarded, by subscriber identity
	up             *report.SFUUp
}

// View is what the SFU logged about each track SID, the newest
// maxSFUTracks tracks.
type View struct {
	mu     sync.Mutex
	tracks map[string]*sfuTrack
	order  []string // SIDs, oldest first
}

// NewView returns an empty view.
func NewView() *View { return &View{tracks: map[string]*sfuTrack{}} }

// Observed is the process's view: the embedded SFU's logs are
// process-wide, as the SFU is.
var Observed = NewView()

func (v *View) trackLocked(sid string) *sfuTrack {
	t := v.tracks[sid]
	if t == nil {
		if len(v.order) >= maxSFUTracks {
			delete(v.tracks, v.order[0])
			v.order = slices.Delete(v.order, 0, 1)
		}
		t = &sfuTrack{shed: map[string]uint64{}, notReady: map[string]uint64{}}
		v.tracks[sid] = t
		v.order = append(v.order, sid)
	}
	return t
}

// notForwarded records a packet of sid the SFU did not send to subscriber.
func (v *View) notForwarded(sid, subscriber string, shed bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := v.trackLocked(sid)
	if shed {
		t.shed[subscriber]++
	} else {
		t.notReady[subscriber]++
	}
}

func (v *View) closed(sid string, up report.SFUUp) {
	v.mu.Lock()
	defer v.mu.Unlock()
	u := up
	v.trackLocked(sid).up = &u
}

// Of sums what the SFU said of the SIDs toward subscriber; ok is false
// when it said nothing of any of them.
func (v *View) Of(sids []string, subscriber string) (report.SFUObserved, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var o report.SFUObserved
	found := false
	for _, sid := range sids {
		t := v.tracks[sid]
		if t == nil {
			continue
		}
		found = true
		o.Shed += t.shed[subscriber]
		o.NotReady += t.notReady[subscriber]
		for _, n := range t.shed {
			o.ShedAll += n
		}
		if t.up != nil {
			if o.Up == nil {
				o.Up = &report.SFUUp{}
			}
			o.Up.Packets += t.up.Packets
			o.Up.PacketsLost += t.up.PacketsLost
			o.Up.PacketsOutOfOrder += t.up.PacketsOutOfOrder
			o.Up.Frames += t.up.Frames
		}
	}
	return o, found
}

// Handler returns a slog.Handler for the livekit logger that reads the
// two records above into v; it writes nothing.
func (v *View) Handler() slog.Handler { return sfuObserver{view: v} }

type sfuObserver struct {
	view  *View
	attrs []slog.Attr
}

func (h sfuObserver) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h sfuObserver) WithGroup(string) slog.Handler                { return h }
func (h sfuObserver) WithAttrs(as []slog.Attr) slog.Handler {
	return sfuObserver{view: h.view, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h sfuObserver) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case NotSent, "data track stats":
	default:
		return nil
	}
	var sid, participant, errText string
	var up report.SFUUp
	visit := func(a slog.Attr) bool {
		v := a.Value.Resolve()
		switch a.Key {
		case "trackID":
			sid = v.String()
		case "participant":
			participant = v.String()
		case "error":
			if err, ok := v.Any().(error); ok {
				errText = err.Error()
			} else {
				errText = v.String()
			}
		case "numPackets":
			up.Packets = uint64(max(v.Int64(), 0))
		case "numPacketsLost":
			up.PacketsLost = uint64(max(v.Int64(), 0))
		case "numPacketsOutOfOrder":
			up.PacketsOutOfOrder = uint64(max(v.Int64(), 0))
		case "numFrames":
			up.Frames = uint64(max(v.Int64(), 0))
		}
		return true
	}
	for _, a := range h.attrs {
		visit(a)
	}
	r.Attrs(visit)
	if sid == "" {
		return nil
	}
	if r.Message == "data track stats" {
		h.view.closed(sid, up)
	} else {
		// The SFU wraps its error with the figures behind the decision.
		h.view.notForwarded(sid, participant, strings.HasPrefix(errText, ShedError))
	}
	return nil
}
