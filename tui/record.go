package tui

import (
	"fmt"
	"path/filepath"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/tui/format"
)

// Recorder records the room to MCAP on request (R): cmd/dttui's recording
// with its --record options. Both calls touch the disk; the UI makes them
// off its goroutine.
type Recorder interface {
	// Start opens a new recording file and returns its name.
	Start() (file string, err error)
	// Stop closes the recording in progress, its index and summary
	// written, and says what it holds.
	Stop() (RecordStopped, error)
}

// RecordStopped is what a recording holds once stopped.
type RecordStopped struct {
	Files   []string // more than one when it was split (--record-split)
	Frames  uint64
	Tracks  int
	Dropped uint64 // offered while the disk did not keep up
}

type recordStartedMsg struct {
	file string
	err  error
}

type recordStoppedMsg struct {
	res RecordStopped
	err error
}

// toggleRecording starts or stops the recording (R).
func (m Model) toggleRecording() (tea.Model, tea.Cmd) {
	r := m.opts.Recorder
	switch {
	case r == nil:
		return m, m.flash("this run cannot record (load mode)", true)
	case m.recBusy:
		return m, nil // the last R is still opening or closing the file
	case m.b == nil:
		return m, m.flash("not connected: nothing to record yet", true)
	}
	m.recBusy = true
	if m.recFile != "" {
		return m, func() tea.Msg {
			res, err := r.Stop()
			return recordStoppedMsg{res, err}
		}
	}
	return m, func() tea.Msg {
		f, err := r.Start()
		return recordStartedMsg{f, err}
	}
}

func (m Model) onRecordStarted(msg recordStartedMsg) (tea.Model, tea.Cmd) {
	m.recBusy = false
	if msg.err != nil {
		return m, m.flash("recording: "+format.Outside(msg.err.Error()), true)
	}
	m.recFile = msg.file
	m.log.Info("recording the room", "file", msg.file)
	return m, m.flash("recording the room to "+format.Outside(msg.file)+" (R stops)", false)
}

func (m Model) onRecordStopped(msg recordStoppedMsg) (tea.Model, tea.Cmd) {
	m.recBusy, m.recFile = false, ""
	files := make([]string, len(msg.res.Files))
	for i, f := range msg.res.Files {
		files[i] = format.Outside(f)
	}
	text := fmt.Sprintf("recorded %d frames of %d tracks to %s", msg.res.Frames, msg.res.Tracks, strings.Join(files, ", "))
	if msg.res.Dropped > 0 {
		text += fmt.Sprintf("; %d dropped (the disk did not keep up)", msg.res.Dropped)
	}
	if msg.err != nil {
		return m, m.flash(text+": "+format.Outside(msg.err.Error()), true)
	}
	m.log.Info(text)
	return m, m.flash(text, msg.res.Dropped > 0)
}

// recMark is the header's REC mark: the file's base name.
func (m Model) recMark() string {
	if m.recFile == "" {
		return ""
	}
	return filepath.Base(m.recFile)
}
