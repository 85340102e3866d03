package session

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/internal/jsclient"
	"github.com/dttui/dttui/internal/procnet"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/report"
)

// The room as dttui's room monitor sees it, checked against a second
// observer: a livekit-client 2.23 publisher in headless Chromium feeds the
// monitor, and a livekit-client subscriber in the same room receives what
// the monitor receives (and what dttui publishes, next to the loopback).

// monitorSizes straddle the packet boundary: with the user-timestamp
// extension a packet holds 15976 bytes, so 15988 and 16001 take two
// packets and 64 KiB five.
var monitorSizes = []int{1 << 10, 15988, 16001, 64 << 10}

// hugeFrame takes 132 packets: more than livekit-client's depacketizer
// accepts (packetizer.SubscriberMaxPackets), not more than dttui's.
const hugeFrame = 2_100_000

// seenFrame is what OnRemoteFrame saw of one frame.
type seenFrame struct {
	number  uint16
	packets int
	size    int
	sum     [sha256.Size]byte
	index   uint64 // the jsclient.Pattern index in its first 8 bytes
	e2ee    bool
	hasTS   bool
	ts      uint64
	arrival time.Time
}

// frameLog records every frame a session's room monitor completes, by
// track SID (Config.OnRemoteFrame).
type frameLog struct {
	mu     sync.Mutex
	frames map[string][]seenFrame
}

func (l *frameLog) on(sid string, f incoming.Frame) {
	sf := seenFrame{number: f.Number, packets: f.Packets, size: len(f.Payload), sum: sha256.Sum256(f.Payload),
		e2ee: f.E2EE, hasTS: f.HasUserTimestamp, ts: f.UserTimestamp, arrival: f.Arrival}
	if len(f.Payload) >= 8 {
		sf.index = binary.BigEndian.Uint64(f.Payload)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.frames == nil {
		l.frames = map[string][]seenFrame{}
	}
	l.frames[sid] = append(l.frames[sid], sf)
}

func (l *frameLog) of(sid string) []seenFrame {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.frames[sid])
}

// sentFrame is a frame livekit-client pushed: its Pattern index and size,
// and its user timestamp when the test chose it (0: Date.now()).
type sentFrame struct {
	index uint64
	size  int
	ts    uint64
}

