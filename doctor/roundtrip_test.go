package doctor

import (
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/report"
)

// The round trip's verdict: its p50 and max are the figure; a p50 over
// MaxRoundTrip, or a frame that never came back, fails with what to
// change.
func TestRoundTripCheck(t *testing.T) {
	lat := func(p50, max time.Duration) report.Latency {
		return report.Latency{Frames: RoundTripFrames, P50: p50, Max: max}
	}
	for _, c := range []struct {
		name   string
		lat    report.Latency
		n      int
		why    string
		ok     bool
		figure string
		remedy string
	}{
		{"local", lat(1200*time.Microsecond, 3*time.Millisecond), 0, "", true,
			"p50 1.2ms, max 3ms over 5 frames of 1024 bytes, from push through the SFU to our subscriber", ""},
		{"across an ocean", lat(180*time.Millisecond, 900*time.Millisecond), 0, "", true,
			"p50 180ms, max 900ms over 5 frames", ""},
		{"queued", lat(1200*time.Millisecond, 2*time.Second), 0, "", false,
			"p50 1.2s, max 2s over 5 frames of 1024 bytes, from push through the SFU to our subscriber: over 500ms", "a server nearer to here"},
		{"lost", report.Latency{}, 3, "lost on the way", false,
			"frame 3 of 5 (1024 bytes) did not come back to our subscriber: lost on the way", "UDP to its RTC ports"},
	} {
		got := roundTripCheck(c.lat, c.n, c.why)
		if got.Name != "frame round trip" || got.OK != c.ok || !strings.HasPrefix(got.Figure, c.figure) {
			t.Errorf("%s: %+v, want ok %v and %q", c.name, got, c.ok, c.figure)
		}
		if got.OK != (got.Remedy == "") || !strings.Contains(got.Remedy, c.remedy) {
			t.Errorf("%s: ok %v with remedy %q, want %q", c.name, got.OK, got.Remedy, c.remedy)
		}
	}
}
