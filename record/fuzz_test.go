package record

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/foxglove/mcap/go/mcap"
)

// A recording is a file from outside: whatever its bytes, Read returns
// an error or messages whose channels passed TrackOf's checks, never
// panics and never allocates past its bounds (the indexed reader and the
// summary trust the file's offsets: see ReadIndexed).
func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.mcap")
	w, err := Create(path, Options{ChunkSize: 512, Compression: None})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 30 {
		if err := w.Write(tracks()[i%3], Frame{Arrival: t0, Payload: frameOf(i)[:min(20, len(frameOf(i)))]}); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add(mcap.Magic)
	f.Fuzz(func(t *testing.T, b []byte) {
		// Chunks bounded lower than Read's: the bound is what is
		// tested, and a 64 MiB one per input would slow the fuzzer.
		_ = readFrom(bytes.NewReader(b), int64(len(b)), 64<<10, func(ch *Channel, m *mcap.Message) error {
			if err := ch.Track.Type.Check(); err != nil {
				t.Fatalf("a channel that breaks the rules came through: %v", err)
			}
			return nil
		})
	})
}
