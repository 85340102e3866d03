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
// Twice the mean rate is still too fast for the largest frames: a 4 MiB
// frame every second, spread over 500 ms, reaches the SFU at 67 Mbit/s,
// faster than the SFU drained it toward a subscriber on a busy machine
// (its own estimates, logged with each packet it shed: 20–57 Mbit/s), so
// it shed packets of most such frames. A frame is therefore also spread
// at no more than the pace rate, as far as the track's own rate allows
// (at most MaxRateShare of its interval, and MaxRateSpread). That rate
// also paces a track's first frame, which has no interval yet: sent at
// once, a 2 MiB first frame was the one the SFU shed most often.
//
// Pacing only reshapes idle time: a track with frames waiting in its queue
// is never paced, so it never lowers what a track can send, and
// single-packet frames are never delayed.
const (
	// DefaultPaceShare is the share of the time between a track's frames
	// over which a frame's packets are spread.
	DefaultPaceShare = 0.5
	// MaxPaceSpread bounds the spread by share of one frame, and so the
	// latency that adds to it, for tracks that send seldom.
	MaxPaceSpread = 500 * time.Millisecond
	// DefaultPaceRate (bytes/s) is the rate a frame's packets go out at
	// most, within MaxRateShare and MaxRateSpread: 32 Mbit/s, below what
	// the SFU drained toward a subscriber on a busy machine.
	DefaultPaceRate = 4_000_000
	// MaxRateShare is the largest share of the time between a track's
	// frames the pace rate may spread a frame over, so the track keeps up
	// with its own frames.
	MaxRateShare = 0.9
	// MaxRateSpread bounds the spread by rate of one frame: a frame larger
	// than DefaultPaceRate × MaxRateSpread goes out faster.
	MaxRateSpread = time.Second
	// minPaceWait is the shortest wait worth a timer; a packet due sooner
	// goes out at once.
	minPaceWait = 200 * time.Microsecond
)

// pacer plans the spread of one track's frames. It is owned by the
// track's sender goroutine.
type pacer struct {
	share     float64
	rate      int // bytes/s; ≤ 0: no spread by rate
	lastStart time.Time
	gap       time.Duration // the latest time between two frame starts
	smoothed  time.Duration // its moving average; 0 until two frames started
}

// begin is called when a frame of packets packets and size bytes starts
// at now (the sender calls it for multi-packet frames only, so gaps are
// between those); backlogged says other frames already wait behind it. It
// returns how long the frame's packets should take in all (0: send them
// at once).
func (p *pacer) begin(now time.Time, packets, size int, backlogged bool) time.Duration {
	if !p.lastStart.IsZero() {
		p.gap = now.Sub(p.lastStart)
		if p.smoothed == 0 {
			p.smoothed = p.gap
		} else {
			p.smoothed += (p.gap - p.smoothed) / 4
		}
	}
	p.lastStart = now
	if p.share <= 0 || backlogged || packets < 2 {
		return 0
	}
	byRate := time.Duration(0)
	if p.rate > 0 {
		byRate = min(time.Duration(int64(size)*int64(time.Second)/int64(p.rate)), MaxRateSpread)
	}
	if p.smoothed <= 0 {
		return byRate // the first frame: no interval known
	}
	// The shorter of the two: a track that speeds up is followed at once,
	// one that slows down over a few frames.
	interval := min(p.gap, p.smoothed)
	byShare := min(time.Duration(float64(interval)*p.share), MaxPaceSpread)
	byRate = min(byRate, time.Duration(float64(interval)*MaxRateShare))
	return max(byShare, byRate)
}

// due is when the packet that starts after sent of total bytes should
// go out, for a frame that started at start and is spread over spread.
func due(start time.Time, spread time.Duration, sent, total int) time.Time {
	if total <= 0 {
		return start
	}
	return start.Add(time.Duration(float64(spread) * float64(sent) / float64(total)))
}
