package tui

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/source"
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

// fakePlayer is a replay's control that keeps what it was told.
type fakePlayer struct{ st record.PlayState }

func (f *fakePlayer) State() record.PlayState { return f.st }
func (f *fakePlayer) TogglePause()            { f.st.Paused = !f.st.Paused }
func (f *fakePlayer) SeekBy(d time.Duration) {
	f.st.Position = min(max(f.st.Position+d, 0), f.st.Duration)
}
func (f *fakePlayer) SetSpeed(x float64) { f.st.Speed = x }

// The header says where a replay is; P pauses and resumes it, < and >
// seek by SeekStep, ( and ) halve and double its speed; without a replay
// the keys say so.
func TestReplayKeys(t *testing.T) {
	p := &fakePlayer{st: record.PlayState{Position: 12500 * time.Millisecond, Duration: 90 * time.Second, Speed: 1}}
	h := newHarness(t, New(newFakeBackend(), Options{Now: (&clock{t: t0}).now, Tick: time.Hour, Player: p, SubscribeOnly: true}))
	h.send(tea.WindowSizeMsg{Width: 140, Height: 30})
	header := func() string { return strings.SplitN(plain(h.m), "\n", 2)[0] }
	if !strings.Contains(header(), "▶ replay 12.5s / 1m30s ×1") {
		t.Fatalf("header %q", header())
	}
	h.send(press("P"))
	if !p.st.Paused || !strings.Contains(header(), "⏸ paused 12.5s") || !strings.Contains(plain(h.m), "replay paused (P resumes)") {
		t.Fatalf("after P: %+v %q", p.st, header())
	}
	h.send(press(">"))
	h.send(press(">"))
	h.send(press("<"))
	h.send(press(")"))
	h.send(press(")"))
	h.send(press("("))
	h.send(press("P"))
	if p.st.Position != 22500*time.Millisecond || p.st.Speed != 2 || p.st.Paused || !strings.Contains(header(), "▶ replay 22.5s / 1m30s ×2") {
		t.Fatalf("state %+v, header %q", p.st, header())
	}
	none := newHarness(t, New(newFakeBackend(), Options{Now: (&clock{t: t0}).now, Tick: time.Hour}))
	none.send(tea.WindowSizeMsg{Width: 140, Height: 30})
	none.send(press("P"))
	if !strings.Contains(plain(none.m), "not a replay") {
		t.Fatalf("without a replay:\n%s", plain(none.m))
	}
}

// A recording's topic pushed into a track (--track NAME:mcap=FILE:TOPIC)
// is shown with its topic where a file shows its framing, and every
// message is pushed.
func TestRecordingSourceShown(t *testing.T) {
	file := filepath.Join(t.TempDir(), "in.mcap")
	w, err := record.Create(file, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := &record.Track{SID: "DTR_p", Name: "pose", Identity: "robot"}
	for i := range 3 {
		if err := w.Write(tr, record.Frame{Arrival: t0, Payload: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := newFakeBackend()
	c := &clock{t: t0}
	b.now = c.now
	h := newHarness(t, New(b, Options{Now: c.now, Tick: time.Hour}))
	h.send(tea.WindowSizeMsg{Width: 140, Height: 40})
	publishTracks(t, h, b, 10, 64, "played")
	tu := h.m.tracks[1]
	h.send(func() tea.Msg {
		return h.m.runSource(tu, file, source.Spec{Path: file, Recording: true, Topic: "robot/pose"}, 0)()
	}())
	h.until("the recording pushed", 5*time.Second, func(m Model) bool { return tu.source != nil && tu.source.finished() })
	h.send(press("d"))
	if view := plain(h.m); !strings.Contains(view, "pushed 3/3 frames") || !strings.Contains(view, "mcap robot/pose") {
		t.Fatalf("the detail:\n%s", view)
	}
}
