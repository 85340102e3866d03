package session

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session/probe"
)

// sfuTrackStats is what the SFU logs about a data track when it closes
// (livekit-server pkg/rtc/datatrack_stats.go): packets and frames it
// received from the publisher, and the gaps in their sequence numbers.
type sfuTrackStats struct {
	Packets, PacketsLost, Frames int64
}

// sfuStatsTap collects the embedded SFU's per-track summaries by track
// name. The name comes with the track's logger (WithAttrs), the figures
// with the record.
type sfuStatsTap struct {
	mu     sync.Mutex
	byName map[string]sfuTrackStats
	seen   chan string
}

func tapSFUTrackStats(t *testing.T) *sfuStatsTap {
	tap := &sfuStatsTap{byName: map[string]sfuTrackStats{}, seen: make(chan string, 64)}
	tapLibraryLogs(t, sfuStatsHandler{tap: tap})
	return tap
}

type sfuStatsHandler struct {
	tap   *sfuStatsTap
	attrs []slog.Attr
}

func (h sfuStatsHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h sfuStatsHandler) WithGroup(string) slog.Handler            { return h }
func (h sfuStatsHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return sfuStatsHandler{tap: h.tap, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h sfuStatsHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "data track stats" {
		return nil
	}
	var name string
	var st sfuTrackStats
	s := h.tap
	visit := func(a slog.Attr) bool {
		switch a.Key {
		case "name":
			name = a.Value.String()
		case "numPackets":
			st.Packets = a.Value.Int64()
		case "numPacketsLost":
			st.PacketsLost = a.Value.Int64()
		case "numFrames":
			st.Frames = a.Value.Int64()
		}
		return true
	}
	for _, a := range h.attrs {
		visit(a)
	}
	r.Attrs(visit)
	s.mu.Lock()
	s.byName[name] = st
	s.mu.Unlock()
	select {
	case s.seen <- name:
	default:
	}
	return nil
}

// wait returns the SFU's summary of the named track once it has logged it.
func (s *sfuStatsTap) wait(t *testing.T, name string, d time.Duration) sfuTrackStats {
	t.Helper()
	deadline := time.After(d)
	for {
		s.mu.Lock()
		st, ok := s.byName[name]
		s.mu.Unlock()
		if ok {
			return st
		}
		select {
		case <-s.seen:
		case <-deadline:
			t.Fatalf("the SFU logged no stats for track %q", name)
		}
	}
}

// Close unpublishes only after the tracks' last packets have reached the
// SFU: everything the manager counted sent is in the SFU's own count of
// what it received. Without that ordering the unpublish (signal socket)
// overtakes packets still in the data channel's buffer and the SFU drops
// them for an unknown handle.
func TestE2ECloseDeliversLastFrames(t *testing.T) {
	tap := tapSFUTrackStats(t)
	// Enough queued to outlast the signal socket by far, few enough to
	// drain well within CloseDrainTimeout on a loaded machine under -race.
	for _, c := range []struct{ size, queued int }{{16000, 8}, {1 << 20, 2}} {
		size := c.size
		s := connect(t, sfu(t), Config{})
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
