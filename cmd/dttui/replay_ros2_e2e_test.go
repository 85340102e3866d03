package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/schema"
)

// writeROS2Bag writes what a ROS 2 recorder leaves (profile "ros2", cdr
// messages, ros2msg schemas, none of dttui's metadata), with the mcap
// library rather than dttui's writer: two topics, 1 kHz of IMU samples
// beside a slower transform stream. It returns the IMU messages.
func writeROS2Bag(t *testing.T, file string) (imu [][]byte, imuDef []byte) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := mcap.NewWriter(f, &mcap.WriterOptions{Chunked: true, ChunkSize: 64 << 10, Compression: mcap.CompressionZSTD})
	if err != nil {
		t.Fatal(err)
	}
	imuDef = []byte("std_msgs/Header header\ngeometry_msgs/Quaternion orientation\nfloat64[9] orientation_covariance\n")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.WriteHeader(&mcap.Header{Profile: "ros2", Library: "rosbag2-like test writer"}))
	must(w.WriteSchema(&mcap.Schema{ID: 1, Name: "sensor_msgs/msg/Imu", Encoding: "ros2msg", Data: imuDef}))
	must(w.WriteSchema(&mcap.Schema{ID: 2, Name: "tf2_msgs/msg/TFMessage", Encoding: "ros2msg", Data: []byte("geometry_msgs/TransformStamped[] transforms\n")}))
	must(w.WriteChannel(&mcap.Channel{ID: 0, SchemaID: 1, Topic: "/imu", MessageEncoding: "cdr",
		Metadata: map[string]string{"offered_qos_profiles": "- history: 3\n  depth: 0\n"}}))
	must(w.WriteChannel(&mcap.Channel{ID: 1, SchemaID: 2, Topic: "/tf", MessageEncoding: "cdr", Metadata: map[string]string{}}))
	start := uint64(time.Now().UnixNano())
	for i := range 200 {
		// A CDR little-endian encapsulation header, then the sample.
		m := make([]byte, 4+8+300)
		copy(m, []byte{0, 1, 0, 0})
		binary.LittleEndian.PutUint64(m[4:], uint64(i))
		imu = append(imu, m)
		at := start + uint64(i)*uint64(5*time.Millisecond)
		must(w.WriteMessage(&mcap.Message{ChannelID: 0, Sequence: uint32(i), LogTime: at, PublishTime: at, Data: m}))
		if i%10 == 0 {
			must(w.WriteMessage(&mcap.Message{ChannelID: 1, Sequence: uint32(i / 10), LogTime: at, PublishTime: at, Data: []byte{0, 1, 0, 0, 0, 0, 0, 0}}))
		}
	}
	must(w.Close())
	return imu, imuDef
}

// TestReplayForeignROS2Bag plays a bag another recorder wrote, as it is:
// --topic picks /imu, which goes out as a cdr track declaring its
// ros2msg schema, byte-exact; /tf is not published. A topic the file does
// not have is refused before anything connects.
func TestReplayForeignROS2Bag(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an SFU")
	}
	file := filepath.Join(t.TempDir(), "ros2.mcap")
	imu, imuDef := writeROS2Bag(t, file)
	var errOut lockedBuffer
	if code := run(context.Background(), []string{"replay", file, "--topic", "/odom", "--url", "ws://127.0.0.1:1", "--api-key", "k", "--api-secret", strings.Repeat("s", 32)},
		env(nil), stdio{out: &bytes.Buffer{}, err: &errOut}); code != exitUsage ||
		!strings.Contains(errOut.String(), `--topic "/odom" names no channel of the file (topics: /imu, /tf)`) {
		t.Fatalf("--topic /odom: exit %d: %s", code, errOut.String())
	}
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		srv, room, ctx := e2eRoom(t, kind, "ros2", 2*time.Minute)
		sub, seen := watchRoom(t, ctx, srv, room)
		// Looped, so a pass that began before the watcher subscribed is
		// followed by a whole one.
		lctx, stop := context.WithCancel(ctx)
		defer stop()
		var repErr lockedBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(lctx, []string{"replay", file, "--topic", "/i*", "--loop", "--url", srv.URL, "--api-key", srv.APIKey,
				"--api-secret", srv.APISecret, "--room", room, "--identity", "robot"}, env(nil), stdio{out: &bytes.Buffer{}, err: &repErr})
		}()
		want := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameCDR},
			Schema: schema.ID{Name: "sensor_msgs/msg/Imu", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingROS2Msg}}}
		var names []string
		waitUntil(t, 60*time.Second, "a whole pass of /imu, byte-exact", func() bool {
			names = names[:0]
			ok := false
			for _, ts := range sub.Monitor().Snapshot() {
				rt, found := sub.Monitor().Track(ts.SID)
				if !found || rt.Info().PublisherIdentity != "robot" {
					continue
				}
				names = append(names, rt.Info().Name)
				if rt.Info().Name == "/imu" && rt.Info().Type == want && containsRun(seen.of(ts.SID), imu) {
					ok = true
				}
			}
			return ok
		})
		if len(names) != 1 {
			t.Fatalf("published %q; --topic '/i*' selects /imu alone", names)
		}
		if def, err := sub.GetSchema(ctx, "robot", want.Schema); err != nil || !bytes.Equal(def, imuDef) {
			t.Fatalf("the stored schema: %q, %v", def, err)
		}
		stop()
		if code := <-done; code != exitOK {
			t.Fatalf("replay --loop: exit %d: %s", code, repErr.String())
		}
	})
}
