package session

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/jsclient"
	"github.com/dttui/dttui/internal/procnet"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/session/probe"
)

// overrunRun is how long each publisher pushes in one BenchmarkOverrun turn.
const overrunRun = 8 * time.Second

// overrunCase is a frame size and an offered rate (probe.MaxRate: flat
// out); sub adds a livekit-client subscriber, for what it receives.
type overrunCase struct {
	name       string
	size, rate int
	sub        bool
}

// overrunCases are the rates livekit-client's publisher sustains on this
// machine, per frame size, then flat out with a subscriber.
var overrunCases = []overrunCase{
	{"1KiB@2000", 1 << 10, 2000, false},
	{"1KiB@8000", 1 << 10, 8000, false},
	{"16000B@1000", 16000, 1000, false},
	{"16000B@2000", 16000, 2000, false},
	{"64KiB@300", 64 << 10, 300, false},
	{"64KiB@500", 64 << 10, 500, false},
	{"1MiB@20", 1 << 20, 20, false},
	{"1KiB@max+sub", 1 << 10, probe.MaxRate, true},
	{"16000B@max+sub", 16000, probe.MaxRate, true},
	{"64KiB@max+sub", 64 << 10, probe.MaxRate, true},
}

// BenchmarkOverrun offers the same steady rates to dttui, driven as its
// users drive it (the probe generator of `--track NAME:RATE:SIZE`, frames
// it cannot queue dropped and counted), and to livekit-client 2.23 in
// headless Chromium (awaiting each tryPush from its page), in turns on one
// SFU, and reads what reached the SFU from the SFU's own per-track
// summary and the kernel's UDP receive-buffer overflows around each turn.
// Per publisher p (dttui, js):
//
//	p-offered-fps   frames the publisher accepted per second (js: the
//	                rate its page achieved, awaiting each tryPush)
//	p-sfu-fps       frames the SFU received per second (its summary)
//	p-up-loss-%     packets lost on the way in: the SFU's sequence gaps
//	p-rcvbuf        datagrams the kernel dropped for a full receive
//	                buffer during the turn (Udp RcvbufErrors, whole host)
//	p-sub-fps       (cases +sub) frames a livekit-client subscriber got
//	js-trypush-fps  frames per second of time spent in tryPush alone
//	x-sub           (cases +sub) dttui-sub-fps / js-sub-fps
//
// Flat out, livekit-client awaits each tryPush and flushes every 16
// frames; dttui's generator offers probe.MaxRate frames/s.
//
//	go test -run '^$' -bench Overrun -benchtime 1x -count 3 -timeout 90m ./session/
func BenchmarkOverrun(b *testing.B) {
	jsclient.Require(b)
	testsfu.Run(b, func(b *testing.B, kind testsfu.Kind) {
		for _, c := range overrunCases {
			b.Run(c.name, func(b *testing.B) {
				for b.Loop() {
					benchOverrun(b, kind, c)
				}
			})
		}
	})
}

// overrunTurn is what one publisher's turn measured.
type overrunTurn struct {
	offered float64 // frames/s the publisher took
	secs    float64 // how long the turn took
	up      sfuTrackStats
	rcvbuf  uint64
}

