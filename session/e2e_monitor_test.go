package session

import (
	"bytes"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/preview"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
)

// remoteRow is the room monitor's row for the track named name, published
// by identity, that is not replaced (the latest publication).
func remoteRow(s *Session, identity, name string) (report.Remote, bool) {
	for _, r := range s.Report(nil).Remote {
		if r.Stats.PublisherIdentity == identity && r.Stats.Name == name && r.Stats.ReplacedBy == "" {
			return r, true
		}
	}
	return report.Remote{}, false
}

// Two dttui sessions in one room: one publishes, the other monitors. The
// monitor sees the track with its publisher, subscribes on its own and
// counts every frame from the packets; when the publisher rejoins in full
// (new participant, new SID) the monitor follows the republished track,
// and when the publisher leaves, the track ends unpublished.
func TestE2ERoomMonitorFollowsAPublisher(t *testing.T) {
	acrossSFUs(t, testE2ERoomMonitorFollowsAPublisher)
}

func testE2ERoomMonitorFollowsAPublisher(t *testing.T) {
	srv := sfu(t)
	pub := connect(t, srv, Config{})
	mon := connect(t, srv, Config{Room: pub.Status().Room, Monitor: true})
	who := pub.Status().Identity

	tr, err := pub.Publish(bounded(t, 15*time.Second), "telemetry", false)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the monitor subscribed", func() bool {
		r, ok := remoteRow(mon, who, "telemetry")
		return ok && r.Stats.State == incoming.StateSubscribed && r.Stats.SID == tr.Info().SID && mon.MonitorHolds(r.Stats.SID)
	})
	pushProbes(t, tr, 50, 500)
	eventually(t, 10*time.Second, "50 frames at the monitor, their latency recorded", func() bool {
		r, _ := remoteRow(mon, who, "telemetry")
		return r.Stats.FramesCompleted == 50 && r.Stats.Latency.Count() == 50
	})
	r, _ := remoteRow(mon, who, "telemetry")
	if r.Stats.FramesLost != 0 || r.Stats.PacketsLost != 0 || r.Stats.UserTimestamps != 50 || r.Stats.Latency.Count() != 50 {
		t.Fatalf("remote %+v", r.Stats)
	}
	// The frames are dttui's probe: followed by their own numbers too.
	if p := r.Probe; p == nil || p.Sent != 50 || p.Received != 50 || p.Lost+p.InGrace+p.Cut+p.Corrupt != 0 || p.Latency.Count() != 50 || p.Spans != 1 {
		t.Fatalf("probe %+v", r.Probe)
	}
	if len(mon.Report(nil).Local) != 0 {
		t.Fatal("the monitor lists local tracks it never published")
	}

	// A full rejoin of the publisher: a new participant, the track
	// republished under a new SID; the monitor subscribes to that one.
	oldSID := tr.Info().SID
	p, err := pub.current()
	if err != nil {
		t.Fatal(err)
	}
	p.Close(errors.New("test: the publisher's connection dies"))
	eventually(t, 30*time.Second, "republished", func() bool { return tr.Info().SID != oldSID && tr.State() == 1 })
	eventually(t, 15*time.Second, "the monitor follows the new SID", func() bool {
		r, ok := remoteRow(mon, who, "telemetry")
		return ok && r.Stats.SID == tr.Info().SID && r.Stats.State == incoming.StateSubscribed && r.Stats.Replaces == oldSID && mon.MonitorHolds(r.Stats.SID)
	})
	pushProbes(t, tr, 20, 500)
	eventually(t, 10*time.Second, "20 frames on the new SID", func() bool {
		r, _ := remoteRow(mon, who, "telemetry")
		return r.Stats.FramesCompleted == 20
	})
	if r, _ := remoteRow(mon, who, "telemetry"); r.Probe == nil || r.Probe.Received != 20 || r.Probe.Sent != 20 {
		t.Fatalf("probe on the new SID %+v", r.Probe)
	}

	// The publisher leaves: the track ends unpublished, with its figures.
	_ = pub.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, _ := remoteRow(mon, who, "telemetry")
		if r.Stats.State == incoming.StateUnpublished {
			break
		}
		if time.Now().After(deadline) {
			for _, x := range mon.Report(nil).Remote {
				t.Logf("row %s %s %s replaced by %q timeline %+v", x.Stats.SID, x.Stats.Name, x.Stats.State, x.Stats.ReplacedBy, x.Stats.Timeline)
			}
			t.Fatal("the track is not unpublished at the monitor 15 s after the publisher left")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r, _ := remoteRow(mon, who, "telemetry"); r.Stats.FramesCompleted != 20 {
		t.Fatalf("figures after the publisher left: %+v", r.Stats)
	}

	// A screen's scope cuts the history of every row but the one it
	// names; the figures are the same. The session samples its rows once
	// a second, so the two are compared only when no sample fell between
	// them (the same report taken before and after agrees with itself).
	var whole, scoped []report.Remote
	for try := 0; ; try++ {
		whole = mon.Report(nil).Remote
		scoped = mon.ReportScope(nil, report.Scope{History: 1, Full: report.RemoteKey(oldSID), NoRun: true}).Remote
		if sameFigures(whole, mon.Report(nil).Remote) {
			break
		}
		if try == 20 {
			t.Fatal("the report changed between every two calls")
		}
	}
	for i, r := range scoped {
		w := whole[i]
		if r.Stats.FramesCompleted != w.Stats.FramesCompleted || r.Latency != w.Latency || r.Average != w.Average || r.RunLatencyHist != nil {
			t.Fatalf("scoped %s: %+v, whole %+v", r.SID(), r.Figures, w.Figures)
		}
		if want := min(len(w.History), 1); r.SID() != oldSID && len(r.History) != want {
			t.Fatalf("scoped %s: %d seconds of history, want %d", r.SID(), len(r.History), want)
		}
		if r.SID() == oldSID && len(r.History) != len(w.History) {
			t.Fatalf("the row the scope names lost its history: %d of %d seconds", len(r.History), len(w.History))
		}
	}
	// Removed, the rows are gone, records and all.
	for _, r := range whole {
		if err := mon.RemoveRemote(r.SID()); err != nil {
			t.Fatalf("remove %s: %v", r.SID(), err)
		}
	}
	if rest := mon.Report(nil).Remote; len(rest) != 0 {
		t.Fatalf("%d rows left after removing them all", len(rest))
	}
	if err := mon.RemoveRemote(oldSID); !errors.Is(err, incoming.ErrUnknownTrack) {
		t.Fatalf("removing it again: %v", err)
	}
}

