package session

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dttui/dttui/impair"
	"github.com/dttui/dttui/session/rtc"
	"github.com/pion/webrtc/v4"
)

// BenchmarkForwardTSN measures what pion's partial reliability costs in
// datagrams, apart from dttui's sender and any SFU: two pion
// PeerConnections on loopback, directly and with 20 ms of delay on the
// sender's way (impair), a steady 1 000 messages/s of 1 KiB for 3 s, on a
// channel like `_data_track` (unordered, maxRetransmits 0) and on an
// unordered reliable one, counting what each side's ICE pair sent
// (application datagrams, no STUN).
//
// pion/sctp (v1.11.1, association.go) marks a chunk of a maxRetransmits-0
// stream abandoned as it first sends it (checkPartialReliabilityStatus,
// from movePendingDataChunkToInflightQueue: nSent 1 >= 0). After each SACK
// (handleSack, RFC 3758 C2) every chunk still in flight past the SACK's
// cumulative ack is then one the Advanced.Peer.Ack.Point may pass, so
// pion sends a FORWARD-TSN, in a datagram of its own, whenever a SACK
// leaves data in flight, and a pion receiver answers one that is out of
// date with an immediate SACK. Chromium's usrsctp abandons a chunk only
// when it would retransmit it.
//
//	go test -run '^$' -bench ForwardTSN -benchtime 1x -v ./session/
func BenchmarkForwardTSN(b *testing.B) {
	unordered, none := false, uint16(0)
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		for _, c := range []struct {
			name string
			init webrtc.DataChannelInit
		}{
			{"maxRetransmits0", webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &none}},
			{"reliable", webrtc.DataChannelInit{Ordered: &unordered}},
		} {
			name := fmt.Sprintf("delay%s/%s", delay, c.name)
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					sent, acks, got := forwardTSNRun(b, c.init, delay)
					b.ReportMetric(float64(sent)/float64(got), "datagrams/msg")
					b.ReportMetric(float64(acks)/float64(got), "acks/msg")
					b.Logf("%s: %d messages received; the sender sent %d datagrams, the receiver %d", name, got, sent, acks)
				}
			})
		}
	}
}

// forwardTSNRun sends the stream on a channel made with init and returns
// the datagrams each side sent and the messages that arrived.
func forwardTSNRun(b *testing.B, init webrtc.DataChannelInit, delay time.Duration) (sent, acks, got uint64) {
	const rate, size, dur = 1000, 1024, 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sh := impair.NewShaper(1)
	sh.Set(time.Now(), impair.Spec{Delay: delay})
	var pcs [2]*webrtc.PeerConnection
	for i, net := range []rtc.Network{{Impair: sh}, {}} {
		pc, err := rtc.NewAPI(testLog, net, true, nil).NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = pc.Close() })
		pcs[i] = pc
	}
	offerer, answerer := pcs[0], pcs[1]
	var n atomic.Uint64
	answerer.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(webrtc.DataChannelMessage) { n.Add(1) })
	})
	dc, err := offerer.CreateDataChannel(rtc.DataTrackLabel, &init)
	if err != nil {
		b.Fatal(err)
	}
	open := make(chan struct{})
	dc.OnOpen(func() { close(open) })
	openDirect(b, ctx, offerer, answerer, open)
	sent0, acks0 := pairPacketsSent(offerer), pairPacketsSent(answerer)
	msg := make([]byte, size)
	t := time.NewTicker(time.Second / rate)
	defer t.Stop()
	for range int(dur.Seconds() * rate) {
		<-t.C
		if err := dc.Send(msg); err != nil {
			b.Fatal(err)
		}
	}
	// Everything acknowledged, and a last delayed SACK's worth of time.
	for dc.BufferedAmount() > 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return uint64(pairPacketsSent(offerer) - sent0), uint64(pairPacketsSent(answerer) - acks0), n.Load()
}

// pairPacketsSent is the application datagrams pc's nominated ICE pair
// sent so far.
func pairPacketsSent(pc *webrtc.PeerConnection) uint32 {
	for _, s := range pc.GetStats() {
		if p, ok := s.(webrtc.ICECandidatePairStats); ok && p.Nominated {
			return p.PacketsSent
		}
	}
	return 0
}
