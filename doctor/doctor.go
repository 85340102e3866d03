// Package doctor checks a LiveKit deployment for what dttui and data
// tracks need, one check at a time, each with what it measured and, when
// it fails, what to change: can we join; does the server answer a data
// track publish (a server with data tracks off answers with silence, not
// an error); does it store schema blobs; how long a small frame takes
// through the SFU back to our own subscriber; what rate the path carries
// without loss; how large a frame arrives whole; does an end-to-end
// encrypted frame come back decrypted.
package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
)

// Check is one line of the diagnosis.
type Check struct {
	// Name is what was checked ("join", "data tracks", …).
	Name string
	OK   bool
	// Skipped: an earlier check's failure left nothing to check.
	Skipped bool
	// Figure is what was measured, in words.
	Figure string
	// Remedy is what to change when it failed ("" when it passed).
	Remedy string
	Took   time.Duration
}

// Options tune the checks.
type Options struct {
	// PublishTimeout bounds the wait for the SFU's answer to a publish
	// (DefaultPublishTimeout when 0): past it, data tracks count as off.
	PublishTimeout time.Duration
	// ArriveTimeout bounds the wait for one frame at our subscriber
	// (DefaultArriveTimeout when 0).
	ArriveTimeout time.Duration
	// Sizes are the frame sizes tried, ascending (DefaultSizes when nil).
	Sizes []int
	// UplinkRates are the uplink ramp's steps in bits/s, ascending
	// (DefaultUplinkRates when nil), each held UplinkStep
	// (DefaultUplinkStep) with frames of UplinkFrame bytes
	// (DefaultUplinkFrame).
	UplinkRates []float64
	UplinkStep  time.Duration
	UplinkFrame int
}

// Defaults.
const (
	// DefaultPublishTimeout: a server answers a publish in milliseconds;
	// one that has data tracks off never does.
	DefaultPublishTimeout = 5 * time.Second
	// DefaultArriveTimeout: a frame on loopback arrives in milliseconds;
	// a 4 MiB one on a slow path in a few seconds.
	DefaultArriveTimeout = 8 * time.Second
	// E2EEFrames are sent end-to-end encrypted for the round trip.
	E2EEFrames = 5
	// Attempts at each frame size: one frame lost to a moment's
	// congestion is not the path's limit.
	Attempts = 3
)

// DefaultSizes climb from one packet to the largest probe frame, through
// the largest frame LiveKit's JS and Rust subscribers reassemble.
var DefaultSizes = []int{1 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, probe.SubscriberMaxSize(false), probe.MaxSize}

// Run runs every check against the server cfg names (cfg.Loopback on:
// the frame checks need our own subscriber, and so key and secret) and
// returns them in order. A failed join skips the rest.
func Run(ctx context.Context, cfg session.Config, o Options) []Check {
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = DefaultPublishTimeout
	}
	if o.ArriveTimeout <= 0 {
		o.ArriveTimeout = DefaultArriveTimeout
	}
	if o.Sizes == nil {
		o.Sizes = DefaultSizes
	}
	if o.UplinkRates == nil {
		o.UplinkRates = DefaultUplinkRates
	}
	if o.UplinkStep <= 0 {
		o.UplinkStep = DefaultUplinkStep
	}
	if o.UplinkFrame <= 0 {
		o.UplinkFrame = DefaultUplinkFrame
	}
	cfg.Loopback, cfg.Monitor = true, false
	cfg.PublishTimeout = o.PublishTimeout
	if cfg.Room == "" {
		cfg.Room = "dttui-doctor-" + randomHex(3)
	}
	var checks []Check
	// skipRest names the check whose failure left nothing to check: not
	// the last one run (schema blobs runs after data tracks failed).
	skipRest := func(failed string, names ...string) []Check {
		for _, n := range names {
			checks = append(checks, Check{Name: n, Skipped: true, Figure: "not checked: " + failed + " failed"})
		}
		return checks
	}

	start := time.Now()
	s, err := session.Connect(ctx, cfg)
	join := Check{Name: "join", Took: time.Since(start)}
	if err != nil {
		join.Figure = "could not join: " + err.Error()
		join.Remedy = "check the URL (ws:// or wss://, reachable from here), the API key and secret, and that UDP to the server's RTC ports is open"
		checks = append(checks, join)
		return skipRest(join.Name, "data tracks", "schema blobs", "frame round trip", "uplink rate", "largest whole frame", "E2EE round trip")
	}
	defer s.Close()
	st := s.Status()
	join.OK, join.Figure = true, fmt.Sprintf("joined room %s as %s in %s", st.Room, st.Identity, round(join.Took))
	checks = append(checks, join)

	// Data tracks: a publish answered at all.
	start = time.Now()
	tr, err := s.PublishWith(ctx, session.PublishOptions{Name: "doctor"})
	dt := Check{Name: "data tracks", Took: time.Since(start)}
	if err != nil {
		dt.Figure = "publish not accepted: " + err.Error()
		dt.Remedy = "turn data tracks on: enable_data_tracks: true in the server's config (livekit-server ≥ 1.13); a server with them off does not answer a publish"
		checks = append(checks, dt)
		checks = append(checks, blobs(ctx, s))
		return skipRest(dt.Name, "frame round trip", "uplink rate", "largest whole frame", "E2EE round trip")
	}
	dt.OK, dt.Figure = true, fmt.Sprintf("the SFU accepted a data track publish in %s", round(dt.Took))
	checks = append(checks, dt)
	checks = append(checks, blobs(ctx, s))

	wctx, cancel := context.WithTimeout(ctx, o.ArriveTimeout)
	followErr := s.WaitFollowed(wctx, tr)
	cancel()
	// The round trip first, on an idle path; the ramp before the large
	// frames: megabytes still queued toward our subscriber would be
	// counted against the path's rate.
	if followErr != nil {
		for _, n := range []string{"frame round trip", "uplink rate"} {
			checks = append(checks, Check{Name: n, Skipped: true, Figure: "not checked: our subscriber never received the track"})
		}
	} else {
		checks = append(checks, frameRoundTrip(ctx, s, tr, o))
		checks = append(checks, uplink(ctx, s, tr, o))
	}
	checks = append(checks, largest(ctx, s, tr, false, followErr, o))

	checks = append(checks, e2ee(ctx, cfg, o))
	return checks
}

