package session

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session/probe"
)

// pushProbes pushes n probe frames of size bytes, retrying while the
// queue is full, and waits until they have all left.
func pushProbes(t *testing.T, tr *Track, n, size int) {
	t.Helper()
	if err := pushPaced(bounded(t, 20*time.Second), tr, n, size, 0); err != nil {
		t.Fatal(err)
	}
}

// pushPaced pushes count probe frames of size bytes at rate frames/s
// (0: back to back), retrying a full queue (which delays the schedule),
// and flushes.
func pushPaced(ctx context.Context, tr *Track, count, size, rate int) error {
	start := time.Now()
	for i := 0; i < count; {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d)
			}
		}
		switch err := tr.Probe().Push(size); {
		case err == nil:
			i++
		case errors.Is(err, outgoing.ErrQueueFull):
			time.Sleep(time.Millisecond)
		default:
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return tr.Flush(ctx)
}

func rowByHandle(t *testing.T, snap report.Snapshot, h uint16) report.Local {
	t.Helper()
	for _, l := range snap.Local {
		if l.Handle == h {
			return l
		}
	}
	t.Fatalf("no row for handle %d in %+v", h, snap.Local)
	return report.Local{}
}

// Unpublish a track and publish one of the same name: two rows, each with
// what was received of its own frames (the name is a label, not a key).
func TestE2ERepublishSameNameKeepsRowsApart(t *testing.T) {
	acrossSFUs(t, testE2ERepublishSameNameKeepsRowsApart)
}

func testE2ERepublishSameNameKeepsRowsApart(t *testing.T) {
	s := connect(t, sfu(t), Config{Loopback: true})
	first, err := s.Publish(bounded(t, 15*time.Second), "x", false)
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, first)
	pushProbes(t, first, 20, 200)
	eventually(t, 10*time.Second, "20 frames of the first", func() bool { return rx(s, first).Frames == 20 })
	if err := first.Unpublish(bounded(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	second, err := s.Publish(bounded(t, 15*time.Second), "x", false)
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, second)
	pushProbes(t, second, 5, 200)
	eventually(t, 10*time.Second, "5 frames of the second", func() bool { return rx(s, second).Frames == 5 })
	snap := s.Report(nil)
	a, b := rowByHandle(t, snap, first.Handle()), rowByHandle(t, snap, second.Handle())
	if a.Rx.Frames != 20 || b.Rx.Frames != 5 || a.Rx.Lost+b.Rx.Lost != 0 || a.Stream == b.Stream {
		t.Fatalf("rows share figures: first %+v, second %+v", *a.Rx, *b.Rx)
	}
	if a.SID() == b.SID() || a.Name != b.Name {
		t.Fatalf("SIDs %q %q", a.SID(), b.SID())
	}
}

// Frames sent while the subscriber's path is cut never arrive: once their
// grace is over they are lost, also at the very end of a run, and
// received + lost = sent from counters kept apart.
func TestE2ETailLossWhenPathCut(t *testing.T) { acrossSFUs(t, testE2ETailLossWhenPathCut) }

func testE2ETailLossWhenPathCut(t *testing.T) {
	cut := new(atomic.Bool)
	s := connect(t, sfu(t), Config{Loopback: true, LossGrace: 500 * time.Millisecond, Net: NetOptions{Loopback: ptr(cutNet(cut))}})
	tr, err := s.Publish(bounded(t, 15*time.Second), "tail", false)
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, tr)
	pushProbes(t, tr, 50, 300)
	eventually(t, 10*time.Second, "the first 50 frames", func() bool { return rx(s, tr).Frames == 50 })
	cut.Store(true)
	pushProbes(t, tr, 30, 300)
	s.Settle(bounded(t, 10*time.Second))
	cut.Store(false)
	l := row(s, tr)
	if l.Out.FramesSent != 80 || l.Rx.Frames != 50 || l.Rx.Lost != 30 || l.Rx.InGrace != 0 {
		t.Fatalf("sent %d, received %+v", l.Out.FramesSent, *l.Rx)
	}
	if l.Rx.Frames+l.Rx.Lost+l.Rx.InGrace != l.Out.FramesSent {
		t.Fatal("received + lost + in grace != sent")
	}
}

// Another publisher's track of the same name in the same room, and frames
// of another stream pushed into ours, change nothing of our figures but
// the foreign count.
func TestE2EForeignFramesChangeNothing(t *testing.T) {
	acrossSFUs(t, testE2EForeignFramesChangeNothing)
}

func testE2EForeignFramesChangeNothing(t *testing.T) {
	srv := sfu(t)
	s := connect(t, srv, Config{Loopback: true})
	tr, err := s.Publish(bounded(t, 15*time.Second), "same", false)
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, tr)
	other := connect(t, srv, Config{Room: s.Status().Room})
	otr, err := other.Publish(bounded(t, 15*time.Second), "same", false)
	if err != nil {
		t.Fatal(err)
	}
	pushProbes(t, otr, 40, 200)
	pushProbes(t, tr, 10, 200)
	// Three frames of a stream that is not this publication's, with
	// sequence numbers that would fill gaps if streams were not told apart.
	for seq := range uint64(3) {
		if err := tr.TryPush(probe.Encode(nil, probe.Header{Stream: tr.Probe().Stream() ^ 1, Seq: 100 + seq, Sent: time.Now()}, 200), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Flush(bounded(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "our 10 frames and 3 foreign", func() bool { r := rx(s, tr); return r.Frames == 10 && r.Foreign == 3 })
	s.Settle(bounded(t, 10*time.Second))
	l := row(s, tr)
	if l.Rx.Frames != 10 || l.Rx.Lost != 0 || l.Rx.Foreign != 3 || l.Out.FramesSent != 13 {
		t.Fatalf("sent %d, received %+v", l.Out.FramesSent, *l.Rx)
	}
	if len(s.Report(nil).Local) != 1 {
		t.Fatal("the other publisher's track appears among ours")
	}
}
