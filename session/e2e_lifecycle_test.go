package session

import (
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// StatusChanges delivers the latest state, and Close ends it with a
// disconnected status and a closed channel.
func TestE2EStatusChanges(t *testing.T) { acrossSFUs(t, testE2EStatusChanges) }

func testE2EStatusChanges(t *testing.T) {
	s := connect(t, sfu(t), Config{})
	select {
	case st := <-s.StatusChanges():
		if st.State != StateConnected || st.ParticipantSID == "" || st.Room == "" {
			t.Fatalf("first status read %+v", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no status after connect")
	}
	_ = s.Close()
	var last Status
	deadline := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case st, ok := <-s.StatusChanges():
			if ok {
				last = st
			}
			open = ok
		case <-deadline:
			t.Fatal("status channel not closed after Close")
		}
	}
	if last.State != StateDisconnected || !errors.Is(last.Err, ErrClosed) {
		t.Fatalf("final status %+v", last)
	}
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
}

// Close stops every goroutine the session started: the supervisor, both
// participants' ping loops and socket readers, the loopback.
func TestE2ECloseStopsGoroutines(t *testing.T) { acrossSFUs(t, testE2ECloseStopsGoroutines) }

func testE2ECloseStopsGoroutines(t *testing.T) {
	srv := sfu(t)
	s := connect(t, srv, Config{Loopback: true})
	tr, err := s.Publish(bounded(t, 15*time.Second), "bye", false)
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, tr)
	if err := tr.TryPush([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if ours := sessionGoroutines(); ours == "" {
		t.Fatal("no session goroutines while connected: the check below would prove nothing")
	}
	_ = s.Close()
	eventually(t, 10*time.Second, "session goroutines to exit", func() bool { return sessionGoroutines() == "" })
}

// sessionGoroutines returns the stacks of live goroutines running dttui's
// non-test code (session, the manager's senders, probe generators) or the
// SDK's signal reader, which only our clients run; or "". The embedded
// SFU's goroutines, and those testsfu runs for a released one, are not ours.
func sessionGoroutines() string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if (strings.Contains(g, "dttui/dttui/") || strings.Contains(g, "server-sdk-go/v2/signalling")) &&
			!strings.Contains(g, "_test.go") && !strings.Contains(g, "session/localsfu") && !strings.Contains(g, "internal/testsfu") {
			ours = append(ours, g)
		}
	}
	return strings.Join(ours, "\n\n")
}

// The SFU asks for a full reconnect (LeaveRequest action RECONNECT, as it
// does when a resume cannot be honoured): the session rejoins as a fresh
// participant and republishes with the same handle and a new SID.
func TestE2ELeaveReconnectRejoins(t *testing.T) { acrossSFUs(t, testE2ELeaveReconnectRejoins) }

func testE2ELeaveReconnectRejoins(t *testing.T) {
	s := connect(t, sfu(t), Config{Loopback: true})
	tr, err := s.Publish(bounded(t, 15*time.Second), "again", false)
	if err != nil {
		t.Fatal(err)
	}
	oldSID, oldPSID := tr.Info().SID, s.Status().ParticipantSID
	p, err := s.current()
	if err != nil {
		t.Fatal(err)
	}
	// The message as the SFU sends it, through the peer's own handler.
	_ = p.HandleMessage(&livekit.SignalResponse{Message: &livekit.SignalResponse_Leave{Leave: &livekit.LeaveRequest{
		Action: livekit.LeaveRequest_RECONNECT, Reason: livekit.DisconnectReason_SIGNAL_CLOSE}}})
	eventually(t, 20*time.Second, "rejoin and republish", func() bool {
		return tr.State() == outgoing.StatePublished && tr.Info().SID != oldSID
	})
	st := s.Status()
	if st.State != StateConnected || st.Reconnects != 1 || st.ParticipantSID == oldPSID {
		t.Fatalf("status %+v (old participant %s)", st, oldPSID)
	}
	// The loopback follows the new SID and receives again.
	eventually(t, 20*time.Second, "frames on the new SID", func() bool {
		before := rx(s, tr).Frames
		_ = tr.Probe().Push(64)
		time.Sleep(50 * time.Millisecond)
		return rx(s, tr).Frames > before
	})
}

// An admin removes the participant: that is final. The session ends
// disconnected with the SFU's reason, and the manager is reset so nothing
// hangs and pushes are refused.
func TestE2ERemovedByAdmin(t *testing.T) { acrossSFUs(t, testE2ERemovedByAdmin) }

