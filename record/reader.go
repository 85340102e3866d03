package record

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/foxglove/mcap/go/mcap"

	"github.com/dttui/dttui/schema"
)

// Channel is a recorded channel as a track to publish again.
type Channel struct {
	ID    uint16
	Topic string
	Track Track // Name, Identity, SID, Handle and E2EE from the metadata (when dttui wrote them)
}

// TrackOf reads what a channel declares back into a Track: its message
// encoding as the frame encoding (UntypedEncoding or "" as untyped), its
// schema as the schema. A channel of another tool (a ROS 2 bag: cdr and
// ros2msg) reads the same way; its track name is its topic.
func TrackOf(ch *mcap.Channel, s *mcap.Schema) (Track, error) {
	t := Track{SID: ch.Metadata[MetaSID], Identity: ch.Metadata[MetaIdentity], Name: ch.Metadata[MetaTrack]}
	if t.Name == "" {
		t.Name = ch.Topic
	}
	t.E2EE, _ = strconv.ParseBool(ch.Metadata[MetaE2EE])
	if h, err := strconv.ParseUint(ch.Metadata[MetaHandle], 10, 16); err == nil {
		t.Handle = uint16(h)
	}
	if ch.MessageEncoding != UntypedEncoding && ch.MessageEncoding != "" {
		f, err := schema.ParseFrameEncoding(ch.MessageEncoding)
		if err != nil {
			return t, fmt.Errorf("channel %d (%s): %w", ch.ID, ch.Topic, err)
		}
		t.Type.Frame = f
	}
	if s != nil && s.ID != 0 {
		enc, err := schema.ParseSchemaEncoding(s.Encoding)
		if err != nil {
			return t, fmt.Errorf("channel %d (%s): %w", ch.ID, ch.Topic, err)
		}
		t.Type.Schema, t.SchemaDef = schema.ID{Name: s.Name, Encoding: enc}, s.Data
	}
	if err := t.Type.Check(); err != nil {
		return t, fmt.Errorf("channel %d (%s): %w", ch.ID, ch.Topic, err)
	}
	return t, nil
}

// ReadFunc sees each message of a recording with its channel; Data is
// valid only during the call.
type ReadFunc func(ch *Channel, m *mcap.Message) error

// Read calls fn for every message of the file at path in log-time order,
// through the file's index; a file without one (cut short) is read in
// file order with the unindexed reader, up to its last complete chunk.
func Read(path string, fn ReadFunc) error {
	f, r, err := open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	defer r.Close()
	if _, err := r.Info(); err != nil {
		// Info moved the file's offset: read again from the start.
		return ReadUnindexed(path, fn)
	}
	return readMessages(r, true, fn)
}

// ReadUnindexed is Read in file order without the index: what is left of
// a file cut short, every complete chunk of it.
func ReadUnindexed(path string, fn ReadFunc) error {
	f, r, err := open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	defer r.Close()
	return readMessages(r, false, fn)
}

func open(path string) (*os.File, *mcap.Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := mcap.NewReader(f)
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, r, nil
}

func readMessages(r *mcap.Reader, indexed bool, fn ReadFunc) error {
	opts := []mcap.ReadOpt{mcap.UsingIndex(indexed)}
	if indexed {
		opts = append(opts, mcap.InOrder(mcap.LogTimeOrder))
	}
	it, err := r.Messages(opts...)
	if err != nil {
		return err
	}
	chans := map[*mcap.Channel]*Channel{}
	for {
		s, c, m, err := it.NextInto(nil)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if !indexed && isTruncation(err) {
				return nil // the rest of a file cut short
			}
			return err
		}
		ch := chans[c]
		if ch == nil {
			t, err := TrackOf(c, s)
			if err != nil {
				return err
			}
			ch = &Channel{ID: c.ID, Topic: c.Topic, Track: t}
			chans[c] = ch
		}
		if err := fn(ch, m); err != nil {
			return err
		}
	}
}

// isTruncation says whether err is a file ending inside a record.
func isTruncation(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, mcap.ErrBadOffset) || errors.Is(err, io.EOF)
}
