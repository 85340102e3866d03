package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/session/rtc"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
)

// A two-node LiveKit deployment (redis-server and two livekit-server nodes
// on loopback): the publisher joins through node A, the room monitor
// through node B, for the same room. Open-source livekit-server hosts a
// room on one node: a participant who connects to another node has its
// signalling relayed to the room's node over Redis, and its WebRTC
// connection, data tracks included, goes to the room's node directly.
// Data-track packets never travel between nodes. The test checks exactly
// that (both participants are joined by and connected to the room's
// node), with the room on either node, so each participant takes both
// paths once. Then every frame of several sizes (64 KiB ones span many
// packets) reaches the monitor byte for byte, the monitor on B sees the
// track published through A come and go, and both participants resume
// after their signal connection drops, frames flowing on.
func TestE2EClusterPublisherAndMonitorOnTwoNodes(t *testing.T) {
	acrossSFUs(t, func(t *testing.T) {
		kind := sfuKind(t)
		for roomOn := range 2 {
			t.Run("room-on-"+testsfu.NodeRegion(roomOn), func(t *testing.T) {
				testE2ECluster(t, kind, roomOn)
			})
		}
	})
}

func testE2ECluster(t *testing.T, kind testsfu.Kind, roomOn int) {
	r := startClusterRoom(t, kind, roomOn)
	r.push("before any drop", true)

	// The publisher's signal socket drops; its PCs stay up. The SFU
	// restarts ICE on its subscriber PC only, which carries nothing here:
	// frames pushed at once after the resume all arrive.
	dropSignalAndResume(t, r.pub, r.pubSig)
	if r.tr.Info().SID != r.sid || r.tr.State() != outgoing.StatePublished || r.tr.Stats().PublishAttempts != 1 {
		t.Fatalf("the publisher's track changed across the resume: %+v", r.tr.Info())
	}
	r.push("after the publisher's signal dropped", true)

	// The monitor's signal socket drops, and it resumes.
	reselected := r.watchICE()
	dropSignalAndResume(t, r.mon, r.monSig)
	r.afterMonitorResume(reselected)

	r.checkTotals()
	r.unpublish()
}

// Node B, which only relays the monitor's signalling to the room's node A,
// stops: the monitor's signal connection drops with it, but its WebRTC
// connection is to node A, so every frame still reaches it while B is
// down: proof that no data-track packet passes through B. B restarts (a
// new node ID, the same ports) and the monitor resumes through it, the
// same participant still subscribed.
func TestE2EClusterMonitorsSignalNodeRestarts(t *testing.T) {
	acrossSFUs(t, func(t *testing.T) {
		r := startClusterRoom(t, sfuKind(t), 0)
		r.push("before node B stops", true)

		reselected := r.watchICE()
		before := r.mon.Status().Reconnects
		monPeer := peerOf(t, r.mon)
		if err := r.c.Nodes[1].Stop(); err != nil {
			t.Fatal(err)
		}
		if r.c.Nodes[1].Kind() == testsfu.Embedded {
			// A stopped node in this process leaves its websockets open
			// (livekit-server's Stop shuts its http.Server down, which
			// never closes hijacked connections), and one that relays
			// has no room to close them: drop ours as the node's exit
			// would.
			r.monSig.drop()
		}
		eventually(t, 10*time.Second, "the monitor reconnecting", func() bool {
			return r.mon.Status().State == StateReconnecting
		})
		r.push("while node B is down", true)

		if err := r.c.Nodes[1].Restart(r.ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "the monitor resumed through the restarted node B", func() bool {
			st := r.mon.Status()
			return st.State == StateConnected && st.Reconnects == before+1
		})
		if peerOf(t, r.mon) != monPeer {
			t.Fatal("the monitor rejoined in full instead of resuming")
		}
		r.afterMonitorResume(reselected)

		r.checkTotals()
		r.unpublish()
	})
}

// clusterRoom is a publisher that joined through node A (Nodes[0]) and a
// room monitor that joined through node B (Nodes[1]), in one room placed
// on node roomOn, with a track published and followed by the monitor.
type clusterRoom struct {
	t        *testing.T
	ctx      context.Context
	c        *testsfu.Cluster
	pub, mon *Session
	// pubSig and monSig drop their signal sockets.
	pubSig, monSig *signalTap
	tr             *Track
	sid            string
	got            receivedFrames

	stream  uint32
	sent    [][]byte
	lost    int // frames the monitor never received, so far
	mayLose int // sent[:mayLose] may have been lost; later ones not
}