// The room monitor follows another dttui's probe frames by their own
// sequence numbers. Its path is cut for a moment while frames stream: the
// frames it then misses count lost once their grace is over, and the
// probe's account agrees exactly with the one from packet and frame
// numbers (single-packet frames: a frame lost is a packet lost).
func TestE2ERoomMonitorCountsProbeLoss(t *testing.T) {
	acrossSFUs(t, testE2ERoomMonitorCountsProbeLoss)
}

func testE2ERoomMonitorCountsProbeLoss(t *testing.T) {
	srv := sfu(t)
	pub := connect(t, srv, Config{})
	cut := new(atomic.Bool)
	mon := connect(t, srv, Config{Room: pub.Status().Room, Monitor: true, LossGrace: 500 * time.Millisecond, Net: cutNet(cut)})
	who := pub.Status().Identity
	tr, err := pub.Publish(bounded(t, 15*time.Second), "probed", false)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the monitor subscribed", func() bool {
		r, ok := remoteRow(mon, who, "probed")
		return ok && r.Stats.State == incoming.StateSubscribed && mon.MonitorHolds(r.Stats.SID)
	})
	ctx := bounded(t, 30*time.Second)
	if err := pushPaced(ctx, tr, 30, 200, 100); err != nil {
		t.Fatal(err)
	}
	cut.Store(true)
	if err := pushPaced(ctx, tr, 20, 200, 100); err != nil {
		t.Fatal(err)
	}
	cut.Store(false)
	if err := pushPaced(ctx, tr, 50, 200, 100); err != nil {
		t.Fatal(err)
	}
	var r report.Remote
	eventually(t, 15*time.Second, "the probe's account settled", func() bool {
		r, _ = remoteRow(mon, who, "probed")
		p := r.Probe
		return p != nil && p.Sent == 100 && p.InGrace == 0 && r.Stats.FramesCompleted == p.Received
	})
	// The packets' account settles a gap once its reorder window is over.
	deadline := time.Now().Add(5 * time.Second)
	for r.Stats.PacketsLost < r.Probe.Lost && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		r, _ = remoteRow(mon, who, "probed")
	}
	p := r.Probe
	t.Logf("probe sent %d received %d lost %d; frames completed %d lost %d incomplete %d, packets %d lost %d; publisher %+v", p.Sent, p.Received, p.Lost, r.Stats.FramesCompleted, r.Stats.FramesLost, r.Stats.FramesIncomplete, r.Stats.Packets, r.Stats.PacketsLost, tr.Counters())
	if p.Lost == 0 || p.Received+p.Lost != 100 || p.Cut+p.Duplicates+p.Late+p.Corrupt != 0 || p.Spans != 1 {
		t.Fatalf("probe %+v", *p)
	}
	if p.Lost != r.Stats.FramesLost+r.Stats.FramesIncomplete || p.Lost != r.Stats.PacketsLost {
		t.Fatalf("the probe lost %d frames; the packets say %d frames lost, %d incomplete, %d packets lost",
			p.Lost, r.Stats.FramesLost, r.Stats.FramesIncomplete, r.Stats.PacketsLost)
	}
}

