package session

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/jsclient"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/session/localsfu/sfulog"
	"github.com/dttui/dttui/session/probe"
)

// uplinkRun is how long each publisher pushes in one BenchmarkUplink case.
const uplinkRun = 10 * time.Second

// uplinkCase is a frame size and push rate (0: as fast as each
// publisher's channel takes them).
type uplinkCase struct {
	name       string
	size, rate int
}

// uplinkCases are the frame sizes and push rates BenchmarkUplink races.
var uplinkCases = []uplinkCase{
	{"20B", 20, 0},
	{"1KiB", 1 << 10, 0},
	{"1KiB@2000", 1 << 10, 2000},
	{"16000B", 16000, 0},
	{"64KiB", 64 << 10, 0},
	{"1MiB@2", 1 << 20, 2},
	{"2MiB@1", 2 << 20, 1},
	{"4MiB@1", 4 << 20, 1},
}

// BenchmarkUplink races dttui against livekit-client 2.23 as publishers,
// side by side in one room on each SFU build (server defaults, so the SFU
// sheds what it queues toward a subscriber beyond 100 ms, as users run
// it). Both push the same frame sizes for uplinkRun; dttui's loopback
// subscriber and a livekit-client subscriber in headless Chromium (a
// second, CPU-hungry subscriber) receive both tracks. Per publisher p
// (dttui, js):
//
//	p-sfu-fps         frames the SFU received per second (its own per-track
//	                  summary, logged when the track closes)
//	p-up-loss-%       packets lost on the way into the SFU: the SFU's gaps in
//	                  the packets' sequence numbers
//	p-jssub-fps       frames the livekit-client subscriber reassembled per second
//	p-jssub-loss-%    frames the SFU received that it did not get
//	p-jssub-shed-pkts packets of them the SFU shed toward it (its log)
//	x-js-sfu          dttui-sfu-fps / js-sfu-fps
//	x-js-jssub        dttui-jssub-fps / js-jssub-fps
//	dttui-lb-loss-%   dttui's frames its loopback subscriber never got
//	dttui-lb-lost-pkts  packets of them its reassembly counted lost
//	dttui-lb-shed-pkts  packets the SFU shed toward the loopback (its
//	                  target latency): where the two agree, the SFU
//	                  dropped what the loopback missed
//	dttui-lb-p50-ms, dttui-lb-p99-ms   push-to-reassembly latency there,
//	                  over every frame of the run
//
// livekit-client drops frames of more than 128 packets (2 044 928 bytes
// with the user timestamp), so at 2 and 4 MiB its subscriber gets none.
// Run with -benchtime 1x: each iteration is a whole race.
//
//	go test -run '^$' -bench Uplink -benchtime 1x -count 3 -timeout 60m ./session/
func BenchmarkUplink(b *testing.B) {
	benchUplinkCases(b, uplinkCases)
}

func benchUplinkCases(b *testing.B, cases []uplinkCase) {
	jsclient.Require(b)
	testsfu.Run(b, func(b *testing.B, kind testsfu.Kind) {
		for _, c := range cases {
			b.Run(c.name, func(b *testing.B) {
				for b.Loop() {
					benchUplink(b, kind, c.size, c.rate)
				}
			})
		}
	})
}

