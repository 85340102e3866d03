package session

import "time"

// The waits a run built on a session makes (headless, load): one home
// for each default.
const (
	// DefaultFlushTimeout bounds the exit flush: how long a run waits for
	// its tracks' queued frames to leave (Track.Flush) before the ones
	// still queued are dropped as "closed before sent".
	DefaultFlushTimeout = 5 * time.Second
	// DefaultFollowTimeout bounds the wait, after each publish, for the
	// subscribers to follow the track (WaitFollowed, MonitorHolds) before
	// its frames start; past it the run pushes anyway and frames sent
	// before a subscriber follows count as unfollowed, never lost. 10 s
	// leaves room for a load run's subscribers while the ramp connects
	// more; one loopback follows in well under a second.
	DefaultFollowTimeout = 10 * time.Second
	// DefaultReconnectTimeout bounds a full rejoin after the connection
	// is lost (Config.ReconnectTimeout), once resuming failed or took
	// longer than the SFU keeps our participant (about 10 s); past it
	// the session ends disconnected.
	DefaultReconnectTimeout = 30 * time.Second
)
