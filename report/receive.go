package report

import (
	"math"
	"math/bits"
)

// Loss is Lost of Expected frames: the figure every loss percentage and
// loss budget is.
type Loss struct{ Lost, Expected uint64 }

// LossOf is the loss of frames received and lost. Expected is the frames
// whose fate is known: those still within their grace period are neither
// yet, so a run's loss does not move as they settle. The sum saturates, as
// a summary file's counts may be anything.
func LossOf(received, lost uint64) Loss {
	exp, carry := bits.Add64(received, lost, 0)
	if carry != 0 {
		exp = math.MaxUint64
	}
	return Loss{Lost: lost, Expected: exp}
}

// Ratio is Lost/Expected; false when no frame was expected.
func (l Loss) Ratio() (float64, bool) {
	if l.Expected == 0 {
		return 0, false
	}
	return float64(l.Lost) / float64(l.Expected), true
}

// Loss is the loopback's loss of the track's frames.
func (r Receive) Loss() Loss { return LossOf(r.Frames, r.Lost) }

// Loss is the loss by the probe frames' own numbers.
func (p *RemoteProbe) Loss() Loss { return LossOf(p.Received, p.Lost) }

// Loss is a room track's loss: by the probe frames' own numbers when
// another dttui publishes it, else the frames that never arrived whole
// (incoming's LostFrames: lost and incomplete).
func (r *Remote) Loss() Loss {
	if r.Probe != nil {
		return r.Probe.Loss()
	}
	return LossOf(r.Stats.FramesCompleted, r.Stats.LostFrames())
}
