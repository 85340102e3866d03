package incoming

import (
	"crypto/aes"
	"crypto/cipher"
	"testing"
	"time"

	"github.com/dttui/dttui/packetizer"
)

// gcmOpener opens with a fixed AES-128 key, so the fuzzer can seal too.
type gcmOpener struct{ aead cipher.AEAD }

func newGCMOpener() *gcmOpener {
	block, _ := aes.NewCipher(make([]byte, 16))
	aead, _ := cipher.NewGCM(block)
	return &gcmOpener{aead}
}

func (g *gcmOpener) OpenFrame(dst, ct []byte, ext *packetizer.E2EE) ([]byte, error) {
	return g.aead.Open(dst, ext.IV[:], ct, nil)
}

// fuzzRun drives a manager with three subscribed tracks (handles 1-3;
// track 2 is E2EE) from ops, and checks after every op that nothing went
// backwards and every packet and frame is accounted for.
type fuzzRun struct {
	t       *testing.T
	e       *env
	gcm     *gcmOpener
	streams [5]*stream // by handle; 4 is never mapped
	late    [][]byte
	frames  map[string]uint64 // OnFrame calls by track
	sealed  map[string]uint64 // OnSealed calls by track
	// sealedBytes sums what OnSealed saw, by track: the completed frames'
	// bytes as received.
	sealedBytes map[string]uint64
	last        map[string]TrackStats
	ivs         uint32
}

var fuzzTracks = [...]string{"DTR_1", "DTR_2", "DTR_3"}

func newFuzzRun(t *testing.T) *fuzzRun {
	r := &fuzzRun{t: t, gcm: newGCMOpener(), frames: map[string]uint64{}, sealed: map[string]uint64{}, sealedBytes: map[string]uint64{},
		last: map[string]TrackStats{}}
	r.e = newEnv(t, Options{
		Opener:      r.gcm,
		Reassembly:  packetizer.DepacketizerOptions{MaxFramesInFlight: 4, MaxBufferedBytes: 4096, ReorderWindow: 32, ReorderDelay: 50 * time.Millisecond},
		HoldPackets: 8, HoldBytes: 2048,
		OnFrame: func(t *RemoteTrack, f *Frame) {
			r.frames[t.Info().SID]++
			_ = append([]byte(nil), f.Payload...) // it must be readable
		},
		OnSealed: func(tr *RemoteTrack, f *Frame) {
			if !f.E2EE || !tr.Info().E2EE() {
				t.Fatalf("%s: OnSealed saw a frame of a plain track", tr.Info().SID)
			}
			r.sealed[tr.Info().SID]++
			r.sealedBytes[tr.Info().SID] += uint64(len(f.Payload))
		},
	})
	for i := range r.streams {
		r.streams[i] = &stream{mtu: 64} // E2EE and timestamp headers are 40 bytes
	}
	infos := []Info{info("DTR_1", 1, "a"), info("DTR_2", 2, "b"), info("DTR_3", 3, "c")}
	infos[1].Encryption = EncryptionGCM
	r.e.m.HandleJoin("me", []Participant{part("pub", "PA_1", 1, infos...)})
	r.e.m.HandleSubscriberHandles(map[uint16]string{1: "DTR_1", 2: "DTR_2", 3: "DTR_3"})
	return r
}

// frame packetizes the next frame of handle h (sealed for the E2EE track)
// and delivers the packets whose bit is set in mask, keeping the others
// back for a later, late delivery.
func (r *fuzzRun) frame(h uint16, payload []byte, mask byte, withTS bool) {
	ext := packetizer.Extensions{HasUserTimestamp: withTS, UserTimestamp: uint64(r.e.clk.Now().UnixMilli())}
	if h == 2 && len(payload) > 0 {
		r.ivs++
		ext.HasE2EE = true
		ext.E2EE.IV[0], ext.E2EE.IV[1] = byte(r.ivs), byte(r.ivs>>8)
		payload = r.gcm.aead.Seal(nil, ext.E2EE.IV[:], payload, nil)
		if mask&0x80 != 0 && len(payload) > 0 {
			payload[0] ^= 1 // corrupted on the way: authentication fails
		}
	}
	for i, p := range r.streams[h].packets(r.t, h, payload, ext) {
		if mask>>(i%7)&1 != 0 {
			r.e.feed(p)
		} else {
			r.late = append(r.late, p)
		}
	}
}

func (r *fuzzRun) control(op, arg byte) {
	m := r.e.m
	sid := fuzzTracks[int(arg)%len(fuzzTracks)]
	switch op % 8 {
	case 0:
		_ = m.Unsubscribe(sid)
	case 1:
		_ = m.Subscribe(sid)
	case 2: // a new map: some tracks under new handles, some gone
		hs := map[uint16]string{}
		for i, s := range fuzzTracks {
			if arg>>i&1 != 0 {
				hs[uint16(1+i+int(arg>>6)*3)%5] = s
			}
		}
		m.HandleSubscriberHandles(hs)
	case 3:
		r.e.clk.advance(time.Duration(arg) * time.Millisecond)
		m.Tick()
	case 4:
		m.Reset(nil)
	case 5: // a rejoin, with the same tracks
		infos := []Info{info("DTR_1", 1, "a"), info("DTR_2", 2, "b"), info("DTR_3", 3, "c")}
		infos[1].Encryption = EncryptionGCM
		m.HandleJoin("me", []Participant{part("pub", "PA_1", uint32(arg), infos...)})
	case 6:
		m.HandlePermission("PA_1", sid, arg&1 == 0)
	case 7: // the late packets, newest first
		for i := len(r.late) - 1; i >= 0; i-- {
			r.e.feed(r.late[i])
		}
		r.late = r.late[:0]
	}
}