func benchUplink(b *testing.B, kind testsfu.Kind, size, rate int) {
	srv, stats := benchSFU(b, kind)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	room := "uplink-" + randomSuffix()
	dtName, jsName := fmt.Sprintf("dttui-%d-%d-%s", size, rate, randomSuffix()), fmt.Sprintf("js-%d-%d-%s", size, rate, randomSuffix())

	js := jsInRoom(ctx, b, srv, room, "jssub", "jspub")
	jsSub, jsPub := js[0], js[1]
	if _, err := jsSub.SubscribeAll(ctx, jsclient.SubscribeOptions{Counters: true, BufferSize: 1 << 14}); err != nil {
		b.Fatal(err)
	}
	jsInfo, err := jsPub.Publish(ctx, jsName)
	if err != nil {
		b.Fatal(err)
	}
	s, err := Connect(ctx, Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: room, Loopback: true, Logger: testLog})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tr, err := s.Publish(ctx, dtName, false)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{dtName, jsName} {
		if _, err := jsSub.WaitSubscribed(ctx, "", name); err != nil {
			b.Fatal(err)
		}
	}
	for !rx(s, tr).Subscribed {
		if ctx.Err() != nil {
			b.Fatal("loopback never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}

	var wg sync.WaitGroup
	var jsErr error
	start := time.Now()
	wg.Go(func() { _, jsErr = pushJS(ctx, jsPub, jsName, size, rate, start) })
	pushDttui(ctx, b, tr, size, rate, start)
	if err := tr.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	wg.Wait()
	if jsErr != nil {
		b.Fatal(jsErr)
	}

	// The tails: dttui's frames at its loopback (or their grace periods),
	// and the livekit-client subscriber's counters until they stop moving.
	s.Settle(ctx)
	st := tr.Stats()
	counters := settleJS(ctx, b, jsSub, []string{dtName, jsName}, time.Second)
	lb := rx(s, tr)
	dtRow := row(s, tr)
	lat := dtRow.RunLatency // every frame of the run

	// Unpublishing closes the tracks at the SFU, which logs its summaries.
	if err := tr.Unpublish(ctx); err != nil {
		b.Fatal(err)
	}
	if err := jsPub.Unpublish(ctx, jsName); err != nil {
		b.Fatal(err)
	}
	dtUp, jsUp := stats.wait(b, dtName, 10*time.Second), stats.wait(b, jsName, 10*time.Second)

	secs := uplinkRun.Seconds()
	dtSub, _ := counters.Track(dtName)
	jsSubC, _ := counters.Track(jsName)
	for _, m := range []struct {
		name string
		up   sfuTrackStats
		sub  jsclient.TrackCounters
		sids []string
	}{{"dttui", dtUp, dtSub, dtRow.SIDs}, {"js", jsUp, jsSubC, []string{jsInfo.SID}}} {
		b.ReportMetric(float64(m.up.Frames)/secs, m.name+"-sfu-fps")
		b.ReportMetric(100*float64(m.up.PacketsLost)/float64(max(1, m.up.Packets+m.up.PacketsLost)), m.name+"-up-loss-%")
		b.ReportMetric(float64(m.sub.Frames)/secs, m.name+"-jssub-fps")
		b.ReportMetric(100*(1-float64(min(uint64(m.up.Frames), m.sub.Frames))/float64(max(1, m.up.Frames))), m.name+"-jssub-loss-%")
		b.ReportMetric(float64(shedToward(b, srv, "jssub", m.sids)), m.name+"-jssub-shed-pkts")
	}
	b.ReportMetric(float64(dtUp.Frames)/float64(max(1, jsUp.Frames)), "x-js-sfu")
	b.ReportMetric(float64(dtSub.Frames)/float64(max(1, jsSubC.Frames)), "x-js-jssub")
	b.ReportMetric(100*float64(st.FramesSent-min(st.FramesSent, lb.Frames))/float64(max(1, st.FramesSent)), "dttui-lb-loss-%")
	b.ReportMetric(float64(lbLostPackets(s, tr)), "dttui-lb-lost-pkts")
	b.ReportMetric(float64(shedToward(b, srv, s.loopIdentity, dtRow.SIDs)), "dttui-lb-shed-pkts")
	b.ReportMetric(float64(lat.P50.Microseconds())/1000, "dttui-lb-p50-ms")
	b.ReportMetric(float64(lat.P99.Microseconds())/1000, "dttui-lb-p99-ms")
	// dttui's own count and the SFU's must agree: what left is what arrived.
	if int64(st.PacketsSent) != dtUp.Packets+dtUp.PacketsLost {
		b.Logf("dttui sent %d packets, the SFU saw %d and %d gaps", st.PacketsSent, dtUp.Packets, dtUp.PacketsLost)
	}
}

// pushDttui pushes probe frames on tr for uplinkRun from start: at rate
// frames/s on an absolute schedule, or (rate 0) as fast as the track's
// queue takes them (Push waits for room).
func pushDttui(ctx context.Context, b *testing.B, tr *Track, size, rate int, start time.Time) {
	stream := tr.Probe().Stream()
	template := probe.Encode(nil, probe.Header{Stream: stream}, size)
	frames := uint64(uplinkRun.Seconds()) * uint64(rate) // 0: until uplinkRun is over
	for seq := uint64(0); rate > 0 && seq < frames || rate == 0 && time.Since(start) < uplinkRun; seq++ {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(seq) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d)
			}
		}
		payload := append([]byte(nil), template...)
		now := time.Now()
		probe.Encode(payload[:0], probe.Header{Stream: stream, Seq: seq, Sent: now}, probe.HeaderLen)
		if err := tr.Push(ctx, payload, uint64(now.UnixMilli())); err != nil {
			b.Fatal(err)
		}
	}
}

