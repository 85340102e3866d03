package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/dttui/dttui/session"
)

// The uplink check ramps the rate of probe frames from our publisher to
// our own subscriber, one step at a time, and reports the highest rate
// every frame of a step arrived at, whole and in time: what the path (our
// uplink, the SFU, and back) carries without loss.

// Defaults of the uplink ramp.
const (
	// DefaultUplinkFrame is one packet's worth of payload: the rate is
	// the path's, not reassembly's.
	DefaultUplinkFrame = 15 << 10
	// DefaultUplinkStep is how long each rate is held.
	DefaultUplinkStep = time.Second
	// UplinkSettle is how long after a step's last push its frames may
	// take to arrive: a rate that queues longer is not carried.
	UplinkSettle = 2 * time.Second
	// MinUplink is the least a path must carry without loss to pass
	// (bits/s): below it a telemetry track of modest frames is lossy.
	MinUplink = 1e6
)

// DefaultUplinkRates are the steps, in bits per second.
var DefaultUplinkRates = []float64{1e6, 2e6, 5e6, 10e6, 20e6, 50e6}

// uplinkStep is one rate tried: frames pushed and what arrived of them.
type uplinkStep struct {
	Rate     float64 // bits/s
	Pushed   uint64
	Arrived  uint64
	Lost     uint64 // lost or given up incomplete by our subscriber
	Behind   bool   // the sender could not push at the rate
	Stopped  string // why the step ended early ("" when it ran)
	Duration time.Duration
}

// carried: every frame pushed at the rate arrived, and the sender kept up.
func (st uplinkStep) carried() bool {
	return st.Stopped == "" && !st.Behind && st.Pushed > 0 && st.Arrived >= st.Pushed && st.Lost == 0
}

func (st uplinkStep) String() string {
	switch {
	case st.Stopped != "":
		return fmt.Sprintf("%s: %s", mbit(st.Rate), st.Stopped)
	case st.Behind:
		return fmt.Sprintf("%s: our sender could not push at the rate (%d frames in %s)", mbit(st.Rate), st.Pushed, round(st.Duration))
	}
	return fmt.Sprintf("%s: %d of %d frames arrived", mbit(st.Rate), st.Arrived, st.Pushed)
}

func mbit(bps float64) string { return fmt.Sprintf("%g Mbit/s", bps/1e6) }

// uplinkCheck is the check's line from the steps run, in order (the ramp
// stops at the first step not carried).
func uplinkCheck(steps []uplinkStep, frame int, step time.Duration) Check {
	c := Check{Name: "uplink rate"}
	best, bestAt := 0.0, -1
	for i, st := range steps {
		if !st.carried() {
			break
		}
		best, bestAt = st.Rate, i
	}
	how := fmt.Sprintf("%d-byte frames, %s a step, from our publisher through the SFU to our subscriber", frame, step)
	switch {
	case bestAt < 0 && len(steps) > 0:
		c.Figure = fmt.Sprintf("not even the lowest step was carried without loss (%s; %s)", steps[0], how)
		c.Remedy = "the path loses data at a low rate: look for packet loss toward the server (UDP to its RTC ports), a rate cap on the way, or an SFU too loaded to forward"
	case bestAt < 0:
		c.Figure = "nothing was tried"
	case best < MinUplink:
		c.Figure = fmt.Sprintf("%s carried without loss, less than %s (%s)", mbit(best), mbit(MinUplink), how)
		c.Remedy = "the path carries less than a modest track needs: find the link that caps it, or keep tracks under " + mbit(best)
	case bestAt == len(steps)-1:
		c.OK = true
		c.Figure = fmt.Sprintf("%s carried without loss, the most tried (%s)", mbit(best), how)
	default:
		c.OK = true
		c.Figure = fmt.Sprintf("%s carried without loss; at %s (%s): keep this path's tracks together under %s",
			mbit(best), steps[bestAt+1], how, mbit(best))
	}
	return c
}

// uplink runs the ramp on tr (already followed by our subscriber).
func uplink(ctx context.Context, s *session.Session, tr *session.Track, o Options) Check {
	start := time.Now()
	var steps []uplinkStep
	for _, rate := range o.UplinkRates {
		st := uplinkAt(ctx, s, tr, rate, o.UplinkFrame, o.UplinkStep)
		steps = append(steps, st)
		if !st.carried() || ctx.Err() != nil {
			break
		}
	}
	c := uplinkCheck(steps, o.UplinkFrame, o.UplinkStep)
	c.Took = time.Since(start)
	drain(ctx, s, tr)
	return c
}

// UplinkDrain bounds the wait, after the ramp, for what its last step left
// queued (in our sender, the SFU, toward our subscriber) to arrive or be
// counted lost: the checks after it must not queue behind megabytes of it.
const UplinkDrain = 10 * time.Second

// drain flushes tr and waits until every frame sent has arrived at our
// subscriber or been counted lost, for at most UplinkDrain.
func drain(ctx context.Context, s *session.Session, tr *session.Track) {
	dctx, cancel := context.WithTimeout(ctx, UplinkDrain)
	defer cancel()
	_ = tr.Flush(dctx)
	for {
		if rx, ok := local(s, tr); !ok || rx.InGrace == 0 {
			return
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-dctx.Done():
			return
		}
	}
}

// uplinkAt pushes frames of size at rate for d, paced, then waits up to
// UplinkSettle for them at our subscriber.
func uplinkAt(ctx context.Context, s *session.Session, tr *session.Track, rate float64, size int, d time.Duration) uplinkStep {
	st := uplinkStep{Rate: rate}
	before, ok := local(s, tr)
	if !ok {
		st.Stopped = "the track is gone"
		return st
	}
	interval := time.Duration(float64(size*8) / rate * float64(time.Second))
	n := max(1, int(d/interval))
	start := time.Now()
	pctx, cancel := context.WithDeadline(ctx, start.Add(d+d/4))
	defer cancel()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-pctx.Done():
			}
		}
		if err := tr.Probe().PushWait(pctx, size); err != nil {
			if ctx.Err() != nil {
				st.Stopped = "stopped: " + ctx.Err().Error()
				return st
			}
			st.Behind = true // the sender's queue stayed full past the step
			break
		}
		st.Pushed++
	}
	st.Duration = time.Since(start)
	// A quarter over the step's length: the rate was not kept.
	st.Behind = st.Behind || st.Duration > d+d/4
	deadline := time.Now().Add(UplinkSettle)
	for {
		now, ok := local(s, tr)
		if !ok {
			st.Stopped = "the track is gone"
			return st
		}
		st.Arrived = now.Frames - before.Frames
		st.Lost = (now.Lost - before.Lost) + (now.Incomplete - before.Incomplete) + (now.Corrupt - before.Corrupt)
		if st.Arrived >= st.Pushed || st.Lost > 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return st
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}
