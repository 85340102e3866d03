package outgoing

import (
	"sync"
	"sync/atomic"
)

// DefaultMaxRequestsInFlight bounds the publish, republish and unpublish
// requests awaiting the SFU's answer. livekit-server queues at most 200
// signal requests per connection ahead of the room (its
// routing.DefaultMessageChannelSize) and drops the signal connection when
// that queue is full: 256 publishes sent at once lose the connection, and
// the requests still queued are never answered. 32 leaves the SFU room
// for everything else a client sends meanwhile.
const DefaultMaxRequestsInFlight = 32

// requestGate lets at most max requests be out at once; the others wait,
// in order, for an answer to free a slot.
type requestGate struct {
	mu    sync.Mutex
	max   int
	n     int           // slots taken
	queue []func() bool // sends waiting for a slot
}

// do runs send at once if a slot is free, else queues it. send reports
// whether it kept the slot (its request is out, or its failure already
// gave the slot back through its requestSlot); false hands the slot on.
// do reports whether send ran before it returned.
func (g *requestGate) do(send func() bool) bool {
	g.mu.Lock()
	if g.n >= g.max {
		g.queue = append(g.queue, send)
		g.mu.Unlock()
		return false
	}
	g.n++
	g.mu.Unlock()
	if !send() {
		g.release()
	}
	return true
}

// release frees a slot: the next waiting send takes it.
func (g *requestGate) release() {
	for {
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.n--
			g.mu.Unlock()
			return
		}
		send := g.queue[0]
		g.queue[0] = nil
		g.queue = g.queue[1:]
		g.mu.Unlock()
		if send() {
			return
		}
	}
}

// waiting is how many sends wait for a slot.
func (g *requestGate) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

// requestSlot is one request's claim on a gate slot: queued until its
// send runs (take), held while the request is out, done once its outcome
// is known (end). Whichever of send and outcome comes second sees the
// other's state, so the slot is released exactly once, and only if held.
type requestSlot struct{ state atomic.Int32 }

const (
	slotQueued int32 = iota
	slotHeld
	slotDone
)

// take marks the slot held; false if the outcome came first.
func (s *requestSlot) take() bool { return s.state.CompareAndSwap(slotQueued, slotHeld) }

// end marks the outcome known and reports whether the slot was held (the
// caller then releases it) — false also means the request never went out.
func (s *requestSlot) end() (held bool) { return s.state.Swap(slotDone) == slotHeld }
