package session

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session/probe"
)

// Close unpublishes only after the tracks' last packets have reached the
// SFU: everything the manager counted sent is in the SFU's own count of
// what it received. Without that ordering the unpublish (signal socket)
// overtakes packets still in the data channel's buffer and the SFU drops
// them for an unknown handle.
func TestE2ECloseDeliversLastFrames(t *testing.T) { acrossSFUs(t, testE2ECloseDeliversLastFrames) }

func testE2ECloseDeliversLastFrames(t *testing.T) {
	srv := sfu(t)
	tap := sfuStats(t, srv)
	// Enough queued to outlast the signal socket by far, few enough to
	// drain well within CloseDrainTimeout on a loaded machine under -race.
	for _, c := range []struct{ size, queued int }{{16000, 8}, {1 << 20, 2}} {
		size := c.size
		s := connect(t, srv, Config{})
		name := "close-last-" + strconv.Itoa(size) + "-" + randomSuffix()
		tr, err := s.Publish(bounded(t, 15*time.Second), name, false)
		if err != nil {
			t.Fatal(err)
		}
		// Stream until 20 frames are out, keeping c.queued frames queued
		// behind a full channel buffer, then close at once.
		deadline := time.Now().Add(20 * time.Second)
		for seq := uint64(0); ; {
			st := tr.Stats()
			if st.FramesSent >= 20 && st.FramesQueued >= uint64(c.queued) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d B: 20 s and still not streaming: %+v", size, st)
			}
			if st.FramesQueued >= uint64(c.queued) {
				time.Sleep(time.Millisecond)
				continue
			}
			err := tr.TryPush(probe.Encode(nil, probe.Header{Seq: seq, Sent: time.Now()}, size), uint64(time.Now().UnixMilli()))
			switch {
			case err == nil:
				seq++
			case errors.Is(err, outgoing.ErrQueueFull):
			default:
				t.Fatal(err)
			}
		}
		closeStart := time.Now()
		s.Close()
		t.Logf("%d B: Close took %v", size, time.Since(closeStart))
		st := tr.Stats()
		got := tap.wait(t, name, 10*time.Second)
		if got.Frames != int64(st.FramesSent) || got.Packets != int64(st.PacketsSent) || got.PacketsLost != 0 {
			t.Errorf("%d B: dttui sent %d frames in %d packets (%d dropped); the SFU received %d frames in %d packets, %d lost",
				size, st.FramesSent, st.PacketsSent, st.FramesDropped, got.Frames, got.Packets, got.PacketsLost)
		}
	}
}