func testE2ERemovedByAdmin(t *testing.T) {
	srv := sfu(t)
	s := connect(t, srv, Config{})
	tr, err := s.Publish(bounded(t, 15*time.Second), "removed", false)
	if err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	rc := lksdk.NewRoomServiceClient(httpURL(srv.URL), srv.APIKey, srv.APISecret)
	if _, err := rc.RemoveParticipant(bounded(t, 10*time.Second), &livekit.RoomParticipantIdentity{Room: st.Room, Identity: st.Identity}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "disconnected", func() bool { return s.Status().State == StateDisconnected })
	var le *LeaveError
	if err := s.Status().Err; !errors.As(err, &le) || le.Reason != livekit.DisconnectReason_PARTICIPANT_REMOVED {
		t.Fatalf("status err %v", err)
	}
	if !errors.Is(tr.TryPush([]byte{1}, 0), outgoing.ErrTrackUnpublished) {
		t.Fatal("push accepted after removal")
	}
	if _, err := s.Publish(bounded(t, 5*time.Second), "later", false); !errors.Is(err, outgoing.ErrDisconnected) {
		t.Fatalf("publish after removal: %v", err)
	}
}

// The SFU revokes canPublishData: it drops our tracks without telling the
// publisher, so the session notices from its own participant info and
// marks them unpublished instead of pushing into the void.
func TestE2EPermissionRevoked(t *testing.T) { acrossSFUs(t, testE2EPermissionRevoked) }

func testE2EPermissionRevoked(t *testing.T) {
	srv := sfu(t)
	s := connect(t, srv, Config{})
	tr, err := s.Publish(bounded(t, 15*time.Second), "revoked", false)
	if err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	rc := lksdk.NewRoomServiceClient(httpURL(srv.URL), srv.APIKey, srv.APISecret)
	_, err = rc.UpdateParticipant(bounded(t, 10*time.Second), &livekit.UpdateParticipantRequest{
		Room: st.Room, Identity: st.Identity,
		Permission: &livekit.ParticipantPermission{CanSubscribe: true, CanPublish: true, CanPublishData: false},
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "track unpublished", func() bool { return tr.State() == outgoing.StateUnpublished })
	if !errors.Is(tr.TryPush([]byte{1}, 0), outgoing.ErrTrackUnpublished) {
		t.Fatal("push accepted after the permission went")
	}
	if s.Status().State != StateConnected {
		t.Fatalf("connection should survive: %+v", s.Status())
	}
	if _, err := s.Publish(bounded(t, 15*time.Second), "denied", false); !errors.Is(err, outgoing.ErrNotAllowed) {
		t.Fatalf("publish without the permission: %v", err)
	}
}

func httpURL(ws string) string { return "http" + strings.TrimPrefix(ws, "ws") }

// The network under the session goes silent (UDP dropped both ways, the
// signal socket untouched) long enough for ICE to fail, then comes back:
// the session resumes the same participant with an ICE restart, so the
// track keeps its SID and is never republished, and frames flow again.
func TestE2EResumeAfterICEFailure(t *testing.T) { acrossSFUs(t, testE2EResumeAfterICEFailure) }

func testE2EResumeAfterICEFailure(t *testing.T) {
	cut := new(atomic.Bool)
	cfg := Config{Loopback: true}
	cfg.Net = NetOptions{Wrap: switchedNet(cut, nil), ICEFailedTimeout: 2 * time.Second}
	s := connect(t, sfu(t), cfg)
	tr, err := s.Publish(bounded(t, 15*time.Second), "wifi", false)
	if err != nil {
		t.Fatal(err)
	}
	sid := tr.Info().SID
	waitSubscribed(t, s, tr)
	p, err := s.current()
	if err != nil {
		t.Fatal(err)
	}

	cut.Store(true)
	eventually(t, 15*time.Second, "ICE failure noticed", func() bool {
		st := s.Status()
		return st.State == StateReconnecting && st.Err != nil && strings.Contains(st.Err.Error(), "ICE")
	})
	cut.Store(false)
	eventually(t, 20*time.Second, "resumed", func() bool {
		st := s.Status()
		return st.State == StateConnected && st.Reconnects == 1
	})
	if got, _ := s.current(); got != p {
		t.Fatal("a full rejoin happened instead of a resume")
	}
	if tr.Info().SID != sid || tr.State() != outgoing.StatePublished || tr.Stats().PublishAttempts != 1 {
		t.Fatalf("track changed: %+v", tr.Info())
	}
	eventually(t, 20*time.Second, "frames after the ICE restart", func() bool {
		before := rx(s, tr).Frames
		_ = tr.Probe().Push(64)
		time.Sleep(50 * time.Millisecond)
		return rx(s, tr).Frames > before
	})
}
