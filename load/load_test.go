package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/session"
	"go.uber.org/goleak"
)

// TestLoadRun runs a small load against each SFU build: three publishers
// with two tracks each (one of multi-packet frames), two subscribers. Every
// frame is accounted for at both ends and the subscribers' figures are
// checked against the publishers' own counters, which are kept apart.
func TestLoadRun(t *testing.T) {
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		// A 5 s target latency, as in session's end-to-end tests: on a
		// loaded 2-core machine under -race the SFU would otherwise shed
		// packets queued for more than its default 100 ms, which is loss
		// the run reports honestly but not what this test is about.
		srv := testsfu.StartT(t, kind, testsfu.Options{DataTrackTargetLatency: 5 * time.Second})
		// The embedded SFU's own goroutines come and go with rooms; the
		// released one runs in another process, so there every goroutine
		// left is ours.
		ignore := goleak.IgnoreCurrent()
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		cfg := Config{
			Session:      session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret},
			Participants: 3, Subscribers: 2, Ramp: 20,
			// Seconds of latency happen here when other tests share the
			// two cores with an in-process SFU under -race: a frame that
			// late still arrived, and the stop waits for it.
			LossGrace: 10 * time.Second,
			Tracks:    []Track{{Name: "small", Rate: 30, Size: 1024}, {Name: "big", Rate: 5, Size: 40_000}},
		}
		sum, err := Run(ctx, cfg, &out)
		if err != nil {
			t.Fatal(err)
		}
		if p := sum.Problems(); len(p) > 0 {
			t.Fatalf("problems: %v", p)
		}
		if len(sum.Participants) != 5 || len(sum.Tracks) != 6 {
			t.Fatalf("participants %d, tracks %d; want 5, 6", len(sum.Participants), len(sum.Tracks))
		}
		for _, ts := range sum.Tracks {
			if ts.Pushed == 0 || ts.Pushed != ts.Sent+ts.Dropped+ts.Queued {
				t.Errorf("%s/%s: pushed %d ≠ sent %d + dropped %d + queued %d", ts.Participant, ts.Track, ts.Pushed, ts.Sent, ts.Dropped, ts.Queued)
			}
			// Each subscriber accounts for every frame the publisher says
			// it sent; the two sides count apart.
			if got := ts.Delivered + ts.Lost + ts.InGrace + ts.NotFollowed; got != ts.Sent*2 {
				t.Errorf("%s/%s: delivered %d + lost %d + in grace %d + not followed %d = %d, want sent %d × 2 subscribers",
					ts.Participant, ts.Track, ts.Delivered, ts.Lost, ts.InGrace, ts.NotFollowed, got, ts.Sent)
			}
			if ts.Expected+ts.NotFollowed != ts.Sent*2 {
				t.Errorf("%s/%s: expected %d + not followed %d ≠ sent×2 %d", ts.Participant, ts.Track, ts.Expected, ts.NotFollowed, ts.Sent*2)
			}
			if ts.InGrace != 0 || ts.NotFollowed != 0 || ts.Queued != 0 {
				t.Errorf("%s/%s: after a clean stop in grace %d, not followed %d, queued %d; want 0", ts.Participant, ts.Track, ts.InGrace, ts.NotFollowed, ts.Queued)
			}
			// A second account: the subscribers' packet-level counters
			// completed exactly the frames the ledger saw arrive (a
			// frame counted lost may still arrive after the counters
			// were read, so with loss the ledger may be ahead by that).
			if ts.Rx.FramesCompleted > ts.Arrivals || ts.Arrivals > ts.Rx.FramesCompleted+ts.Lost {
				t.Errorf("%s/%s: subscribers completed %d frames, the ledger saw %d arrive (lost %d)", ts.Participant, ts.Track, ts.Rx.FramesCompleted, ts.Arrivals, ts.Lost)
			}
			if ts.Rx.Packets == 0 || (ts.Lost == 0 && ts.Rx.PacketsLost != 0) {
				t.Errorf("%s/%s: packets %d, packets lost %d with no frame lost", ts.Participant, ts.Track, ts.Rx.Packets, ts.Rx.PacketsLost)
			}
			if ts.Latency.Count() != ts.Delivered {
				t.Errorf("%s/%s: %d latencies for %d frames delivered", ts.Participant, ts.Track, ts.Latency.Count(), ts.Delivered)
			}
			// Loss on loopback is real (an unreliable channel on a busy
			// 2-core machine under -race drops some: UDP buffers overflow
			// while the process waits for a core), and honest figures say
			// so; losing most frames means something is broken.
			if ts.Delivered == 0 || ts.Lost > ts.Expected/2 {
				t.Errorf("%s/%s: delivered %d, lost %d of %d", ts.Participant, ts.Track, ts.Delivered, ts.Lost, ts.Expected)
			}
			if ts.PublishNs <= 0 || !ts.Published || len(ts.SIDs) != 1 {
				t.Errorf("%s/%s: publish %v ns, published %v, SIDs %v", ts.Participant, ts.Track, ts.PublishNs, ts.Published, ts.SIDs)
			}
			t.Logf("%s/%s: sent %d delivered %d lost %d late %d dup %d p50 %.1f ms p99 %.1f ms", ts.Participant, ts.Track, ts.Sent, ts.Delivered, ts.Lost, ts.Late, ts.Duplicates, ms(ts.Latency.Quantile(.5)), ms(ts.Latency.Quantile(.99)))
		}

		// The JSON lines: progress, then one final line with the summary
		// just returned.
		var lines []Line
		sc := bufio.NewScanner(&out)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var l Line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s: %v", sc.Text(), err)
			}
			lines = append(lines, l)
		}
		if len(lines) < 2 {
			t.Fatalf("%d lines", len(lines))
		}
		last := lines[len(lines)-1]
		if !last.Final || last.Summary == nil {
			t.Fatalf("last line is not the final one: %+v", last)
		}
		got, _ := json.Marshal(last.Summary)
		want, _ := json.Marshal(sum)
		if !bytes.Equal(got, want) {
			t.Errorf("final line's summary differs from Run's:\n%s\n%s", got, want)
		}
		var sawSending bool
		for _, l := range lines[:len(lines)-1] {
			if l.Progress == nil || l.Final {
				t.Fatalf("progress line without progress: %+v", l)
			}
			sawSending = sawSending || l.Progress.SentPerSec > 0
		}
		if !sawSending {
			t.Error("no progress line shows frames being sent")
		}
		if kind == testsfu.Released {
			// An embedded SFU an earlier test ran in this process may
			// still start pool workers of its own.
			goleak.VerifyNone(t, ignore, goleak.IgnoreTopFunction("github.com/gammazero/workerpool.worker"),
				goleak.IgnoreTopFunction("github.com/gammazero/workerpool.(*WorkerPool).dispatch"))
		}
	})
}

func TestConfigErrors(t *testing.T) {
	ok := Config{Session: session.Config{URL: "ws://x", APIKey: "k", APISecret: "s"}, Participants: 1, Tracks: []Track{{Name: "a", Rate: 1}}}
	for _, tc := range []struct {
		edit func(*Config)
		want error
		text string
	}{
		{func(c *Config) { c.Session.APISecret = "" }, ErrNoCredentials, ""},
		{func(c *Config) { c.Participants = 0 }, ErrNoParticipants, ""},
		{func(c *Config) { c.Tracks = nil }, ErrNoTracks, ""},
		{func(c *Config) { c.Tracks = append(c.Tracks, Track{Name: "a"}) }, nil, `track "a" given twice`},
		{func(c *Config) { c.Subscribers = -1 }, nil, "subscribers"},
	} {
		c := ok
		c.Tracks = append([]Track(nil), ok.Tracks...)
		tc.edit(&c)
		_, err := Run(context.Background(), c, &bytes.Buffer{})
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || (tc.text != "" && !strings.Contains(err.Error(), tc.text)) {
			t.Errorf("got %v, want %v %q", err, tc.want, tc.text)
		}
	}
}