// pushJS is the same run from livekit-client: at a rate, one Push of the
// whole run; flat out, Pushes of about 1 MiB each until uplinkRun is over,
// each ending with flush(), so the page never holds more than one batch
// beyond what its data channel took (tryPush itself never waits).
func pushJS(ctx context.Context, c *jsclient.Client, name string, size, rate int, start time.Time) (int, error) {
	if rate > 0 {
		r, err := c.Push(ctx, jsclient.PushOptions{Track: name, Count: int(uplinkRun.Seconds()) * rate, Rate: float64(rate), Size: size, UserTimestampNow: true})
		return r.OK, err
	}
	batch := max(1, (1<<20)/size)
	pushed := 0
	for time.Since(start) < uplinkRun {
		r, err := c.Push(ctx, jsclient.PushOptions{Track: name, Count: batch, Size: size, UserTimestampNow: true})
		pushed += r.OK
		if err != nil {
			return pushed, err
		}
	}
	return pushed, nil
}

// settleJS reads the subscriber's counters until none of the named tracks
// gained a frame for quiet.
func settleJS(ctx context.Context, b *testing.B, c *jsclient.Client, names []string, quiet time.Duration) jsclient.Counters {
	var last jsclient.Counters
	lastChange := time.Now()
	for time.Since(lastChange) < quiet {
		cs, err := c.Counters(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range names {
			a, _ := cs.Track(n)
			p, _ := last.Track(n)
			if a.Frames != p.Frames {
				lastChange = time.Now()
			}
		}
		last = cs
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// lbLostPackets is what the loopback's reassembly counted lost of tr's
// packets, over its SIDs.
func lbLostPackets(s *Session, tr *Track) uint64 {
	var n uint64
	for _, sid := range row(s, tr).SIDs {
		if t, ok := s.loop.sub.mgr.Track(sid); ok {
			n += t.Stats().PacketsLost
		}
	}
	return n
}

// shedToward is how many packets of the tracks sids the SFU shed toward
// the subscriber (its target latency): the embedded SFU's from the
// session's view of its logs, the released server's from its log file.
func shedToward(b testing.TB, srv *testsfu.Server, subscriber string, sids []string) uint64 {
	shed, _ := notForwarded(b, srv, subscriber, sids)
	return shed
}

// notForwarded is how many packets of the tracks sids the SFU did not
// forward to the subscriber: shed (its target latency), and not sent for
// any other reason it logged.
func notForwarded(b testing.TB, srv *testsfu.Server, subscriber string, sids []string) (shed, other uint64) {
	if srv.Kind() != testsfu.Released {
		o, _ := sfulog.Observed.Of(sids, subscriber)
		return o.Shed, o.NotReady
	}
	data, err := os.ReadFile(srv.LogPath())
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if sid, who, isShed, ok := parseSFUNotSent(line); ok && who == subscriber && slices.Contains(sids, sid) {
			if isShed {
				shed++
			} else {
				other++
			}
		}
	}
	return shed, other
}
