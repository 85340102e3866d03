package record

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/foxglove/mcap/go/mcap"
)

// Control steers a replay from another goroutine (the UI's keys): pause,
// seek, speed. Play reads it before each message and wakes from a wait
// when it changes.
type Control struct {
	mu       sync.Mutex
	paused   bool
	speed    float64
	seekTo   time.Duration
	seeking  bool
	pos, dur time.Duration
	changed  chan struct{} // closed on a change, then replaced
}

// PlayState is where a replay is.
type PlayState struct {
	Position, Duration time.Duration // into the file; Duration 0: unknown
	Speed              float64
	Paused             bool
}

// NewControl starts a replay at speed over a file of duration (0:
// unknown, from a file without a summary).
func NewControl(speed float64, duration time.Duration) *Control {
	return &Control{speed: speed, dur: duration, changed: make(chan struct{})}
}

func (c *Control) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// State is where the replay is.
func (c *Control) State() PlayState {
	c.mu.Lock()
	defer c.mu.Unlock()
	pos := c.pos
	if c.seeking {
		pos = c.seekTo
	}
	return PlayState{Position: pos, Duration: c.dur, Speed: c.speed, Paused: c.paused}
}

// TogglePause pauses the replay, or resumes it.
func (c *Control) TogglePause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = !c.paused
	c.notify()
}

// SeekBy moves the replay by d (back when negative), within the file.
func (c *Control) SeekBy(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	from := c.pos
	if c.seeking {
		from = c.seekTo
	}
	to := max(from+d, 0)
	if c.dur > 0 {
		to = min(to, c.dur)
	}
	c.seekTo, c.seeking = to, true
	c.notify()
}

// SetSpeed changes the speed (kept within (0, MaxSpeed]).
func (c *Control) SetSpeed(x float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.speed = min(max(x, MinSpeed), MaxSpeed)
	c.notify()
}

// The speeds a replay takes: 1/1000 of the recorded pace to 1000 times it.
const (
	MinSpeed = 0.001
	MaxSpeed = 1000
)

// take reads the control for the message at pos: a seek to take (once),
// the speed, whether paused, and the channel a change closes.
func (c *Control) take(pos time.Duration) (seekTo time.Duration, seek bool, speed float64, paused bool, changed <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seekTo, seek = c.seekTo, c.seeking
	c.seeking = false
	if !seek {
		c.pos = pos
	}
	return seekTo, seek, c.speed, c.paused, c.changed
}

// errRestart ends a pass to read the file again from a position behind.
var errRestart = errors.New("record: seek back")

// SendFunc sends one message, at pos into the file; Data is valid only
// during the call.
type SendFunc func(ch *Channel, m *mcap.Message, pos time.Duration) error

// Play sends the messages of the file at path, from start into it, at the
// recorded timing paced by p, under c (pause, seek, speed); with loop, it
// plays the file again from its beginning until ctx ends. It returns nil
// at the end of the file (without loop), ctx's error, or send's.
func Play(ctx context.Context, path string, c *Control, p *Pacer, start time.Duration, loop bool, send SendFunc) error {
	for {
		var first uint64
		started := false
		err := Read(path, func(ch *Channel, m *mcap.Message) error {
			if !started {
				first, started = m.LogTime, true
			}
			var pos time.Duration
			if m.LogTime > first {
				pos = time.Duration(m.LogTime - first)
			}
			for {
				to, seek, speed, paused, changed := c.take(pos)
				if seek {
					start = to
					p.Restart()
					if to < pos {
						return errRestart
					}
				}
				if pos < start {
					return nil
				}
				if speed != p.Speed {
					p.Speed = speed
					p.Restart() // the new pace counts from this message
				}
				if paused {
					p.Restart()
					select {
					case <-changed:
						continue
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				woken, err := p.WaitOr(ctx, m.LogTime, changed)
				if err != nil {
					return err
				}
				if !woken {
					break
				}
				// The control changed during the wait: read it again.
			}
			return send(ch, m, pos)
		})
		switch {
		case errors.Is(err, errRestart):
			continue
		case err != nil:
			return err
		case !loop:
			return nil
		}
		start = 0
		p.Restart()
	}
}
