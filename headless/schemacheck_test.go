package headless

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
	"github.com/dttui/dttui/source"
)

// With --schema-check refuse, a data source's frames that do not match
// the schema are dropped with their reason and the source goes on: 5
// pushed, 3 sent, 2 dropped as "schema mismatch", no failure; with warn
// all 5 go and 2 are counted.
func TestSourceWithSchemaCheck(t *testing.T) {
	const def = `{"type":"object","required":["x","y"],"properties":{"x":{"type":"number"},"y":{"type":"number"}}}`
	frames := "{\"x\":1,\"y\":2}\n{\"z\":3}\n{\"x\":0.5,\"y\":-1}\n{\"x\":1}\n{\"x\":2,\"y\":2}\n"
	typ := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON},
		Schema: schema.ID{Name: "pose", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}}
	for _, tc := range []struct {
		mode                  validate.Mode
		sent, dropped, counts uint64
	}{{validate.ModeRefuse, 3, 2, 2}, {validate.ModeWarn, 5, 0, 2}, {validate.ModeOff, 5, 0, 0}} {
		s := connect(t, true)
		ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		var out bytes.Buffer
		res, err := Run(ctx, s, []Track{{Name: "pose", Source: &source.Spec{Path: "-", ValidateJSON: true}, Stdin: strings.NewReader(frames),
			Type: typ, SchemaDef: []byte(def)}}, &out, Options{SchemaCheck: tc.mode, EndWithSources: true})
		stop()
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Failed) != 0 || len(res.Sources) != 1 || res.Sources[0].Err != nil || res.Sources[0].Frames != 5 {
			t.Fatalf("%v: failed %+v sources %+v", tc.mode, res.Failed, res.Sources)
		}
		lns := parseLines(t, &out)
		tr := lns[len(lns)-1].Tracks[0]
		if tr.Pushed != 5 || tr.Sent != tc.sent || tr.Dropped != tc.dropped || tr.DroppedBy["schema mismatch"] != tc.dropped ||
			tr.SchemaMismatches != tc.counts || tr.Pushed != tr.Sent+tr.Dropped+tr.Queued {
			t.Fatalf("%v: final %+v", tc.mode, tr)
		}
		if tc.counts > 0 && !strings.Contains(tr.LastError, "schema mismatch at /y") && !strings.Contains(tr.LastError, "schema mismatch at /x") {
			t.Fatalf("%v: last error %q", tc.mode, tr.LastError)
		}
	}
}
