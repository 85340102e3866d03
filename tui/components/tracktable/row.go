package tracktable

import (
	"errors"
	"fmt"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/theme"
)

// Row is one track as the table and the detail pane show it: the
// report's figures for it, and what the UI adds (its generator, or why
// its publish failed). A local track's row has L; a room row (another
// participant's track, as the room monitor receives it) has R.
type Row struct {
	L report.Local
	R *report.Remote

	// Dropping: frames were dropped within the model's drop window (the
	// last few seconds), as opposed to L.Out.FramesDropped, which counts
	// since the start or the last reset. On a room row: frames or packets
	// were lost within it.
	Dropping bool
	// Losing: on a local row, frames sent were lost on the way to the
	// loopback subscriber within the drop window (the SFU shed them, say).
	Losing bool

	HasTrack   bool // published through this UI (pushable)
	Generating bool
	GenRate    float64
	GenSize    int

	// Failed is set on the row of a publish that failed: a UI row state,
	// not a track state (L then holds only the name and the time).
	Failed error

	// Source is the user's data being pushed into the track (o), or the
	// last that was; nil: none.
	Source *Source
}

// Source is a file source's progress on a local track.
type Source struct {
	Path    string // as the user typed it
	Framing string
	Pushed  int   // frames handed to the track
	Bytes   int64 // their bytes
	Total   int   // frames in the source, once counted (-1: not yet)
	Done    bool
	Err     error // why it stopped early, once Done
}

// Progress is the source's progress in words: "pushed 120/500 frames
// (12 KiB, lines)".
func (s *Source) Progress() string {
	total := "?"
	if s.Total >= 0 {
		total = fmt.Sprint(s.Total)
	}
	return fmt.Sprintf("pushed %d/%s frames (%s, %s)", s.Pushed, total, format.Bytes(float64(s.Bytes)), s.Framing)
}

// Room says the row is another participant's track.
func (r Row) Room() bool { return r.R != nil }

// Name is the track's name, safe to show.
func (r Row) Name() string {
	if r.R != nil {
		return format.Outside(r.R.Stats.Name)
	}
	return format.Outside(r.L.Name)
}

// SID is the track's current SID, safe to show ("" while pending).
func (r Row) SID() string {
	if r.R != nil {
		return format.Outside(r.R.SID())
	}
	return format.Outside(r.L.SID())
}

// History is the row's per-second history.
func (r Row) History() []report.Second {
	if r.R != nil {
		return r.R.History
	}
	return r.L.History
}

// Spark is frames sent per second (received, on a room row), oldest
// first, from the report's history.
func (r Row) Spark() []float64 {
	h := r.History()
	out := make([]float64, len(h))
	for i, s := range h {
		if r.R != nil {
			out[i] = float64(s.Received)
		} else {
			out[i] = float64(s.Sent)
		}
	}
	return out
}

// State is the row's state in words, and the style that colours it. A
// published track that dropped frames recently reads "dropping", so the
// word says it without colour too.
func (r Row) State(th theme.Theme, now time.Time) (string, lipgloss.Style) {
	if r.R != nil {
		return r.roomState(th, now)
	}
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
		if r.Losing {
			return "losing" + gen, th.Bad
		}
		return "published" + gen, th.OK
	case outgoing.StateRepublishing:
		return "republishing", th.Warn
	case outgoing.StateUnpublished:
		return "unpublished", th.Dim
	}
	return r.L.State.String(), th.Dim
}

// Republished marks a room row that republishes another (its publisher
// reconnected); the row it replaces reads "replaced".
const Republished = "↻"

// roomState is a room row's state in words: the subscription's, "losing"
// while frames or packets were lost within the last few seconds (as
// "dropping" for a local track), "replaced" for a publication its
// publisher republished under a new SID.
func (r Row) roomState(th theme.Theme, now time.Time) (string, lipgloss.Style) {
	st := r.R.Stats
	re := ""
	if st.Replaces != "" {
		re = " " + Republished
	}
	switch st.State {
	case incoming.StateAnnounced:
		return "announced" + re, th.Dim
	case incoming.StateSubscribing:
		return "subscribing " + format.Duration(now.Sub(st.Since)) + re, th.Warn
	case incoming.StateSubscribed:
		if r.Dropping {
			return "losing" + re, th.Bad
		}
		return "subscribed" + re, th.OK
	case incoming.StateUnsubscribed:
		return "unsubscribed" + re, th.Warn
	case incoming.StateUnpublished:
		if st.ReplacedBy != "" {
			return "replaced", th.Dim
		}
		return "unpublished" + re, th.Dim
	}
	return st.State.String(), th.Dim
}

// Ended says the row is over: a local track unpublished, a publish that
// failed, a room track unpublished. Only those can be removed.
func (r Row) Ended() bool {
	if r.R != nil {
		return r.R.Stats.State == incoming.StateUnpublished
	}
	return r.Failed != nil || r.L.State == outgoing.StateUnpublished
}

// LastError is the latest error in words, without the track's name,
// safe to show.
func (r Row) LastError() string {
	if r.R != nil {
		if errs := r.R.Stats.Errors; len(errs) > 0 {
			return format.Outside(errs[len(errs)-1].Err)
		}
		return ""
	}
	if ev, ok := r.L.LastError(); ok {
		return format.Outside(ev.Problem())
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
