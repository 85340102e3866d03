package session

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/source"
	"github.com/livekit/protocol/livekit"
)

func wellKnown(f schema.Frame) schema.FrameEncoding { return schema.FrameEncoding{WellKnown: f} }
func schemaID(name string, e schema.Encoding) schema.ID {
	return schema.ID{Name: name, Encoding: schema.SchemaEncoding{WellKnown: e}}
}

// Typed tracks with every well-known frame encoding (with the schema each
// needs, stored first) and a custom one: the SFU accepts each and echoes
// the declaration, and another participant reads the stored schemas back.
func TestE2ETypedTracks(t *testing.T) { acrossSFUs(t, testE2ETypedTracks) }

func testE2ETypedTracks(t *testing.T) {
	srv := sfu(t)
	s := connect(t, srv, Config{})
	decls := map[string]schema.Decl{
		"json":        {Frame: wellKnown(schema.FrameJSON)},
		"json-schema": {Frame: wellKnown(schema.FrameJSON), Schema: schemaID("pose", schema.EncodingJSONSchema)},
		"cbor":        {Frame: wellKnown(schema.FrameCBOR)},
		"msgpack":     {Frame: wellKnown(schema.FrameMsgpack)},
		"protobuf":    {Frame: wellKnown(schema.FrameProtobuf), Schema: schemaID("pose", schema.EncodingProtobuf)},
		"flatbuffer":  {Frame: wellKnown(schema.FrameFlatbuffer), Schema: schemaID("pose", schema.EncodingFlatbuffer)},
		"ros1":        {Frame: wellKnown(schema.FrameROS1), Schema: schemaID("geometry_msgs/Pose", schema.EncodingROS1Msg)},
		"cdr":         {Frame: wellKnown(schema.FrameCDR), Schema: schemaID("geometry_msgs/msg/Pose", schema.EncodingROS2Msg)},
		"custom":      {Frame: schema.FrameEncoding{Custom: "my-format"}, Schema: schema.ID{Name: "pose", Encoding: schema.SchemaEncoding{Custom: "my-idl"}}},
	}
	defs := map[schema.ID][]byte{}
	for name, d := range decls {
		if !d.Schema.IsZero() {
			def := []byte("definition of " + d.Schema.String() + " for " + name)
			if err := s.StoreSchema(bounded(t, 10*time.Second), d.Schema, def); err != nil {
				t.Fatalf("%s: store %s: %v", name, d.Schema, err)
			}
			defs[d.Schema] = def // the last store of an ID wins
		}
	}
	for name, d := range decls {
		p, err := s.StartPublish(PublishOptions{Name: name, Type: d})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tr, err := p.Wait(bounded(t, 15*time.Second))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := tr.Info().Type; got != d {
			t.Fatalf("%s: the SFU echoed %+v, want %+v", name, got, d)
		}
	}
	other := connect(t, srv, Config{Room: s.Status().Room})
	for id, want := range defs {
		got, err := other.GetSchema(bounded(t, 10*time.Second), s.Status().Identity, id)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("schema %s read back as %q, %v", id, got, err)
		}
	}
	if _, err := other.GetSchema(bounded(t, 10*time.Second), s.Status().Identity, schemaID("nope", schema.EncodingProtobuf)); !errors.Is(err, ErrBlobNotFound) {
		t.Fatalf("a schema nobody stored: %v", err)
	}
}

// What breaks the rules is refused before anything reaches the SFU; what
// only the SFU checks (here an empty custom name, sent past our own check)
// comes back as a typed error with the SFU's words.
func TestE2ETypedTrackRejections(t *testing.T) { acrossSFUs(t, testE2ETypedTrackRejections) }

