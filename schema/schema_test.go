package schema

import (
	"errors"
	"strings"
	"testing"
)

func ptrF(f FrameEncoding) *FrameEncoding { return &f }
func ptrID(id ID) *ID                     { return &id }

func TestCheckRules(t *testing.T) {
	id := func(e Encoding) *ID { return ptrID(ID{Name: "pose", Encoding: SchemaEncoding{WellKnown: e}}) }
	frame := func(f Frame) *FrameEncoding { return ptrF(FrameEncoding{WellKnown: f}) }
	for _, tc := range []struct {
		name string
		f    *FrameEncoding
		id   *ID
		want error
	}{
		{"untyped", nil, nil, nil},
		{"schema without encoding", nil, id(EncodingJSONSchema), ErrSchemaNeedsEncoding},
		{"json alone", frame(FrameJSON), nil, nil},
		{"json with json schema", frame(FrameJSON), id(EncodingJSONSchema), nil},
		{"json with protobuf schema", frame(FrameJSON), id(EncodingProtobuf), ErrIncompatible},
		{"cbor alone", frame(FrameCBOR), nil, nil},
		{"msgpack alone", frame(FrameMsgpack), nil, nil},
		{"cbor with a schema", frame(FrameCBOR), id(EncodingJSONSchema), ErrIncompatible},
		{"protobuf needs one", frame(FrameProtobuf), nil, ErrEncodingNeedsSchema},
		{"protobuf with protobuf", frame(FrameProtobuf), id(EncodingProtobuf), nil},
		{"flatbuffer with flatbuffer", frame(FrameFlatbuffer), id(EncodingFlatbuffer), nil},
		{"ros1 with ros1msg", frame(FrameROS1), id(EncodingROS1Msg), nil},
		{"ros1 with ros2msg", frame(FrameROS1), id(EncodingROS2Msg), ErrIncompatible},
		{"cdr with each of its three", frame(FrameCDR), id(EncodingOMGIDL), nil},
		{"cdr with ros2idl", frame(FrameCDR), id(EncodingROS2IDL), nil},
		{"cdr with ros2msg", frame(FrameCDR), id(EncodingROS2Msg), nil},
		{"cdr alone", frame(FrameCDR), nil, ErrEncodingNeedsSchema},
		{"protobuf with a custom schema", frame(FrameProtobuf), ptrID(ID{Name: "x", Encoding: SchemaEncoding{Custom: "mine"}}), ErrIncompatible},
		{"custom takes any schema", ptrF(FrameEncoding{Custom: "mine"}), id(EncodingProtobuf), nil},
		{"custom alone", ptrF(FrameEncoding{Custom: "mine"}), nil, nil},
		{"empty custom", ptrF(FrameEncoding{Custom: ""}), nil, ErrInvalidCustom},
		{"long custom", ptrF(FrameEncoding{Custom: strings.Repeat("c", 33)}), nil, ErrInvalidCustom},
		{"empty schema name", frame(FrameJSON), ptrID(ID{Encoding: SchemaEncoding{WellKnown: EncodingJSONSchema}}), ErrInvalidName},
	} {
		err := Check(tc.f, tc.id)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		var se *Error
		if err != nil && (!errors.As(err, &se) || se.Detail == "" && tc.want != ErrSchemaNeedsEncoding) {
			t.Errorf("%s: %#v is not a detailed *Error", tc.name, err)
		}
	}
}

func TestParse(t *testing.T) {
	for s, want := range map[string]FrameEncoding{
		"json": {WellKnown: FrameJSON}, "JSON": {WellKnown: FrameJSON}, "msgpack": {WellKnown: FrameMsgpack},
		"cdr": {WellKnown: FrameCDR}, "my-format": {Custom: "my-format"}, "custom:json": {Custom: "json"},
	} {
		got, err := ParseFrameEncoding(s)
		if err != nil || got != want {
			t.Errorf("ParseFrameEncoding(%q) = %+v, %v", s, got, err)
		}
	}
	if _, err := ParseFrameEncoding(""); !errors.Is(err, ErrInvalidCustom) {
		t.Errorf("empty: %v", err)
	}
	id, err := ParseID("jsonschema:pose")
	if err != nil || id.Name != "pose" || id.Encoding.WellKnown != EncodingJSONSchema || id.String() != "jsonschema:pose" {
		t.Errorf("ParseID = %+v, %v", id, err)
	}
	id, err = ParseID("custom:yaml-ish:pose:v2")
	if err != nil || id.Name != "pose:v2" || id.Encoding.Custom != "yaml-ish" {
		t.Errorf("custom ParseID = %+v, %v", id, err)
	}
	for _, bad := range []string{"pose", "jsonschema:", "custom:x"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}
