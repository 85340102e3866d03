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
	last uint32
	used bool
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
	elapsed := c.now().Sub(c.start)
	// Split seconds and remainder so long runs do not overflow int64 math.
	sec := uint64(elapsed / time.Second)
	rem := uint64(elapsed % time.Second)
	ticks := sec*ClockRate + rem*ClockRate/uint64(time.Second)
	ts := c.base + uint32(ticks)
	if elapsed < 0 {
		ts = c.base
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// int32 difference is the wraparound-aware "is ts before last".
	if c.used && int32(ts-c.last) < 0 {
		ts = c.last
	}
	c.last, c.used = ts, true
	return ts
}
