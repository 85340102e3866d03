package headless

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
)

// Another participant's text reaches the JSON lines escaped as the UI
// escapes it: `jq -r '.remote[0].name'` prints the escapes, not a screen
// clear, a window title or a clipboard write (issue 20.7: main printed
// them raw, bidi overrides too).
func TestRemoteTextIsEscapedInJSON(t *testing.T) {
	const hostile = "\x1b[2J\x1b]0;title\x07\x1b]52;c;cHduZWQ=\x07\u202e\u009b\u200b"
	var r report.Remote
	r.Stats = incoming.TrackStats{Info: incoming.Info{SID: "TR_" + hostile, Name: hostile, PublisherIdentity: hostile,
		Type: schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameCustom, Custom: hostile}}}, Replaces: hostile}
	snap := report.Snapshot{At: time.Now(), Remote: []report.Remote{r},
		Connection: report.Status{State: report.Connected, Room: hostile, Identity: hostile}}
	b, err := json.Marshal(lineOf(snap, snap.At, nil, false))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Connection struct{ Room, Identity string }
		Remote     []struct{ Name, SID, Publisher, Type, Replaces string }
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.Remote) != 1 {
		t.Fatalf("%s: %v", b, err)
	}
	rl := back.Remote[0]
	for field, v := range map[string]string{"room": back.Connection.Room, "identity": back.Connection.Identity, "name": rl.Name,
		"sid": rl.SID, "publisher": rl.Publisher, "type": rl.Type, "replaces": rl.Replaces} {
		if strings.ContainsAny(v, "\x1b\x07\u202e\u009b\u200b") || !strings.Contains(v, `\x1b[2J`) {
			t.Errorf("%s decodes to %q", field, v)
		}
	}
}
