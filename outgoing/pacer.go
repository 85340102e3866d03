package outgoing

import "time"

// Frame pacing. A frame of several packets written at the uplink's full
// speed arrives at the SFU as a burst, and the SFU forwards it at once to
// every subscriber: at each subscriber slower than our uplink it queues.
// The SFU drops packets queued toward a subscriber beyond its target
// latency (livekit-server's datachannel_data_track_target_latency, 100 ms
// by default), and a frame missing one packet is lost whole. Spread over
// part of the time until the track's next frame is due, the same frame
// reaches the SFU at the lowest rate that still keeps up with the track
// (twice the track's mean rate, with the default share), and the queues
// toward slow subscribers stay short.
//
// Pacing only reshapes idle time: a track with frames waiting in its queue
// is never paced, so it never lowers what a track can send, and
// single-packet frames are never delayed.
const (
	// DefaultPaceShare is the share of the time between a track's frames
	// over which a frame's packets are spread.
	DefaultPaceShare = 0.5
	// MaxPaceSpread bounds the spread of one frame, and so the latency
	// pacing adds to it, for tracks that send seldom.
	MaxPaceSpread = 500 * time.Millisecond
	// minPaceWait is the shortest wait worth a timer; a packet due sooner
	// goes out at once.
	minPaceWait = 200 * time.Microsecond
)

// pacer plans the spread of one track's frames. It is owned by the
// track's sender goroutine.
type pacer struct {
	share     float64
	lastStart time.Time
	gap       time.Duration // the latest time between two frame starts
	smoothed  time.Duration // its moving average; 0 until two frames started
}

// begin is called when a frame of packets packets starts at now (the
// sender calls it for multi-packet frames only, so gaps are between those);
// backlogged says other frames already wait behind it. It returns how
// long the frame's packets should take in all (0: send them at once).
func (p *pacer) begin(now time.Time, packets int, backlogged bool) time.Duration {
	if !p.lastStart.IsZero() {
		p.gap = now.Sub(p.lastStart)
		if p.smoothed == 0 {
			p.smoothed = p.gap
		} else {
			p.smoothed += (p.gap - p.smoothed) / 4
		}
	}
	p.lastStart = now
	if p.share <= 0 || backlogged || packets < 2 || p.smoothed <= 0 {
		return 0
	}
	// The shorter of the two: a track that speeds up is followed at once,
	// one that slows down over a few frames.
	spread := time.Duration(float64(min(p.gap, p.smoothed)) * p.share)
	return min(spread, MaxPaceSpread)
}

// due is when the packet that starts after sent of total bytes should
// go out, for a frame that started at start and is spread over spread.
func due(start time.Time, spread time.Duration, sent, total int) time.Time {
	if total <= 0 {
		return start
	}
	return start.Add(time.Duration(float64(spread) * float64(sent) / float64(total)))
}
