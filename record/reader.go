package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/dttui/dttui/schema"
)

// Channel is a recorded channel as a track to publish again.
type Channel struct {
	ID    uint16
	Topic string
	Track Track // Name, Identity, SID, Handle and E2EE from the metadata (when dttui wrote them)
	// Record and Schema are the channel and its schema as the file
	// declares them (Schema nil for none).
	Record *mcap.Channel
	Schema *mcap.Schema
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
	// Chunks are opened by the lexer (their CRCs are not checked, as the
	// library's own unindexed reader does not: with them the lexer
	// stalled on fuzzed chunks). A record is at most the file, or, inside
	// a chunk, the chunk decompressed: a message of zeros may be larger
	// than the whole file.
	x, err := newLexer(r, min(max(size, int64(maxChunk)), 1<<40), maxChunk, false)
	if err != nil {
		return err
	}
	defer x.close()
	schemas := map[uint16]*mcap.Schema{}
	mchans := map[uint16]*mcap.Channel{}
	chans := map[uint16]*Channel{}
	var m mcap.Message
	for {
		tok, rec, err := x.next()
		if errors.Is(err, io.EOF) {
			return nil // the end, or the rest of a file cut short
		}
		if err != nil {
			return err
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
				ch = &Channel{ID: c.ID, Topic: c.Topic, Track: t, Record: c, Schema: schemas[c.SchemaID]}
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

// lexer reads an MCAP file record by record with the library's lexer,
// every length bounded, one buffer reused: a file that ends inside a
// record (cut short) ends at io.EOF, as a complete one does. Read and
// Verify both read through it.
type lexer struct {
	l   *mcap.Lexer
	zd  *zstd.Decoder // chunks' decoder, held to the chunk bound
	buf []byte
}

// newLexer lexes r with records of at most maxRecord bytes. With
// emitChunks, chunks come whole (TokenChunk, for their CRCs); without,
// the lexer opens them, each at most maxChunk decompressed.
func newLexer(r io.Reader, maxRecord int64, maxChunk int, emitChunks bool) (*lexer, error) {
	// The library's zstd decoder takes the window a frame asks for (up
	// to 512 MiB) and a goroutine per core: this one is held to the
	// chunk bound, on the reading goroutine.
	zd, err := boundedZstd(maxChunk)
	if err != nil {
		return nil, err
	}
	opts := &mcap.LexerOptions{EmitChunks: emitChunks, MaxRecordSize: int(maxRecord)}
	if !emitChunks {
		opts.MaxDecompressedChunkSize = maxChunk
		opts.Decompressors = map[mcap.CompressionFormat]mcap.ResettableReader{mcap.CompressionZSTD: zd}
	}
	l, err := mcap.NewLexer(r, opts)
	if err != nil {
		zd.Close()
		return nil, err
	}
	return &lexer{l: l, zd: zd}, nil
}

// next is the next record: its token and its bytes, valid until the
// following call.
func (x *lexer) next() (mcap.TokenType, []byte, error) {
	tok, rec, err := x.l.Next(x.buf)
	if err != nil {
		if isTruncation(err) {
			return 0, nil, io.EOF
		}
		return 0, nil, err
	}
	if cap(rec) > cap(x.buf) {
		x.buf = rec[:0]
	}
	return tok, rec, nil
}

func (x *lexer) close() {
	x.l.Close()
	x.zd.Close()
}

// boundedZstd is a zstd decoder held to maxChunk of memory and window,
// decoding on its caller's goroutine.
func boundedZstd(maxChunk int) (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(uint64(maxChunk)), zstd.WithDecoderMaxWindow(uint64(max(maxChunk, zstd.MinWindowSize))))
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

// infoOf reads the summary of the file at path.
func infoOf(path string) (*mcap.Info, error) {
	f, r, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	defer r.Close()
	return info(r)
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
			ch = &Channel{ID: c.ID, Topic: c.Topic, Track: t, Record: c, Schema: s}
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

// ErrCRC is a file whose bytes do not match a CRC it holds: a chunk's
// records, the data section or the summary section changed after they
// were written.
var ErrCRC = errors.New("record: CRC mismatch")

// ErrIndexMismatch is a file whose summary (statistics, chunk indexes) or
// message indexes say something other than its messages do.
var ErrIndexMismatch = errors.New("record: index disagrees with the messages")

// ErrNoSummary is a file without a summary section (a recording cut
// short): Read still reads its complete chunks, Verify cannot check it.
var ErrNoSummary = errors.New("record: no summary")

// Verification is what Verify checked of a file.
type Verification struct {
	Messages   uint64            // read alike by the unindexed and the indexed reader
	PerChannel map[uint16]uint64 // messages per channel ID
	Start, End uint64            // log times (ns) of the first and last message
	Chunks     int               // chunks in the data section, each matching its chunk index
	ChunkCRCs  int               // of those, chunks whose records' CRC was checked (a writer may leave it 0)
	DataCRC    bool              // the data section's CRC was checked (not 0 in the file)
	SummaryCRC bool              // the summary section's CRC was checked
}

// Verify reads the file at path through every route the MCAP library has
// and checks each against the others: the records' bytes against the
// data section's, the summary's and each chunk's CRC (chunks decompressed
// within MaxReadChunk); the messages as the library's unindexed reader
// (Messages with UsingIndex(false), every record in file order) and its
// indexed one (chunk and message indexes, in log-time order) read them —
// the same count, time bounds and contents per channel — against the
// summary's statistics, and each chunk against its chunk index. The first
// disagreement is returned: ErrCRC, ErrIndexMismatch, ErrNoSummary (wrapped
// with where), ErrCorrupt, or the reader's error.
func Verify(path string) (*Verification, error) { return verify(path, MaxReadChunk) }

// tally is what one reader saw of the messages.
type tally struct {
	total      uint64
	start, end uint64
	perChannel map[uint16]uint64
	digest     map[uint16]uint64 // per channel, a sum of each message's CRC with its log time: order-free
}

func newTally() *tally {
	return &tally{perChannel: map[uint16]uint64{}, digest: map[uint16]uint64{}, start: ^uint64(0)}
}

func (t *tally) add(m *mcap.Message) {
	t.total++
	t.start, t.end = min(t.start, m.LogTime), max(t.end, m.LogTime)
	t.perChannel[m.ChannelID]++
	t.digest[m.ChannelID] += uint64(crc32.ChecksumIEEE(m.Data))<<32 ^ m.LogTime
}

// diff says how t and u differ, "" when they agree.
func (t *tally) diff(u *tally) string {
	switch {
	case t.total != u.total:
		return fmt.Sprintf("%d messages against %d", t.total, u.total)
	case t.total > 0 && (t.start != u.start || t.end != u.end):
		return fmt.Sprintf("log times %d–%d against %d–%d", t.start, t.end, u.start, u.end)
	}
	for id, n := range t.perChannel {
		if u.perChannel[id] != n {
			return fmt.Sprintf("channel %d: %d messages against %d", id, n, u.perChannel[id])
		}
		if t.digest[id] != u.digest[id] {
			return fmt.Sprintf("channel %d: the messages' contents differ", id)
		}
	}
	return ""
}

// chunkSeen is a chunk as the data section holds it.
type chunkSeen struct {
	start, end               uint64
	length                   uint64 // the whole record's
	compression              string
	compressed, uncompressed uint64
}

func verify(path string, maxChunk int) (v *Verification, err error) {
	defer guard(&err, nil)
	v = &Verification{}
	chunks, err := verifyStructure(path, maxChunk, v)
	if err != nil {
		return nil, err
	}
	unindexed, err := tallyMessages(path, false)
	if err != nil {
		return nil, fmt.Errorf("the unindexed reader: %w", err)
	}
	indexed, err := tallyMessages(path, true)
	if err != nil {
		return nil, fmt.Errorf("the indexed reader: %w", err)
	}
	if d := unindexed.diff(indexed); d != "" {
		return nil, fmt.Errorf("%w: the unindexed reader read %s by the index", ErrIndexMismatch, d)
	}
	if d := indexed.diff(unindexed); d != "" {
		return nil, fmt.Errorf("%w: the index gives %s read without it", ErrIndexMismatch, d)
	}
	in, err := infoOf(path)
	if err != nil {
		return nil, err
	}
	if err := checkSummary(in, unindexed, chunks); err != nil {
		return nil, err
	}
	v.Messages, v.PerChannel = unindexed.total, unindexed.perChannel
	if unindexed.total > 0 {
		v.Start, v.End = unindexed.start, unindexed.end
	}
	v.Chunks = len(chunks)
	return v, nil
}

// checkSummary holds the summary's statistics and chunk indexes to what
// the messages and the data section's chunks are.
func checkSummary(in *mcap.Info, t *tally, chunks map[uint64]chunkSeen) error {
	st := in.Statistics
	if st == nil {
		return fmt.Errorf("%w: no statistics record", ErrIndexMismatch)
	}
	if st.MessageCount != t.total {
		return fmt.Errorf("%w: the statistics say %d messages, the file holds %d", ErrIndexMismatch, st.MessageCount, t.total)
	}
	if t.total > 0 && (st.MessageStartTime != t.start || st.MessageEndTime != t.end) {
		return fmt.Errorf("%w: the statistics say log times %d–%d, the messages %d–%d", ErrIndexMismatch,
			st.MessageStartTime, st.MessageEndTime, t.start, t.end)
	}
	for id, n := range st.ChannelMessageCounts {
		if t.perChannel[id] != n {
			return fmt.Errorf("%w: the statistics say channel %d holds %d messages, it holds %d", ErrIndexMismatch, id, n, t.perChannel[id])
		}
	}
	for id, n := range t.perChannel {
		if st.ChannelMessageCounts[id] != n {
			return fmt.Errorf("%w: channel %d holds %d messages, the statistics say %d", ErrIndexMismatch, id, n, st.ChannelMessageCounts[id])
		}
	}
	if int(st.ChunkCount) != len(chunks) || len(in.ChunkIndexes) != len(chunks) {
		return fmt.Errorf("%w: %d chunks in the data section, %d in the statistics, %d chunk indexes", ErrIndexMismatch,
			len(chunks), st.ChunkCount, len(in.ChunkIndexes))
	}
	for _, ci := range in.ChunkIndexes {
		c, ok := chunks[ci.ChunkStartOffset]
		if !ok {
			return fmt.Errorf("%w: a chunk index points at offset %d, where no chunk starts", ErrIndexMismatch, ci.ChunkStartOffset)
		}
		if c.start != ci.MessageStartTime || c.end != ci.MessageEndTime || c.length != ci.ChunkLength ||
			c.compression != string(ci.Compression) || c.compressed != ci.CompressedSize || c.uncompressed != ci.UncompressedSize {
			return fmt.Errorf("%w: the chunk at offset %d is %+v, its index says %+v", ErrIndexMismatch, ci.ChunkStartOffset, c, *ci)
		}
	}
	return nil
}

// tallyMessages reads every message with the library's reader, by its
// indexes or without them.
func tallyMessages(path string, indexed bool) (t *tally, err error) {
	f, r, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	defer r.Close()
	defer guard(&err, nil)
	opts := []mcap.ReadOpt{mcap.UsingIndex(indexed)}
	if indexed {
		if _, err := info(r); err != nil {
			return nil, err
		}
		opts = append(opts, mcap.InOrder(mcap.LogTimeOrder))
	}
	it, err := r.Messages(opts...)
	if err != nil {
		return nil, err
	}
	t = newTally()
	var m mcap.Message
	last := uint64(0)
	for {
		_, _, msg, err := it.NextInto(&m)
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		if indexed && msg.LogTime < last {
			return nil, fmt.Errorf("%w: message at %d after one at %d in log-time order", ErrIndexMismatch, msg.LogTime, last)
		}
		last = msg.LogTime
		t.add(msg)
	}
}

// crcTee hashes the bytes read through it: the data section's until
// summary is set, the summary section's after.
type crcTee struct {
	off           uint64
	data, summary uint32
	inSummary     bool
}

func (c *crcTee) Write(p []byte) (int, error) {
	c.off += uint64(len(p))
	if c.inSummary {
		c.summary = crc32.Update(c.summary, crc32.IEEETable, p)
	} else {
		c.data = crc32.Update(c.data, crc32.IEEETable, p)
	}
	return len(p), nil
}

// verifyStructure lexes the file record by record (chunks whole, every
// length bounded as Read bounds it), checks the data section's, the
// summary's and each chunk's CRC, and returns the chunks by offset.
func verifyStructure(path string, maxChunk int, v *Verification) (map[uint64]chunkSeen, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	tee := &crcTee{}
	x, err := newLexer(io.TeeReader(f, tee), min(fi.Size(), 1<<40), maxChunk, true)
	if err != nil {
		return nil, err
	}
	defer x.close()
	chunks := map[uint64]chunkSeen{}
	var records []byte
	dataEnd := false
	for {
		at := *tee // where the next record starts, and the CRCs before it
		tok, rec, err := x.next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the file ends at %d bytes without one (a recording cut short)", ErrNoSummary, at.off)
		}
		if err != nil {
			return nil, err
		}
		switch tok {
		case mcap.TokenChunk:
			c, err := mcap.ParseChunk(rec)
			if err != nil {
				return nil, err
			}
			if records, err = decompressChunk(c, x.zd, maxChunk, records); err != nil {
				return nil, fmt.Errorf("the chunk at offset %d: %w", at.off, err)
			}
			if c.UncompressedCRC != 0 {
				if got := crc32.ChecksumIEEE(records); got != c.UncompressedCRC {
					return nil, fmt.Errorf("%w: the chunk at offset %d: its records' CRC is %08x, it says %08x", ErrCRC, at.off, got, c.UncompressedCRC)
				}
				v.ChunkCRCs++
			}
			chunks[at.off] = chunkSeen{start: c.MessageStartTime, end: c.MessageEndTime, length: tee.off - at.off,
				compression: c.Compression, compressed: uint64(len(c.Records)), uncompressed: c.UncompressedSize}
		case mcap.TokenDataEnd:
			de, err := mcap.ParseDataEnd(rec)
			if err != nil {
				return nil, err
			}
			if de.DataSectionCRC != 0 {
				if de.DataSectionCRC != at.data {
					return nil, fmt.Errorf("%w: the data section's CRC is %08x, it says %08x", ErrCRC, at.data, de.DataSectionCRC)
				}
				v.DataCRC = true
			}
			dataEnd, tee.inSummary = true, true
		case mcap.TokenFooter:
			ft, err := mcap.ParseFooter(rec)
			if err != nil {
				return nil, err
			}
			if !dataEnd || ft.SummaryStart == 0 {
				return nil, fmt.Errorf("%w: the footer points at none", ErrNoSummary)
			}
			if ft.SummaryCRC != 0 {
				// From the summary's start through the footer's fields before its CRC.
				head := [9]byte{byte(mcap.OpFooter)}
				binary.LittleEndian.PutUint64(head[1:], uint64(len(rec)))
				got := crc32.Update(at.summary, crc32.IEEETable, head[:])
				got = crc32.Update(got, crc32.IEEETable, rec[:16])
				if got != ft.SummaryCRC {
					return nil, fmt.Errorf("%w: the summary section's CRC is %08x, it says %08x", ErrCRC, got, ft.SummaryCRC)
				}
				v.SummaryCRC = true
			}
			return chunks, nil
		}
	}
}

// decompressChunk returns c's records decompressed into dst, refusing a
// chunk that says it is larger than maxChunk or is not the size it says.
func decompressChunk(c *mcap.Chunk, zd *zstd.Decoder, maxChunk int, dst []byte) ([]byte, error) {
	if c.UncompressedSize > uint64(maxChunk) {
		return nil, fmt.Errorf("%w: %d bytes uncompressed, more than %d", ErrCorrupt, c.UncompressedSize, maxChunk)
	}
	var out []byte
	var err error
	switch mcap.CompressionFormat(c.Compression) {
	case mcap.CompressionNone:
		out = c.Records
	case mcap.CompressionZSTD:
		out, err = zd.DecodeAll(c.Records, dst[:0])
	case mcap.CompressionLZ4:
		if cap(dst) < int(c.UncompressedSize) {
			dst = make([]byte, c.UncompressedSize)
		}
		out = dst[:c.UncompressedSize]
		var n int
		n, err = io.ReadFull(lz4.NewReader(bytes.NewReader(c.Records)), out)
		out = out[:n]
	default:
		return nil, fmt.Errorf("%w: compression %q", ErrCorrupt, c.Compression)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if uint64(len(out)) != c.UncompressedSize {
		return nil, fmt.Errorf("%w: %d bytes uncompressed, it says %d", ErrCorrupt, len(out), c.UncompressedSize)
	}
	return out, nil
}
