package headless

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/report"
)

// Each line says where the server URL and the key came from, never the
// secret; a run that does not say leaves the field out.
func TestLineSaysWhereCredentialsCameFrom(t *testing.T) {
	snap := report.Snapshot{At: time.Now(), Connection: report.Status{State: report.Connected,
		Credentials: report.Credentials{URL: report.OriginProject, Key: report.OriginEnv, Project: "dev\x1b[2J", DefaultProject: true}}}
	b, err := json.Marshal(lineOf(snap, snap.At, nil, false))
	if err != nil {
		t.Fatal(err)
	}
	want := `"credentials":{"url":"project","key":"env","project":"dev\\x1b[2J","default_project":true}`
	if !strings.Contains(string(b), want) {
		t.Fatalf("%s\nlacks %s", b, want)
	}
	snap.Connection.Credentials = report.Credentials{}
	if b, _ = json.Marshal(lineOf(snap, snap.At, nil, false)); strings.Contains(string(b), "credentials") {
		t.Fatalf("unknown credentials shown: %s", b)
	}
}