const clusterRoomName = "cluster"

func startClusterRoom(t *testing.T, kind testsfu.Kind, roomOn int) *clusterRoom {
	t.Helper()
	r := &clusterRoom{t: t, ctx: bounded(t, 2*time.Minute), stream: probe.NewStream()}
	r.c = testsfu.StartClusterT(t, kind, 2, testsfu.Options{DataTrackTargetLatency: 5 * time.Second})
	if err := r.c.PlaceRoom(r.ctx, clusterRoomName, roomOn); err != nil {
		t.Fatal(err)
	}
	roomNode, err := r.c.NodeID(r.ctx, roomOn)
	if err != nil {
		t.Fatal(err)
	}
	pubCfg, pubSig := tapped(Config{Room: clusterRoomName, Identity: "publisher"})
	monCfg, monSig := tapped(Config{Room: clusterRoomName, Identity: "monitor", Monitor: true, OnRemoteFrame: r.got.add})
	r.pub, r.pubSig = connect(t, r.c.Nodes[0], pubCfg), pubSig
	r.mon, r.monSig = connect(t, r.c.Nodes[1], monCfg), monSig
	if i, err := r.c.RoomNode(r.ctx, clusterRoomName); i != roomOn || err != nil {
		t.Fatalf("room on node %d (%v), placed on %d", i, err, roomOn)
	}
	// Both are joined by the room's node, whichever node they dialled.
	for _, s := range []*Session{r.pub, r.mon} {
		info := peerOf(t, s).JoinResponse().GetServerInfo()
		if info.GetNodeId() != string(roomNode) || info.GetRegion() != testsfu.NodeRegion(roomOn) {
			t.Fatalf("%s joined by node %s (%s), the room is on %s (%s)", s.Status().Identity,
				info.GetNodeId(), info.GetRegion(), roomNode, testsfu.NodeRegion(roomOn))
		}
	}

	if r.tr, err = r.pub.Publish(r.ctx, "cluster", false); err != nil {
		t.Fatal(err)
	}
	r.sid = r.tr.Info().SID
	eventually(t, 15*time.Second, "the monitor on node B subscribed", func() bool {
		row, ok := remoteRow(r.mon, "publisher", "cluster")
		return ok && row.Stats.State == incoming.StateSubscribed && row.Stats.SID == r.sid && r.mon.MonitorHolds(r.sid)
	})
	// Node B's admin API announces it too (answered by the room's node).
	eventually(t, 10*time.Second, "node B lists the data track", func() bool {
		return listsDataTrack(t, r.c.Nodes[1], clusterRoomName, "publisher", r.sid)
	})
	// Both WebRTC connections end at the room's node: the data track's
	// packets go in and out of one node.
	rtc := r.c.Nodes[roomOn].RTCPort
	if port := remotePort(t, r.pub, livekit.SignalTarget_PUBLISHER); port != rtc {
		t.Fatalf("the publisher's PC is connected to port %d, the room's node has %d", port, rtc)
	}
	if port := remotePort(t, r.mon, livekit.SignalTarget_SUBSCRIBER); port != rtc {
		t.Fatalf("the monitor's PC is connected to port %d, the room's node has %d", port, rtc)
	}
	return r
}

