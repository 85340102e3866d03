package record

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"
	"go.uber.org/goleak"
)

// tenthsFile writes n messages 100 ms apart on one channel.
func tenthsFile(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tenths.mcap")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := &Track{SID: "DTR_t", Name: "t", Identity: "robot"}
	for i := range n {
		if err := w.Write(tr, Frame{Arrival: t0.Add(time.Duration(i) * 100 * time.Millisecond), Payload: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Play sends at the recorded timing; a seek forward skips to its
// position, one back reads the file again from there, a pause holds the
// next message until resumed, a speed change paces what follows by it,
// and the control's state says where the replay is.
func TestPlayControl(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := tenthsFile(t, 10)
	ms := time.Millisecond
	c := &fakeClock{now: time.Unix(100, 0)}
	p := &Pacer{Speed: 1, Now: c.Now, After: c.After}
	ctl := NewControl(1, 900*ms)
	var sent []time.Duration
	seekedBack := false
	paused := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Play(context.Background(), path, ctl, p, 0, false, func(_ *Channel, m *mcap.Message, pos time.Duration) error {
			sent = append(sent, pos)
			switch {
			case pos == 100*ms && len(sent) == 2:
				ctl.SeekBy(300 * ms) // to 400
			case pos == 500*ms && !seekedBack:
				seekedBack = true
				ctl.SeekBy(-300 * ms) // to 200
			case pos == 300*ms && len(sent) == 6:
				ctl.TogglePause()
				close(paused)
			case pos == 700*ms:
				ctl.SetSpeed(4)
			}
			return nil
		})
	}()
	<-paused
	// Resumed once Play holds the next message (400 ms): it has taken the
	// control, paused, and waits for its change.
	for ctl.State().Position != 400*ms {
		runtime.Gosched()
	}
	if !ctl.State().Paused {
		t.Fatal("not paused")
	}
	ctl.TogglePause()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{0, 100 * ms, 400 * ms, 500 * ms, 200 * ms, 300 * ms, 400 * ms, 500 * ms, 600 * ms, 700 * ms, 800 * ms, 900 * ms}
	if !slices.Equal(sent, want) {
		t.Fatalf("sent at %v, want %v", sent, want)
	}
	// Waits of 100 ms, but none for the first message after a seek, a
	// resume or a change of speed (each goes at once, and the pace counts
	// from it): 100 (to 100), 100 (500), 100 (300), 100 (500), 100 (600),
	// 100 (700), then at 4×, 25 (900).
	wantWaits := []time.Duration{100 * ms, 100 * ms, 100 * ms, 100 * ms, 100 * ms, 100 * ms, 25 * ms}
	if !slices.Equal(c.waits, wantWaits) {
		t.Fatalf("waits %v, want %v", c.waits, wantWaits)
	}
	if st := ctl.State(); st.Position != 900*ms || st.Duration != 900*ms || st.Speed != 4 || st.Paused {
		t.Fatalf("state %+v", st)
	}
	ctl.SeekBy(-time.Hour)
	ctl.SetSpeed(1e9)
	if st := ctl.State(); st.Position != 0 || st.Speed != MaxSpeed {
		t.Fatalf("clamped: %+v", st)
	}
}
