package tui

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// fakeRecorder stands for cmd/dttui's recording: it counts the calls and
// fails them when told.
type fakeRecorder struct {
	mu            sync.Mutex
	file          string
	starts, stops int
	startErr      error
	// gate, when set, holds Start until closed.
	gate chan struct{}
}

func (f *fakeRecorder) Start() (string, error) {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts++
	if f.startErr != nil {
		return "", f.startErr
	}
	return f.file, nil
}

func (f *fakeRecorder) Stop() (RecordStopped, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops++
	return RecordStopped{Files: []string{f.file}, Frames: 1234, Tracks: 3, Dropped: 0}, nil
}

// R starts a recording (REC and the file's name in the header, the path
// on the status line) and stops it (the counts said); a start that fails
// says why and leaves no mark; R while the file is still opening does
// nothing more; a run without a recorder says it cannot.
func TestRecordKey(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	b.now = c.now
	rec := &fakeRecorder{file: "/tmp/rec\x1b[31m/room.mcap"}
	o := Options{Now: c.now, Tick: time.Hour, Recorder: rec}
	h := newHarness(t, New(b, o))
	h.send(tea.WindowSizeMsg{Width: 140, Height: 30})
	h.send(press("R"))
	view := plain(h.m)
	header := strings.SplitN(view, "\n", 2)[0]
	if rec.starts != 1 || !strings.Contains(header, "● REC") || !strings.Contains(header, "room.mcap") {
		t.Fatalf("after R: %d starts; header %q", rec.starts, header)
	}
	if !strings.Contains(view, "recording the room to /tmp/rec") || strings.Contains(h.m.View(), "\x1b[31m/room") {
		t.Fatalf("status line: the file, sanitized:\n%s", view)
	}
	h.send(press("R"))
	if view := plain(h.m); rec.stops != 1 || strings.Contains(view, "● REC") || !strings.Contains(view, "recorded 1234 frames of 3 tracks") {
		t.Fatalf("after the second R: %d stops\n%s", rec.stops, view)
	}

	rec.startErr = errors.New("disk full")
	h.send(press("R"))
	if view := plain(h.m); strings.Contains(view, "● REC") || !strings.Contains(view, "recording: disk full") || h.m.recBusy {
		t.Fatalf("a failed start:\n%s", view)
	}

	rec.startErr, rec.gate = nil, make(chan struct{})
	h.send(press("R")) // held: the start is under way
	h.send(press("R")) // ignored while it is
	close(rec.gate)
	h.until("the recording started", 5*time.Second, func(m Model) bool { return m.recFile != "" })
	if rec.starts != 3 || rec.stops != 1 {
		t.Fatalf("%d starts, %d stops", rec.starts, rec.stops)
	}

	none := newHarness(t, New(newFakeBackend(), Options{Now: c.now, Tick: time.Hour}))
	none.send(tea.WindowSizeMsg{Width: 140, Height: 30})
	none.send(press("R"))
	if view := plain(none.m); !strings.Contains(view, "this run cannot record") {
		t.Fatalf("without a recorder:\n%s", view)
	}
}