func testE2ETypedTrackRejections(t *testing.T) {
	empty := false
	s := connect(t, sfu(t), Config{Net: NetOptions{WrapSignal: tamperPublish(func(r *livekit.PublishDataTrackRequest) {
		if empty {
			r.FrameEncoding = &livekit.DataTrackFrameEncoding{Value: &livekit.DataTrackFrameEncoding_Custom{Custom: ""}}
		}
	})}})
	_, err := s.StartPublish(PublishOptions{Name: "bad", Type: schema.Decl{Frame: wellKnown(schema.FrameCBOR), Schema: schemaID("x", schema.EncodingProtobuf)}})
	if !errors.Is(err, outgoing.ErrInvalidType) || !errors.Is(err, schema.ErrIncompatible) {
		t.Fatalf("cbor with a protobuf schema: %v", err)
	}
	empty = true
	p, err := s.StartPublish(PublishOptions{Name: "empty-custom", Type: schema.Decl{Frame: schema.FrameEncoding{Custom: "ok"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Wait(bounded(t, 15*time.Second))
	var pe *outgoing.PublishError
	if !errors.As(err, &pe) || pe.Reason != outgoing.ReasonInvalidType || pe.SFUReason != int32(livekit.RequestResponse_INVALID_REQUEST) || pe.RawMessage == "" {
		t.Fatalf("the SFU's answer to an empty custom name: %v", err)
	}
}

// Against a server that does not store blobs (livekit-server's default),
// storing a schema fails with a clear, typed error.
func TestE2EStoreSchemaWithBlobsOff(t *testing.T) { acrossSFUs(t, testE2EStoreSchemaWithBlobsOff) }

func testE2EStoreSchemaWithBlobsOff(t *testing.T) {
	srv := startSFU(t, testsfu.Options{DisableDataBlobs: true})
	s := connect(t, srv, Config{})
	err := s.StoreSchema(bounded(t, 10*time.Second), schemaID("pose", schema.EncodingJSONSchema), []byte(`{"type":"object"}`))
	var be *BlobError
	if !errors.Is(err, ErrBlobsDisabled) || !errors.As(err, &be) || be.Message != "data blob not enabled" {
		t.Fatalf("store with blobs off: %v", err)
	}
}

// A file source's frames arrive byte-exact and in order, with the user
// timestamp set: frames of various sizes, one of several packets.
func TestE2EFileSourceArrivesByteExact(t *testing.T) {
	acrossSFUs(t, testE2EFileSourceArrivesByteExact)
}

func testE2EFileSourceArrivesByteExact(t *testing.T) {
	var mu sync.Mutex
	var got []incoming.Frame
	var sid atomic.Pointer[string]
	s := connect(t, sfu(t), Config{Loopback: true, OnLoopbackFrame: func(from string, f incoming.Frame) {
		if p := sid.Load(); p != nil && *p == from {
			f.Payload = bytes.Clone(f.Payload) // lent for the call only
			mu.Lock()
			got = append(got, f)
			mu.Unlock()
		}
	}})
	tr, err := s.Publish(bounded(t, 15*time.Second), "file", false)
	if err != nil {
		t.Fatal(err)
	}
	trackSID := tr.Info().SID
	sid.Store(&trackSID)
	waitSubscribed(t, s, tr)
	var records [][]byte
	var file bytes.Buffer
	for i := range 40 {
		rec := bytes.Repeat([]byte{byte(i)}, 1+i*997) // up to 38 KiB: 3 packets
		records = append(records, rec)
		_ = binary.Write(&file, binary.BigEndian, uint32(len(rec)))
		file.Write(rec)
	}
	path := filepath.Join(t.TempDir(), "records.bin")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := source.Open(bounded(t, 10*time.Second), source.Spec{Path: path, Framing: source.LengthPrefixed}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := source.Run(bounded(t, 20*time.Second), r, tr.Push, 200)
	if err != nil || res.Frames != 40 {
		t.Fatalf("%+v %v", res, err)
	}
	eventually(t, 15*time.Second, "40 frames", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 40 })
	mu.Lock()
	defer mu.Unlock()
	for i, f := range got {
		if !bytes.Equal(f.Payload, records[i]) || !f.HasUserTimestamp {
			t.Fatalf("frame %d: %d bytes (want %d), user timestamp %v", i, len(f.Payload), len(records[i]), f.HasUserTimestamp)
		}
	}
	if st := tr.Stats(); st.FramesDropped != 0 || st.FramesSent != 40 {
		t.Fatalf("%+v", st.Counters)
	}
}
