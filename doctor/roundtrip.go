package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session"
)

// The round-trip check pushes small frames one at a time and times each
// from push to arrival at our own subscriber: up to the SFU and back, on
// one clock, so the figure is the path's delay as a telemetry track
// sees it, with no clock offset in it.

// Round-trip check settings.
const (
	// RoundTripFrames are pushed, each after the last arrived: the p50 of
	// a few is not one frame's bad luck.
	RoundTripFrames = 5
	// RoundTripFrame is their size: one packet, so the time is the path's
	// and not reassembly's.
	RoundTripFrame = 1 << 10
	// MaxRoundTrip is the slowest p50 that passes. Up to an SFU on
	// another continent and back is under 300 ms; more than this is
	// frames queued on the way (a relay over TCP, a saturated uplink, an
	// overloaded SFU), which a live stream feels.
	MaxRoundTrip = 500 * time.Millisecond
)

// roundTripCheck is the check's line from the frames' latency, or from
// why frame n (1-based) did not come back (why != "").
func roundTripCheck(lat report.Latency, n int, why string) Check {
	c := Check{Name: "frame round trip"}
	if why != "" {
		c.Figure = fmt.Sprintf("frame %d of %d (%d bytes) did not come back to our subscriber: %s", n, RoundTripFrames, RoundTripFrame, why)
		c.Remedy = "data track frames do not come back through this server: check its logs and that UDP to its RTC ports is open both ways"
		return c
	}
	c.Figure = fmt.Sprintf("p50 %s, max %s over %d frames of %d bytes, from push through the SFU to our subscriber", round(lat.P50), round(lat.Max), lat.Frames, RoundTripFrame)
	if lat.P50 > MaxRoundTrip {
		c.Figure += fmt.Sprintf(": over %s", MaxRoundTrip)
		c.Remedy = "frames queue on the way: use a server nearer to here, a direct UDP path rather than a TURN relay over TCP, or look for a saturated uplink or an overloaded SFU"
		return c
	}
	c.OK = true
	return c
}

// frameRoundTrip runs the check on tr, followed by our subscriber and
// pushed nothing yet: the track's run latency is then these frames'.
func frameRoundTrip(ctx context.Context, s *session.Session, tr *session.Track, o Options) Check {
	start := time.Now()
	for i := range RoundTripFrames {
		if ok, why := roundTrip(ctx, s, tr, RoundTripFrame, o.ArriveTimeout); !ok {
			c := roundTripCheck(report.Latency{}, i+1, why)
			c.Took = time.Since(start)
			return c
		}
	}
	c := roundTripCheck(runLatency(s, tr), 0, "")
	c.Took = time.Since(start)
	return c
}
