// Package record keeps data-track frames in MCAP files (the format
// Foxglove and ROS 2 read) and reads them back: one channel per
// publication, the track's frame encoding as the message encoding, its
// schema blob as the channel's schema. LiveKit's frame and schema
// encodings are MCAP's registry names, so a typed track maps one to one.
//
// Files are chunked, compressed, indexed and end with a summary. Only
// complete chunks reach the file, so one cut short (SIGKILL, a full disk)
// keeps every chunk before the cut readable by an unindexed reader
// (mcap.Reader.Messages with UsingIndex(false), or mcap.Lexer).
package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"github.com/dttui/dttui/schema"
)

// UntypedEncoding is the message encoding of an untyped track's channel
// (one that declares no frame encoding): its frames are opaque bytes. A
// channel with this encoding replays as an untyped track.
const UntypedEncoding = "dttui.untyped"

// DefaultChunkSize is the uncompressed size at which a chunk is
// compressed and written: what a recording holds in memory per file, and
// at most what a recorder killed with SIGKILL loses.
const DefaultChunkSize = 1 << 20

// Channel metadata keys: what identifies the publication a channel holds.
const (
	MetaSID      = "sid"         // the track's SID (DTR_…)
	MetaIdentity = "participant" // the publisher's identity
	MetaTrack    = "track"       // the track's name
	MetaE2EE     = "e2ee"        // "true" when the track is end-to-end encrypted
	MetaPayload  = "payload"     // how an E2EE track's frames are kept: PayloadSealed or PayloadDecrypted
	MetaHandle   = "handle"      // the publisher's handle, decimal
	MetaSchemaID = "schema"      // the declared schema, encoding:name, when its definition could not be fetched
)

// The values of MetaPayload.
const (
	// PayloadSealed: each message is an E2EE frame as received, laid out
	// as SealedHeader bytes (the key index, then the 12-byte AES-GCM IV)
	// followed by the ciphertext with its 16-byte tag. The default.
	PayloadSealed = "sealed"
	// PayloadDecrypted: each message is the frame's plaintext (recorded
	// with the room's passphrase, on request).
	PayloadDecrypted = "decrypted"
)

// SealedHeader is the length of what precedes the ciphertext in a sealed
// message: the key index (1 byte) and the IV (12 bytes).
const SealedHeader = 1 + 12

// Seal lays a received E2EE frame out as a sealed message, appended to dst.
func Seal(dst []byte, keyIndex uint8, iv [12]byte, ciphertext []byte) []byte {
	dst = append(dst, keyIndex)
	dst = append(dst, iv[:]...)
	return append(dst, ciphertext...)
}

// Unseal splits a sealed message into its key index, IV and ciphertext
// (with its tag); ErrNotSealed when it is too short to be one.
func Unseal(msg []byte) (keyIndex uint8, iv [12]byte, ciphertext []byte, err error) {
	if len(msg) < SealedHeader {
		return 0, iv, nil, ErrNotSealed
	}
	copy(iv[:], msg[1:SealedHeader])
	return msg[0], iv, msg[SealedHeader:], nil
}

// ErrNotSealed: a message of a sealed channel is shorter than its header.
var ErrNotSealed = errors.New("record: a sealed message is shorter than its key index and IV")

// Compression is how chunks are compressed.
type Compression string

const (
	ZSTD Compression = "zstd" // the default
	LZ4  Compression = "lz4"
	None Compression = "none"
)

// ParseCompression reads zstd, lz4 or none.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(strings.ToLower(s)); c {
	case ZSTD, LZ4, None:
		return c, nil
	}
	return "", fmt.Errorf("compression %q: want zstd, lz4 or none", s)
}

func (c Compression) mcap() mcap.CompressionFormat {
	switch c {
	case LZ4:
		return mcap.CompressionLZ4
	case None:
		return mcap.CompressionNone
	}
	return mcap.CompressionZSTD
}

// Options shape a recording; the zero value is zstd, DefaultChunkSize,
// one file.
type Options struct {
	Compression Compression
	ChunkSize   int64
	// RotateSize, when positive, starts a new file once this many bytes
	// are in the current one; RotateEvery, once its first frame arrived
	// this long ago (arrival times, so rotation follows the frames).
	RotateSize  int64
	RotateEvery time.Duration
}

// Track is the publication a frame belongs to.
type Track struct {
	SID      string
	Name     string
	Identity string
	Handle   uint16
	E2EE     bool
	// Sealed: the track's frames are kept encrypted, as received (see
	// PayloadSealed); an E2EE track not Sealed is kept decrypted.
	Sealed    bool
	Type      schema.Decl
	SchemaDef []byte // the schema's definition; nil when untyped or not fetched
}

// Topic is the track's MCAP topic: participant/track.
func (t *Track) Topic() string { return t.Identity + "/" + t.Name }

// MessageEncoding is the channel's message encoding for the track.
func (t *Track) MessageEncoding() string {
	if t.Type.Frame.IsZero() {
		return UntypedEncoding
	}
	return t.Type.Frame.String()
}

// Frame is one received frame.
type Frame struct {
	Arrival          time.Time
	HasUserTimestamp bool
	UserTimestamp    uint64 // UNIX ms
	Payload          []byte // a sealed track's: laid out by Seal
}