func benchOverrun(b *testing.B, kind testsfu.Kind, c overrunCase) {
	srv, stats := benchSFU(b, kind)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	room := "overrun-" + randomSuffix()
	dtName, jsName := "dttui-"+c.name+"-"+randomSuffix(), "js-"+c.name+"-"+randomSuffix()

	names := []string{"jspub"}
	if c.sub {
		names = append(names, "jssub")
	}
	js := jsInRoom(ctx, b, srv, room, names...)
	jsPub := js[0]
	if c.sub {
		if _, err := js[1].SubscribeAll(ctx, jsclient.SubscribeOptions{Counters: true, BufferSize: 1 << 14}); err != nil {
			b.Fatal(err)
		}
	}
	s, err := Connect(ctx, Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: room, Logger: testLog})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tr, err := s.Publish(ctx, dtName, false)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := jsPub.Publish(ctx, jsName); err != nil {
		b.Fatal(err)
	}
	if c.sub {
		for _, name := range []string{dtName, jsName} {
			if _, err := js[1].WaitSubscribed(ctx, "", name); err != nil {
				b.Fatal(err)
			}
		}
	}
	rcvbuf := func() uint64 {
		n, err := procnet.UDPRcvbufErrors()
		if err != nil {
			b.Skip(err)
		}
		return n
	}

	// dttui's turn: the generator, as --track runs it.
	var dt overrunTurn
	g, err := probe.NewGenerator(tr.Probe(), float64(c.rate), c.size)
	if err != nil {
		b.Fatal(err)
	}
	r0 := rcvbuf()
	before := tr.Stats()
	start := time.Now()
	if err := g.Start(ctx); err != nil {
		b.Fatal(err)
	}
	time.Sleep(overrunRun)
	g.Stop()
	if err := tr.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	st := tr.Stats()
	dt.secs = time.Since(start).Seconds()
	dt.offered = float64(st.FramesSent-before.FramesSent) / dt.secs
	dt.rcvbuf = rcvbuf() - r0
	// The subscriber's count of dttui's track before it is unpublished
	// (its counters go with the track).
	var dtCounters jsclient.Counters
	if c.sub {
		dtCounters = settleJS(ctx, b, js[1], []string{dtName}, time.Second)
	}
	if err := tr.Unpublish(ctx); err != nil {
		b.Fatal(err)
	}
	dt.up = stats.wait(b, dtName, 10*time.Second)

	// livekit-client's turn.
	var jt overrunTurn
	r0 = rcvbuf()
	push := jsclient.PushOptions{Track: jsName, Count: int(overrunRun.Seconds()) * c.rate, Rate: float64(c.rate), Size: c.size, UserTimestampNow: true}
	if c.rate == probe.MaxRate {
		push.Rate, push.Duration, push.FlushEvery = 0, overrunRun, 16
	}
	res, err := jsPub.Push(ctx, push)
	if err != nil {
		b.Fatal(err)
	}
	jt.secs = max(res.ElapsedMs/1000, overrunRun.Seconds())
	// tryPush hands the packets to the data channel's send queue and
	// returns; the channel drains that queue as Chromium's SCTP sender
	// takes it. Frames per second of tryPush alone show whether the page
	// or the channel is livekit-client's limit.
	b.ReportMetric(float64(res.OK)/max(res.TryPushMs/1000, 1e-3), "js-trypush-fps")
	jt.offered = float64(res.OK) / jt.secs
	jt.rcvbuf = rcvbuf() - r0
	var counters jsclient.Counters
	if c.sub {
		counters = settleJS(ctx, b, js[1], []string{jsName}, time.Second)
	}
	if err := jsPub.Unpublish(ctx, jsName); err != nil {
		b.Fatal(err)
	}
	jt.up = stats.wait(b, jsName, 10*time.Second)

	for _, m := range []struct {
		name     string
		t        overrunTurn
		sub      string
		counters jsclient.Counters
	}{{"dttui", dt, dtName, dtCounters}, {"js", jt, jsName, counters}} {
		b.ReportMetric(m.t.offered, m.name+"-offered-fps")
		b.ReportMetric(float64(m.t.up.Frames)/m.t.secs, m.name+"-sfu-fps")
		b.ReportMetric(100*float64(m.t.up.PacketsLost)/float64(max(1, m.t.up.Packets+m.t.up.PacketsLost)), m.name+"-up-loss-%")
		b.ReportMetric(float64(m.t.rcvbuf), m.name+"-rcvbuf")
		if c.sub {
			sc, _ := m.counters.Track(m.sub)
			b.ReportMetric(float64(sc.Frames)/m.t.secs, m.name+"-sub-fps")
		}
	}
	if c.sub {
		d, _ := dtCounters.Track(dtName)
		j, _ := counters.Track(jsName)
		b.ReportMetric(float64(d.Frames)/float64(max(1, j.Frames)), "x-sub")
	}
	b.Logf("%s on %s: dttui sent %d frames (%s), SFU %+v, rcvbuf +%d; js pushed %d in %.0f ms, SFU %+v, rcvbuf +%d",
		c.name, kind, st.FramesSent, fmt.Sprint(st.DroppedBy), dt.up, dt.rcvbuf, res.OK, res.ElapsedMs, jt.up, jt.rcvbuf)
}
