package logbuf

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/dttui/dttui/logorigin"
)

func messages(rs []Record) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%d:%s", r.Seq, r.Message))
	}
	return strings.Join(s, ",")
}

func TestRingKeepsNewestInOrder(t *testing.T) {
	b := New(3)
	l := b.Logger(slog.LevelInfo, nil)
	for i := range 5 {
		l.Info(fmt.Sprintf("line %d", i))
	}
	if got := messages(b.Append(nil)); got != "3:line 2,4:line 3,5:line 4" {
		t.Fatalf("Append = %q", got)
	}
	if b.Total() != 5 {
		t.Fatalf("Total %d", b.Total())
	}
	l.Debug("below the level")
	if b.Total() != 5 {
		t.Fatal("a record below the level was kept")
	}
}

// A record keeps its structure: level, origin (from With or from the
// record), attributes with groups spelled out, and the origin attribute
// is not repeated among them.
func TestRecordsAreStructured(t *testing.T) {
	b := New(10)
	l := b.Logger(slog.LevelInfo, nil)
	l.With(logorigin.Key, logorigin.Pion).With("logger", "pion.ice").Warn("ping failed", "pair", 3)
	l.WithGroup("g").Info("grouped", slog.Group("in", "k", "v"), "n", 1)
	l.Error("tagged late", logorigin.Key, logorigin.SFU)
	l.Info("own")
	rs := b.Append(nil)
	if len(rs) != 4 {
		t.Fatalf("%d records", len(rs))
	}
	attrs := func(r Record) string {
		var s []string
		for _, a := range r.Attrs {
			s = append(s, a.Key+"="+a.Value.String())
		}
		return strings.Join(s, " ")
	}
	for i, want := range []struct {
		lv     slog.Level
		origin logorigin.Origin
		attrs  string
	}{
		{slog.LevelWarn, logorigin.Pion, "logger=pion.ice pair=3"},
		{slog.LevelInfo, logorigin.DTTUI, "g.in.k=v g.n=1"},
		{slog.LevelError, logorigin.SFU, ""},
		{slog.LevelInfo, logorigin.DTTUI, ""},
	} {
		r := rs[i]
		if r.Level != want.lv || r.Origin != want.origin || attrs(r) != want.attrs || r.Time.IsZero() {
			t.Errorf("record %d %q: level %v origin %q attrs %q", i, r.Message, r.Level, r.Origin, attrs(r))
		}
	}
}

// The log file gets every record as a text line, origin included.
func TestExtraWriterGetsText(t *testing.T) {
	var file bytes.Buffer
	b := New(10)
	b.Logger(slog.LevelInfo, &file).With(logorigin.Key, logorigin.SDK).Info("joined", "room", "r1")
	if s := file.String(); !strings.Contains(s, `msg=joined origin=sdk room=r1`) {
		t.Fatalf("file line %q", s)
	}
	if len(b.Append(nil)) != 1 {
		t.Fatal("the buffer missed the record")
	}
}

func TestConcurrentLoggers(t *testing.T) {
	b := New(1000)
	l := b.Logger(slog.LevelInfo, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				l.Info("msg", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	rs := b.Append(nil)
	if b.Total() != 400 || len(rs) != 400 {
		t.Fatalf("total %d, held %d", b.Total(), len(rs))
	}
	for i, r := range rs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
	}
}
