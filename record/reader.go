package record

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/klauspost/compress/zstd"

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
	t.Sealed = t.E2EE && ch.Metadata[MetaPayload] == PayloadSealed
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

// MaxReadChunk bounds what a chunk may decompress to when Read reads a
// file: a length field in a corrupt or hostile file cannot make it
// allocate more (dttui writes 1 MiB chunks; ROS 2 bags a few MiB).
const MaxReadChunk = 64 << 20

// Read calls fn for every message of the file at path in file order
// (dttui writes in order of arrival, so that is log-time order for its
// recordings) with the MCAP library's lexer, no index needed: a file cut
// short (SIGKILL) reads up to its last complete chunk. Every length in
// the file is bounded (the file's size, MaxReadChunk), so any file is
// safe to read.
func Read(path string, fn ReadFunc) error { return read(path, MaxReadChunk, fn) }

// read is Read with chunks bounded by maxChunk.
func read(path string, maxChunk int, fn ReadFunc) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return readFrom(f, fi.Size(), maxChunk, fn)
}

// readFrom reads an MCAP file of size bytes from r.
func readFrom(r io.Reader, size int64, maxChunk int, fn ReadFunc) (err error) {
	inFn := false
	defer guard(&err, &inFn)
	// The library's zstd decoder takes the window a frame asks for (up
	// to 512 MiB) and a goroutine per core: this one is held to the
	// chunk bound, on the reading goroutine. Chunk CRCs are not checked
	// (the library's own unindexed reader does not either): with them
	// the lexer stalled on fuzzed chunks.
	zd, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(uint64(maxChunk)), zstd.WithDecoderMaxWindow(uint64(max(maxChunk, zstd.MinWindowSize))))
	if err != nil {
		return err
	}
	defer zd.Close()
	l, err := mcap.NewLexer(r, &mcap.LexerOptions{MaxRecordSize: int(min(size, 1<<40)), MaxDecompressedChunkSize: maxChunk,
		Decompressors: map[mcap.CompressionFormat]mcap.ResettableReader{mcap.CompressionZSTD: zd}})
	if err != nil {
		return err
	}
	defer l.Close()
	schemas := map[uint16]*mcap.Schema{}
	mchans := map[uint16]*mcap.Channel{}
	chans := map[uint16]*Channel{}
	var m mcap.Message
	var buf []byte
	for {
		tok, rec, err := l.Next(buf)
		if err != nil {
			if errors.Is(err, io.EOF) || isTruncation(err) {
				return nil // the end, or the rest of a file cut short
			}
			return err
		}
		if cap(rec) > cap(buf) {
			buf = rec[:0]
		}
		switch tok {
		case mcap.TokenSchema:
			sc, err := mcap.ParseSchema(rec)
			if err != nil {
				return err
			}
			sc.Data = bytes.Clone(sc.Data)
			schemas[sc.ID] = sc
		case mcap.TokenChannel:
			c, err := mcap.ParseChannel(rec)
			if err != nil {
				return err
			}
			mchans[c.ID] = c
			delete(chans, c.ID)
		case mcap.TokenMessage:
			if err := m.PopulateFrom(rec, false); err != nil {
				return err
			}
			ch := chans[m.ChannelID]
			if ch == nil {
				c := mchans[m.ChannelID]
				if c == nil {
					continue // a channel not seen (yet): as the library's unindexed reader, skipped
				}
				t, err := TrackOf(c, schemas[c.SchemaID])
				if err != nil {
					return err
				}
				ch = &Channel{ID: c.ID, Topic: c.Topic, Track: t}
				chans[c.ID] = ch
			}
			inFn = true
			ferr := fn(ch, &m)
			inFn = false
			if ferr != nil {
				return ferr
			}
		}
	}
}

// ReadIndexed calls fn for every message in log-time order through the
// file's index, with the MCAP library's indexed reader (an error for a
// file without a summary). The library trusts the lengths and offsets in
// the summary: for files dttui or another trusted tool wrote.
func ReadIndexed(path string, fn ReadFunc) error {
	f, r, err := open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	defer r.Close()
	if _, err := info(r); err != nil {
		return err
	}
	return readMessages(r, fn)
}

// info is r.Info, its panics ErrCorrupt.
func info(r *mcap.Reader) (i *mcap.Info, err error) {
	defer guard(&err, nil)
	return r.Info()
}

func open(path string) (_ *os.File, _ *mcap.Reader, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer guard(&err, nil)
	r, err := mcap.NewReader(f)
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, r, nil
}

// ErrCorrupt is a file the MCAP library could not read without
// panicking (its parsers trust lengths in the file): a corrupt or hostile
// file, refused.
var ErrCorrupt = errors.New("record: corrupt MCAP file")

// guard turns a panic of the MCAP library into ErrCorrupt; one raised by
// the caller's function (inFn set) goes on.
func guard(err *error, inFn *bool) {
	if p := recover(); p != nil {
		if inFn != nil && *inFn {
			panic(p)
		}
		*err = fmt.Errorf("%w: %v", ErrCorrupt, p)
	}
}

func readMessages(r *mcap.Reader, fn ReadFunc) (err error) {
	inFn := false
	defer guard(&err, &inFn)
	it, err := r.Messages(mcap.UsingIndex(true), mcap.InOrder(mcap.LogTimeOrder))
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
		inFn = true
		ferr := fn(ch, m)
		inFn = false
		if ferr != nil {
			return ferr
		}
	}
}

// isTruncation says whether err is a file ending inside a record.
func isTruncation(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, mcap.ErrBadOffset) || errors.Is(err, io.EOF)
}
