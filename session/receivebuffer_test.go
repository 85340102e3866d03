package session

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dttui/dttui/session/rtc"
	"github.com/pion/webrtc/v4"
)

// A burst that arrives while the reader is busy waits in SCTP's receive
// buffer and is all read afterwards. With pion's default 1 MiB buffer the
// sender's zero-window probes were dropped by the full receiver and, on
// our maxRetransmits-0 channel, never sent again: packets lost on a
// loopback that loses nothing (TestInteropRoomMonitor's 2.1 MB frame).
func TestReceiveBufferHoldsABurstWhileTheReaderWaits(t *testing.T) {
	const n, size = 200, 15_000 // 3 MB, three times pion's default buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var drops atomic.Uint64
	offerer, answerer := pcPair(t, rtc.NewAPI(testLog, rtc.Network{}, true, &drops))

	var got atomic.Uint64
	release := make(chan struct{})
	answerer.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(webrtc.DataChannelMessage) {
			// The first message holds pion's read loop, as a busy
			// packet handler does, until the sender is done.
			select {
			case <-release:
			case <-ctx.Done():
			}
			got.Add(1)
		})
	})
	// The channel as dttui makes it, written to directly: the burst is
	// the point, not the flow control.
	ordered, retransmits := false, uint16(0)
	dc, err := offerer.CreateDataChannel(rtc.DataTrackLabel, &webrtc.DataChannelInit{Ordered: &ordered, MaxRetransmits: &retransmits})
	if err != nil {
		t.Fatal(err)
	}
	open := make(chan struct{})
	dc.OnOpen(func() { close(open) })
	openDirect(t, ctx, offerer, answerer, open)
	msg := make([]byte, size)
	for range n {
		if err := dc.Send(msg); err != nil {
			t.Fatal(err)
		}
	}
	// Everything leaves the sender once the receiver has taken it (or
	// the sender gave it up): wait for that, at most 5 s, with the reader
	// still held.
	deadline := time.Now().Add(5 * time.Second)
	for dc.BufferedAmount() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	buffered := dc.BufferedAmount()
	close(release)
	// Before SCTP, pion's demultiplexer holds 1 MB of datagrams for DTLS
	// and drops past it, counted (LocalDrops): under the race detector
	// DTLS falls that far behind a 3 MB burst. A datagram carries parts
	// of at most two messages.
	r := arrived(got.Load, n)
	if lost, d := n-r, drops.Load(); lost > 2*d {
		t.Fatalf("the reader got %d of %d messages sent while it was busy, %d datagrams dropped before DTLS (%d bytes still at the sender after 5 s)",
			r, n, d, buffered)
	} else if d > 0 {
		t.Logf("%d messages lost with %d datagrams dropped before DTLS", lost, d)
	}
}
