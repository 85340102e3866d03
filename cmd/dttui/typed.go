package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/source"
	"github.com/dttui/dttui/textsafe"
)

// Per-track options of --encoding, --schema and --framing, and the data
// sources of --track NAME:stdin and NAME:file=PATH, checked against the
// --track list once it is known.

// trackOption is one NAME=VALUE flag for a track.
type trackOption struct{ flag, name, value string }

func splitTrackOption(flagName, s string) (trackOption, error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" || value == "" {
		return trackOption{}, usagef("--%s %q: want TRACK=VALUE", flagName, s)
	}
	return trackOption{flag: flagName, name: name, value: value}, nil
}

// parseSourceSpec reads the data-source forms of --track: NAME:stdin[:RATE],
// NAME:file=PATH[:RATE] (RATE 0 or none: as fast as the track takes them)
// and NAME:mcap=FILE[:TOPIC]. ok is false when s is not one.
func parseSourceSpec(s string) (ts trackSpec, ok bool, err error) {
	name, rest, found := strings.Cut(s, ":")
	if found && strings.HasPrefix(rest, "mcap=") {
		ts, err = parseRecordingSpec(s, name, strings.TrimPrefix(rest, "mcap="))
		return ts, true, err
	}
	if !found || (rest != "stdin" && !strings.HasPrefix(rest, "stdin:") && !strings.HasPrefix(rest, "file=")) {
		return trackSpec{}, false, nil
	}
	ts = trackSpec{Name: name, Source: &source.Spec{}}
	var rate string
	if after, isStdin := strings.CutPrefix(rest, "stdin"); isStdin {
		ts.Source.Path, rate = "-", strings.TrimPrefix(after, ":")
	} else {
		path := strings.TrimPrefix(rest, "file=")
		// A last ":RATE" is a rate when it reads as one.
		if i := strings.LastIndex(path, ":"); i > 0 {
			if _, rerr := parseRate(path[i+1:]); rerr == nil {
				path, rate = path[:i], path[i+1:]
			}
		}
		ts.Source.Path = path
		fi, err := os.Stat(path)
		if err != nil {
			return trackSpec{}, true, usagef("--track %q: %v", s, err)
		}
		if fi.IsDir() {
			ts.Source.Framing = source.Files
		}
	}
	if rate != "" {
		if ts.Rate, err = parseRate(rate); err != nil {
			return trackSpec{}, true, usagef("--track %q: %v", s, err)
		}
	}
	return ts, true, nil
}

// parseRecordingSpec reads NAME:mcap=FILE[:TOPIC]: a track that plays one
// topic of an MCAP recording at its recorded timing, declared with the
// channel's encoding and schema. A FILE that exists as given is the file
// (a colon in its name is kept); otherwise its last ":TOPIC" names the
// topic.
func parseRecordingSpec(s, name, v string) (trackSpec, error) {
	path, topic := v, ""
	if _, err := os.Stat(v); err != nil {
		if i := strings.LastIndex(v, ":"); i > 0 {
			path, topic = v[:i], v[i+1:]
		}
	}
	ch, err := record.FindTopic(path, topic)
	if err != nil {
		return trackSpec{}, usagef("--track %q: %s: %v", s, textsafe.Line(path), err)
	}
	return trackSpec{Name: name, Source: &source.Spec{Path: path, Recording: true, Topic: ch.Topic},
		Type: ch.Track.Type, SchemaDef: ch.Track.SchemaDef}, nil
}

// applyTrackOptions sets each option on its track; an option for a track
// not given with --track is an error, as is breaking the rules of typed
// tracks (checked here, before anything connects).
func applyTrackOptions(tracks []trackSpec, opts []trackOption) error {
	byName := map[string]*trackSpec{}
	for i := range tracks {
		byName[tracks[i].Name] = &tracks[i]
	}
	stdin := 0
	for _, t := range tracks {
		if t.Source != nil && t.Source.Path == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return usagef("--track: only one track can read standard input")
	}
	for _, o := range opts {
		t := byName[o.name]
		if t == nil {
			return usagef("--%s %s=…: no --track named %q", o.flag, o.name, o.name)
		}
		if t.Source != nil && t.Source.Recording {
			return usagef("--%s %s=…: the track plays a recording, with its channel's encoding and schema", o.flag, o.name)
		}
		var err error
		switch o.flag {
		case "encoding":
			t.Type.Frame, err = schema.ParseFrameEncoding(o.value)
		case "schema":
			err = readSchema(t, o.value)
		case "framing":
			err = setFraming(t, o.value)
		}
		if err != nil {
			return usagef("--%s %s=%s: %v", o.flag, o.name, o.value, err)
		}
	}
	for i := range tracks {
		t := &tracks[i]
		if err := t.Type.Check(); err != nil {
			return usagef("--track %s: %v", t.Name, err)
		}
		protobuf := t.Type.Frame.WellKnown == schema.FrameProtobuf && t.Type.Frame.Custom == "" && len(t.SchemaDef) > 0
		if _, err := probe.FormatFor(t.Type.Frame); err != nil && !protobuf && t.Source == nil && t.Rate > 0 {
			return usagef("--track %s: declared %s, and the generator writes only JSON, CBOR or MessagePack documents, protobuf messages (or its binary layout, untyped): send your data with --track %s:file=PATH or %s:stdin, or publish it idle with rate 0",
				t.Name, t.Type.Frame, t.Name, t.Name)
		}
		if len(t.SchemaDef) > 0 {
			if err := checkGenerator(t); err != nil {
				return err
			}
		}
		if t.Source != nil {
			t.Source.MaxFrame = source.DefaultMaxFrame
			// A recording plays byte for byte, as it was received.
			t.Source.ValidateJSON = t.Type.Frame.WellKnown == schema.FrameJSON && !t.Source.Recording
		}
	}
	return nil
}