// blobs stores a small schema: livekit-server refuses it without
// enable_participant_data_blob.
func blobs(ctx context.Context, s *session.Session) Check {
	start := time.Now()
	id := schema.ID{Name: "dttui-doctor", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}
	err := s.StoreSchema(ctx, id, []byte(`{"type":"object"}`))
	c := Check{Name: "schema blobs", Took: time.Since(start)}
	if err != nil {
		c.Figure = "a schema could not be stored: " + err.Error()
		c.Remedy = "turn blobs on: enable_participant_data_blob: true in the server's config, or publish typed tracks without a schema (--encoding only)"
		return c
	}
	c.OK, c.Figure = true, fmt.Sprintf("stored a schema in %s", round(c.Took))
	return c
}

// largest pushes one frame of each size and waits for it at our
// subscriber: the largest that arrives whole, the first that does not.
func largest(ctx context.Context, s *session.Session, tr *session.Track, e2ee bool, followErr error, o Options) Check {
	start := time.Now()
	c := Check{Name: "largest whole frame"}
	if followErr != nil {
		c.Took = time.Since(start)
		c.Figure = "our own subscriber never received the track: " + followErr.Error()
		c.Remedy = "the SFU does not forward data tracks to subscribers: check its version (≥ 1.13) and logs"
		return c
	}
	whole, failedAt := 0, 0
	var why string
sizes:
	for _, size := range o.Sizes {
		for range Attempts {
			ok, reason := roundTrip(ctx, s, tr, size, o.ArriveTimeout)
			if ok {
				whole = size
				continue sizes
			}
			why = reason
			if ctx.Err() != nil {
				break
			}
		}
		failedAt = size
		break
	}
	c.Took = time.Since(start)
	limit := probe.SubscriberMaxSize(e2ee)
	note := fmt.Sprintf("; livekit-client and the Rust SDK drop frames of more than 128 packets (over %d bytes)", limit)
	switch {
	case failedAt == 0:
		c.OK = true
		c.Figure = fmt.Sprintf("%d bytes (%d packets) arrived whole at our subscriber, the largest tried%s", whole, probe.Packets(whole, e2ee), note)
	case whole == 0:
		c.Figure = fmt.Sprintf("no frame arrived whole, not even %d bytes: %s", failedAt, why)
		c.Remedy = "data track frames do not come back through this server: check its logs and that UDP to its RTC ports is open both ways"
	default:
		c.Figure = fmt.Sprintf("%d bytes arrived whole, %d bytes did not in %d tries (%s)%s", whole, failedAt, Attempts, why, note)
		c.Remedy = fmt.Sprintf("keep frames at or under %d bytes on this path, or find what drops larger ones (the SFU's target latency, a proxy's message limit)", whole)
	}
	return c
}

