package tracktable

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/theme"
)

func table(w int, rx bool) string {
	m := New(common.Context{Theme: theme.Plain(), Now: func() time.Time { return time.Unix(0, 0) }})
	r := Row{Stats: outgoing.TrackStats{Handle: 1, Name: "t", SID: "DTR_x", State: outgoing.StatePublished, LastError: "boom"}, HasTrack: true}
	if rx {
		r.Rx = &session.ReceiveStats{}
	}
	m.Rows = []Row{r}
	m.SetSize(w, 10)
	return ansi.Strip(m.View())
}

// Narrow terminals drop the least important columns first; what stays is
// the state, the rates, the drops and (with loopback) what arrives.
func TestColumnsByWidth(t *testing.T) {
	for _, tc := range []struct {
		w        int
		rx       bool
		want     []string
		dontWant []string
	}{
		{80, true, []string{"NAME", "STATE", "FPS", "BYTES/S", "DROPPED", "RX/S", "LOST"}, []string{"SID", "LAST ERROR"}},
		{80, false, []string{"NAME", "STATE", "FPS", "BYTES/S", "DROPPED", "PUSHED", "UNPUB"}, []string{"RX/S", "SID"}},
		{140, false, []string{"SID", "PPS", "SEND RATE", "LAST ERROR", "boom"}, []string{"RX/S"}},
		{140, true, []string{"SID", "P50", "P99", "RX/S"}, nil},
	} {
		v := table(tc.w, tc.rx)
		head := strings.Split(v, "\n")[0]
		for _, c := range tc.want {
			if !strings.Contains(v, c) {
				t.Errorf("%d cols, rx=%v: %q missing in %q", tc.w, tc.rx, c, head)
			}
		}
		for _, c := range tc.dontWant {
			if strings.Contains(head, c) {
				t.Errorf("%d cols, rx=%v: %q should not fit in %q", tc.w, tc.rx, c, head)
			}
		}
		for _, l := range strings.Split(v, "\n") {
			if ansi.StringWidth(l) > tc.w {
				t.Errorf("%d cols: line %q is %d wide", tc.w, l, ansi.StringWidth(l))
			}
		}
	}
}

func TestFailedRowSaysWhy(t *testing.T) {
	r := Row{Stats: outgoing.TrackStats{State: outgoing.StateFailed}, Failed: &outgoing.PublishError{Reason: outgoing.ReasonDuplicateName}}
	if s, _ := r.State(theme.Plain(), time.Now()); s != "failed: duplicate" {
		t.Fatalf("state %q", s)
	}
}
