package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foxglove/mcap/go/mcap"
)

// verifiedFile writes n frames of tracks() with compression c, and
// returns the file's path and how many messages each channel holds
// (channel IDs are given in order of first write, from 1).
func verifiedFile(t *testing.T, c Compression, n int) (string, map[uint16]uint64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v.mcap")
	w, err := Create(path, Options{Compression: c, ChunkSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	writeFrames(t, w, n)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := map[uint16]uint64{}
	for i := range n {
		want[uint16(i%len(tracks())+1)]++
	}
	return path, want
}

// A whole file verifies under each compression: both readers count
// every message, per channel, with the log times written, and every CRC
// the file holds is checked.
func TestVerify(t *testing.T) {
	for _, c := range []Compression{ZSTD, LZ4, None} {
		t.Run(string(c), func(t *testing.T) {
			path, want := verifiedFile(t, c, 500)
			v, err := Verify(path)
			if err != nil {
				t.Fatal(err)
			}
			if v.Messages != 500 || len(v.PerChannel) != len(want) {
				t.Fatalf("%+v", v)
			}
			for id, n := range want {
				if v.PerChannel[id] != n {
					t.Errorf("channel %d: %d messages, %d written", id, v.PerChannel[id], n)
				}
			}
			if v.Start != uint64(t0.UnixNano()) || v.End != uint64(t0.UnixNano())+499e6 {
				t.Errorf("log times %d–%d", v.Start, v.End)
			}
			// 500 frames of up to 3 000 B in 64 KiB chunks: a dozen or more.
			if v.Chunks < 10 || v.ChunkCRCs != v.Chunks || !v.DataCRC || !v.SummaryCRC {
				t.Errorf("%d chunks, %d CRCs checked, data CRC %v, summary CRC %v", v.Chunks, v.ChunkCRCs, v.DataCRC, v.SummaryCRC)
			}
		})
	}
}

// flipAt changes one byte of the file, the first of what at is.
func flipAt(t *testing.T, path string, at []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, at)
	if i < 0 {
		t.Fatalf("% x not in the file", at)
	}
	b[i] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// One changed byte is caught by the CRC that covers it: in a message
// (the chunk's records), in the header (the data section's), in a
// channel of the summary (the summary section's).
func TestVerifyCatchesAChangedByte(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   []byte
		want string
	}{
		{"message", frameOf(200)[:16], "the chunk at offset"},
		{"header", []byte("dttui"), "the data section's CRC"},
		{"summary", []byte("DTR_blob"), "the summary section's CRC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := verifiedFile(t, None, 500)
			if tc.name == "summary" {
				// The channel as the summary repeats it, not as the data section first has it.
				b, _ := os.ReadFile(path)
				i := bytes.LastIndex(b, tc.at)
				b[i] ^= 0x01
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				flipAt(t, path, tc.at)
			}
			_, err := Verify(path)
			if !errors.Is(err, ErrCRC) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("Verify: %v, want ErrCRC: %s…", err, tc.want)
			}
		})
	}
}

// A file cut short has no summary: Verify says so, and Read still reads
// its complete chunks.
func TestVerifyCutShort(t *testing.T) {
	path, _ := verifiedFile(t, ZSTD, 500)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(path); !errors.Is(err, ErrNoSummary) {
		t.Fatalf("Verify of a file cut short: %v", err)
	}
	n := 0
	if err := Read(path, func(*Channel, *mcap.Message) error { n++; return nil }); err != nil || n == 0 {
		t.Fatalf("Read: %d messages, %v", n, err)
	}
}

// A message larger than the whole file (zeros, compressed into a few
// KiB) reads back, by Read and Verify: inside a chunk a record is bounded
// by the chunk, not by the file's size.
func TestReadMessageLargerThanTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zeros.mcap")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 9<<20)
	if err := w.Write(tracks()[1], Frame{Arrival: t0, Payload: big}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() > 1<<20 {
		t.Fatalf("the file: %v, %v", fi.Size(), err)
	}
	n := 0
	if err := Read(path, func(_ *Channel, m *mcap.Message) error {
		if !bytes.Equal(m.Data, big) {
			t.Fatalf("%d bytes read", len(m.Data))
		}
		n++
		return nil
	}); err != nil || n != 1 {
		t.Fatalf("Read: %d messages, %v", n, err)
	}
	if v, err := Verify(path); err != nil || v.Messages != 1 {
		t.Fatalf("Verify: %+v, %v", v, err)
	}
}

// A summary that says other than the messages is refused: statistics
// counting one message more (the summary's CRC cleared, as a writer that
// computes none leaves it), or no statistics at all (the library's writer
// told to skip them), so nothing vouches for the count.
func TestVerifyIndexMismatch(t *testing.T) {
	path, _ := verifiedFile(t, ZSTD, 500)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The statistics record: opcode 0x0b, its length, then the message count.
	var stats []int
	for i := 0; i+17 <= len(b); i++ {
		if b[i] == byte(mcap.OpStatistics) && binary.LittleEndian.Uint64(b[i+9:]) == 500 {
			stats = append(stats, i)
		}
	}
	if len(stats) != 1 {
		t.Fatalf("%d statistics records found", len(stats))
	}
	b[stats[0]+9]++                 // 501 messages
	clear(b[len(b)-8-4 : len(b)-8]) // the footer's summary CRC: none
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(path); !errors.Is(err, ErrIndexMismatch) || !strings.Contains(err.Error(), "the statistics say 501 messages, the file holds 500") {
		t.Fatalf("Verify: %v", err)
	}

	path = filepath.Join(t.TempDir(), "x.mcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := mcap.NewWriter(f, &mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 10, SkipStatistics: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(&mcap.Header{Library: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteChannel(&mcap.Channel{ID: 1, Topic: "a", MessageEncoding: UntypedEncoding}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := w.WriteMessage(&mcap.Message{ChannelID: 1, Sequence: uint32(i), LogTime: 1000 + uint64(i), PublishTime: 1000 + uint64(i), Data: frameOf(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err = Verify(path); !errors.Is(err, ErrIndexMismatch) || !strings.Contains(err.Error(), "no statistics record") {
		t.Fatalf("Verify without statistics: %v", err)
	}
}