// roundTrip pushes one probe frame of size and waits for our subscriber
// to receive it whole.
func roundTrip(ctx context.Context, s *session.Session, tr *session.Track, size int, timeout time.Duration) (bool, string) {
	before, ok := local(s, tr)
	if !ok {
		return false, "the track is gone"
	}
	shedBefore := shedTo(s, tr)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := tr.Probe().PushWait(pctx, size); err != nil {
		return false, "not pushed: " + err.Error()
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-pctx.Done():
			return false, fmt.Sprintf("not at our subscriber within %s", timeout)
		case <-tick.C:
		}
		now, ok := local(s, tr)
		if !ok {
			return false, "the track is gone"
		}
		switch {
		case now.Corrupt > before.Corrupt:
			return false, "it arrived corrupt"
		case now.Frames > before.Frames:
			return true, ""
		case now.Lost > before.Lost || now.Incomplete > before.Incomplete:
			if shed := shedTo(s, tr); shed > shedBefore {
				return false, fmt.Sprintf("the SFU shed %d of its packets toward our subscriber: more than its target latency was queued", shed-shedBefore)
			}
			return false, "lost on the way"
		}
	}
}

// local is what our subscriber received of tr so far.
func local(s *session.Session, tr *session.Track) (report.Receive, bool) {
	for _, l := range s.ReportScope(nil, report.Scope{History: 1, NoRun: true}).Local {
		if l.Handle == tr.Handle() && l.Rx != nil {
			return *l.Rx, true
		}
	}
	return report.Receive{}, false
}

// runLatency is tr's push-to-arrival latency at our subscriber so far.
func runLatency(s *session.Session, tr *session.Track) report.Latency {
	for _, l := range s.ReportScope(nil, report.Scope{History: 1}).Local {
		if l.Handle == tr.Handle() {
			return l.RunLatency
		}
	}
	return report.Latency{}
}

// shedTo is the packets of tr the SFU says it shed toward our subscriber
// (the embedded SFU's account; 0 from a remote one).
func shedTo(s *session.Session, tr *session.Track) uint64 {
	for _, l := range s.ReportScope(nil, report.Scope{History: 1, NoRun: true}).Local {
		if l.Handle == tr.Handle() && l.SFU != nil {
			return l.SFU.Shed
		}
	}
	return 0
}

// e2ee joins again with a fresh passphrase, publishes an encrypted track
// and waits for our subscriber to decrypt E2EEFrames of its frames.
func e2ee(ctx context.Context, cfg session.Config, o Options) Check {
	start := time.Now()
	c := Check{Name: "E2EE round trip"}
	cfg.E2EEPassphrase = "dttui-doctor-" + randomHex(16)
	cfg.Identity = ""
	fail := func(figure string) Check {
		c.Took, c.Figure = time.Since(start), figure
		c.Remedy = "end-to-end encrypted data tracks do not come back decrypted: check that the server forwards the E2EE extension (livekit-server ≥ 1.13) and that no proxy rewrites packets"
		return c
	}
	s, err := session.Connect(ctx, cfg)
	if err != nil {
		return fail("could not join a second time: " + err.Error())
	}
	defer s.Close()
	tr, err := s.PublishWith(ctx, session.PublishOptions{Name: "doctor-e2ee", E2EE: true})
	if err != nil {
		return fail("an encrypted publish was not accepted: " + err.Error())
	}
	wctx, cancel := context.WithTimeout(ctx, o.ArriveTimeout)
	err = s.WaitFollowed(wctx, tr)
	cancel()
	if err != nil {
		return fail("our own subscriber never received the encrypted track: " + err.Error())
	}
	for i := range E2EEFrames {
		if ok, why := roundTrip(ctx, s, tr, 1<<10, o.ArriveTimeout); !ok {
			return fail(fmt.Sprintf("frame %d of %d did not come back decrypted: %s", i+1, E2EEFrames, why))
		}
	}
	c.OK, c.Took = true, time.Since(start)
	c.Figure = fmt.Sprintf("%d of %d AES-GCM frames encrypted, forwarded and decrypted by our subscriber, intact, in %s", E2EEFrames, E2EEFrames, round(c.Took))
	return c
}

// Failed says whether any check failed (skipped ones count: they could
// not be made).
func Failed(cs []Check) bool {
	for _, c := range cs {
		if !c.OK {
			return true
		}
	}
	return false
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