// Writer writes frames to a file, or to a series of them when rotating
// (room.mcap, room-001.mcap, …). Not safe for concurrent use.
type Writer struct {
	path  string
	opts  Options
	files []string

	f        *os.File
	w        *mcap.Writer
	started  time.Time // the current file's first arrival
	channels map[string]uint16
	schemas  map[schemaKey]uint16
	seq      map[uint16]uint32
}

type schemaKey struct {
	identity string
	id       schema.ID
}

// Create starts a recording at path.
func Create(path string, o Options) (*Writer, error) {
	if o.Compression == "" {
		o.Compression = ZSTD
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	w := &Writer{path: path, opts: o}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

// Files are the files written so far, in order.
func (w *Writer) Files() []string { return append([]string(nil), w.files...) }

func (w *Writer) nextPath() string {
	if len(w.files) == 0 {
		return w.path
	}
	ext := filepath.Ext(w.path)
	return fmt.Sprintf("%s-%03d%s", strings.TrimSuffix(w.path, ext), len(w.files), ext)
}

func (w *Writer) open() error {
	p := w.nextPath()
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	// Straight to the file, no buffer: a chunk is on disk once written,
	// which is what keeps a killed recording readable.
	mw, err := mcap.NewWriter(f, &mcap.WriterOptions{Chunked: true, ChunkSize: w.opts.ChunkSize,
		Compression: w.opts.Compression.mcap(), IncludeCRC: true})
	if err == nil {
		err = mw.WriteHeader(&mcap.Header{Profile: "", Library: "dttui"})
	}
	if err != nil {
		_ = f.Close()
		return err
	}
	w.f, w.w, w.files = f, mw, append(w.files, p)
	w.started = time.Time{}
	w.channels, w.schemas, w.seq = map[string]uint16{}, map[schemaKey]uint16{}, map[uint16]uint32{}
	return nil
}

func (w *Writer) closeFile() error {
	err := w.w.Close()
	return errors.Join(err, w.f.Close())
}

// Write records one frame of t. Its log time is the arrival; its publish
// time the user timestamp when the frame has one, the arrival otherwise.
func (w *Writer) Write(t *Track, f Frame) error {
	if w.w == nil {
		return errClosed
	}
	if w.rotateDue(f.Arrival) {
		if err := w.closeFile(); err != nil {
			w.w = nil
			return err
		}
		if err := w.open(); err != nil {
			w.w = nil
			return err
		}
	}
	if w.started.IsZero() {
		w.started = f.Arrival
	}
	ch, err := w.channel(t)
	if err != nil {
		return err
	}
	logTime := uint64(f.Arrival.UnixNano())
	pub := logTime
	if f.HasUserTimestamp {
		pub = f.UserTimestamp * uint64(time.Millisecond)
	}
	w.seq[ch]++
	return w.w.WriteMessage(&mcap.Message{ChannelID: ch, Sequence: w.seq[ch], LogTime: logTime, PublishTime: pub, Data: f.Payload})
}

var errClosed = errors.New("record: the recording is closed")

func (w *Writer) rotateDue(arrival time.Time) bool {
	if w.started.IsZero() {
		return false
	}
	if w.opts.RotateEvery > 0 && arrival.Sub(w.started) >= w.opts.RotateEvery {
		return true
	}
	return w.opts.RotateSize > 0 && int64(w.w.Offset()) >= w.opts.RotateSize
}

// channel returns t's channel in the current file, writing it (and its
// schema) on first use.
func (w *Writer) channel(t *Track) (uint16, error) {
	if id, ok := w.channels[t.SID]; ok {
		return id, nil
	}
	meta := map[string]string{MetaSID: t.SID, MetaIdentity: t.Identity, MetaTrack: t.Name,
		MetaE2EE: strconv.FormatBool(t.E2EE), MetaHandle: strconv.Itoa(int(t.Handle))}
	if t.E2EE {
		meta[MetaPayload] = PayloadDecrypted
		if t.Sealed {
			meta[MetaPayload] = PayloadSealed
		}
	}
	var sid uint16
	if !t.Type.Schema.IsZero() {
		if t.SchemaDef == nil {
			meta[MetaSchemaID] = t.Type.Schema.String()
		} else {
			k := schemaKey{t.Identity, t.Type.Schema}
			if sid = w.schemas[k]; sid == 0 {
				sid = uint16(len(w.schemas) + 1)
				if err := w.w.WriteSchema(&mcap.Schema{ID: sid, Name: t.Type.Schema.Name,
					Encoding: t.Type.Schema.Encoding.String(), Data: t.SchemaDef}); err != nil {
					return 0, err
				}
				w.schemas[k] = sid
			}
		}
	}
	id := uint16(len(w.channels) + 1)
	if err := w.w.WriteChannel(&mcap.Channel{ID: id, SchemaID: sid, Topic: t.Topic(), MessageEncoding: t.MessageEncoding(),
		Metadata: meta}); err != nil {
		return 0, err
	}
	w.channels[t.SID] = id
	return id, nil
}

// Close writes the last chunk, the indexes and the summary.
func (w *Writer) Close() error {
	if w.w == nil {
		return nil
	}
	err := w.closeFile()
	w.w = nil
	return err
}