// A typed track as the room monitor sees it: its declaration, the schema
// its publisher stored (fetched from the room), and its latest frame.
func TestE2ERoomMonitorTypedTrack(t *testing.T) {
	srv := sfu(t)
	pub := connect(t, srv, Config{})
	mon := connect(t, srv, Config{Room: pub.Status().Room, Monitor: true})
	decl := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON},
		Schema: schema.ID{Name: "pose", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}}
	def := []byte(`{"type":"object","properties":{"x":{"type":"number"}}}`)
	if err := pub.StoreSchema(bounded(t, 10*time.Second), decl.Schema, def); err != nil {
		t.Fatal(err)
	}
	tr, err := pub.PublishWith(bounded(t, 15*time.Second), PublishOptions{Name: "pose", Type: decl})
	if err != nil {
		t.Fatal(err)
	}
	who := pub.Status().Identity
	eventually(t, 15*time.Second, "the monitor subscribed", func() bool {
		r, ok := remoteRow(mon, who, "pose")
		return ok && r.Stats.State == incoming.StateSubscribed && mon.MonitorHolds(r.Stats.SID)
	})
	if err := tr.Push(bounded(t, 5*time.Second), []byte(`{"x":1.25}`), uint64(time.Now().UnixMilli())); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the frame and the schema", func() bool {
		r, _ := remoteRow(mon, who, "pose")
		return r.Stats.FramesCompleted == 1 && r.SchemaDef != nil
	})
	r, _ := remoteRow(mon, who, "pose")
	if r.Stats.Type != decl || !bytes.Equal(r.SchemaDef, def) || r.SchemaErr != nil {
		t.Fatalf("type %+v, schema %q %v", r.Stats.Type, r.SchemaDef, r.SchemaErr)
	}
	f := preview.Render(r.Stats.LastFrame.Head, r.Stats.Type, preview.Options{Schema: r.SchemaDef})
	if f.Kind != preview.KindJSON || strings.Join(f.Lines, "\n") != "{\n  \"x\": 1.25\n}" {
		t.Fatalf("preview %s %q", f.Kind, f.Lines)
	}
}

// sameFigures says two reports of the room hold the same figures apart
// from their rates, which move with the clock.
func sameFigures(a, b []report.Remote) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].SID() != b[i].SID() || a[i].Stats.FramesCompleted != b[i].Stats.FramesCompleted ||
			a[i].Latency != b[i].Latency || a[i].Average != b[i].Average || len(a[i].History) != len(b[i].History) {
			return false
		}
	}
	return true
}
