package session

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session/probe"
)

// Frames of every size class arrive once each, byte-exact, at the loopback
// subscriber: 1 byte, a 20-byte probe (the smallest that carries its own
// check), one full packet (15988 B), a frame just over one packet (16 KiB),
// and 1 MiB (66 packets); then a probe with the user-timestamp extension,
// which must arrive with the value we sent. The channel has no
// retransmissions, so this also checks that nothing on our side loses
// packets on an idle loopback path (it did, before the subscriber's UDP
// receive buffer was enlarged).
func TestE2EPublishAndReceiveFrameSizes(t *testing.T) {
	acrossSFUs(t, testE2EPublishAndReceiveFrameSizes)
}

func testE2EPublishAndReceiveFrameSizes(t *testing.T) {
	var mu sync.Mutex
	var got []incoming.Frame
	var sid atomic.Pointer[string]
	s := connect(t, sfu(t), Config{Loopback: true, OnLoopbackFrame: func(from string, f incoming.Frame) {
		if p := sid.Load(); p != nil && *p == from {
			f.Payload = bytes.Clone(f.Payload) // lent for the call only
			mu.Lock()
			got = append(got, f)
			mu.Unlock()
		}
	}})
	tr, err := s.Publish(bounded(t, 15*time.Second), "sizes", false)
	if err != nil {
		t.Fatal(err)
	}
	trackSID := tr.Info().SID
	sid.Store(&trackSID)
	if tr.Info().SID == "" || tr.State() != outgoing.StatePublished {
		t.Fatalf("track %+v", tr.Info())
	}
	waitSubscribed(t, s, tr)
	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}

	type sent struct {
		payload []byte
		ts      uint64
	}
	frames := []sent{{payload: []byte{0x42}}}
	stream := tr.Probe().Stream()
	for seq, size := range []int{probe.HeaderLen, 15988, 16 << 10, 1 << 20} {
		// No user timestamp: the 12-byte header leaves 15988 bytes per packet.
		frames = append(frames, sent{payload: probe.Encode(nil, probe.Header{Stream: stream, Seq: uint64(seq), Sent: time.Now()}, size)})
	}
	now := time.Now()
	frames = append(frames, sent{payload: probe.Encode(nil, probe.Header{Stream: stream, Seq: 4, Sent: now}, 1000), ts: uint64(now.UnixMilli())})
	for i, f := range frames {
		// TryPush owns the payload it is given: keep our copy for comparing.
		if err := tr.TryPush(bytes.Clone(f.payload), f.ts); err != nil {
			t.Fatal(err)
		}
		if err := tr.Flush(bounded(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, fmt.Sprintf("the %d-byte frame", len(f.payload)), func() bool { return received() == i+1 })
		mu.Lock()
		rf := got[i]
		mu.Unlock()
		if !bytes.Equal(rf.Payload, f.payload) {
			t.Fatalf("frame %d (%d bytes) arrived as %d different bytes", i, len(f.payload), len(rf.Payload))
		}
		if rf.HasUserTimestamp != (f.ts != 0) || rf.UserTimestamp != f.ts {
			t.Fatalf("frame %d: user timestamp %v/%d, sent %d", i, rf.HasUserTimestamp, rf.UserTimestamp, f.ts)
		}
	}
	// Five probe frames of our stream; the 1-byte frame is not a probe.
	l := row(s, tr)
	r := *l.Rx
	if r.Frames != 5 || r.Data != 1 || r.Lost != 0 || r.InGrace != 0 || r.Incomplete != 0 ||
		r.Corrupt != 0 || r.UserTimestamps != 1 || l.Latency.P99 <= 0 || l.Latency.Frames != 5 {
		t.Fatalf("received %+v, latency %+v", r, l.Latency)
	}
	// 1 MiB = 65 full packets + 9356 bytes.
	if st := tr.Stats(); st.FramesDropped != 0 || st.FramesSent != 6 || st.PacketsSent != 1+1+1+2+66+1 {
		t.Fatalf("sender: %+v", st)
	}
	// The per-second history counts the payload bytes sent, the measure
	// of the bytes received, so the charts compare like with like: every
	// byte pushed, and every probe byte received (all but the 1-byte
	// frame), once the seconds close.
	var payload uint64
	for _, f := range frames {
		payload += uint64(len(f.payload))
	}
	var hist report.Second
	eventually(t, 5*time.Second, "the history adding up to the payload bytes sent and received", func() bool {
		hist = report.Second{}
		for _, sec := range row(s, tr).History {
			hist.PayloadBytes += sec.PayloadBytes
			hist.RxBytes += sec.RxBytes
		}
		return hist.PayloadBytes == payload && hist.RxBytes == r.Bytes
	})
	if r.Bytes != payload-1 {
		t.Fatalf("received %d payload bytes, sent %d (one of them a 1-byte frame that is not a probe)", r.Bytes, payload)
	}
}

// An E2EE track: the SFU forwards ciphertext, the loopback subscriber
// opens it with the shared passphrase and reads the probe inside.
func TestE2EEncryptedTrack(t *testing.T) { acrossSFUs(t, testE2EEncryptedTrack) }

func testE2EEncryptedTrack(t *testing.T) {
	s := connect(t, sfu(t), Config{Loopback: true, E2EEPassphrase: "correct horse battery staple"})
	tr, err := s.Publish(bounded(t, 15*time.Second), "secret", true)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Info().E2EE {
		t.Fatal("SFU did not echo the encryption type")
	}
	waitSubscribed(t, s, tr)
	src := tr.Probe()
	// Frames only count when they decrypt to a probe of our stream, so
	// received frames prove the round trip; the lossy channel may shed a
	// frame under load, so keep pushing until three have arrived.
	eventually(t, 20*time.Second, "3 encrypted frames decoded", func() bool {
		_ = src.Push(3000)
		return rx(s, tr).Frames >= 3
	})
	l := row(s, tr)
	if r := *l.Rx; r.Corrupt != 0 || r.Foreign != 0 || r.Bytes != r.Frames*3000 || l.Latency.P50 <= 0 {
		t.Fatalf("%+v, latency %+v (bytes are the decrypted payload)", r, l.Latency)
	}
}
