package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/textsafe"
)

// runMCAPInfo is `dttui mcap-info FILE...`: what `mcap info` prints of a
// recording (the mcap CLI does not install with go install).
func runMCAPInfo(args []string, std stdio, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprintln(std.out, "usage: dttui mcap-info FILE...\n\nPrints what `mcap info` prints of MCAP files: messages, duration, compression, channels\nwith their message counts and encodings, schemas; then checks the file (the data, summary and\nchunk CRCs; the unindexed and the indexed reader against each other and the summary) and says\nso, exit 1 when it does not check out. A file cut short has no summary: what its complete\nchunks hold is counted instead (dttui replay still plays them).")
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	code := exitOK
	for i, path := range args {
		if len(args) > 1 {
			if i > 0 {
				fmt.Fprintln(std.out)
			}
			fmt.Fprintf(std.out, "%s:\n", textsafe.Line(path))
		}
		if err := mcapInfo(std.out, path); err != nil {
			fmt.Fprintf(stderr, "dttui mcap-info: %s: %v\n", textsafe.Line(path), err)
			code = exitFailure
		}
	}
	return code
}

// mcapInfo lists one file and verifies it (record.Verify): its summary
// when it has one, else what a scan of its complete chunks counts, said
// so. A file that does not verify is listed, and its error returned.
func mcapInfo(w io.Writer, path string) error {
	s, err := record.Summarize(path)
	if err != nil {
		if _, verr := record.Verify(path); !errors.Is(verr, record.ErrNoSummary) {
			return err
		}
		if s, err = record.Scan(path); err != nil {
			return err
		}
		writeMCAPInfo(w, s)
		fmt.Fprintln(w, "summary:   none (a recording cut short?): counted by scanning the file's complete chunks; no CRC or index checked")
		return nil
	}
	writeMCAPInfo(w, s)
	v, err := record.Verify(path)
	if err != nil {
		fmt.Fprintln(w, "verified:  no")
		return err
	}
	crc := func(checked bool) string {
		if checked {
			return "ok"
		}
		return "none in the file"
	}
	fmt.Fprintf(w, "verified:  %d messages read alike by the unindexed and the indexed reader, as the summary counts them; "+
		"CRCs: data %s, summary %s, %d of %d chunks ok\n", v.Messages, crc(v.DataCRC), crc(v.SummaryCRC), v.ChunkCRCs, v.Chunks)
	return nil
}

// writeMCAPInfo formats a summary as `mcap info` does.
func writeMCAPInfo(w io.Writer, s *record.Summary) {
	line := textsafe.Line
	fmt.Fprintf(w, "library:   %s\n", line(s.Library))
	fmt.Fprintf(w, "profile:   %s\n", line(s.Profile))
	fmt.Fprintf(w, "messages:  %d\n", s.Messages)
	fmt.Fprintf(w, "duration:  %s\n", s.Duration())
	if s.Messages > 0 {
		fmt.Fprintf(w, "start:     %s (%s)\n", s.Start.UTC().Format(time.RFC3339Nano), nanos(s.Start))
		fmt.Fprintf(w, "end:       %s (%s)\n", s.End.UTC().Format(time.RFC3339Nano), nanos(s.End))
	}
	fmt.Fprintln(w, "compression:")
	for _, c := range s.Chunks {
		name := c.Compression
		if name == "" {
			name = "none"
		}
		ratio := 0.0
		if c.Uncompressed > 0 {
			ratio = 100 * (1 - float64(c.Compressed)/float64(c.Uncompressed))
		}
		fmt.Fprintf(w, "\t%s: [%d chunks] [%s/%s (%.2f%%)]", line(name), c.Chunks, bytesIEC(c.Uncompressed), bytesIEC(c.Compressed), ratio)
		if d := s.Duration().Seconds(); d > 0 {
			fmt.Fprintf(w, " [%s/sec]", bytesIEC(uint64(float64(c.Compressed)/d)))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "channels:")
	width := 0
	for _, ch := range s.Channels {
		width = max(width, len(line(ch.Topic)))
	}
	for _, ch := range s.Channels {
		hz := ""
		if d := s.Duration().Seconds(); d > 0 && ch.Messages > 1 {
			hz = fmt.Sprintf(" @ %.2f Hz", float64(ch.Messages)/d)
		}
		sc := "no schema"
		if ch.SchemaID != 0 {
			for _, x := range s.Schemas {
				if x.ID == ch.SchemaID {
					sc = line(x.Encoding) + " " + line(x.Name)
				}
			}
		}
		fmt.Fprintf(w, "\t(%d) %-*s  %d msgs%s : %s [%s]", ch.ID, width, line(ch.Topic), ch.Messages, hz, line(ch.MessageEncoding), sc)
		if len(ch.Metadata) > 0 {
			keys := make([]string, 0, len(ch.Metadata))
			for k := range ch.Metadata {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var kv []string
			for _, k := range keys {
				kv = append(kv, line(k)+"="+line(ch.Metadata[k]))
			}
			fmt.Fprintf(w, " {%s}", strings.Join(kv, " "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "schemas:")
	for _, x := range s.Schemas {
		fmt.Fprintf(w, "\t(%d) %s : %s (%d bytes)\n", x.ID, line(x.Name), line(x.Encoding), x.Size)
	}
	fmt.Fprintf(w, "attachments: %d\nmetadata: %d\n", s.Attachments, s.Metadata)
}

func nanos(t time.Time) string {
	n := t.UnixNano()
	return fmt.Sprintf("%d.%09d", n/1e9, n%1e9)
}

// bytesIEC is n in KiB, MiB, GiB as mcap info writes sizes.
func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n)/unit, "KiB"
	for _, next := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, u = v/unit, next
	}
	return fmt.Sprintf("%.2f %s", v, u)
}
