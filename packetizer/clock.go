package packetizer

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// ClockRate is the timestamp rate in Hz, as for RTP video.
const ClockRate = 90_000

// Clock turns wall time into 90 kHz timestamps from a random base, like
// RTP: the SFU does not interpret the value, but subscribers can use it to
// pace frames. Timestamps never go backwards in wraparound space, even if
// the wall clock does.
type Clock struct {
	now   func() time.Time
	start time.Time
	base  uint32

	mu   sync.Mutex
	last uint64 // elapsed ticks behind the last timestamp returned
}

// NewClock returns a clock reading now (time.Now when nil).
func NewClock(now func() time.Time) *Clock {
	if now == nil {
		now = time.Now
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return newClockWithBase(now, binary.BigEndian.Uint32(b[:]))
}

func newClockWithBase(now func() time.Time, base uint32) *Clock {
	return &Clock{now: now, start: now(), base: base}
}

// Now returns the current timestamp.
func (c *Clock) Now() uint32 {
	ticks := elapsedTicks(c.now().Sub(c.start))
	c.mu.Lock()
	defer c.mu.Unlock()
	// Keep it monotonic in 64-bit elapsed ticks, before truncating: compared
	// as 32-bit timestamps in wraparound space, a gap of more than 2^31 ticks
	// (6.6 h idle) looks like going backwards and would freeze the clock.
	c.last = max(c.last, ticks)
	return c.base + uint32(c.last)
}

// elapsedTicks converts d to 90 kHz ticks; negative durations (a clock that
// stepped back before the first reading) count as 0.
func elapsedTicks(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	// Split seconds and remainder so d*ClockRate cannot overflow int64.
	sec := uint64(d / time.Second)
	rem := uint64(d % time.Second)
	return sec*ClockRate + rem*ClockRate/uint64(time.Second)
}
