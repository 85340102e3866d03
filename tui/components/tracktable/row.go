package tracktable

import (
	"errors"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/theme"
)

// Row is one track as the table and the detail pane show it: the
// report's figures for it, and what the UI adds (its generator, or why
// its publish failed).
type Row struct {
	L report.Local

	// Dropping: frames were dropped within the model's drop window (the
	// last few seconds), as opposed to L.Out.FramesDropped, which counts
	// since the start or the last reset.
	Dropping bool

	HasTrack   bool // published through this UI (pushable)
	Generating bool
	GenRate    float64
	GenSize    int

	// Failed is set on the row of a publish that failed: a UI row state,
	// not a track state (L then holds only the name and the time).
	Failed error
}

// Spark is frames sent per second, oldest first, from the report's history.
func (r Row) Spark() []float64 {
	out := make([]float64, len(r.L.History))
	for i, s := range r.L.History {
		out[i] = float64(s.Sent)
	}
	return out
}

// State is the row's state in words, and the style that colours it. A
// published track that dropped frames recently reads "dropping", so the
// word says it without colour too.
func (r Row) State(th theme.Theme, now time.Time) (string, lipgloss.Style) {
	if r.Failed != nil {
		return "failed: " + ShortReason(r.Failed), th.Bad
	}
	gen := ""
	if r.Generating {
		gen = " ▶"
	}
	switch r.L.State {
	case outgoing.StatePending:
		return "pending " + format.Duration(now.Sub(r.L.Since)), th.Warn
	case outgoing.StatePublished:
		if r.Dropping {
			return "dropping" + gen, th.Bad
		}
		return "published" + gen, th.OK
	case outgoing.StateRepublishing:
		return "republishing", th.Warn
	case outgoing.StateUnpublished:
		return "unpublished", th.Dim
	}
	return r.L.State.String(), th.Dim
}

// LastError is the latest error in words, without the track's name.
func (r Row) LastError() string {
	if ev, ok := r.L.LastError(); ok {
		return ev.Problem()
	}
	return ""
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
