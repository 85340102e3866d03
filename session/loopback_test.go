package session

import (
	"bytes"
	"testing"
	"time"

	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session/probe"
)

// loopbackRig is a loopback subscriber with no network: the test hands it
// packets as the SFU would, for one local track whose frames it records
// as sent the way the track's sender does.
type loopbackRig struct {
	t  *testing.T
	s  *Session
	l  *loopback
	st *localState
	pk *packetizer.Packetizer
}

const rigSID, rigSubHandle = "DTR_rig", 7

func newLoopbackRig(t *testing.T) *loopbackRig {
	s := &Session{log: testLog, locals: map[uint16]*localState{}, streams: map[uint32]*localState{}, rec: report.NewRecorder(0)}
	l := &loopback{s: s, parts: map[string]participantTracks{}, subscribed: map[string]bool{rigSID: true},
		handles: map[uint16]*handleState{rigSubHandle: {sid: rigSID, depkt: packetizer.NewDepacketizer(packetizer.DepacketizerOptions{})}},
		sids:    map[string]*sidRx{}}
	s.loop = l
	st := newLocalState(time.Second, l.holds)
	st.handle = 1
	s.locals[1], s.streams[st.stream] = st, st
	l.onDataChannelOpen()
	pk, err := packetizer.NewPacketizer(rigSubHandle, packetizer.MTU, packetizer.NewClock(nil))
	if err != nil {
		t.Fatal(err)
	}
	return &loopbackRig{t: t, s: s, l: l, st: st, pk: pk}
}

// packets packetizes payload as the SFU forwards it.
func (r *loopbackRig) packets(payload []byte) [][]byte {
	var out [][]byte
	err := r.pk.Packetize(packetizer.Frame{Payload: payload}, func(p []byte) error {
		out = append(out, bytes.Clone(p))
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// send records a probe frame as sent by the track and returns its packets.
func (r *loopbackRig) send(seq uint64, size int) [][]byte {
	return r.packets(r.sendPayload(seq, size))
}

func (r *loopbackRig) sendPayload(seq uint64, size int) []byte {
	payload := probe.Encode(nil, probe.Header{Stream: r.st.stream, Seq: seq, Sent: time.Now()}, size)
	r.st.onSent(rigSID, payload)
	return payload
}

func (r *loopbackRig) deliver(pkts ...[]byte) {
	for _, p := range pkts {
		r.l.onPacket(p)
	}
}

func (r *loopbackRig) receive() report.Receive { return *r.l.receive(r.st, []string{rigSID}) }

// Every frame is attributed by what it carries: duplicates change only
// their own counter, frames of another stream or application are foreign,
// a frame missing a packet is incomplete and then lost, and the rest is
// received; received + lost = sent at the end, whatever arrived besides.
func TestLoopbackAttributesFramesByStream(t *testing.T) {
	r := newLoopbackRig(t)
	for seq := range uint64(10) {
		payload := r.sendPayload(seq, 100)
		pkts := r.packets(payload)
		r.deliver(pkts...)
		if seq%3 == 0 {
			r.deliver(pkts...)               // a repeated packet: the depacketizer drops it
			r.deliver(r.packets(payload)...) // the same frame again, as a new frame
		}
	}
	// A probe of another stream (an earlier publication, another run) is
	// foreign; a frame that is no probe is the user's own data.
	r.deliver(r.packets(probe.Encode(nil, probe.Header{Stream: r.st.stream + 1, Seq: 10, Sent: time.Now()}, 100))...)
	r.deliver(r.packets([]byte("not a probe at all, just someone's data"))...)
	// Frame 10 is three packets; its middle one never arrives.
	big := r.send(10, 40000)
	r.deliver(big[0], big[2])
	// Frame 11 is sent and never arrives at all: tail loss.
	r.send(11, 100)
	// A later frame completes the depacketizer's view past frame 10.
	r.deliver(r.send(12, 100)...)

	got := r.receive()
	if got.Frames != 11 || got.Duplicates != 4 || got.Foreign != 1 || got.Data != 1 || got.InGrace != 2 || got.Lost != 0 {
		t.Fatalf("before the grace is over: %+v", got)
	}
	r.st.settle()
	r.l.mu.Lock()
	for _, hs := range r.l.handles {
		r.l.foldIncomplete(hs, true)
	}
	r.l.mu.Unlock()
	got = r.receive()
	if got.Frames != 11 || got.Lost != 2 || got.InGrace != 0 || got.Incomplete != 1 || got.Duplicates != 4 || got.Foreign != 1 || got.Data != 1 {
		t.Fatalf("settled: %+v", got)
	}
	if c := r.st.counts(); got.Frames+got.Lost != c.Sent || c.Sent != 13 || got.Unfollowed != 0 {
		t.Fatalf("received %d + lost %d, sent %d", got.Frames, got.Lost, c.Sent)
	}
	// Duplicates after the fact do not bring a lost frame back.
	r.deliver(r.packets(probe.Encode(nil, probe.Header{Stream: r.st.stream, Seq: 11, Sent: time.Now()}, 100))...)
	if again := r.receive(); again.Lost != 2 || again.Frames != 11 || again.Late != 1 {
		t.Fatalf("a late copy changed the loss: %+v", again)
	}
}

// E2EE frames count once they open with the shared key; frames that do
// not open are corrupt, never received and never foreign.
func TestLoopbackCountsUndecryptableFrames(t *testing.T) {
	r := newLoopbackRig(t)
	r.deliver(r.packets([]byte("not a probe at all, just someone's data"))...)
	pkts := r.send(0, 100)
	// Mark the frame E2EE: the session has no key, so it cannot open it.
	var enc [][]byte
	err := r.pk.Packetize(packetizer.Frame{Payload: []byte("sealed bytes"), Extensions: packetizer.Extensions{HasE2EE: true}}, func(p []byte) error {
		enc = append(enc, bytes.Clone(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.deliver(enc...)
	r.deliver(pkts...)
	if got := r.receive(); got.Frames != 1 || got.Corrupt != 1 || got.Data != 1 {
		t.Fatalf("%+v", got)
	}
}

// Frames sent while the loopback holds no subscription to the SID are not
// expected: counted unfollowed, neither received nor lost, even when one
// arrives anyway; once it holds one, frames are followed.
func TestLoopbackFollowsOnlyHeldSIDs(t *testing.T) {
	r := newLoopbackRig(t)
	r.l.mu.Lock()
	r.l.dcOpen = false // the channel is not open yet: nothing reaches us
	r.l.updateHeldLocked()
	r.l.mu.Unlock()
	early := r.send(0, 100)
	r.send(1, 100)
	r.l.onDataChannelOpen()
	r.deliver(early...) // sent before, forwarded anyway
	r.deliver(r.send(2, 100)...)
	r.send(3, 100) // followed, and lost
	r.st.settle()
	got := r.receive()
	if got.Unfollowed != 2 || got.Frames != 1 || got.Lost != 1 || got.InGrace != 0 {
		t.Fatalf("%+v", got)
	}
	if c := r.st.counts(); got.Frames+got.Lost+got.Unfollowed != 4 || c.Unfollowed != 1 {
		t.Fatalf("received %d + lost %d + unfollowed %d != 4 sent; ledger %+v", got.Frames, got.Lost, got.Unfollowed, c)
	}
}
