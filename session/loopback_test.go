package session

import (
	"bytes"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session/probe"
	"github.com/livekit/protocol/livekit"
)

// loopbackRig is a loopback subscriber with no network: the test hands
// it the SFU's messages (a publisher with one track, the handle map) and
// packets, for one local track whose frames it records as sent the way
// the track's sender does.
type loopbackRig struct {
	t  *testing.T
	s  *Session
	l  *loopback
	st *localState
	pk *packetizer.Packetizer
}

const rigSID, rigSubHandle = "DTR_rig", 7

func newLoopbackRig(t *testing.T) *loopbackRig { return newLoopbackRigWith(t, livekit.Encryption_NONE) }

// newLoopbackRigWith announces the track with the given encryption.
func newLoopbackRigWith(t *testing.T, enc livekit.Encryption_Type) *loopbackRig {
	s := &Session{log: testLog, cfg: Config{Logger: testLog}, locals: map[uint16]*localState{}, streams: map[uint32]*localState{},
		rec: report.NewRecorder(0), loopIdentity: "me-loopback"}
	l := &loopback{s: s, publisher: "me", identity: "me-loopback", sids: map[string]*sidRx{}}
	l.sub = newSubscriber(incoming.Options{
		Filter:  func(i incoming.Info) bool { return i.PublisherIdentity == l.publisher },
		OnFrame: l.onFrame,
	})
	t.Cleanup(l.sub.mgr.Close)
	s.loop = l
	st := newLocalState(time.Second, l.holds)
	st.handle = 1
	s.locals[1], s.streams[st.stream] = st, st
	// The SFU announces our track, the loopback asks for it, and the
	// handle map subscribes it.
	var requests []*livekit.SignalRequest
	l.sub.send = func(r *livekit.SignalRequest) error { requests = append(requests, r); return nil }
	l.sub.onSignal(l.identity, &livekit.SignalResponse{Message: &livekit.SignalResponse_Join{Join: &livekit.JoinResponse{
		OtherParticipants: []*livekit.ParticipantInfo{{Identity: "me", Sid: "PA_me", Version: 1,
			DataTracks: []*livekit.DataTrackInfo{{Sid: rigSID, PubHandle: 1, Name: "rig", Encryption: enc}}}}}}})
	l.sub.onSignal(l.identity, &livekit.SignalResponse{Message: &livekit.SignalResponse_DataTrackSubscriberHandles{
		DataTrackSubscriberHandles: &livekit.DataTrackSubscriberHandles{SubHandles: map[uint32]*livekit.DataTrackSubscriberHandles_PublishedDataTrack{
			rigSubHandle: {PublisherIdentity: "me", PublisherSid: "PA_me", TrackSid: rigSID}}}}})
	l.sub.applied()
	l.sub.onDataChannelOpen()
	if len(requests) != 1 || requests[0].GetUpdateDataSubscription().GetUpdates()[0].GetTrackSid() != rigSID {
		t.Fatalf("subscription requests %v", requests)
	}
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
		r.l.sub.onPacket(p)
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
	// Duplicates after the fact do not bring a lost frame back.
	r.deliver(r.packets(probe.Encode(nil, probe.Header{Stream: r.st.stream, Seq: 11, Sent: time.Now()}, 100))...)
	r.l.sub.mgr.Close() // the subscription ends: the partial frame is given up
	got = r.receive()
	if got.Frames != 11 || got.Lost != 2 || got.InGrace != 0 || got.Incomplete != 1 || got.Duplicates != 4 || got.Late != 1 ||
		got.Foreign != 1 || got.Data != 1 {
		t.Fatalf("settled: %+v", got)
	}
	if c := r.st.counts(); got.Frames+got.Lost != c.Sent || c.Sent != 13 || got.Unfollowed != 0 {
		t.Fatalf("received %d + lost %d, sent %d", got.Frames, got.Lost, c.Sent)
	}
}

// Frames of a track announced as E2EE that do not open (here the
// session has no key) are counted corrupt: never received, data or
// foreign.
func TestLoopbackCountsUndecryptableFrames(t *testing.T) {
	r := newLoopbackRigWith(t, livekit.Encryption_GCM)
	var enc [][]byte
	err := r.pk.Packetize(packetizer.Frame{Payload: []byte("sealed bytes"), Extensions: packetizer.Extensions{HasE2EE: true}}, func(p []byte) error {
		enc = append(enc, bytes.Clone(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.deliver(enc...)
	if got := r.receive(); got.Frames != 0 || got.Corrupt != 1 || got.Data != 0 || got.Foreign != 0 {
		t.Fatalf("%+v", got)
	}
}

// Frames sent while the loopback holds no subscription to the SID are not
// expected: counted unfollowed, neither received nor lost, even when one
// arrives anyway; once it holds one, frames are followed.
func TestLoopbackFollowsOnlyHeldSIDs(t *testing.T) {
	r := newLoopbackRig(t)
	r.l.sub.mu.Lock()
	r.l.sub.dcOpen = false // the channel is not open yet: nothing reaches us
	r.l.sub.updateHeldLocked()
	r.l.sub.mu.Unlock()
	early := r.send(0, 100)
	r.send(1, 100)
	r.l.sub.onDataChannelOpen()
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

// Frames without a probe (the user's own data: standard input, a file)
// carry no sequence number, yet each one sent is received, in its grace
// period or lost: what is missing of them is a count, in grace until the
// grace after the latest was sent, then lost; so a run that ends with its
// data waits for them as for probe frames, and none goes missing
// without a trace.
func TestLoopbackAccountsForDataFrames(t *testing.T) {
	r := newLoopbackRig(t)
	for i := range 5 {
		payload := []byte(`{"n":` + string(rune('0'+i)) + `}`)
		r.st.onSent(rigSID, payload)
		if i < 3 {
			r.deliver(r.packets(payload)...)
		}
	}
	sum := func(g report.Receive) uint64 { return g.Frames + g.Data + g.Lost + g.InGrace + g.Unfollowed }
	got := r.receive()
	if got.Data != 3 || got.InGrace != 2 || got.Lost != 0 || sum(got) != 5 {
		t.Fatalf("in flight: %+v", got)
	}
	if n, in := r.st.dataMissing(3, time.Now().Add(r.st.grace)); n != 2 || in {
		t.Fatalf("after the grace: %d missing, in grace %v", n, in)
	}
	r.st.settle()
	got = r.receive()
	if got.Data != 3 || got.InGrace != 0 || got.Lost != 2 || sum(got) != 5 {
		t.Fatalf("settled: %+v", got)
	}
}
