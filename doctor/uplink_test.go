package doctor

import (
	"strings"
	"testing"
	"time"
)

// The ramp's verdict from its steps: the highest rate carried whole is
// the figure; a path that loses even the lowest step, or carries less
// than MinUplink, fails with what to change.
func TestUplinkCheck(t *testing.T) {
	ok := func(rate float64) uplinkStep { return uplinkStep{Rate: rate, Pushed: 10, Arrived: 10} }
	lossy := uplinkStep{Rate: 20e6, Pushed: 163, Arrived: 150, Lost: 13}
	behind := uplinkStep{Rate: 50e6, Pushed: 300, Arrived: 300, Behind: true, Duration: 1500 * time.Millisecond}
	late := uplinkStep{Rate: 10e6, Pushed: 80, Arrived: 79} // one frame not in within the settle time
	for _, c := range []struct {
		name   string
		steps  []uplinkStep
		ok     bool
		figure string
	}{
		{"every step", []uplinkStep{ok(1e6), ok(2e6), ok(5e6)}, true, "5 Mbit/s carried without loss, the most tried"},
		{"lost at 20", []uplinkStep{ok(1e6), ok(10e6), lossy}, true, "10 Mbit/s carried without loss; at 20 Mbit/s: 150 of 163 frames arrived"},
		{"sender behind", []uplinkStep{ok(1e6), ok(20e6), behind}, true, "20 Mbit/s carried without loss; at 50 Mbit/s: our sender could not push at the rate (300 frames in 1.5s)"},
		{"late at 10", []uplinkStep{ok(1e6), ok(5e6), late}, true, "5 Mbit/s carried without loss; at 10 Mbit/s: 79 of 80 frames arrived"},
		{"lowest lost", []uplinkStep{{Rate: 1e6, Pushed: 8, Arrived: 5, Lost: 3}}, false, "not even the lowest step was carried without loss (1 Mbit/s: 5 of 8 frames arrived"},
		{"under the minimum", []uplinkStep{ok(0.5e6), {Rate: 1e6, Pushed: 8, Arrived: 7, Lost: 1}}, false, "0.5 Mbit/s carried without loss, less than 1 Mbit/s"},
		{"stopped", []uplinkStep{{Rate: 1e6, Stopped: "the track is gone"}}, false, "(1 Mbit/s: the track is gone"},
	} {
		got := uplinkCheck(c.steps, DefaultUplinkFrame, DefaultUplinkStep)
		if got.Name != "uplink rate" || got.OK != c.ok || !strings.Contains(got.Figure, c.figure) {
			t.Errorf("%s: %+v, want ok %v and %q", c.name, got, c.ok, c.figure)
		}
		if got.OK != (got.Remedy == "") {
			t.Errorf("%s: ok %v with remedy %q", c.name, got.OK, got.Remedy)
		}
		if !strings.Contains(got.Figure, "15360-byte frames, 1s a step") {
			t.Errorf("%s: the figure does not say how it was measured: %q", c.name, got.Figure)
		}
	}
}
