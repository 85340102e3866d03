package session

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/session/rtc"
)

// Two tracks push 64 KiB frames flat out. The channel's
// buffer must fill to the flow's window (so the bound is exercised) and
// never grow past the largest window by more than one packet per sender; both tracks keep
// sending (every waiting sender wakes on a drain, not just one); and every
// frame is accounted for: pushed = sent + dropped, with the drops counted
// as queue-full.
func TestE2EBackpressureBoundsBuffer(t *testing.T) { acrossSFUs(t, testE2EBackpressureBoundsBuffer) }

func testE2EBackpressureBoundsBuffer(t *testing.T) {
	// No stale drops: on a loaded machine (-race, both builds at once) a
	// 64 KiB frame can wait its 2 s in a full queue, and this test is about
	// the channel's bound.
	s := connect(t, sfu(t), Config{MaxFrameAge: -1})
	var tracks []*Track
	for _, name := range []string{"bp-a", "bp-b"} {
		tr, err := s.Publish(bounded(t, 15*time.Second), name, false)
		if err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, tr)
	}
	p, err := s.current()
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, tr := range tracks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(0); ; {
				select {
				case <-stop:
					return
				default:
				}
				err := tr.TryPush(probe.Encode(nil, probe.Header{Seq: seq, Sent: time.Now()}, 64<<10), 0)
				switch {
				case err == nil:
					seq++
				case errors.Is(err, outgoing.ErrQueueFull):
					time.Sleep(200 * time.Microsecond)
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	// Run until every track has sent minSent frames: far more than the
	// high watermark holds (4 frames), so each sender has waited on a full
	// buffer and been woken by a drain several times. Bounded by a deadline
	// rather than a fixed second, because -race on a loaded 2-core machine
	// can be several times slower.
	const minSent = 32
	var peak uint64
	window := 0 // the largest the flow allowed
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		snd := p.Channel().Sender()
		peak = max(peak, uint64(snd.InFlight))
		window = max(window, snd.Window)
		done := true
		for _, tr := range tracks {
			done = done && tr.Stats().FramesSent >= minSent
		}
		if done && peak >= rtc.MinFlowWindow-packetizer.MTU {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	close(stop)
	wg.Wait()

	if lo, hi := uint64(rtc.MinFlowWindow-packetizer.MTU), uint64(window+len(tracks)*packetizer.MTU); peak > hi || peak < lo {
		t.Fatalf("buffered amount peaked at %d (largest window %d); want within [%d, %d]", peak, window, lo, hi)
	}
	for _, tr := range tracks {
		if err := tr.Flush(bounded(t, 20*time.Second)); err != nil {
			t.Fatal(err)
		}
		st := tr.Stats()
		if st.FramesSent < minSent || st.FramesPushed != st.FramesSent+st.FramesDropped ||
			st.FramesDropped != st.DroppedBy[outgoing.DropQueueFull] {
			t.Fatalf("%s: %+v", tr.Name(), st)
		}
	}
}
