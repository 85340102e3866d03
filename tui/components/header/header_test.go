package header

import (
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/theme"
)

// The header names where the server and key came from while there is
// room, and drops it first when there is not; the embedded SFU's own
// keys are not worth the room.
func TestHeaderSaysCredentialsSource(t *testing.T) {
	m := New(common.Context{Theme: theme.Plain(), Now: func() time.Time { return time.Unix(0, 0) }})
	m.Status = session.Status{State: session.StateConnected, URL: "wss://dev.example", Room: "lab",
		Credentials: report.Credentials{URL: report.OriginProject, Key: report.OriginProject, Project: "dev", DefaultProject: true}}
	m.Width = 140
	if v := m.View(); !strings.Contains(v, "via default project dev") {
		t.Fatalf("wide: %q", v)
	}
	m.Width = 60
	if v := m.View(); strings.Contains(v, "via") || !strings.Contains(v, "room lab") {
		t.Fatalf("narrow: %q", v)
	}
	m.Width = 140
	m.Status.Credentials = report.Credentials{URL: report.OriginEmbedded, Key: report.OriginEmbedded}
	if v := m.View(); strings.Contains(v, "via") {
		t.Fatalf("embedded: %q", v)
	}
	m.Status.Credentials = report.Credentials{URL: report.OriginEnv, Key: report.OriginFlag}
	if v := m.View(); !strings.Contains(v, "via url env, key flags") {
		t.Fatalf("mixed: %q", v)
	}
}

// Datagrams dttui's own stack dropped are said at every width: a loss
// that is ours must not pass for the network's.
func TestHeaderSaysLocalDrops(t *testing.T) {
	m := New(common.Context{Theme: theme.Plain(), Now: func() time.Time { return time.Unix(0, 0) }})
	m.Status = session.Status{State: session.StateConnected, URL: "wss://dev.example", Room: "lab"}
	m.Width = 140
	if v := m.View(); strings.Contains(v, "dropped here") {
		t.Fatalf("no drops: %q", v)
	}
	m.Status.LocalDrops = 12
	for _, w := range []int{140, 50} {
		m.Width = w
		if v := m.View(); !strings.Contains(v, "dropped here 12") {
			t.Fatalf("width %d: %q", w, v)
		}
	}
}
