package incoming

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/e2ee"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/packetizer"
	"github.com/pion/transport/v4/test"
)

// outTransport is the publisher side's session: it answers the publish
// request as the SFU would and keeps the packets written.
type outTransport struct {
	pubs chan outgoing.PublishRequest
	mu   sync.Mutex
	pkts [][]byte
}

func (o *outTransport) SendPublishRequest(r outgoing.PublishRequest) error { o.pubs <- r; return nil }
func (o *outTransport) SendUnpublishRequest(uint16) error                  { return nil }
func (o *outTransport) WritePacket(_ context.Context, pkt []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pkts = append(o.pkts, bytes.Clone(pkt))
	return nil
}

// publishThroughOutgoing pushes frames through outgoing's real manager
// (queue, sealer, packetizer) and returns the packets it wrote, with the
// subscriber handle h in place of the publisher's, as the SFU forwards them.
func publishThroughOutgoing(t testing.TB, key *e2ee.Key, frames [][]byte, userTS uint64, h uint16) [][]byte {
	t.Helper()
	tr := &outTransport{pubs: make(chan outgoing.PublishRequest, 1)}
	m := outgoing.NewManager(tr, outgoing.Options{E2EE: key})
	defer m.Close()
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		r := <-tr.pubs
		m.HandlePublishResponse(outgoing.Info{Handle: r.Handle, SID: "DTR_pub", Name: r.Name, E2EE: r.E2EE})
	}()
	lt, err := m.Publish(context.Background(), outgoing.PublishOptions{Name: "x", E2EE: key != nil})
	<-answered
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := lt.TryPush(bytes.Clone(f), userTS); err != nil {
			t.Fatal(err)
		}
		if err := lt.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([][]byte, len(tr.pkts))
	for i, p := range tr.pkts {
		out[i] = setHandle(p, h)
	}
	return out
}

// Frames published by outgoing (sealed with the shared passphrase's key
// when E2EE) come out of incoming byte for byte, with every counter
// agreeing; with another key or none, they are counted as decrypt
// failures, by reason, and never reach OnFrame.
func TestRoundTripWithOutgoing(t *testing.T) {
	defer test.CheckRoutines(t)()
	key, err := e2ee.NewKey("shared passphrase")
	if err != nil {
		t.Fatal(err)
	}
	wrong, _ := e2ee.NewKey("another passphrase")
	r := rand.New(rand.NewPCG(1, 2))
	var frames [][]byte
	for _, n := range []int{1, 20, 1000, 15988, 16 << 10, 100 << 10} {
		f := make([]byte, n)
		for i := range f {
			f[i] = byte(r.Uint32())
		}
		frames = append(frames, f)
	}
	sent := time.Now()
	for _, tc := range []struct {
		name         string
		seal         *e2ee.Key
		open         Opener
		delivered    bool
		failedAs     DecryptReason
		encryptedOut bool
	}{
		{"plain", nil, nil, true, -1, false},
		{"e2ee", key, key, true, -1, true},
		{"e2ee, wrong key", key, wrong, false, DecryptAuthFailed, true},
		{"e2ee, no key", key, nil, false, DecryptNoKey, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{Opener: tc.open})
			in := info("DTR_a", 1, "x")
			if tc.seal != nil {
				in.Encryption = EncryptionGCM
			}
			e.subscribed("alice", "PA_1", 4, in)
			pkts := publishThroughOutgoing(t, tc.seal, frames, uint64(sent.UnixMilli()), 4)
			for _, p := range pkts {
				e.m.HandlePacket(p, time.Now())
			}
			got := e.takeFrames()
			st := e.stats("DTR_a")
			if st.FramesCompleted != uint64(len(frames)) || st.FramesLost+st.FramesIncomplete+st.PacketsLost != 0 ||
				st.Packets != uint64(len(pkts)) || st.UserTimestamps != uint64(len(frames)) {
				t.Fatalf("%+v", st)
			}
			if !tc.delivered {
				if len(got) != 0 || st.DecryptFailures[tc.failedAs] != uint64(len(frames)) || st.FramesDecrypted != 0 {
					t.Fatalf("%d frames delivered, failures %v", len(got), st.DecryptFailures)
				}
				return
			}
			if len(got) != len(frames) {
				t.Fatalf("%d frames", len(got))
			}
			for i, g := range got {
				if !bytes.Equal(g.f.Payload, frames[i]) || g.f.E2EE != tc.encryptedOut || g.f.UserTimestamp != uint64(sent.UnixMilli()) {
					t.Fatalf("frame %d (%d bytes) differs", i, len(frames[i]))
				}
			}
			if tc.encryptedOut && (st.FramesDecrypted != uint64(len(frames)) || st.DecryptFailuresTotal() != 0) {
				t.Fatalf("decrypted %d, failures %v", st.FramesDecrypted, st.DecryptFailures)
			}
			// E2EE frames carry the 16-byte tag on the wire.
			var want uint64
			for _, f := range frames {
				want += uint64(len(f))
				if tc.encryptedOut {
					want += packetizer.E2EETagLen
				}
			}
			if st.FrameBytes != want {
				t.Fatalf("frame bytes %d, want %d", st.FrameBytes, want)
			}
		})
	}
}

