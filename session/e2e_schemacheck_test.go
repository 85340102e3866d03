package session

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
)

const poseSchemaDef = `{"type":"object","required":["x","y"],"properties":{"x":{"type":"number"},"y":{"type":"number"}}}`

// Five frames pushed on a typed track with a JSON Schema: three that match
// and two that do not ({"z":3} misses x; {"x":1} misses y).
var schemaFrames = []string{`{"x":1,"y":2}`, `{"z":3}`, `{"x":0.5,"y":-1}`, `{"x":1}`, `{"x":2,"y":2}`}

// publishPose stores the schema, publishes a JSON track declaring it with
// the check in mode, and waits until mon follows it with the schema
// fetched, so every frame pushed after is checked there.
func publishPose(t *testing.T, pub, mon *Session, mode validate.Mode) *Track {
	t.Helper()
	decl := schema.Decl{Frame: wellKnown(schema.FrameJSON), Schema: schemaID("pose", schema.EncodingJSONSchema)}
	if err := pub.StoreSchema(bounded(t, 10*time.Second), decl.Schema, []byte(poseSchemaDef)); err != nil {
		t.Fatal(err)
	}
	tr, err := pub.PublishWith(bounded(t, 15*time.Second), PublishOptions{Name: "pose", Type: decl,
		SchemaDef: []byte(poseSchemaDef), SchemaCheck: mode})
	if err != nil {
		t.Fatal(err)
	}
	who := pub.Status().Identity
	eventually(t, 15*time.Second, "the monitor follows the track and has its schema", func() bool {
		r, ok := remoteRow(mon, who, "pose")
		return ok && r.Stats.State == incoming.StateSubscribed && mon.MonitorHolds(r.Stats.SID) && r.SchemaDef != nil
	})
	for _, f := range schemaFrames {
		err := tr.Push(bounded(t, 5*time.Second), []byte(f), uint64(time.Now().UnixMilli()))
		if mode == validate.ModeRefuse && (f == `{"z":3}` || f == `{"x":1}`) {
			if err == nil {
				t.Fatalf("%s: accepted in refuse mode", f)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if err := tr.Flush(bounded(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	return tr
}

// Warn: every frame is sent and the publisher counts the two mismatches;
// a second dttui's monitor checks the five on receipt, counts the same two
// and keeps the first failing path.
func TestE2ESchemaCheckWarn(t *testing.T) { acrossSFUs(t, testE2ESchemaCheckWarn) }

func testE2ESchemaCheckWarn(t *testing.T) {
	srv := sfu(t)
	pub := connect(t, srv, Config{})
	mon := connect(t, srv, Config{Room: pub.Status().Room, Monitor: true})
	tr := publishPose(t, pub, mon, validate.ModeWarn)
	c := tr.Counters()
	if c.FramesPushed != 5 || c.FramesSent != 5 || c.SchemaMismatches != 2 || c.FramesDropped != 0 {
		t.Fatalf("publisher %+v", c)
	}
	who := pub.Status().Identity
	eventually(t, 10*time.Second, "5 frames checked at the monitor", func() bool {
		r, _ := remoteRow(mon, who, "pose")
		return r.Schema.Checked == 5
	})
	r, _ := remoteRow(mon, who, "pose")
	if r.Stats.FramesCompleted != 5 || r.Schema.Mismatches != 2 || r.Schema.NotChecked != 0 || r.Schema.Unchecked != validate.Checked {
		t.Fatalf("monitor %+v, %d frames", r.Schema, r.Stats.FramesCompleted)
	}
	if f := r.Schema.First; f == nil || f.Path != "/x" {
		t.Fatalf("first mismatch %+v, want /x ({\"z\":3} misses x)", f)
	}
}

// Refuse: the two are dropped before sending with reason schema mismatch,
// pushed = sent + dropped, and the monitor receives three frames that all
// match.
func TestE2ESchemaCheckRefuse(t *testing.T) { acrossSFUs(t, testE2ESchemaCheckRefuse) }

func testE2ESchemaCheckRefuse(t *testing.T) {
	srv := sfu(t)
	pub := connect(t, srv, Config{})
	mon := connect(t, srv, Config{Room: pub.Status().Room, Monitor: true})
	tr := publishPose(t, pub, mon, validate.ModeRefuse)
	c := tr.Counters()
	if c.FramesPushed != 5 || c.FramesSent != 3 || c.FramesDropped != 2 || c.DroppedBy[outgoing.DropSchemaMismatch] != 2 ||
		c.SchemaMismatches != 2 || c.FramesQueued != 0 || c.FramesPushed != c.FramesSent+c.FramesDropped+c.FramesQueued {
		t.Fatalf("publisher %+v", c)
	}
	who := pub.Status().Identity
	eventually(t, 10*time.Second, "3 frames checked at the monitor", func() bool {
		r, _ := remoteRow(mon, who, "pose")
		return r.Schema.Checked == 3
	})
	time.Sleep(200 * time.Millisecond) // nothing more arrives
	r, _ := remoteRow(mon, who, "pose")
	if r.Stats.FramesCompleted != 3 || r.Schema.Mismatches != 0 || r.Schema.First != nil {
		t.Fatalf("monitor %+v, %d frames", r.Schema, r.Stats.FramesCompleted)
	}
}

// The probe frames on a track declaring a JSON Schema match it: the
// publisher refuses none, a second dttui's monitor checks every one, finds
// no mismatch and still follows them by their numbers.
func TestE2EProbeFramesMatchTheirSchema(t *testing.T) {
	acrossSFUs(t, testE2EProbeFramesMatchTheirSchema)
}

func testE2EProbeFramesMatchTheirSchema(t *testing.T) {
	srv := sfu(t)
	pub := connect(t, srv, Config{})
	mon := connect(t, srv, Config{Room: pub.Status().Room, Monitor: true})
	decl := schema.Decl{Frame: wellKnown(schema.FrameJSON), Schema: schemaID("pose", schema.EncodingJSONSchema)}
	if err := pub.StoreSchema(bounded(t, 10*time.Second), decl.Schema, []byte(poseSchemaDef)); err != nil {
		t.Fatal(err)
	}
	tr, err := pub.PublishWith(bounded(t, 15*time.Second), PublishOptions{Name: "pose", Type: decl,
		SchemaDef: []byte(poseSchemaDef), SchemaCheck: validate.ModeRefuse, GenerateSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	who := pub.Status().Identity
	eventually(t, 15*time.Second, "the monitor follows the track and has its schema", func() bool {
		r, ok := remoteRow(mon, who, "pose")
		return ok && r.Stats.State == incoming.StateSubscribed && mon.MonitorHolds(r.Stats.SID) && r.SchemaDef != nil
	})
	pushProbes(t, tr, 40, 300)
	if c := tr.Counters(); c.FramesSent != 40 || c.SchemaMismatches != 0 {
		t.Fatalf("publisher %+v", c)
	}
	eventually(t, 10*time.Second, "40 frames checked at the monitor", func() bool {
		r, _ := remoteRow(mon, who, "pose")
		return r.Schema.Checked == 40
	})
	r, _ := remoteRow(mon, who, "pose")
	if r.Schema.Mismatches != 0 || r.Probe == nil || r.Probe.Received != 40 || r.Probe.Corrupt != 0 {
		t.Fatalf("monitor %+v, probe %+v", r.Schema, r.Probe)
	}
}

// A protobuf track: the generator's populated messages match the stored
// FileDescriptorSet at a second dttui's monitor, and a frame with a field
// the message does not declare is counted with its field path.
func TestE2EProtobufSchemaCheck(t *testing.T) { acrossSFUs(t, testE2EProtobufSchemaCheck) }

func testE2EProtobufSchemaCheck(t *testing.T) {
	srv := sfu(t)
	pub := connect(t, srv, Config{})
	mon := connect(t, srv, Config{Room: pub.Status().Room, Monitor: true})
	def, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto)}})
	if err != nil {
		t.Fatal(err)
	}
	decl := schema.Decl{Frame: wellKnown(schema.FrameProtobuf), Schema: schemaID("google.protobuf.Timestamp", schema.EncodingProtobuf)}
	if err := pub.StoreSchema(bounded(t, 10*time.Second), decl.Schema, def); err != nil {
		t.Fatal(err)
	}
	tr, err := pub.PublishWith(bounded(t, 15*time.Second), PublishOptions{Name: "ts", Type: decl, SchemaDef: def, SchemaCheck: validate.ModeWarn})
	if err != nil {
		t.Fatal(err)
	}
	who := pub.Status().Identity
	eventually(t, 15*time.Second, "the monitor follows the track and has its schema", func() bool {
		r, ok := remoteRow(mon, who, "ts")
		return ok && r.Stats.State == incoming.StateSubscribed && mon.MonitorHolds(r.Stats.SID) && r.SchemaDef != nil
	})
	for range 4 {
		if err := tr.Probe().PushWait(bounded(t, 5*time.Second), 100); err != nil {
			t.Fatal(err)
		}
	}
	// seconds = 1, then field 7 (not in Timestamp) as a varint.
	if err := tr.Push(bounded(t, 5*time.Second), []byte{0x08, 0x01, 0x38, 0x05}, 0); err != nil {
		t.Fatal(err)
	}
	if err := tr.Flush(bounded(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if c := tr.Counters(); c.FramesSent != 5 || c.SchemaMismatches != 1 {
		t.Fatalf("publisher %+v", c)
	}
	eventually(t, 10*time.Second, "5 frames checked at the monitor", func() bool {
		r, _ := remoteRow(mon, who, "ts")
		return r.Schema.Checked == 5
	})
	r, _ := remoteRow(mon, who, "ts")
	if r.Schema.Mismatches != 1 || r.Schema.First == nil || r.Schema.First.Path != "#7" {
		t.Fatalf("monitor %+v first %+v", r.Schema, r.Schema.First)
	}
}
