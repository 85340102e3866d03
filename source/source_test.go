package source

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readAll(t *testing.T, r Reader) ([]string, error) {
	t.Helper()
	var out []string
	for {
		f, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(f))
	}
}

func TestLines(t *testing.T) {
	in := "{\"a\":1}\r\n\n{\"b\":2}\n" + strings.Repeat("x", 100_000) + "\n{\"c\":3}" // no final newline
	r, err := Open(context.Background(), Spec{Path: "-"}, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if err != nil || len(got) != 4 || got[0] != `{"a":1}` || got[1] != `{"b":2}` || len(got[2]) != 100_000 || got[3] != `{"c":3}` {
		t.Fatalf("%d frames %q…, %v", len(got), got[:min(len(got), 2)], err)
	}
}

// A bad frame stops the source with where and why; the frames before it
// were all read.
func TestLinesValidation(t *testing.T) {
	for _, tc := range []struct {
		in    string
		spec  Spec
		want  error
		ok    int
		where string
	}{
		{"{\"a\":1}\nnot json\n", Spec{ValidateJSON: true}, ErrNotJSON, 1, "line 2"},
		{"{\"a\":1}\n\"\xff\xfe\"\n", Spec{ValidateJSON: true}, ErrNotUTF8, 1, "line 2"},
		{"ok\n" + strings.Repeat("y", 20) + "\n", Spec{MaxFrame: 10}, ErrTooLarge, 1, "line 2"},
	} {
		tc.spec.Path = "-"
		r, _ := Open(context.Background(), tc.spec, strings.NewReader(tc.in))
		got, err := readAll(t, r)
		var fe *FrameError
		if !errors.Is(err, tc.want) || !errors.As(err, &fe) || fe.Where != tc.where || fe.Frame != 2 || len(got) != tc.ok {
			t.Fatalf("%q: %v after %d frames", tc.in, err, len(got))
		}
	}
}

func TestLengthPrefixedAndChunks(t *testing.T) {
	var b bytes.Buffer
	for _, rec := range []string{"one", "", "three!"} {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(rec)))
		b.WriteString(rec)
	}
	r, _ := Open(context.Background(), Spec{Path: "-", Framing: LengthPrefixed}, bytes.NewReader(b.Bytes()))
	got, err := readAll(t, r)
	if err != nil || strings.Join(got, "|") != "one||three!" {
		t.Fatalf("%q %v", got, err)
	}
	truncated := append(bytes.Clone(b.Bytes()), 0, 0, 0, 9, 'x')
	r, _ = Open(context.Background(), Spec{Path: "-", Framing: LengthPrefixed}, bytes.NewReader(truncated))
	if got, err := readAll(t, r); !errors.Is(err, ErrTruncated) || len(got) != 3 {
		t.Fatalf("truncated: %q %v", got, err)
	}
	r, _ = Open(context.Background(), Spec{Path: "-", Framing: Chunks, ChunkSize: 4}, strings.NewReader("abcdefghij"))
	got, err = readAll(t, r)
	if err != nil || strings.Join(got, "|") != "abcd|efgh|ij" {
		t.Fatalf("chunks %q %v", got, err)
	}
}

func TestFilesAndOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"b.json": `{"b":1}`, "a.json": `{"a":1}`, "c.json": `oops`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Open(context.Background(), Spec{Path: dir, Framing: Files, ValidateJSON: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	var fe *FrameError
	if !errors.As(err, &fe) || fe.Where != "c.json" || strings.Join(got, "|") != `{"a":1}|{"b":1}` {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := Open(context.Background(), Spec{Path: filepath.Join(dir, "missing")}, nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := Open(context.Background(), Spec{Path: dir}, nil); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("a directory as a stream: %v", err)
	}
}

// Run pushes every frame in order with a user timestamp, waits for the
// track when it is busy, paces at a rate, and stops at a bad frame with
// everything before it pushed.
func TestRun(t *testing.T) {
	var got []string
	var ts []uint64
	push := func(_ context.Context, p []byte, t uint64) error {
		got = append(got, string(p))
		ts = append(ts, t)
		return nil
	}
	r, _ := Open(context.Background(), Spec{Path: "-", ValidateJSON: true}, strings.NewReader("1\n2\n3\n{\n4\n"))
	res, err := Run(context.Background(), r, push, 0)
	if !errors.Is(err, ErrNotJSON) || res.Frames != 3 || strings.Join(got, ",") != "1,2,3" || ts[0] == 0 {
		t.Fatalf("%+v %v %q", res, err, got)
	}
	got = nil
	r, _ = Open(context.Background(), Spec{Path: "-"}, strings.NewReader("a\nb\nc\nd\ne\n"))
	start := time.Now()
	res, err = Run(context.Background(), r, push, 100)
	if err != nil || res.Frames != 5 || time.Since(start) < 35*time.Millisecond {
		t.Fatalf("paced: %+v %v in %s", res, err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, _ = Open(context.Background(), Spec{Path: "-"}, strings.NewReader("a\n"))
	if _, err := Run(ctx, r, func(ctx context.Context, _ []byte, _ uint64) error { return ctx.Err() }, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// FuzzLengthPrefixed: any bytes give frames or a clean error, never a panic
// or a frame beyond the limit.
func FuzzLengthPrefixed(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 'a', 'b', 'c'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _ := Open(context.Background(), Spec{Path: "-", Framing: LengthPrefixed, MaxFrame: 1 << 16}, bytes.NewReader(b))
		for range 1000 {
			frame, err := r.Next()
			if err != nil {
				return
			}
			if len(frame) > 1<<16 {
				t.Fatalf("frame of %d bytes", len(frame))
			}
		}
	})
}
