package session

import (
	"fmt"
	"testing"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session/probe"
)

// Frames of every size class arrive once each, byte-exact, at the loopback
// subscriber: a 20-byte probe (the smallest that carries its own check),
// one full packet (15988 B), a frame just over one packet (16 KiB), and
// 1 MiB (66 packets). The channel has no retransmissions, so this also
// checks that nothing on our side loses packets on an idle loopback path
// (it did, before the subscriber's UDP receive buffer was enlarged).
func TestE2EPublishAndReceiveFrameSizes(t *testing.T) {
	s := connect(t, sfu(t), Config{Loopback: true})
	tr, err := s.Publish(bounded(t, 15*time.Second), "sizes", false)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Info().SID == "" || tr.State() != outgoing.StatePublished {
		t.Fatalf("track %+v", tr.Info())
	}
	waitSubscribed(t, s, "sizes")
	var want ReceiveStats
	for seq, size := range []int{probe.HeaderLen, 15988, 16 << 10, 1 << 20} {
		// No user timestamp: the 12-byte header leaves 15988 bytes per packet.
		if err := tr.TryPush(probe.Encode(nil, uint64(seq), time.Now(), size), 0); err != nil {
			t.Fatal(err)
		}
		if err := tr.Flush(bounded(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		want.FramesReceived++
		want.BytesReceived += uint64(size)
		eventually(t, 10*time.Second, fmt.Sprintf("the %d-byte frame", size), func() bool {
			return s.Received()["sizes"].FramesReceived == want.FramesReceived
		})
		if got := s.Received()["sizes"]; got.BytesReceived != want.BytesReceived || got.FramesCorrupt != 0 {
			t.Fatalf("after the %d-byte frame: %+v, want %d bytes", size, got, want.BytesReceived)
		}
	}
	r := s.Received()["sizes"]
	if r.FramesLost != 0 || r.FramesIncomplete != 0 || r.LatencyP99 <= 0 {
		t.Fatalf("received %+v", r)
	}
	if st := tr.Stats(); st.FramesDropped != 0 || st.FramesSent != 4 || st.PacketsSent != 1+1+2+66 {
		// 1 MiB = 65 full packets + 9356 bytes.
		t.Fatalf("sender: %+v", st)
	}
}

func TestE2EOneByteFrameIntact(t *testing.T) {
	s := connect(t, sfu(t), Config{Loopback: true})
	tr, err := s.Publish(bounded(t, 15*time.Second), "tiny", false)
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, "tiny")
	// Pushed again if the lossy channel sheds it; each arrival is 1 byte.
	eventually(t, 15*time.Second, "1-byte frame", func() bool {
		if err := tr.TryPush([]byte{0x42}, 0); err != nil {
			t.Fatal(err)
		}
		return s.Received()["tiny"].FramesReceived >= 1
	})
	if r := s.Received()["tiny"]; r.BytesReceived != r.FramesReceived {
		t.Fatalf("%+v", r)
	}
}

// An E2EE track: the SFU forwards ciphertext, the loopback subscriber
// opens it with the shared passphrase and reads the probe inside.
func TestE2EEncryptedTrack(t *testing.T) {
	s := connect(t, sfu(t), Config{Loopback: true, E2EEPassphrase: "correct horse battery staple"})
	tr, err := s.Publish(bounded(t, 15*time.Second), "secret", true)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Info().E2EE {
		t.Fatal("SFU did not echo the encryption type")
	}
	waitSubscribed(t, s, "secret")
	src := probe.NewSource(tr.TryPush, nil)
	// Latency is only measured for frames that decrypt to a valid probe,
	// so a non-zero p50 proves the round trip; the lossy channel may shed a
	// frame under load, so keep pushing until three have arrived.
	eventually(t, 20*time.Second, "3 encrypted frames decoded", func() bool {
		_ = src.Push(3000)
		r := s.Received()["secret"]
		return r.FramesReceived >= 3 && r.LatencyP50 > 0
	})
	r := s.Received()["secret"]
	if r.FramesCorrupt != 0 || r.BytesReceived != r.FramesReceived*(3000+16) {
		t.Fatalf("%+v (ciphertext carries a 16-byte tag)", r)
	}
}
