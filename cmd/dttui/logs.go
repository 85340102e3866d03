package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/dttui/dttui/tui/logbuf"
)

// logSink collects every log line: into the log pane's ring buffer, and
// into --log-file when given. In headless runs without a file, warnings go
// to stderr (stdout carries the JSON lines).
type logSink struct {
	buf  *logbuf.Buffer
	file *os.File
	log  *slog.Logger
}

func newLogSink(o options, stderr io.Writer) (*logSink, error) {
	s := &logSink{buf: logbuf.New(2000)}
	var extra io.Writer
	if o.LogFile != "" {
		f, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--log-file: %w", err)
		}
		s.file, extra = f, f
	}
	switch {
	case o.Headless && s.file == nil:
		s.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	default:
		s.log = s.buf.Logger(slog.LevelInfo, extra)
	}
	return s, nil
}

func (s *logSink) Logger() *slog.Logger { return s.log }

func (s *logSink) Close() {
	if s.file != nil {
		_ = s.file.Close()
	}
}