// Frames of an E2EE track that lack the extension, or are shorter than
// the tag, or use an encryption we do not implement, are counted apart.
func TestDecryptFailureReasons(t *testing.T) {
	key, _ := e2ee.NewKey("k")
	e := newEnv(t, Options{Opener: key})
	gcm := info("DTR_a", 1, "a")
	gcm.Encryption = EncryptionGCM
	custom := info("DTR_c", 2, "c")
	custom.Encryption = EncryptionCustom
	e.subscribed("alice", "PA_1", 1, gcm, custom)
	s, c := newStream(), newStream()
	e.feed(s.packets(t, 1, make([]byte, 40), packetizer.Extensions{})...)
	e.feed(s.packets(t, 1, make([]byte, 15), packetizer.Extensions{HasE2EE: true})...)
	e.feed(c.packets(t, 2, make([]byte, 40), packetizer.Extensions{HasE2EE: true})...)
	a := e.stats("DTR_a")
	if a.DecryptFailures[DecryptNoExtension] != 1 || a.DecryptFailures[DecryptTooShort] != 1 || a.FramesCompleted != 2 {
		t.Fatalf("%v", a.DecryptFailures)
	}
	if st := e.stats("DTR_c"); st.DecryptFailures[DecryptUnsupported] != 1 {
		t.Fatalf("%v", st.DecryptFailures)
	}
	if got := e.takeFrames(); len(got) != 0 {
		t.Fatalf("%d frames delivered", len(got))
	}
}

// OnSealed sees each E2EE frame as received, with or without a key: its
// ciphertext, key index and IV open to the frame that was published, and
// plain tracks never reach it.
func TestOnSealedSeesFramesAsReceived(t *testing.T) {
	key, err := e2ee.NewKey("shared passphrase")
	if err != nil {
		t.Fatal(err)
	}
	frames := [][]byte{[]byte(`{"a":1}`), bytes.Repeat([]byte{7}, 40<<10)}
	for _, tc := range []struct {
		name string
		seal *e2ee.Key
		open Opener
	}{{"e2ee", key, key}, {"e2ee, no key", key, nil}, {"plain", nil, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			type sealed struct {
				ct []byte
				ki uint8
				iv [12]byte
				ts uint64
			}
			var got []sealed
			e := newEnv(t, Options{Opener: tc.open, OnSealed: func(_ *RemoteTrack, f *Frame) {
				if !f.E2EE {
					t.Error("OnSealed saw a frame not marked E2EE")
				}
				got = append(got, sealed{bytes.Clone(f.Payload), f.KeyIndex, f.IV, f.UserTimestamp})
			}})
			in := info("DTR_a", 1, "x")
			if tc.seal != nil {
				in.Encryption = EncryptionGCM
			}
			e.subscribed("alice", "PA_1", 4, in)
			for _, p := range publishThroughOutgoing(t, tc.seal, frames, 1234, 4) {
				e.m.HandlePacket(p, time.Now())
			}
			if tc.seal == nil {
				if len(got) != 0 {
					t.Fatalf("a plain track reached OnSealed %d times", len(got))
				}
				return
			}
			if len(got) != len(frames) {
				t.Fatalf("%d sealed frames, want %d", len(got), len(frames))
			}
			for i, g := range got {
				plain, err := key.OpenFrame(nil, g.ct, &packetizer.E2EE{KeyIndex: g.ki, IV: g.iv})
				if err != nil || !bytes.Equal(plain, frames[i]) || g.ts != 1234 || len(g.ct) != len(frames[i])+packetizer.E2EETagLen {
					t.Fatalf("frame %d: %v; opens to %d bytes, want %d", i, err, len(plain), len(frames[i]))
				}
			}
		})
	}
}
