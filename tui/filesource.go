package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/source"
	"github.com/dttui/dttui/tui/components/prompt"
	"github.com/dttui/dttui/tui/components/tracktable"
	"github.com/dttui/dttui/tui/format"
)

// sourceJob pushes the frames of a file (or of a directory, one per
// file) into a track, on goroutines the job owns: one pushes, one counts
// the frames so progress reads "pushed n/total". Its track owns the job
// and halts it on unpublish and quit, as it does a burst.
type sourceJob struct {
	path    string // as the user typed it
	framing source.Framing
	topic   string // a recording's topic (--track NAME:mcap=FILE), shown in place of the framing
	cancel  context.CancelFunc
	done    chan struct{}

	pushed atomic.Int64
	bytes  atomic.Int64
	total  atomic.Int64 // -1 until counted
	err    error        // set before done closes: why it stopped early
}

func (j *sourceJob) Halt() { j.cancel() }
func (j *sourceJob) Wait() { <-j.done }

// finished says whether the job has ended.
func (j *sourceJob) finished() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// progress is the job as the table and the detail pane show it.
func (j *sourceJob) progress() *tracktable.Source {
	p := &tracktable.Source{Path: j.path, Framing: j.framingName(), Pushed: int(j.pushed.Load()),
		Bytes: j.bytes.Load(), Total: int(j.total.Load()), Done: j.finished()}
	if p.Done {
		p.Err = j.err
	}
	return p
}

type sourceDoneMsg struct {
	t   *trackUI
	job *sourceJob
}

// expandHome reads a leading ~/ as the home directory, as a shell would.
func expandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}

// startSource pushes a file's frames into the track the prompt was
// opened on, off the UI goroutine (opening a file can block). Every
// frame it pushes waits for room in the track's queue (never dropped) and
// is counted by the track; the loopback subscriber counts them as data.
func (m Model) startSource(msg prompt.SourceSubmitMsg) (tea.Model, tea.Cmd) {
	t := m.tracks[msg.Handle]
	if t == nil || m.quitting {
		return m, m.flash("the track is gone: select a published track and press o again", true)
	}
	if j := t.source; j != nil && !j.finished() {
		return m, m.flash(fmt.Sprintf("%q is still pushing %s: u or q stops it", t.track.Name(), format.Outside(j.path)), true)
	}
	if r, ok := m.selectedRow(); ok && r.ui == t && r.L.State == outgoing.StateUnpublished {
		return m, m.flash(fmt.Sprintf("%q is unpublished: select a published track", t.track.Name()), true)
	}
	spec := source.Spec{Path: expandHome(msg.Path), Framing: msg.Framing, ChunkSize: t.size, MaxFrame: maxSize}
	rate := 0.0
	if msg.Paced {
		rate = t.rate
	}
	cmd := m.runSource(t, msg.Path, spec, rate)
	return m, tea.Batch(m.flash(fmt.Sprintf("pushing %s into %q…", format.Outside(msg.Path), t.track.Name()), false), cmd)
}

// runSource starts pushing spec's frames into t at rate (0: as fast as
// the track takes them); path is what the user typed, to show.
func (m Model) runSource(t *trackUI, path string, spec source.Spec, rate float64) tea.Cmd {
	ctx, cancel := context.WithCancel(context.Background())
	j := &sourceJob{path: path, framing: spec.Framing, cancel: cancel, done: make(chan struct{})}
	if spec.Recording {
		j.topic = spec.Topic
	}
	j.total.Store(-1)
	t.source = j
	go j.run(ctx, spec, t.track, rate)
	return func() tea.Msg {
		<-j.done
		return sourceDoneMsg{t: t, job: j}
	}
}

// run opens the source, counts its frames on a second reader meanwhile,
// and pushes them.
func (j *sourceJob) run(ctx context.Context, spec source.Spec, tr Track, rate float64) {
	defer close(j.done)
	defer j.cancel()
	if st, err := os.Stat(spec.Path); err == nil && st.IsDir() {
		spec.Framing, j.framing = source.Files, source.Files
	}
	r, err := source.Open(ctx, spec, nil)
	if err != nil {
		j.err = err
		return
	}
	defer r.Close()
	var wg sync.WaitGroup
	cctx, stopCount := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		j.count(cctx, spec)
	}()
	_, err = source.Run(ctx, r, func(ctx context.Context, p []byte, ts uint64) error {
		// A frame the schema check refuses is counted dropped by the
		// track; the file goes on (session.Track.PushData's rule).
		if err := tr.Push(ctx, p, ts); err != nil && !errors.Is(err, outgoing.ErrSchemaMismatch) {
			return err
		}
		j.pushed.Add(1)
		j.bytes.Add(int64(len(p)))
		return nil
	}, rate)
	stopCount()
	wg.Wait()
	if err == nil && j.total.Load() < 0 {
		j.total.Store(j.pushed.Load()) // done before the count: it is what was pushed
	}
	j.err = err
}

// count reads the source a second time to know its frames; a bad frame
// ends the count there (the push stops at it too).
func (j *sourceJob) count(ctx context.Context, spec source.Spec) {
	r, err := source.Open(ctx, spec, nil)
	if err != nil {
		return
	}
	defer r.Close()
	n := int64(0)
	for ctx.Err() == nil {
		if _, err := r.Next(); err != nil {
			var fe *source.FrameError
			if errors.Is(err, io.EOF) || errors.As(err, &fe) {
				j.total.Store(n)
			}
			return
		}
		n++
	}
}

// onSourceDone says what the file source did, in the table's words.
func (m Model) onSourceDone(msg sourceDoneMsg) (tea.Model, tea.Cmd) {
	if m.quitting {
		return m, nil
	}
	p := msg.job.progress()
	head := fmt.Sprintf("%s → %q: %s", format.Outside(p.Path), msg.t.track.Name(), p.Progress())
	switch {
	case errors.Is(p.Err, context.Canceled):
		return m, m.flash(head+", stopped", false)
	case p.Err != nil:
		return m, m.flash(head+"; stopped: "+format.Outside(problem(p.Err)), true)
	}
	return m, m.flash(head+", done", false)
}

// framingName says how the source is cut: its framing, or for a
// recording "mcap" and the topic it plays.
func (j *sourceJob) framingName() string {
	if j.topic != "" {
		return "mcap " + format.Outside(j.topic)
	}
	return j.framing.String()
}