// push sends a batch of frames of each size. Strict, it then waits for
// the batch's last frame at the monitor and checks that every frame of it
// arrived, byte for byte, that every frame of the lenient batches before
// it arrived or was lost (a loss shows once a later frame arrives), and
// that the monitor's figures say so.
func (r *clusterRoom) push(what string, strict bool) {
	t := r.t
	t.Helper()
	for _, size := range []int{probe.HeaderLen, 1000, 16 << 10, 64 << 10} {
		for range 6 {
			f := clusterFrame(r.stream, uint64(len(r.sent)), size)
			r.sent = append(r.sent, bytes.Clone(f))
			if err := r.tr.Push(r.ctx, f, uint64(time.Now().UnixMilli())); err != nil {
				t.Fatalf("%s: push: %v", what, err)
			}
		}
	}
	if err := r.tr.Flush(r.ctx); err != nil {
		t.Fatal(err)
	}
	if !strict {
		r.mayLose = len(r.sent)
		return
	}
	deadline := time.Now().Add(15 * time.Second)
	for !r.got.endsWith(r.sent[len(r.sent)-1]) {
		if time.Now().After(deadline) {
			row, _ := remoteRow(r.mon, "publisher", "cluster")
			t.Fatalf("%s: the last frame is not at the monitor after 15 s: %d of %d there; its row: %s, %d frames lost, %d packets lost",
				what, r.got.count(), len(r.sent), row.Stats.State, row.Stats.FramesLost, row.Stats.PacketsLost)
		}
		time.Sleep(20 * time.Millisecond)
	}
	missing := r.got.check(t, what, r.sid, r.sent)
	if len(missing) > 0 && missing[len(missing)-1] >= r.mayLose {
		t.Fatalf("%s: frames %v never reached the monitor (only those before %d could be lost)", what, missing, r.mayLose)
	}
	r.lost = len(missing)
	deadline = time.Now().Add(5 * time.Second)
	for {
		row, _ := remoteRow(r.mon, "publisher", "cluster")
		// A frame missing is one no packet of arrived (lost) or one
		// given up with packets missing (incomplete).
		st := row.Stats
		if st.FramesCompleted == uint64(len(r.sent)-r.lost) && st.FramesLost+st.FramesIncomplete == uint64(r.lost) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the monitor counts %d frames completed, %d lost, %d incomplete (%d packets lost); %d sent, frames %v not received",
				what, st.FramesCompleted, st.FramesLost, st.FramesIncomplete, st.PacketsLost, len(r.sent), missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchICE returns a channel that receives when the monitor's subscriber
// PC selects a new ICE candidate pair.
func (r *clusterRoom) watchICE() <-chan struct{} {
	reselected := make(chan struct{}, 1)
	peerOf(r.t, r.mon).PeerConnection(livekit.SignalTarget_SUBSCRIBER).SCTP().Transport().ICETransport().
		OnSelectedCandidatePairChange(func(*webrtc.ICECandidatePair) {
			select {
			case reselected <- struct{}{}:
			default:
			}
		})
	return reselected
}

// afterMonitorResume checks the monitor across its resume. On every
// resume livekit-server restarts ICE on the participant's subscriber PC
// (rtc.Room's ResumeParticipant calls ICERestart), and pion's
// Agent.Restart drops the selected pair at once: until a new pair is
// checked, what the SFU forwards to the monitor is lost (the data track
// is unreliable). Frames pushed then may be lost, and are counted so;
// frames pushed once the monitor's PC has a pair again all arrive.
func (r *clusterRoom) afterMonitorResume(reselected <-chan struct{}) {
	t := r.t
	t.Helper()
	if row, _ := remoteRow(r.mon, "publisher", "cluster"); row.Stats.State != incoming.StateSubscribed || row.Stats.SID != r.sid {
		t.Fatalf("the monitor's row after its resume: %+v", row.Stats)
	}
	lostBefore := r.lost
	r.push("during the ICE restart toward the monitor", false)
	select {
	case <-reselected:
	case <-r.ctx.Done():
		t.Fatal("the SFU did not restart ICE toward the monitor on its resume")
	}
	r.push("after the ICE restart toward the monitor", true)
	t.Logf("%d of the 24 frames pushed during the ICE restart toward the monitor lost", r.lost-lostBefore)
}

// checkTotals checks the counts at both ends after a clean stop: what the
// publisher sent is what the monitor completed plus what it counted lost
// or incomplete.
func (r *clusterRoom) checkTotals() {
	t := r.t
	t.Helper()
	n := uint64(len(r.sent))
	if k := r.tr.Counters(); k.FramesPushed != n || k.FramesSent != n || k.FramesDropped != 0 || k.FramesQueued != 0 {
		t.Fatalf("publisher counters %+v, %d frames pushed", k, n)
	}
	row, _ := remoteRow(r.mon, "publisher", "cluster")
	if st := row.Stats; st.FramesCompleted+st.FramesLost+st.FramesIncomplete != n || st.FramesCompleted != n-uint64(r.lost) {
		t.Fatalf("monitor: %d frames completed, %d lost, %d incomplete; %d sent, %d not received",
			st.FramesCompleted, st.FramesLost, st.FramesIncomplete, n, r.lost)
	}
}

// unpublish unpublishes the track: the monitor, and node B's admin API,
// see it go.
func (r *clusterRoom) unpublish() {
	t := r.t
	t.Helper()
	if err := r.tr.Unpublish(r.ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the monitor sees the track unpublished", func() bool {
		row, _ := remoteRow(r.mon, "publisher", "cluster")
		return row.Stats.State == incoming.StateUnpublished
	})
	eventually(t, 10*time.Second, "node B no longer lists the data track", func() bool {
		return !listsDataTrack(t, r.c.Nodes[1], clusterRoomName, "publisher", r.sid)
	})
	if row, _ := remoteRow(r.mon, "publisher", "cluster"); row.Stats.FramesCompleted != uint64(len(r.sent)-r.lost) {
		t.Fatalf("monitor figures after the unpublish: %+v", row.Stats)
	}
}

// clusterFrame is a probe header (stream, seq) with random bytes after
// it: a frame reassembled from the wrong packets, or in the wrong order,
// cannot match what was sent.
func clusterFrame(stream uint32, seq uint64, size int) []byte {
	f := probe.Encode(nil, probe.Header{Stream: stream, Seq: seq, Sent: time.Now()}, size)
	_, _ = rand.Read(f[probe.HeaderLen:])
	return f
}

// receivedFrames keeps a copy of every frame the room monitor completes.
type receivedFrames struct {
	mu     sync.Mutex
	frames []receivedFrame
}

type receivedFrame struct {
	sid     string
	payload []byte
}

func (r *receivedFrames) add(sid string, f incoming.Frame) {
	r.mu.Lock()
	r.frames = append(r.frames, receivedFrame{sid, bytes.Clone(f.Payload)})
	r.mu.Unlock()
}

func (r *receivedFrames) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}

