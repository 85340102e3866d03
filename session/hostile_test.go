package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/session/probe"
)

// hostile is a participant that publishes tracks through a session and
// then writes packets of its own making on its data channel, as an
// attacker with the project's own packages would (issue 20): frames
// begun and never finished, probe frames whose numbers jump.
type hostile struct {
	t      *testing.T
	s      *Session
	tracks []*Track
	// Per track: the next sequence and frame numbers of its packets (the
	// session's own packetizer never writes on these tracks).
	seq, frame []uint16
}

// newHostile joins room and publishes n tracks named hostile-0 … ,
// hostilePublishers at a time: as fast as the SFU answers, as an
// attacker would.
func newHostile(t *testing.T, srv *testsfu.Server, room string, n int) *hostile {
	t.Helper()
	h := &hostile{t: t, s: connect(t, srv, Config{Room: room, PublishTimeout: 60 * time.Second}), tracks: make([]*Track, n),
		seq: make([]uint16, n), frame: make([]uint16, n)}
	ctx := bounded(t, 120*time.Second)
	errs := make([]error, n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, hostilePublishers)
	for i := range n {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			h.tracks[i], errs[i] = h.s.Publish(ctx, fmt.Sprintf("hostile-%d", i), false)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("publish: %v", err)
	}
	return h
}

// hostilePublishers is how many publish requests a hostile has open.
const hostilePublishers = 8

// identity is the hostile participant's.
func (h *hostile) identity() string { return h.s.Status().Identity }

// write sends one packet of track i.
func (h *hostile) write(ctx context.Context, i int, hdr packetizer.Header, payload []byte) error {
	hdr.Handle = h.tracks[i].Handle()
	hdr.Sequence = h.seq[i]
	h.seq[i]++
	b, err := (&packetizer.Packet{Header: hdr, Payload: payload}).AppendTo(nil)
	if err != nil {
		return err
	}
	p, err := h.s.current()
	if err != nil {
		return err
	}
	return p.WritePacket(ctx, b)
}

// partialFrame begins a frame of track i: its START and packets-1 more
// packets of size bytes each, never its FINAL.
func (h *hostile) partialFrame(ctx context.Context, i, packets, size int) error {
	payload := make([]byte, size)
	fn := h.frame[i]
	h.frame[i]++
	for k := range packets {
		marker := packetizer.MarkerInter
		if k == 0 {
			marker = packetizer.MarkerStart
		}
		if err := h.write(ctx, i, packetizer.Header{Marker: marker, FrameNumber: fn, Timestamp: uint32(fn) * 3000}, payload); err != nil {
			return err
		}
	}
	return nil
}

// probeFrame sends one 64-byte probe frame numbered seq on track i, of
// stream stream, stamped now, in one packet with the user timestamp.
func (h *hostile) probeFrame(ctx context.Context, i int, stream uint32, seq uint64) error {
	now := time.Now()
	fn := h.frame[i]
	h.frame[i]++
	ext := packetizer.Extensions{HasUserTimestamp: true, UserTimestamp: uint64(now.UnixMilli())}
	return h.write(ctx, i, packetizer.Header{Marker: packetizer.MarkerSingle, FrameNumber: fn, Timestamp: uint32(fn) * 3000, Extensions: ext},
		probe.Encode(nil, probe.Header{Stream: stream, Seq: seq, Sent: now}, 64))
}

// waitHeld waits until mon's room monitor holds every hostile track; if
// the test fails, it logs the monitor's tracks by state and why.
func (h *hostile) waitHeld(mon *Session) {
	h.t.Helper()
	h.t.Cleanup(func() {
		if !h.t.Failed() {
			return
		}
		states := map[string]int{}
		for _, r := range mon.Report(nil).Remote {
			why := ""
			if n := len(r.Stats.Timeline); n > 0 {
				why = " (" + r.Stats.Timeline[n-1].Reason + ")"
			}
			states[r.Stats.State.String()+why]++
		}
		h.t.Logf("the monitor's tracks by state: %v; status %+v", states, mon.Status())
	})
	eventually(h.t, 60*time.Second, "the monitor holds every hostile track", func() bool {
		for _, tr := range h.tracks {
			if !mon.MonitorHolds(tr.Info().SID) {
				return false
			}
		}
		return true
	})
}
