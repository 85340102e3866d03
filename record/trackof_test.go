package record

import (
	"strings"
	"testing"

	"github.com/foxglove/mcap/go/mcap"

	"github.com/dttui/dttui/schema"
)

// A channel of another tool reads as a track: a ROS 2 bag's cdr frames
// with their ros2msg schema play as-is, named after the topic; no
// encoding is untyped; a combination LiveKit refuses is refused here,
// before anything is published.
func TestTrackOf(t *testing.T) {
	ros := &mcap.Schema{ID: 1, Name: "sensor_msgs/msg/Imu", Encoding: "ros2msg", Data: []byte("std_msgs/Header header\n")}
	tr, err := TrackOf(&mcap.Channel{ID: 1, SchemaID: 1, Topic: "/imu", MessageEncoding: "cdr"}, ros)
	want := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameCDR},
		Schema: schema.ID{Name: "sensor_msgs/msg/Imu", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingROS2Msg}}}
	if err != nil || tr.Name != "/imu" || tr.Type != want || string(tr.SchemaDef) != string(ros.Data) {
		t.Fatalf("%+v %v", tr, err)
	}
	for _, enc := range []string{"", UntypedEncoding} {
		if tr, err := TrackOf(&mcap.Channel{Topic: "raw", MessageEncoding: enc}, nil); err != nil || !tr.Type.Frame.IsZero() {
			t.Errorf("%q: %+v %v", enc, tr, err)
		}
	}
	for _, bad := range []struct {
		enc string
		s   *mcap.Schema
	}{
		{"cdr", nil}, // CDR needs its schema
		{"cbor", &mcap.Schema{ID: 1, Name: "x", Encoding: "jsonschema", Data: []byte("{}")}}, // CBOR takes none
		{strings.Repeat("x", schema.MaxCustomLen+1), nil},                                    // a custom name too long
	} {
		if _, err := TrackOf(&mcap.Channel{Topic: "t", MessageEncoding: bad.enc}, bad.s); err == nil {
			t.Errorf("%.10q with %v: accepted", bad.enc, bad.s)
		}
	}
}