func (r *fuzzRun) check() {
	t := r.t
	t.Helper()
	st := r.e.m.Stats()
	sum := st.Malformed + uint64(st.Held) + st.UnknownHandle
	for _, ts := range r.e.m.Snapshot() {
		p := r.last[ts.SID]
		sum += ts.Packets + ts.PacketsIgnored
		var by uint64
		for _, n := range ts.IncompleteBy {
			by += n
		}
		failed := ts.DecryptFailuresTotal()
		if by != ts.FramesIncomplete || ts.FrameSizes.Count() != ts.FramesCompleted || ts.Latency.Count() != ts.UserTimestamps ||
			ts.UserTimestamps > ts.FramesCompleted || ts.FramesDecrypted+failed > ts.FramesCompleted {
			t.Fatalf("%s: inconsistent %+v", ts.SID, ts)
		}
		delivered := ts.FramesCompleted
		if ts.E2EE() {
			if ts.FramesDecrypted+failed != ts.FramesCompleted {
				t.Fatalf("%s: %d completed, %d decrypted, %d failed", ts.SID, ts.FramesCompleted, ts.FramesDecrypted, failed)
			}
			delivered = ts.FramesDecrypted
		}
		if ts.E2EE() && (r.sealed[ts.SID] != ts.FramesCompleted || r.sealedBytes[ts.SID] != ts.FrameBytes) ||
			!ts.E2EE() && r.sealed[ts.SID] != 0 {
			t.Fatalf("%s: OnSealed saw %d frames, %d bytes; %d completed, %d bytes", ts.SID, r.sealed[ts.SID], r.sealedBytes[ts.SID],
				ts.FramesCompleted, ts.FrameBytes)
		}
		if r.frames[ts.SID] != delivered {
			t.Fatalf("%s: OnFrame saw %d frames, stats say %d", ts.SID, r.frames[ts.SID], delivered)
		}
		if ts.Packets < p.Packets || ts.Bytes < p.Bytes || ts.PacketsIgnored < p.PacketsIgnored || ts.PacketsLost < p.PacketsLost ||
			ts.PacketsDuplicate < p.PacketsDuplicate || ts.PacketsReordered < p.PacketsReordered || ts.PacketsLate < p.PacketsLate ||
			ts.FramesCompleted < p.FramesCompleted || ts.FramesIncomplete < p.FramesIncomplete || ts.FramesLost < p.FramesLost ||
			ts.FrameBytes < p.FrameBytes || ts.Subscriptions < p.Subscriptions || ts.FramesDecrypted < p.FramesDecrypted {
			t.Fatalf("%s: a counter went down:\n%+v\n%+v", ts.SID, p, ts)
		}
		if ts.State == StateSubscribed && ts.Handle == 0 || ts.State != StateSubscribed && ts.Handle != 0 {
			t.Fatalf("%s: %v with handle %d", ts.SID, ts.State, ts.Handle)
		}
		r.last[ts.SID] = ts
	}
	if sum != st.Packets {
		t.Fatalf("%d packets in, %d accounted for: %+v", st.Packets, sum, st)
	}
}

// FuzzHandlePacket feeds a manager arbitrary packets, real frames with
// drops, copies, reordering and corruption, and subscription changes:
// it must never panic, and its accounting must hold after every step.
//
// Input: records of [op, a, b, n, n bytes]. op&3: 0 raw bytes as one
// packet; 1 a frame of the n bytes for handle 1+a%4, delivered as mask b
// says; 2 a control step (op>>2, a); 3 the same frame op with no user
// timestamp.
func FuzzHandlePacket(f *testing.F) {
	f.Add([]byte{1, 0, 0xff, 5, 'h', 'e', 'l', 'l', 'o', 1, 1, 0x7f, 3, 1, 2, 3, 1, 2, 0xff, 60})
	f.Add([]byte{1, 0, 0xfd, 90, 2, 0x1c, 0, 3, 1, 0, 0xff, 4, 0, 2, 0x10, 0, 2, 0x14, 0})
	f.Add([]byte{0, 0, 0, 12, 0x18, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 9, 0, 0, 1, 2, 0x81, 40})
	f.Add([]byte{1, 1, 0xff, 30, 2, 7, 0, 0, 3, 2, 0xfe, 50, 2, 3, 0xc0, 0, 1, 3, 0x0f, 20})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newFuzzRun(t)
		for len(data) >= 4 {
			op, a, b, n := data[0], data[1], data[2], int(data[3])
			data = data[4:]
			n = min(n, len(data))
			chunk := data[:n]
			data = data[n:]
			switch op & 3 {
			case 0:
				r.e.feed(chunk)
			case 1, 3:
				payload := chunk
				if op&4 != 0 { // larger frames from small inputs, up to the reassembly's cap and past it
					payload = make([]byte, min(n*int(b), 8192))
				}
				r.frame(uint16(1+a%4), payload, b, op&3 == 1)
			case 2:
				r.control(op>>2, a)
			}
			r.check()
		}
		r.control(7, 0)
		r.e.m.Close()
		r.check()
	})
}