// endsWith says whether the last frame received is f.
func (r *receivedFrames) endsWith(f []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames) > 0 && bytes.Equal(r.frames[len(r.frames)-1].payload, f)
}

// check says the frames received are among those sent, in order, byte
// for byte, each once, all on track sid, and returns the indices of the
// sent frames missing among them.
func (r *receivedFrames) check(t *testing.T, what, sid string, sent [][]byte) (missing []int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	i := 0 // next sent frame to match
	for k, f := range r.frames {
		for i < len(sent) && !bytes.Equal(f.payload, sent[i]) {
			missing = append(missing, i)
			i++
		}
		if f.sid != sid || i == len(sent) {
			h, _ := probe.Decode(f.payload)
			t.Fatalf("%s: frame %d received on %s (seq %d, %d bytes) is not among those sent on %s, in order",
				what, k, f.sid, h.Seq, len(f.payload), sid)
		}
		i++
	}
	for ; i < len(sent); i++ {
		missing = append(missing, i)
	}
	return missing
}

func peerOf(t *testing.T, s *Session) *rtc.Conn {
	t.Helper()
	p, err := s.current()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// remotePort is the UDP port at the other end of the selected ICE pair of
// s's PeerConnection target.
func remotePort(t *testing.T, s *Session, target livekit.SignalTarget) int {
	t.Helper()
	pc := peerOf(t, s).PeerConnection(target)
	if pc == nil {
		t.Fatalf("no %s PeerConnection", target)
	}
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("no selected candidate pair: %v", err)
	}
	return int(pair.Remote.Port)
}

// dropSignalAndResume closes s's signal socket (its PCs stay up) and waits
// until the session has resumed the same participant.
func dropSignalAndResume(t *testing.T, s *Session, sig *signalTap) {
	t.Helper()
	p := peerOf(t, s)
	before := s.Status().Reconnects
	sig.drop()
	eventually(t, 20*time.Second, s.Status().Identity+" resumed", func() bool {
		st := s.Status()
		return st.State == StateConnected && st.Reconnects == before+1
	})
	if peerOf(t, s) != p {
		t.Fatalf("%s rejoined in full instead of resuming", s.Status().Identity)
	}
}

// listsDataTrack says whether srv's admin API lists identity in room with
// the data track sid.
func listsDataTrack(t *testing.T, srv *testsfu.Server, room, identity, sid string) bool {
	t.Helper()
	res, err := lksdk.NewRoomServiceClient(srv.HTTPURL(), srv.APIKey, srv.APISecret).
		ListParticipants(bounded(t, 5*time.Second), &livekit.ListParticipantsRequest{Room: room})
	if err != nil {
		t.Logf("list participants: %v", err)
		return false
	}
	for _, p := range res.GetParticipants() {
		if p.GetIdentity() == identity {
			return slices.ContainsFunc(p.GetDataTracks(), func(d *livekit.DataTrackInfo) bool { return d.GetSid() == sid })
		}
	}
	return false
}
