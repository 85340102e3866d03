package tracktable

import (
	"errors"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/theme"
)

// Row is one track as the table and the detail pane show it.
type Row struct {
	Stats outgoing.TrackStats
	Rx    *session.ReceiveStats // nil without the loopback subscriber

	FPS, PPS, BPS, RxFPS float64 // smoothed rates

	HasTrack   bool      // published through this UI (pushable)
	Spark      []float64 // send-rate history, oldest first
	Generating bool
	GenRate    float64
	GenSize    int

	Failed error // a publish that failed (Stats.State is StateFailed)
}

// State is the row's state in words, and the style that colours it.
func (r Row) State(th theme.Theme, now time.Time) (string, func(...string) string) {
	st := r.Stats
	switch st.State {
	case outgoing.StatePending:
		return "pending " + format.Duration(now.Sub(st.Since)), th.Warn.Render
	case outgoing.StatePublished:
		if r.Generating {
			return "published ▶", th.OK.Render
		}
		return "published", th.OK.Render
	case outgoing.StateRepublishing:
		return "republishing", th.Warn.Render
	case outgoing.StateUnpublished:
		return "unpublished", th.Dim.Render
	case outgoing.StateFailed:
		if r.Failed != nil {
			return "failed: " + ShortReason(r.Failed), th.Bad.Render
		}
		return "failed", th.Bad.Render
	}
	return st.State.String(), th.Dim.Render
}

// ShortReason names why a publish failed in a word or two, for the table.
func ShortReason(err error) string {
	var pe *outgoing.PublishError
	if !errors.As(err, &pe) {
		return "error"
	}
	switch pe.Reason {
	case outgoing.ReasonNotAllowed:
		return "not allowed"
	case outgoing.ReasonDuplicateName:
		return "duplicate"
	case outgoing.ReasonInvalidName:
		return "bad name"
	case outgoing.ReasonTimeout:
		return "timeout"
	case outgoing.ReasonLimitReached:
		return "limit"
	case outgoing.ReasonDisconnected:
		return "disconnected"
	case outgoing.ReasonCancelled:
		return "cancelled"
	case outgoing.ReasonE2EENotConfigured:
		return "no E2EE key"
	}
	return "rejected"
}
