package main

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dttui/dttui/logorigin"
)

// logSome logs what a headless run logs: dttui's own warning and info,
// and library chatter (pion's and LiveKit's, marked as such).
func logSome(l *slog.Logger) {
	l.With(logorigin.Key, logorigin.Pion, "logger", "pion.ice").Warn("Failed to ping without candidate pairs")
	l.Error("could not handle request", logorigin.Key, logorigin.SFU, "err", errors.New("context canceled"))
	l.Info("session resumed", "tracks", 1)
	l.With("participant", "publisher").Warn("loopback subscriber unavailable", "err", errors.New("refused: \x1b[2J"))
}

// Quiet by default: headless stderr carries dttui's own warnings only;
// library chatter goes to the log file, or with --verbose to stderr too.
func TestHeadlessStderrIsDttuisOwn(t *testing.T) {
	for _, tc := range []struct {
		verbose bool
		want    string
	}{
		{false, "dttui: warning: loopback subscriber unavailable participant=publisher err=\"refused: \\\\x1b[2J\"\n"},
		{true, "dttui: warning: Failed to ping without candidate pairs origin=pion logger=pion.ice\n" +
			"dttui: error: could not handle request origin=sfu err=\"context canceled\"\n" +
			"dttui: session resumed tracks=1\n" +
			"dttui: warning: loopback subscriber unavailable participant=publisher err=\"refused: \\\\x1b[2J\"\n"},
	} {
		var stderr bytes.Buffer
		logFile := filepath.Join(t.TempDir(), "log")
		s, err := newLogSink(options{Headless: true, Verbose: tc.verbose, LogFile: logFile}, &stderr)
		if err != nil {
			t.Fatal(err)
		}
		logSome(s.Logger())
		s.Close()
		if stderr.String() != tc.want {
			t.Errorf("verbose=%v: stderr\n%s\nwant\n%s", tc.verbose, stderr.String(), tc.want)
		}
		file, _ := os.ReadFile(logFile)
		for _, want := range []string{"Failed to ping", "context canceled", "session resumed", "loopback subscriber unavailable"} {
			if !strings.Contains(string(file), want) {
				t.Errorf("verbose=%v: log file lacks %q:\n%s", tc.verbose, want, file)
			}
		}
		if bytes.ContainsRune(file, 0x1b) {
			t.Errorf("raw ESC in the log file:\n%q", file)
		}
	}
}

// In the UI, every record goes to the log pane (and the file), made safe,
// with its origin kept for the pane's filter.
func TestUILogsGoToThePane(t *testing.T) {
	var stderr bytes.Buffer
	s, err := newLogSink(options{}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	logSome(s.Logger())
	recs := s.buf.Append(nil)
	if len(recs) != 4 || stderr.Len() != 0 {
		t.Fatalf("pane %+v, stderr %q", recs, stderr.String())
	}
	if recs[0].Origin != logorigin.Pion || recs[1].Origin != logorigin.SFU || recs[2].Origin != logorigin.DTTUI {
		t.Fatalf("origins lost: %+v", recs)
	}
	last := recs[3].Attrs[len(recs[3].Attrs)-1]
	if last.Value.String() != `refused: \x1b[2J` {
		t.Fatalf("pane attribute not made safe: %q", last.Value.String())
	}
}
