package session

import (
	"testing"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session/probe"
)

// Frames of every size class arrive byte-exact at the loopback subscriber.
// The channel is lossy by design (no retransmissions, and the SFU sheds
// load above its latency target), so a frame that does not arrive is
// pushed again, up to three times; what arrives must be intact.
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
	src := probe.NewSource(tr.TryPush, nil)
	for _, size := range []int{probe.HeaderLen, 15988, 16 << 10, 1 << 20} {
		delivered := false
		for attempt := 0; attempt < 3 && !delivered; attempt++ {
			before := s.Received()["sizes"]
			if err := src.Push(size); err != nil {
				t.Fatal(err)
			}
			if err := tr.Flush(bounded(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				r := s.Received()["sizes"]
				if r.FramesReceived > before.FramesReceived {
					if got := r.BytesReceived - before.BytesReceived; got != uint64(size) {
						t.Fatalf("%d-byte frame arrived as %d bytes", size, got)
					}
					delivered = true
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		if !delivered {
			t.Fatalf("%d-byte frame never arrived in 3 attempts: %+v", size, s.Received()["sizes"])
		}
	}
	r := s.Received()["sizes"]
	if r.FramesCorrupt != 0 || r.LatencyP99 <= 0 {
		t.Fatalf("received %+v", r)
	}
	if st := tr.Stats(); st.FramesDropped != 0 {
		t.Fatalf("sender dropped: %+v", st)
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
