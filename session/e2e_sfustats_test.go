package session

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session/localsfu/sfulog"
)

// sfuTrackStats is what the SFU logs about a data track when it closes
// (livekit-server pkg/rtc/datatrack_stats.go, "data track stats"):
// packets and frames it received from the publisher, and the gaps and
// reorderings in their sequence numbers. It is the SFU's own view of the
// uplink, independent of anything dttui counts.
type sfuTrackStats struct {
	Packets          int64 `json:"numPackets"`
	PacketsLost      int64 `json:"numPacketsLost"`
	PacketsReordered int64 `json:"numPacketsOutOfOrder"`
	Frames           int64 `json:"numFrames"`
}

// parseSFUTrackStats reads a released livekit-server's log line (zap's
// console format: fields as a JSON object after the message).
func parseSFUTrackStats(line string) (name string, st sfuTrackStats, ok bool) {
	i := strings.Index(line, "\tdata track stats\t")
	if i < 0 {
		return "", st, false
	}
	var fields struct {
		Name string `json:"name"`
		sfuTrackStats
	}
	if err := json.Unmarshal([]byte(line[i+len("\tdata track stats\t"):]), &fields); err != nil {
		return "", st, false
	}
	return fields.Name, fields.sfuTrackStats, true
}

// parseSFUNotSent reads a released livekit-server's "could not send data
// track message" line (one packet not forwarded): the track, the
// subscriber, and whether it was shed (sfulog.ShedError) rather than not ready.
func parseSFUNotSent(line string) (sid, subscriber string, shed, ok bool) {
	const msg = "\tcould not send data track message\t"
	i := strings.Index(line, msg)
	if i < 0 {
		return "", "", false, false
	}
	var fields struct {
		TrackID     string `json:"trackID"`
		Participant string `json:"participant"`
		Error       string `json:"error"`
	}
	if err := json.Unmarshal([]byte(line[i+len(msg):]), &fields); err != nil {
		return "", "", false, false
	}
	return fields.TrackID, fields.Participant, strings.HasPrefix(fields.Error, sfulog.ShedError), true
}

// sfuStatsTap collects an SFU's per-track summaries by track name. From
// the embedded SFU's logs, the name comes with the track's logger
// (WithAttrs), the figures with the record.
type sfuStatsTap struct {
	mu      sync.Mutex
	byName  map[string]sfuTrackStats
	seen    chan string
	logPath string // a released server's log, read on demand; "" for the embedded SFU
}

func tapSFUTrackStats(t testing.TB) *sfuStatsTap {
	tap := &sfuStatsTap{byName: map[string]sfuTrackStats{}, seen: make(chan string, 64)}
	tapLibraryLogs(t, sfuStatsHandler{tap: tap})
	return tap
}

// sfuStats collects srv's per-track summaries: the embedded SFU's from its
// logs, a released server's from its log file.
func sfuStats(tb testing.TB, srv *testsfu.Server) *sfuStatsTap {
	if srv.Kind() == testsfu.Released {
		return &sfuStatsTap{byName: map[string]sfuTrackStats{}, seen: make(chan string, 64), logPath: srv.LogPath()}
	}
	return tapSFUTrackStats(tb)
}

// readLog adds the summaries in the released server's log file.
func (s *sfuStatsTap) readLog() {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range strings.Split(string(b), "\n") {
		if name, st, ok := parseSFUTrackStats(line); ok {
			s.byName[name] = st
		}
	}
}

type sfuStatsHandler struct {
	tap   *sfuStatsTap
	attrs []slog.Attr
}

