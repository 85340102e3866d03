package tracktable

import (
	"errors"
	"time"

	"github.com/charmbracelet/lipgloss"

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
	// RecentDrops is how many frames were dropped in the last few seconds
	// (the model's drop window): what "dropping" means, as opposed to
	// Stats.FramesDropped, which counts since the start or the last reset.
	RecentDrops uint64

	HasTrack   bool      // published through this UI (pushable)
	Spark      []float64 // send rate, one value per second, oldest first
	Generating bool
	GenRate    float64
	GenSize    int

	Failed error // set on the row of a publish that failed: a UI row state, not a track state
}

// State is the row's state in words, and the style that colours it. A
// published track that dropped frames recently reads "dropping", so the
// word says it without colour too.
func (r Row) State(th theme.Theme, now time.Time) (string, lipgloss.Style) {
	st := r.Stats
	gen := ""
	if r.Generating {
		gen = " ▶"
	}
	if r.Failed != nil {
		return "failed: " + ShortReason(r.Failed), th.Bad
	}
	switch st.State {
	case outgoing.StatePending:
		return "pending " + format.Duration(now.Sub(st.Since)), th.Warn
	case outgoing.StatePublished:
		if r.RecentDrops > 0 {
			return "dropping" + gen, th.Bad
		}
		return "published" + gen, th.OK
	case outgoing.StateRepublishing:
		return "republishing", th.Warn
	case outgoing.StateUnpublished:
		return "unpublished", th.Dim
	}
	return st.State.String(), th.Dim
}

// ShortReason names why a publish failed in a word or two, for the table
// (at most 12 cells, so "failed: " and it fit the STATE column); the
// detail pane keeps the full reason.
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
