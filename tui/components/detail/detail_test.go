package detail

import (
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/components/tracktable"
	"github.com/dttui/dttui/tui/theme"
)

// The SFU's own account, when its logs are ours to read, is a line of the
// pane of both kinds of row; without it the pane says nothing of the SFU.
func TestSFUAccount(t *testing.T) {
	ctx := common.Context{Theme: theme.Plain(), Now: func() time.Time { return time.Unix(0, 0) }}
	view := func(r tracktable.Row) string {
		m := New(ctx)
		m.Row = &r
		m.SetSize(140, 40)
		return m.View()
	}
	o := &report.SFUObserved{Shed: 12, NotReady: 3, Up: &report.SFUUp{Packets: 230, PacketsLost: 0}}
	local := tracktable.Row{L: report.Local{Handle: 1, Name: "a", SIDs: []string{"DTR_a"}, State: outgoing.StatePublished, SFU: o}, HasTrack: true}
	if v := view(local); !strings.Contains(v, "the SFU (its log): shed 12 packets toward the loopback") ||
		!strings.Contains(v, "3 before its channel was open") || !strings.Contains(v, "received 230 packets from the publisher, 0 lost on the way up") {
		t.Fatalf("local row:\n%s", v)
	}
	remote := tracktable.Row{R: &report.Remote{Stats: incoming.TrackStats{Info: incoming.Info{SID: "DTR_r", Name: "r"}}, SFU: &report.SFUObserved{Shed: 5}}}
	if v := view(remote); !strings.Contains(v, "shed 5 packets toward us") || strings.Contains(v, "on the way up") {
		t.Fatalf("room row:\n%s", v)
	}
	local.L.SFU = nil
	if v := view(local); strings.Contains(v, "SFU") {
		t.Fatalf("a row without the SFU's account mentions it:\n%s", v)
	}
}

// Frames that came and failed to decrypt: the preview says none was
// decrypted, not that none came (main: "frames received 1206" above
// "last frame: none yet").
func TestPreviewOfUndecryptedTrack(t *testing.T) {
	ctx := common.Context{Theme: theme.Plain(), Now: func() time.Time { return time.Unix(0, 0) }}
	st := incoming.TrackStats{Info: incoming.Info{SID: "DTR_r", Name: "cam"}, FramesCompleted: 1206}
	st.Encryption = incoming.EncryptionGCM
	st.DecryptFailures[incoming.DecryptAuthFailed] = 1206
	m := New(ctx)
	m.Row = &tracktable.Row{R: &report.Remote{Stats: st}}
	m.SetSize(140, 40)
	if v := m.View(); !strings.Contains(v, "last frame: none decrypted yet") {
		t.Fatalf("pane:\n%s", v)
	}
	st.DecryptFailures[incoming.DecryptAuthFailed], st.FramesCompleted = 0, 0
	m.Row = &tracktable.Row{R: &report.Remote{Stats: st}}
	if v := m.View(); !strings.Contains(v, "last frame: none yet") {
		t.Fatalf("pane:\n%s", v)
	}
}

// A local track with a schema shows its mismatches, and a refused frame
// its drop reason; the room row shows the check and the first failing
// path, escaped.
func TestSchemaCheckLines(t *testing.T) {
	ctx := common.Context{Theme: theme.Plain(), Now: func() time.Time { return time.Unix(0, 0) }}
	view := func(r tracktable.Row) string {
		m := New(ctx)
		m.Row = &r
		m.SetSize(140, 40)
		return m.View()
	}
	typ := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON},
		Schema: schema.ID{Name: "pose", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}}
	l := report.Local{Handle: 1, Name: "pose", SIDs: []string{"DTR_a"}, State: outgoing.StatePublished, Type: typ,
		Out: outgoing.Counters{FramesPushed: 5, FramesSent: 3, FramesDropped: 2, SchemaMismatches: 2}}
	l.Out.DroppedBy[outgoing.DropSchemaMismatch] = 2
	if v := view(tracktable.Row{L: l, HasTrack: true}); !strings.Contains(v, "schema mismatches 2") || !strings.Contains(v, "schema mismatch 2") {
		t.Fatalf("local row:\n%s", v)
	}
	r := &report.Remote{Stats: incoming.TrackStats{Info: incoming.Info{SID: "DTR_r", Name: "r", Type: typ}},
		Schema: report.SchemaCheck{Checked: 5, Mismatches: 2, First: &validate.Mismatch{Path: "/a\x1b[2Jb", Reason: "missing property 'y'"}}}
	v := view(tracktable.Row{R: r})
	if !strings.Contains(v, "schema check: 5 frames checked · schema mismatch 2 · first at /a") || strings.Contains(v, "\x1b[2J") {
		t.Fatalf("room row:\n%q", v)
	}
	r.Schema = report.SchemaCheck{NotChecked: 4, Unchecked: validate.UncheckedTooCostly}
	if v := view(tracktable.Row{R: r}); !strings.Contains(v, "schema check: not checked (schema too costly) · 4 frames") {
		t.Fatalf("room row, not checked:\n%s", v)
	}
}

// A room track whose subscribe requests went unanswered says so, and
// that they are asked for again; one that never timed out says nothing.
func TestSubscribeTimeoutsShow(t *testing.T) {
	ctx := common.Context{Theme: theme.Plain(), Now: func() time.Time { return time.Unix(0, 0) }}
	view := func(st incoming.TrackStats) string {
		m := New(ctx)
		m.Row = &tracktable.Row{R: &report.Remote{Stats: st}}
		m.SetSize(140, 40)
		return m.View()
	}
	st := incoming.TrackStats{Info: incoming.Info{SID: "DTR_r", Name: "r"}, State: incoming.StateSubscribed, Subscriptions: 1, SubscribeTimeouts: 2}
	if v := view(st); !strings.Contains(v, "2 subscribe requests unanswered (asked again)") {
		t.Fatalf("pane:\n%s", v)
	}
	st.SubscribeTimeouts = 0
	if v := view(st); strings.Contains(v, "unanswered") {
		t.Fatalf("pane:\n%s", v)
	}
}