func (h sfuStatsHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h sfuStatsHandler) WithGroup(string) slog.Handler            { return h }
func (h sfuStatsHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return sfuStatsHandler{tap: h.tap, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h sfuStatsHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "data track stats" {
		return nil
	}
	var name string
	var st sfuTrackStats
	s := h.tap
	visit := func(a slog.Attr) bool {
		switch a.Key {
		case "name":
			name = a.Value.String()
		case "numPackets":
			st.Packets = a.Value.Int64()
		case "numPacketsLost":
			st.PacketsLost = a.Value.Int64()
		case "numPacketsOutOfOrder":
			st.PacketsReordered = a.Value.Int64()
		case "numFrames":
			st.Frames = a.Value.Int64()
		}
		return true
	}
	for _, a := range h.attrs {
		visit(a)
	}
	r.Attrs(visit)
	s.mu.Lock()
	s.byName[name] = st
	s.mu.Unlock()
	select {
	case s.seen <- name:
	default:
	}
	return nil
}

// wait returns the SFU's summary of the named track once it has logged it.
func (s *sfuStatsTap) wait(t testing.TB, name string, d time.Duration) sfuTrackStats {
	t.Helper()
	deadline := time.After(d)
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		if s.logPath != "" {
			s.readLog()
		}
		s.mu.Lock()
		st, ok := s.byName[name]
		s.mu.Unlock()
		if ok {
			return st
		}
		select {
		case <-s.seen:
		case <-poll.C:
		case <-deadline:
			t.Fatalf("the SFU logged no stats for track %q", name)
		}
	}
}

func TestParseSFUTrackStats(t *testing.T) {
	// A line of the released livekit-server v1.13.5's log.
	line := "2026-11-30T08:46:04.365Z\tINFO\tlivekit\trtc/datatrack_stats.go:99\tdata track stats\t" +
		`{"room": "r11649", "participant": "dttui-d4f04b", "remote": false, "trackID": "DTR_5i4sUHmb5gt5", "name": "scr-1048576-2", "handle": 1, ` +
		`"duration": 10.332333371, "numPackets": 1386, "numPacketsLost": 2, "numPacketsOutOfOrder": 3, "numFrames": 21, "fps": 2.03, "numBytes": 22053360}`
	name, st, ok := parseSFUTrackStats(line)
	if !ok || name != "scr-1048576-2" || st != (sfuTrackStats{Packets: 1386, PacketsLost: 2, PacketsReordered: 3, Frames: 21}) {
		t.Fatalf("parse = %q %+v %v", name, st, ok)
	}
	if _, _, ok := parseSFUTrackStats("2026-11-30T08:46:04.365Z\tINFO\tlivekit\trtc/datatrack.go:80\tcreated data track\t{}"); ok {
		t.Fatal("parsed a line that is not the stats")
	}
}

func TestParseSFUNotSent(t *testing.T) {
	// A line of the released livekit-server v1.13.5's log.
	line := "2026-11-30T11:49:10.481Z\tWARN\tlivekit\trtc/datadowntrack.go:127\tcould not send data track message\t" +
		`{"room": "dttui-0c8875", "roomID": "RM_frB2s657md2U", "participant": "dttui-6ea69e-loopback", "participantID": "PA_vGf5dH7zJvVe", ` +
		`"remote": false, "trackID": "DTR_AHPXp3t8wAWC", "name": "a", "handle": 68, "error": "data dropped due to high buffered amount: ` +
		`bitrate 853925, buffered amount 11528, target latency limit 10674, min buffered amount 8192"}`
	sid, who, shed, ok := parseSFUNotSent(line)
	if !ok || sid != "DTR_AHPXp3t8wAWC" || who != "dttui-6ea69e-loopback" || !shed {
		t.Fatalf("parse = %q %q %v %v", sid, who, shed, ok)
	}
	notReady := strings.Replace(line, `data dropped due to high buffered amount: bitrate 853925, buffered amount 11528, target latency limit 10674, min buffered amount 8192`, "data channel is not available", 1)
	if _, _, shed, ok := parseSFUNotSent(notReady); !ok || shed {
		t.Fatalf("not ready: shed %v ok %v", shed, ok)
	}
	if _, _, _, ok := parseSFUNotSent("2026-11-30T08:46:04.365Z\tINFO\tlivekit\trtc/datatrack_stats.go:99\tdata track stats\t{}"); ok {
		t.Fatal("parsed a line that is not about a packet not sent")
	}
}