// checkGenerator compiles a track's schema (one that does not is refused
// here rather than at publish) and, when the generator writes the track's
// frames, checks that it can write frames that match.
func checkGenerator(t *trackSpec) error {
	v, err := validate.New(t.Type, t.SchemaDef)
	if err != nil {
		return usagef("--schema %s=…: %v", t.Name, err)
	}
	if t.Source != nil || t.Rate == 0 {
		return nil
	}
	var err2 error
	switch t.Type.Frame.WellKnown {
	case schema.FrameJSON:
		_, err2 = probe.FitSchema(v, max(t.Size, probe.MinSize))
	case schema.FrameProtobuf:
		_, err2 = v.ProtoExample()
	}
	if err := err2; err != nil {
		return usagef("--track %s: %v; send your data with --track %s:file=PATH or %s:stdin, or publish it idle with rate 0",
			t.Name, err, t.Name, t.Name)
	}
	return nil
}

// readSchema reads --schema NAME=ENCODING:FILE or ENCODING:SCHEMA:FILE (the
// schema is named after the track unless SCHEMA says otherwise) and checks
// the definition parses as its encoding says, where dttui can tell.
func readSchema(t *trackSpec, v string) error {
	parts := strings.SplitN(v, ":", 3)
	if len(parts) < 2 {
		return fmt.Errorf("want ENCODING:FILE or ENCODING:NAME:FILE, e.g. jsonschema:./pose.schema.json")
	}
	enc, err := schema.ParseSchemaEncoding(parts[0])
	if err != nil {
		return err
	}
	id, path := schema.ID{Name: t.Name, Encoding: enc}, parts[1]
	if len(parts) == 3 {
		id.Name, path = parts[1], parts[2]
	}
	if err := id.Validate(); err != nil {
		return err
	}
	def, err := readFileAtMost(path, schema.MaxBlobBytes)
	if err != nil && !errors.Is(err, errFileTooLarge) {
		return err
	}
	if err != nil || len(def) == 0 {
		size := fmt.Sprintf("%d bytes", len(def))
		if err != nil {
			size = fmt.Sprintf("more than %d bytes", schema.MaxBlobBytes)
		}
		return fmt.Errorf("%s is %s; a schema is 1 to %d bytes (livekit-server's limit on stored blobs)", path, size, schema.MaxBlobBytes)
	}
	switch enc.WellKnown {
	case schema.EncodingJSONSchema:
		var v any
		if err := json.Unmarshal(def, &v); err != nil {
			return fmt.Errorf("%s is not JSON: %v", path, err)
		}
	case schema.EncodingProtobuf:
		// A compiled FileDescriptorSet (protoc --descriptor_set_out), which
		// a subscriber can decode frames with.
		if err := proto.Unmarshal(def, &descriptorpb.FileDescriptorSet{}); err != nil {
			return fmt.Errorf("%s is not a protobuf FileDescriptorSet (protoc --include_imports --descriptor_set_out): %v", path, err)
		}
	}
	t.Type.Schema, t.SchemaDef = id, def
	return nil
}

// errFileTooLarge: a file named on the command line holds more than its
// flag takes.
var errFileTooLarge = errors.New("file larger than the limit")

// readFileAtMost reads a file named on the command line, holding at most
// limit+1 of its bytes: a larger one (a huge file, /dev/zero) is refused
// with errFileTooLarge before it costs more memory than its flag takes.
func readFileAtMost(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, errFileTooLarge, limit)
	}
	return b, nil
}

func setFraming(t *trackSpec, v string) error {
	if t.Source == nil {
		return fmt.Errorf("the track has no data source (NAME:stdin or NAME:file=PATH)")
	}
	if size, ok := strings.CutPrefix(v, "chunks:"); ok {
		n, err := parseSize(size)
		if err != nil {
			return err
		}
		t.Source.Framing, t.Source.ChunkSize = source.Chunks, n
		return nil
	}
	f, err := source.ParseFraming(v)
	if err != nil {
		return err
	}
	if f == source.Chunks {
		return fmt.Errorf("chunks need a size: chunks:SIZE, e.g. chunks:1KiB")
	}
	t.Source.Framing = f
	return nil
}