// jsPush pushes o's frames and returns them as sent; every push must
// succeed.
func jsPush(t *testing.T, ctx context.Context, js *jsclient.Client, o jsclient.PushOptions) []sentFrame {
	t.Helper()
	r, err := js.Push(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK != o.Count || r.Failed != 0 {
		t.Fatalf("livekit-client pushed %d of %d frames: %+v", r.OK, o.Count, r)
	}
	out := make([]sentFrame, o.Count)
	for k := range out {
		out[k] = sentFrame{index: r.FirstIndex + uint64(k), size: o.Size}
		if o.UserTimestamp != 0 {
			out[k].ts = o.UserTimestamp + uint64(k)*o.UserTimestampStep
		}
	}
	return out
}

// pushSizes pushes per frames of every monitorSizes class at rate,
// stamped on their schedule (the first with the wall clock now, each
// next one 1/rate later): honest latencies, exactly known timestamps.
func pushSizes(t *testing.T, ctx context.Context, js *jsclient.Client, track string, per int, rate float64) []sentFrame {
	t.Helper()
	var sent []sentFrame
	for _, size := range monitorSizes {
		sent = append(sent, jsPush(t, ctx, js, jsclient.PushOptions{Track: track, Count: per, Rate: rate, Size: size,
			UserTimestamp: uint64(time.Now().UnixMilli()), UserTimestampStep: uint64(1000 / rate)})...)
	}
	return sent
}

// joinJS joins a livekit-client participant with token (and E2EE with
// pass, when set).
func joinJS(t *testing.T, ctx context.Context, js *jsclient.Client, url, token, pass string) {
	t.Helper()
	if _, err := js.Join(ctx, jsclient.JoinOptions{URL: url, Token: token, E2EEPassphrase: pass}); err != nil {
		t.Fatal(err)
	}
}

// remoteBySID is the room monitor's stats of one track.
func remoteBySID(t *testing.T, s *Session, sid string) incoming.TrackStats {
	t.Helper()
	tr, ok := s.Monitor().Track(sid)
	if !ok {
		t.Fatalf("the room monitor does not know %s", sid)
	}
	return tr.Stats()
}

// waitRemote waits until the room monitor's track sid satisfies cond.
func waitRemote(t *testing.T, s *Session, sid, what string, cond func(incoming.TrackStats) bool) incoming.TrackStats {
	t.Helper()
	var st incoming.TrackStats
	deadline := time.Now().Add(20 * time.Second)
	for {
		if tr, ok := s.Monitor().Track(sid); ok {
			if st = tr.Stats(); cond(st) {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s on %s: %+v", what, sid, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func subscribedTo(st incoming.TrackStats) bool { return st.State == incoming.StateSubscribed }

// wireFigures is what frames of these sizes (as sent: ciphertext, for
// E2EE) are on the wire with these extensions: packets, and bytes with
// every header.
func wireFigures(t *testing.T, sizes []int, ext packetizer.Extensions) (packets, bytes uint64) {
	t.Helper()
	h := packetizer.Header{Extensions: ext}
	for _, n := range sizes {
		p, err := packetizer.PacketCount(n, ext, packetizer.MTU)
		if err != nil {
			t.Fatal(err)
		}
		packets += uint64(p)
		bytes += uint64(p*h.Len() + n)
	}
	return packets, bytes
}

// checkFrames checks the monitor's frames against what livekit-client
// sent, one for one and in order: size, bytes (Pattern), user timestamp
// (jsTS gives the ones Date.now() chose, as the JS subscriber read them)
// and packet count.
func checkFrames(t *testing.T, got []seenFrame, sent []sentFrame, ext packetizer.Extensions, jsTS func(i int) uint64) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("the monitor delivered %d frames, livekit-client sent %d", len(got), len(sent))
	}
	for i, w := range sent {
		g := got[i]
		wantTS := w.ts
		if wantTS == 0 {
			wantTS = jsTS(i)
		}
		pk, _ := packetizer.PacketCount(w.size+overhead(ext), ext, packetizer.MTU)
		if g.size != w.size || g.sum != sha256.Sum256(jsclient.Pattern(w.index, w.size)) || !g.hasTS || g.ts != wantTS ||
			g.packets != pk || g.e2ee != ext.HasE2EE {
			t.Fatalf("frame %d: got size %d index %d ts %d (%v) packets %d e2ee %v; want size %d index %d ts %d packets %d",
				i, g.size, g.index, g.ts, g.hasTS, g.packets, g.e2ee, w.size, w.index, wantTS, pk)
		}
	}
}

// outOfOrder counts the frames that came after one pushed later.
func outOfOrder(got []seenFrame) uint64 {
	var n uint64
	for i := 1; i < len(got); i++ {
		if got[i].index < got[i-1].index {
			n++
		}
	}
	return n
}

// overhead is what encryption adds to a frame: the AES-GCM tag.
func overhead(ext packetizer.Extensions) int {
	if ext.HasE2EE {
		return 16
	}
	return 0
}

var (
	tsExt   = packetizer.Extensions{HasUserTimestamp: true}
	e2eeExt = packetizer.Extensions{HasUserTimestamp: true, HasE2EE: true}
)

// The `_data_track` channel is unreliable (no retransmission): on a busy
// machine a UDP buffer overflows now and then and the packets in it are
// gone, truly lost. A check of exact figures runs in a round whose paths
// delivered every packet, by counts kept apart from the figures under
// test (Chromium's data-channel statistics, every message our subscriber
// got); a round that lost packets is tried again, up to lossyRounds.
const lossyRounds = 8

// untilLossless runs round until it reports that its paths lost nothing.
func untilLossless(t *testing.T, round func(k int) (lost uint64)) {
	t.Helper()
	for k := 1; ; k++ {
		lost := round(k)
		if lost == 0 {
			return
		}
		if k == lossyRounds {
			t.Fatalf("the paths lost packets in %d rounds in a row (%d in the last)", k, lost)
		}
		t.Logf("round %d: the paths lost %d packets; again", k, lost)
	}
}

// overflows is the host's count of UDP datagrams dropped at a full
// socket receive buffer (the kernel's own).
func overflows(t testing.TB) uint64 {
	t.Helper()
	n, err := procnet.UDPRcvbufErrors()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pathLost checks the monitor's missing packets of a livekit-client
// track, of the sent packets Chromium handed its SCTP, against three
// observers of the path: the SFU's own count of the track's packets it
// received (its "data track stats" line, once the track is unpublished:
// the rest never reached it, a lost tail included), its log of packets it
// did not forward to the monitor (shed, or not sent for another reason),
// and the kernel's count of datagrams dropped at full socket buffers on
// this host since ovf0 (an upper bound: every socket's). A packet none
// accounts for was lost by dttui itself.
func pathLost(t *testing.T, ctx context.Context, srv *testsfu.Server, tap *sfuStatsTap, mon *Session, js *jsclient.Client, tr jsclient.TrackInfo, sent, missing uint64, m pathMarks) {
	t.Helper()
	if err := js.Unpublish(ctx, tr.Name); err != nil {
		t.Fatal(err)
	}
	st := tap.wait(t, tr.Name, 10*time.Second)
	up := sent - min(sent, uint64(st.Packets))
	var shed, ovf, local uint64
	deadline := time.Now().Add(5 * time.Second) // the released SFU's log is written behind
	for {
		s, other := notForwarded(t, srv, "dttui", []string{tr.SID})
		shed, ovf, local = s+other, overflows(t)-m.overflows, mon.Status().LocalDrops-m.localDrops
		// A datagram dropped in the monitor's own WebRTC stack carries
		// parts of at most two packets.
		if up+shed+ovf+2*local >= missing || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the SFU received %d of the track's %d packets and did not forward %d to the monitor; the kernel dropped %d datagrams at full buffers, the monitor's pion %d before DTLS",
		st.Packets, sent, shed, ovf, local)
	if up+shed+ovf+2*local < missing {
		t.Fatalf("the monitor missed %d packets; %d never reached the SFU, it did not forward %d to the monitor, the kernel dropped %d datagrams, the monitor's pion %d",
			missing, up, shed, ovf, local)
	}
}

// pathMarks are the counts of a path's observers in this machine when a
// round began: the kernel's datagrams dropped at full socket buffers, the
// monitor's datagrams dropped unread by pion.
type pathMarks struct{ overflows, localDrops uint64 }

func markPath(t testing.TB, mon *Session) pathMarks {
	return pathMarks{overflows(t), mon.Status().LocalDrops}
}

// arrived polls count until it reaches want or has not moved for 2 s
// (what the path lost is not coming), and returns it.
func arrived(count func() uint64, want uint64) uint64 {
	n, moved := count(), time.Now()
	for n < want && time.Since(moved) < 2*time.Second {
		time.Sleep(10 * time.Millisecond)
		if m := count(); m != n {
			n, moved = m, time.Now()
		}
	}
	return n
}

// jsDropLogs is how many frames livekit-client's log says its
// subscriber dropped so far.
func jsDropLogs(t testing.TB, ctx context.Context, js *jsclient.Client) uint64 {
	t.Helper()
	c, err := js.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c.Log.DepacketizeErrors + c.Log.PartialsEvicted
}

// dcCount reads one of Chromium's counts of a participant's data-track
// packets.
func dcCount(t testing.TB, ctx context.Context, js *jsclient.Client, sent bool) uint64 {
	t.Helper()
	ch, err := js.DataChannels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := ch[jsclient.DataTrackChannel]
	if sent {
		return c.MessagesSent
	}
	return c.MessagesReceived
}

// One room per SFU build: a livekit-client publisher, a livekit-client
// subscriber of everything, and dttui with the room monitor and the
// loopback. The subtests run in order in that room; the last one ends
// with the JS publisher leaving.
func TestInteropRoomMonitor(t *testing.T) {
	acrossSFUs(t, testInteropRoomMonitor)
}

func testInteropRoomMonitor(t *testing.T) {
	jsclient.Require(t)
	srv := sfu(t)
	tap := sfuStats(t, srv) // before any track closes: the embedded SFU's summaries come as it logs them
	ctx := bounded(t, 3*time.Minute)
	room := "interop-room-" + randomSuffix()
	js := jsclient.StartAll(t, jsclient.Options{Name: "js-pub"}, jsclient.Options{Name: "js-sub"})
	pub, sub := js[0], js[1]
	for i, id := range []string{"js-pub", "js-sub"} {
		token, err := srv.Token(room, id)
		if err != nil {
			t.Fatal(err)
		}
		joinJS(t, ctx, js[i], srv.URL, token, "")
	}
	if _, err := sub.SubscribeAll(ctx, jsclient.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	frames := &frameLog{}
	s := connect(t, srv, Config{Room: room, Identity: "dttui", Monitor: true, Loopback: true, OnRemoteFrame: frames.on})
	if s.loop == nil {
		t.Fatal("no loopback subscriber")
	}
	// Every packet that reached the monitor, the loopback, the JS
	// subscriber's browser; every packet the JS publisher's browser sent.
	monPackets := func() uint64 { return s.monitor.mgr.Stats().Packets }
	loopPackets := func() uint64 { return s.loop.sub.mgr.Stats().Packets }
	jsReceived := func(t *testing.T) func() uint64 { return func() uint64 { return dcCount(t, ctx, sub, false) } }

	// publishJS publishes a livekit-client track and waits until both the
	// room monitor and the JS subscriber hold it.
	publishJS := func(t *testing.T, name string) jsclient.TrackInfo {
		t.Helper()
		tr, err := pub.Publish(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sub.WaitSubscribed(ctx, "js-pub", name); err != nil {
			t.Fatal(err)
		}
		st := waitRemote(t, s, tr.SID, "subscribed", subscribedTo)
		if st.Name != name || st.PublisherIdentity != "js-pub" || st.PubHandle != uint16(tr.PubHandle) || st.E2EE() {
			t.Fatalf("the monitor sees %+v, livekit-client published %+v", st.Info, tr)
		}
		return tr
	}

	// (1) livekit-client publishes every size class, a burst, and a frame
	// over its own subscriber's limit; the room monitor gets every frame
	// byte-exact with the timestamps JS set, and its counters agree with
	// what JS sent and with the JS subscriber, frame for frame and packet
	// for packet.
	t.Run("JSPublishesToMonitor", func(t *testing.T) {
		untilLossless(t, func(k int) uint64 {
			sizes := publishJS(t, fmt.Sprintf("js-sizes-%d", k))
			mon0, js0, pub0, marks := monPackets(), jsReceived(t)(), dcCount(t, ctx, pub, true), markPath(t, s)
			js0Log := jsDropLogs(t, ctx, sub)

			sent := pushSizes(t, ctx, pub, sizes.Name, 5, 50)
			// A burst at 500 frames/s, each stamped with Date.now() at its
			// push (back to back, the SFU's queues toward two subscribers on
			// a loaded machine shed packets in most rounds).
			sent = append(sent, jsPush(t, ctx, pub, jsclient.PushOptions{Track: sizes.Name, Count: 300, Rate: 500, Size: 1 << 10, UserTimestampNow: true})...)
			var sizeList []int
			for _, f := range sent {
				sizeList = append(sizeList, f.size)
			}
			n := uint64(len(sent))
			var payload uint64
			for _, f := range sent {
				payload += uint64(f.size)
			}
			wantPk, wantBytes := wireFigures(t, sizeList, tsExt)
			all := wantPk
			// livekit-client packetizes as we expect, by Chromium's count.
			if got := arrived(func() uint64 { return dcCount(t, ctx, pub, true) }, pub0+all) - pub0; got != all {
				t.Fatalf("livekit-client sent %d data-track packets; %d expected", got, all)
			}
			mon := arrived(monPackets, mon0+all) - mon0
			jsGot := arrived(jsReceived(t), js0+all) - js0
			st := remoteBySID(t, s, sizes.SID)
			// Whatever the path did, every packet that reached the monitor
			// is counted on its track, and every one that did not is one
			// the path lost.
			if st.Packets != mon {
				t.Fatalf("%d packets reached the monitor, its track counted %d", mon, st.Packets)
			}
			if mon != all || jsGot != all {
				t.Logf("round %d: %d of %d packets reached the monitor, %d the JS subscriber", k, mon, all, jsGot)
				pathLost(t, ctx, srv, tap, s, pub, sizes, all, all-mon, marks)
				return 2*all - mon - jsGot
			}

			jctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			jsFrames, err := sub.WaitFrames(jctx, sizes.Name, len(sent))
			if err != nil {
				// Every packet reached the JS subscriber's browser, so a frame
				// missing there was dropped by livekit-client's depacketizer
				// (packets of the unordered channel reordered past its buffer),
				// which its log says: a lossy round, not our figures.
				if c, cerr := sub.Counters(ctx); cerr == nil && c.Log.DepacketizeErrors+c.Log.PartialsEvicted > js0Log {
					t.Logf("round %d: livekit-client's depacketizer dropped frames (%+v)", k, c.Log)
					return uint64(len(sent) - len(jsFrames))
				}
				t.Fatalf("%v: the JS subscriber got %d of %d frames", err, len(jsFrames), len(sent))
			}
			jsTS := func(i int) uint64 {
				v, err := strconv.ParseUint(jsFrames[i].UserTimestamp, 10, 64)
				if err != nil {
					t.Fatalf("JS frame %d: user timestamp %q", i, jsFrames[i].UserTimestamp)
				}
				return v
			}
			got := frames.of(sizes.SID)
			// The channel is unordered: on a loaded machine frames can
			// reach both subscribers out of push order (CI saw frame 284
			// 160th), which the counters then count. A lossy round.
			if r := outOfOrder(got); r > 0 || st.PacketsReordered > 0 {
				t.Logf("round %d: %d frames reached the monitor out of push order (%d packets reordered)", k, r, st.PacketsReordered)
				return max(r, st.PacketsReordered)
			}
			checkFrames(t, got, sent, tsExt, jsTS)
			for i, f := range jsFrames {
				if f.Len != got[i].size || f.SHA256 != fmt.Sprintf("%x", got[i].sum) || jsTS(i) != got[i].ts {
					t.Fatalf("frame %d: the JS subscriber got %+v, the monitor size %d ts %d", i, f, got[i].size, got[i].ts)
				}
			}

			// The counters, from the packets alone.
			if st.FramesCompleted != n || st.FramesLost != 0 || st.FramesIncomplete != 0 || st.PacketsLost != 0 ||
				st.PacketsDuplicate != 0 || st.PacketsReordered != 0 || st.PacketsLate != 0 || st.PacketsIgnored != 0 ||
				st.Packets != wantPk || st.Bytes != wantBytes || st.FrameBytes != payload || st.FrameSizes.Count() != n ||
				st.FramesOverClientLimit != 0 || st.DecryptFailuresTotal() != 0 {
				t.Fatalf("monitor counters %+v; want %d frames, %d packets, %d bytes, %d payload bytes", st, n, wantPk, wantBytes, payload)
			}
			// livekit-client does not answer dttui's clock exchange: once
			// the monitor stops asking, its frames are measured on two clocks.
			eventually(t, 2*clocksync.DefaultAnswerTimeout, "the JS publisher taken for two clocks", func() bool {
				st = remoteBySID(t, s, sizes.SID)
				return st.Clock.State == clocksync.TwoClocks
			})
			// Latency from the user timestamps JS set: one per frame, none
			// ahead of our clock (both clocks are this machine's).
			if st.UserTimestamps != n || st.Latency.Count() != n || st.LatencyNegative != 0 {
				t.Fatalf("latency: %d user timestamps, %d latencies, %d negative (want %d, %d, 0)",
					st.UserTimestamps, st.Latency.Count(), st.LatencyNegative, n, n)
			}
			var lo, hi time.Duration = time.Hour, 0
			for _, f := range got {
				d := f.arrival.Sub(time.UnixMilli(int64(f.ts)))
				lo, hi = min(lo, d), max(hi, d)
			}
			if p50 := time.Duration(st.Latency.Quantile(0.5)); p50 < lo*31/32 || p50 > hi*33/32 || hi > 10*time.Second {
				t.Fatalf("monitor latency p50 %v outside the frames' own [%v, %v]", p50, lo, hi)
			}
			c, err := sub.Counters(ctx)
			if err != nil {
				t.Fatal(err)
			}
			jc, _ := c.Track(sizes.Name)
			if jc.Frames != n || jc.Bytes != payload || jc.UserTimestamps != n || jc.OutOfOrder != 0 {
				t.Fatalf("the JS subscriber counted %+v; the monitor %d frames, %d bytes", jc, n, payload)
			}
			if jc.LatencyMs != nil {
				t.Logf("latency from the user timestamps: monitor p50 %v p99 %v; JS subscriber p50 %.2f ms p99 %.2f ms",
					time.Duration(st.Latency.Quantile(0.5)), time.Duration(st.Latency.Quantile(0.99)), jc.LatencyMs.P50, jc.LatencyMs.P99)
			}

			// The report the UI, the JSON lines and the metrics render. A
			// frame's latency waits while the monitor asks the publisher
			// for its clock (livekit-client never answers: two clocks
			// after clocksync.DefaultAnswerTimeout), so the run's latency
			// count reaches n once that is known.
			var r report.Remote
			eventually(t, 10*time.Second, "every frame's latency in the report", func() bool {
				var ok bool
				r, ok = remoteRow(s, "js-pub", sizes.Name)
				return ok && r.RunLatency.Frames == n
			})
			if r.Stats.FramesCompleted != n {
				t.Fatalf("report row %+v: %d frames (run latency %+v)", r.Stats.Info, r.Stats.FramesCompleted, r.RunLatency)
			}
			// Its whole-run rates: n frames over the n-1 intervals between
			// the first packet and the last (single-packet frames at both
			// ends), packets alike.
			span := got[len(got)-1].arrival.Sub(got[0].arrival)
			wantFPS := float64(n-1) / span.Seconds()
			if !near(r.Average.ReceivedFPS, wantFPS) || !near(r.Average.ReceivedPPS, float64(st.Packets)*wantFPS/float64(n)) ||
				r.Average.Window != span {
				t.Fatalf("report's average %+v; the frames' own: %.3f frames/s over %v", r.Average, wantFPS, span)
			}
			return 0
		})

		// The frame over livekit-client's 128-packet limit, alone on the
		// SFU's queues toward the two subscribers (behind the burst, on a
		// loaded machine, they shed it most rounds): the monitor has it,
		// byte-exact, and says a JS or Rust subscriber would not.
		untilLossless(t, func(k int) uint64 {
			huge := publishJS(t, fmt.Sprintf("js-huge-%d", k))
			mon0, pub0, marks, js0Log := monPackets(), dcCount(t, ctx, pub, true), markPath(t, s), jsDropLogs(t, ctx, sub)
			sentHuge := jsPush(t, ctx, pub, jsclient.PushOptions{Track: huge.Name, Count: 1, Size: hugeFrame, UserTimestamp: uint64(time.Now().UnixMilli())})
			hugePk, hugeBytes := wireFigures(t, []int{hugeFrame}, tsExt)
			if hugePk <= packetizer.SubscriberMaxPackets {
				t.Fatalf("the huge frame is %d packets", hugePk)
			}
			if got := arrived(func() uint64 { return dcCount(t, ctx, pub, true) }, pub0+hugePk) - pub0; got != hugePk {
				t.Fatalf("livekit-client sent %d data-track packets; %d expected", got, hugePk)
			}
			mon := arrived(monPackets, mon0+hugePk) - mon0
			hst := remoteBySID(t, s, huge.SID)
			if hst.Packets != mon {
				t.Fatalf("%d packets reached the monitor, its track counted %d", mon, hst.Packets)
			}
			if mon != hugePk {
				t.Logf("round %d: %d of the huge frame's %d packets reached the monitor", k, mon, hugePk)
				pathLost(t, ctx, srv, tap, s, pub, huge, hugePk, hugePk-mon, marks)
				return hugePk - mon
			}
			checkFrames(t, frames.of(huge.SID), sentHuge, tsExt, nil)
			if hst.FramesCompleted != 1 || hst.FramesOverClientLimit != 1 || hst.Packets != hugePk || hst.Bytes != hugeBytes ||
				hst.PacketsLost != 0 || hst.FramesIncomplete != 0 {
				t.Fatalf("huge frame counters %+v; want %d packets, %d bytes", hst, hugePk, hugeBytes)
			}
			var c jsclient.Counters
			eventually(t, 5*time.Second, "livekit-client giving up the huge frame", func() bool {
				var err error
				if c, err = sub.Counters(ctx); err != nil {
					t.Fatal(err)
				}
				return c.Log.DepacketizeErrors+c.Log.PartialsEvicted > js0Log
			})
			if jh, _ := c.Track(huge.Name); jh.Frames != 0 {
				t.Fatalf("the JS subscriber reassembled a %d-packet frame (%+v, log %+v)", hugePk, jh, c.Log)
			}
			t.Logf("livekit-client gave up the %d-packet frame: %+v", hugePk, c.Log)
			return 0
		})
	})

	// (3) dttui publishes probe frames at several rates and sizes; the
	// loopback and the JS subscriber each receive every frame: the same
	// counts, bytes and packets, and no loss.
	t.Run("DttuiPublishesToLoopbackAndJS", func(t *testing.T) {
		classes := []struct {
			name              string
			size, rate, count int
		}{{"dttui-1k", 1 << 10, 200, 200}, {"dttui-16001", 16001, 50, 50}, {"dttui-64k", 64 << 10, 25, 25}}
		untilLossless(t, func(k int) uint64 {
			tracks := make([]*Track, len(classes))
			for i, c := range classes {
				tr, err := s.Publish(ctx, fmt.Sprintf("%s-%d", c.name, k), false)
				if err != nil {
					t.Fatal(err)
				}
				tracks[i] = tr
				waitSubscribed(t, s, tr)
				if _, err := sub.WaitSubscribed(ctx, "dttui", tr.Name()); err != nil {
					t.Fatal(err)
				}
			}
			lb0, js0 := loopPackets(), jsReceived(t)()
			var wg sync.WaitGroup
			errs := make([]error, len(classes))
			for i, c := range classes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = pushPaced(ctx, tracks[i], c.count, c.size, c.rate)
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			var sentPk uint64
			for _, tr := range tracks {
				// A push refused with a full queue, or dropped as stale, is
				// counted dropped here and never on the wire: no observer
				// expects it.
				st := tr.Stats()
				if st.FramesSent == 0 || st.FramesPushed != st.FramesSent+st.FramesDropped || st.FramesQueued != 0 {
					t.Fatalf("%s: %+v", tr.Name(), st.Counters)
				}
				sentPk += st.PacketsSent
			}
			lb := arrived(loopPackets, lb0+sentPk) - lb0
			jsGot := arrived(jsReceived(t), js0+sentPk) - js0
			if lb != sentPk || jsGot != sentPk {
				return 2*sentPk - lb - jsGot
			}
			wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			cs, err := sub.WaitCounters(wctx, func(cs jsclient.Counters) bool {
				for _, tr := range tracks {
					if tc, _ := cs.Track(tr.Name()); tc.Frames < tr.Stats().FramesSent {
						return false
					}
				}
				return true
			})
			if err != nil {
				t.Fatalf("%v: JS counters %+v", err, cs.Tracks)
			}
			for i, c := range classes {
				tr := tracks[i]
				eventually(t, 10*time.Second, tr.Name()+" at the loopback", func() bool { return rx(s, tr).Frames == tr.Stats().FramesSent })
				l := row(s, tr)
				lb := *l.Rx
				jc, _ := cs.Track(tr.Name())
				sent := l.Out.FramesSent
				if lb.Frames != sent || jc.Frames != sent || lb.Bytes != jc.Bytes || jc.Bytes != sent*uint64(c.size) ||
					lb.Lost != 0 || lb.InGrace != 0 || lb.Unfollowed != 0 || lb.Incomplete != 0 || lb.Corrupt != 0 || lb.Duplicates != 0 ||
					jc.UserTimestamps != sent || lb.UserTimestamps != sent {
					t.Fatalf("%s: sent %d; loopback %+v; JS subscriber %+v", tr.Name(), sent, lb, jc)
				}
				t.Logf("%s: sent %d = loopback %d = livekit-client %d frames, %d bytes each (%d pushes dropped)",
					tr.Name(), sent, lb.Frames, jc.Frames, jc.Bytes, l.Out.FramesDropped)
			}
			if cs.Log.Warnings+cs.Log.Errors != cs.Log.DepacketizeErrors+cs.Log.PartialsEvicted {
				t.Fatalf("livekit-client log %+v", cs.Log)
			}
			return 0
		})
	})

	// (4) A JS track's life as the monitor sees it: unsubscribing stops
	// its frames and subscribing again restarts them, neither counted as
	// loss; unpublishing ends it; publishing the same name again is a new
	// SID; the publisher leaving ends that one.
	t.Run("Lifecycle", func(t *testing.T) {
		life := publishJS(t, "js-life")
		mon := s.Monitor()
		push := func(count int, rate float64) []sentFrame {
			return jsPush(t, ctx, pub, jsclient.PushOptions{Track: "js-life", Count: count, Rate: rate, Size: 1 << 10,
				UserTimestamp: uint64(time.Now().UnixMilli()), UserTimestampStep: uint64(1000 / rate)})
		}
		run1 := push(20, 100)
		waitRemote(t, s, life.SID, "the first 20 frames", func(st incoming.TrackStats) bool { return st.FramesCompleted == 20 })

		// Unsubscribed: once the SFU's handle map drops the track, nothing
		// more is forwarded (the JS subscriber still gets everything).
		if err := mon.Unsubscribe(life.SID); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "the SFU ends the subscription", func() bool { return !s.MonitorHolds(life.SID) })
		if st := remoteBySID(t, s, life.SID); st.State != incoming.StateUnsubscribed {
			t.Fatalf("after Unsubscribe: %v", st.State)
		}
		push(20, 100)
		jctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if fs, err := sub.WaitFrames(jctx, "js-life", 40); err != nil {
			t.Fatalf("%v: the JS subscriber got %d of 40", err, len(fs))
		}
		if err := mon.Subscribe(life.SID); err != nil {
			t.Fatal(err)
		}
		waitRemote(t, s, life.SID, "subscribed again", subscribedTo)
		eventually(t, 10*time.Second, "the SFU forwards again", func() bool { return s.MonitorHolds(life.SID) })
		run3 := push(20, 100)
		st := waitRemote(t, s, life.SID, "the third run", func(st incoming.TrackStats) bool { return st.FramesCompleted == 40 })
		checkFrames(t, frames.of(life.SID), append(slices.Clone(run1), run3...), tsExt, nil)
		if st.FramesLost != 0 || st.PacketsLost != 0 || st.FramesIncomplete != 0 || st.PacketsIgnored != 0 || st.Packets != 40 ||
			st.Subscriptions != 2 {
			t.Fatalf("after unsubscribe and subscribe: %+v", st)
		}

		// The same while two-packet frames flow: what the SFU forwarded
		// after we unsubscribed is ignored, the frames never forwarded are
		// not lost, only unseen, and a frame the unsubscribe or the
		// resubscribe splits is cut, not incomplete.
		untilLossless(t, func(k int) uint64 {
			const midSize, midCount = 16001, 150
			st0 := remoteBySID(t, s, life.SID)
			before := len(frames.of(life.SID))
			done := make(chan []sentFrame, 1)
			go func() {
				r, err := pub.Push(ctx, jsclient.PushOptions{Track: "js-life", Count: midCount, Rate: 75, Size: midSize, UserTimestampNow: true})
				if err != nil || r.OK != midCount {
					t.Errorf("push while unsubscribing: %+v %v", r, err)
				}
				out := make([]sentFrame, r.OK)
				for k := range out {
					out[k] = sentFrame{index: r.FirstIndex + uint64(k), size: midSize}
				}
				done <- out
			}()
			waitRemote(t, s, life.SID, "frames flowing", func(st incoming.TrackStats) bool { return st.FramesCompleted >= st0.FramesCompleted+20 })
			if err := mon.Unsubscribe(life.SID); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "the SFU ends the subscription", func() bool { return !s.MonitorHolds(life.SID) })
			time.Sleep(300 * time.Millisecond)
			if err := mon.Subscribe(life.SID); err != nil {
				t.Fatal(err)
			}
			run := <-done
			if len(run) == 0 {
				t.FailNow()
			}
			last := run[len(run)-1].index
			eventually(t, 10*time.Second, "the last frame at the monitor", func() bool {
				fs := frames.of(life.SID)
				return len(fs) > 0 && fs[len(fs)-1].index == last
			})
			// A frame the SFU shed in the run's last half second is not
			// lost yet: loss is settled by the reorder delay, on the
			// manager's once-a-second tick (CI read 2 breaks and no loss).
			// Settle it now, so it counts as loss.
			fs := frames.of(life.SID)
			time.Sleep(time.Until(fs[len(fs)-1].arrival.Add(packetizer.DefaultReorderDelay + 10*time.Millisecond)))
			s.monitor.mgr.Tick()
			st := remoteBySID(t, s, life.SID)
			if lost := st.PacketsLost - st0.PacketsLost; lost > 0 || st.FramesIncomplete != st0.FramesIncomplete || st.FramesLost != st0.FramesLost {
				// Loss on the path, or a false one: the next round tells.
				if st.IncompleteBy[packetizer.IncompleteFlushed] != 0 {
					t.Fatalf("frames given up at a flush: %+v", st)
				}
				return max(lost, 1)
			}
			seen := frames.of(life.SID)[before:]
			// Two unbroken runs of frames: up to the unsubscribe, and from
			// the resubscribe to the end.
			breaks := 0
			for i := 1; i < len(seen); i++ {
				if seen[i].index != seen[i-1].index+1 {
					breaks++
				}
			}
			if seen[0].index != run[0].index || breaks != 1 || len(seen) >= len(run) {
				t.Fatalf("the monitor's frames of a %d-frame run: %d frames from index %d with %d breaks (run from %d)",
					len(run), len(seen), seen[0].index, breaks, run[0].index)
			}
			// Every packet counted: two per frame seen, one of each
			// two-packet frame cut.
			cut := st.FramesCut - st0.FramesCut
			if st.Subscriptions != st0.Subscriptions+1 || cut > 2 || st.FramesCompleted-st0.FramesCompleted != uint64(len(seen)) ||
				st.Packets-st0.Packets != 2*uint64(len(seen))+cut {
				t.Fatalf("after unsubscribing mid-stream: %+v (before: %+v)", st, st0)
			}
			var unsubs, subs int
			for _, c := range st.Timeline {
				switch {
				case c.State == incoming.StateUnsubscribed && c.Reason == "unsubscribed":
					unsubs++
				case c.State == incoming.StateSubscribed:
					subs++
				}
			}
			if uint64(unsubs) != st.Subscriptions-1 || uint64(subs) != st.Subscriptions {
				t.Fatalf("timeline %+v", st.Timeline)
			}
			t.Logf("mid-stream: %d of %d frames seen, %d cut, %d packets ignored after the unsubscribe",
				len(seen), len(run), cut, st.PacketsIgnored-st0.PacketsIgnored)
			return 0
		})

		// Unpublished by the publisher.
		if err := pub.Unpublish(ctx, "js-life"); err != nil {
			t.Fatal(err)
		}
		gone := waitRemote(t, s, life.SID, "unpublished", func(st incoming.TrackStats) bool { return st.State == incoming.StateUnpublished })
		if why := gone.Timeline[len(gone.Timeline)-1].Reason; why != "unpublished by the publisher" {
			t.Fatalf("unpublished because %q", why)
		}
		// The same name again: a new publication, a new SID and row; the
		// old row keeps its figures.
		again := publishJS(t, "js-life")
		if again.SID == life.SID {
			t.Fatalf("republished under the same SID %s", again.SID)
		}
		jsPush(t, ctx, pub, jsclient.PushOptions{Track: "js-life", Count: 10, Rate: 100, Size: 1 << 10, UserTimestampNow: true})
		waitRemote(t, s, again.SID, "10 frames on the new SID", func(st incoming.TrackStats) bool { return st.FramesCompleted == 10 })
		if old := remoteBySID(t, s, life.SID); old.FramesCompleted != gone.FramesCompleted || old.State != incoming.StateUnpublished {
			t.Fatalf("the old row changed: %+v", old)
		}

		// reconnect runs a livekit-client reconnect scenario to its end.
		reconnect := func(scenario string) {
			t.Helper()
			done := 0
			for _, e := range pub.Events() {
				if e.Event == "reconnected" {
					done++
				}
			}
			if err := pub.Simulate(ctx, scenario); err != nil {
				t.Fatal(err)
			}
			seen := 0
			if _, err := pub.WaitEvent(ctx, func(e jsclient.Event) bool {
				if e.Event == "reconnected" {
					seen++
				}
				return seen > done
			}); err != nil {
				t.Fatal(err)
			}
		}
		// The publisher resumes (the same participant): nothing changes
		// for the monitor, and the frames after it follow on.
		reconnect(jsclient.SignalReconnect)
		jsPush(t, ctx, pub, jsclient.PushOptions{Track: "js-life", Count: 10, Rate: 100, Size: 1 << 10, UserTimestampNow: true})
		resumed := waitRemote(t, s, again.SID, "10 more frames after the resume", func(st incoming.TrackStats) bool { return st.FramesCompleted == 20 })
		if resumed.State != incoming.StateSubscribed || resumed.Subscriptions != 1 || resumed.FramesLost != 0 || resumed.PacketsLost != 0 {
			t.Fatalf("after the publisher resumed: %+v", resumed)
		}

		// The publisher rejoins in full (a new participant): livekit-client
		// republishes the track with its handle under a new SID; the
		// monitor links the two rows and follows the new one.
		reconnect(jsclient.FullReconnect)
		var newSID string
		eventually(t, 15*time.Second, "the republish's SID", func() bool {
			st, err := pub.Stats(ctx)
			for _, l := range st.Local {
				if err == nil && l.Name == "js-life" && l.Published && l.SID != again.SID {
					newSID = l.SID
				}
			}
			return newSID != ""
		})
		re := waitRemote(t, s, newSID, "the republish subscribed", subscribedTo)
		if old := remoteBySID(t, s, again.SID); re.Replaces != again.SID || re.PubHandle != uint16(again.PubHandle) ||
			old.ReplacedBy != newSID || old.State != incoming.StateUnpublished || old.FramesCompleted != 20 {
			t.Fatalf("after the publisher's full reconnect: new %+v (replaces %q); old %+v (replaced by %q)",
				re.Info, re.Replaces, old.State, old.ReplacedBy)
		}
		jsPush(t, ctx, pub, jsclient.PushOptions{Track: "js-life", Count: 10, Rate: 100, Size: 1 << 10, UserTimestampNow: true})
		waitRemote(t, s, newSID, "10 frames on the republished SID", func(st incoming.TrackStats) bool { return st.FramesCompleted == 10 })

		// The publisher leaves: every track of it ends unpublished.
		if err := pub.Leave(ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, 15*time.Second, "every JS track unpublished", func() bool {
			for _, r := range s.Report(nil).Remote {
				if r.Stats.PublisherIdentity == "js-pub" && r.Stats.State != incoming.StateUnpublished {
					return false
				}
			}
			return true
		})
		left := remoteBySID(t, s, newSID)
		if why := left.Timeline[len(left.Timeline)-1].Reason; why != "publisher left" || left.FramesCompleted != 10 {
			t.Fatalf("after the publisher left: %q, %+v", why, left)
		}
		if got := s.Status().State; got != StateConnected {
			t.Fatalf("dttui %v", got)
		}
	})
}

// near says whether x is within a relative 1e-9 of want.
func near(x, want float64) bool { return math.Abs(x-want) <= 1e-9*math.Abs(want) }

// (2) livekit-client publishes with E2EE: dttui with the same passphrase
// decrypts every frame byte-exact; with a wrong one, or none, it counts
// one failure per frame by its reason, delivers nothing and stays
// connected.
func TestInteropRoomMonitorE2EE(t *testing.T) {
	acrossSFUs(t, testInteropRoomMonitorE2EE)
}

func testInteropRoomMonitorE2EE(t *testing.T) {
	jsclient.Require(t)
	const pass = "correct horse battery staple"
	srv := sfu(t)
	ctx := bounded(t, 2*time.Minute)
	room := "interop-e2ee-" + randomSuffix()
	js := jsclient.Start(t, jsclient.Options{Name: "js-e2ee"})
	token, err := srv.Token(room, "js-e2ee")
	if err != nil {
		t.Fatal(err)
	}
	joinJS(t, ctx, js, srv.URL, token, pass)

	monitors := []struct {
		pass   string
		why    incoming.DecryptReason // -1: decrypts
		s      *Session
		frames *frameLog
	}{{pass: pass, why: -1}, {pass: "not the passphrase", why: incoming.DecryptAuthFailed}, {pass: "", why: incoming.DecryptNoKey}}
	for i := range monitors {
		m := &monitors[i]
		m.frames = &frameLog{}
		m.s = connect(t, srv, Config{Room: room, Identity: fmt.Sprintf("dttui-%d", i), Monitor: true,
			E2EEPassphrase: m.pass, OnRemoteFrame: m.frames.on})
	}
	tr, err := js.Publish(ctx, "js-secret")
	if err != nil {
		t.Fatal(err)
	}
	if !tr.UsesE2EE {
		t.Fatalf("published %+v", tr)
	}
	for _, m := range monitors {
		st := waitRemote(t, m.s, tr.SID, "subscribed", subscribedTo)
		if !st.E2EE() || st.Encryption != incoming.EncryptionGCM {
			t.Fatalf("the monitor sees %+v", st.Info)
		}
	}
	sent := pushSizes(t, ctx, js, "js-secret", 3, 50)
	n := uint64(len(sent))
	var sizes []int
	for _, f := range sent {
		sizes = append(sizes, f.size+overhead(e2eeExt))
	}
	wantPk, wantBytes := wireFigures(t, sizes, e2eeExt)
	for _, m := range monitors {
		st := waitRemote(t, m.s, tr.SID, "every frame", func(st incoming.TrackStats) bool { return st.FramesCompleted >= n })
		var ciphertext uint64
		for _, n := range sizes {
			ciphertext += uint64(n)
		}
		// Every frame arrives and is measured, whether or not it opens.
		if st.FramesCompleted != n || st.FramesLost != 0 || st.PacketsLost != 0 || st.Packets != wantPk || st.Bytes != wantBytes ||
			st.FrameBytes != ciphertext || st.UserTimestamps != n {
			t.Fatalf("passphrase %q: %+v; want %d frames, %d packets, %d bytes", m.pass, st, n, wantPk, wantBytes)
		}
		got := m.frames.of(tr.SID)
		if m.why < 0 {
			if st.FramesDecrypted != n || st.DecryptFailuresTotal() != 0 {
				t.Fatalf("with the passphrase: %d decrypted, failures %v", st.FramesDecrypted, st.DecryptFailures)
			}
			checkFrames(t, got, sent, e2eeExt, nil)
			if st.LastFrame.Size != sent[len(sent)-1].size {
				t.Fatalf("preview of %d bytes, the last frame had %d", st.LastFrame.Size, sent[len(sent)-1].size)
			}
			continue
		}
		var want [incoming.NumDecryptReasons]uint64
		want[m.why] = n
		if st.FramesDecrypted != 0 || st.DecryptFailures != want || len(got) != 0 || st.LastFrame.Size != 0 || len(st.LastFrame.Head) != 0 {
			t.Fatalf("passphrase %q: %d decrypted, failures %v (want %v), %d frames delivered, preview %d bytes",
				m.pass, st.FramesDecrypted, st.DecryptFailures, want, len(got), st.LastFrame.Size)
		}
		if state := m.s.Status().State; state != StateConnected {
			t.Fatalf("passphrase %q: dttui %v", m.pass, state)
		}
	}
	st, err := js.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ConnectionState != "connected" || st.EncryptionErrors != 0 {
		t.Fatalf("the JS publisher: %+v", st)
	}
}