// Against the embedded SFU at its default 100 ms target latency, the
// loopback subscriber stops reading for a moment while frames stream: the
// SFU's queue toward it passes the target and it sheds packets. Its own
// account and the loopback's then agree exactly: every packet the
// loopback found missing is one the SFU says it shed toward it, and the
// SFU received every packet dttui counted as sent (its count at
// unpublish).
func TestE2ESFUAccountAgreesWithTheLoopback(t *testing.T) {
	srv := startSFU(t, testsfu.Options{})
	stall := new(atomic.Bool)
	s := connect(t, srv, Config{Loopback: true, Net: NetOptions{Loopback: ptr(stallNet(stall))}})
	ctx := bounded(t, 60*time.Second)
	tr, err := s.Publish(ctx, "shed", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitFollowed(ctx, tr); err != nil {
		t.Fatal(err)
	}
	sid := tr.Info().SID
	push := func(n, size int, gap time.Duration) {
		for range n {
			if err := tr.Probe().PushWait(ctx, size); err != nil {
				t.Fatal(err)
			}
			time.Sleep(gap)
		}
	}
	push(10, 1000, 5*time.Millisecond)
	stall.Store(true)
	push(40, 64<<10, 5*time.Millisecond) // 2.6 MB while the loopback reads nothing
	stall.Store(false)
	// Small paced frames last, so the loopback sees where the gaps end
	// (the SFU may still shed the first of them while its queue drains).
	push(40, 200, 10*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rt, _ := s.loop.sub.mgr.Track(sid)
		if r := rx(s, tr); tr.Counters().FramesQueued == 0 && r.Frames+r.Lost+r.InGrace+r.Unfollowed == tr.Counters().FramesSent &&
			r.Frames+r.Unfollowed+uint64(r.Incomplete) > 10 && rt.Stats().LastPacketAt.Before(time.Now().Add(-200*time.Millisecond)) {
			break // small frames came after the stall, and nothing has arrived for a while
		}
		if time.Now().After(deadline) {
			st := rt.Stats()
			t.Fatalf("the last frame never reached the loopback: completed %d, last %+v, packets %d lost %d; sent %+v; SFU %+v",
				st.FramesCompleted, st.LastFrame.Size, st.Packets, st.PacketsLost, tr.Counters(), row(s, tr).SFU)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The loopback settles a packet's loss once its reorder window has
	// passed; the two accounts then agree, and stay so.
	rt, _ := s.loop.sub.mgr.Track(sid)
	var lost, shed uint64
	deadline = time.Now().Add(10 * time.Second)
	for {
		lost, shed = rt.Stats().PacketsLost, row(s, tr).SFU.Shed
		if shed > 0 && lost == shed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the loopback lost %d packets, the SFU shed %d toward it", lost, shed)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tr.Unpublish(ctx); err != nil {
		t.Fatal(err)
	}
	var o report.SFUObserved
	eventually(t, 10*time.Second, "the SFU's account of the uplink", func() bool {
		l := row(s, tr)
		if l.SFU != nil && l.SFU.Up != nil {
			o = *l.SFU
			return true
		}
		return false
	})
	t.Logf("SFU: shed %d toward the loopback (%d in all), up %+v; loopback: %d packets lost", shed, o.ShedAll, *o.Up, lost)
	if o.Shed != shed || rt.Stats().PacketsLost != lost {
		t.Errorf("after the unpublish: shed %d (was %d), loopback lost %d (was %d)", o.Shed, shed, rt.Stats().PacketsLost, lost)
	}
	if o.Up.PacketsLost != 0 || o.Up.Packets != tr.Counters().PacketsSent {
		t.Errorf("the SFU received %d packets and lost %d; dttui sent %d", o.Up.Packets, o.Up.PacketsLost, tr.Counters().PacketsSent)
	}
}
