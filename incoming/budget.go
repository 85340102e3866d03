package incoming

import (
	"fmt"
	"time"
)

// Defaults of the memory budget (Options.MaxHeldBytes and the rest).
const (
	// DefaultMaxHeldBytes is the memory the manager lets other
	// participants make it hold for their partial frames, across every
	// track: payload plus packetizer.PacketOverhead per packet, and the
	// buffers kept for reuse. The Go heap around it may reach twice that
	// before the garbage collector runs, so this keeps dttui well under
	// 1 GB whatever the room sends.
	DefaultMaxHeldBytes = 256 << 20
	// DefaultMaxTracks is how many published tracks the manager follows
	// at once, a participant at most half of them (DefaultTrackShare). A
	// followed remote track costs about 10 KB here and up to about 250 KB
	// in the report's recorder once its 15 minutes of history are full:
	// 1 024 of them about 260 MB, beside the partial frames' budget.
	DefaultMaxTracks = 1024
	// DefaultTrackShare: one participant may have MaxTracks / 2 followed.
	DefaultTrackShare = 2
	// DefaultMaxUnpublished is how many unpublished tracks' rows (their
	// stats and history, kept for the user to read) are remembered: past
	// it the oldest announced are forgotten, counted, so a participant
	// publishing and unpublishing tracks without end cannot grow them.
	DefaultMaxUnpublished = 256
	// DefaultPartialTimeout is how long a track's partial frame may wait
	// for its next packet: a sender writes a frame's packets back to
	// back, so one waiting this long belongs to a track gone silent.
	DefaultPartialTimeout = 5 * time.Second
)

// DefaultParticipantShare is the share of MaxHeldBytes one participant's
// tracks may hold together when Options.MaxHeldPerParticipant is not
// set: a room of a few publishers can each use a good part of the
// budget, and no one of them all of it.
const DefaultParticipantShare = 4 // MaxHeldBytes / 4

// EvictReason says why partial frames were given up to bound memory.
type EvictReason int

const (
	// EvictRoomBudget: every track together held more than MaxHeldBytes;
	// the participant holding the most gave up its oldest partial frame.
	EvictRoomBudget EvictReason = iota
	// EvictParticipantShare: one participant's tracks together held more
	// than MaxHeldPerParticipant; its oldest partial frame was given up.
	EvictParticipantShare
	// EvictIdle: a partial frame waited PartialTimeout for its next packet
	// (its track went silent).
	EvictIdle
	NumEvictReasons
)

var evictNames = [...]string{"room budget", "participant share", "idle"}

func (r EvictReason) String() string {
	if r >= 0 && int(r) < len(evictNames) {
		return evictNames[r]
	}
	return fmt.Sprintf("evict(%d)", int(r))
}

// Held is the manager's account of the memory other participants make it
// hold (Stats.Held).
type Held struct {
	// Bytes is held now, Peak the most held after any packet was handled
	// (a packet may take it over the budget until its own eviction).
	Bytes, Peak int
	// Budget is MaxHeldBytes; PerParticipant is MaxHeldPerParticipant.
	Budget, PerParticipant int
	// Evicted counts partial frames given up, by reason; EvictedBytes the
	// bytes that gave back.
	Evicted      [NumEvictReasons]uint64
	EvictedBytes [NumEvictReasons]uint64
	// TracksRefused is how many tracks published now are not followed:
	// past Options.MaxTracks, or their participant's share of it.
	TracksRefused int
	// TracksForgotten counts unpublished tracks forgotten to keep at most
	// DefaultMaxUnpublished of them (ForgetUnpublished).
	TracksForgotten uint64
}

// EvictedTotal sums Evicted.
func (h *Held) EvictedTotal() uint64 {
	var n uint64
	for _, c := range h.Evicted {
		n += c
	}
	return n
}

// holder is what one participant's tracks hold together.
type holder struct {
	held   int
	tracks []*RemoteTrack
}

// holderLocked returns the account of the participant with this SID.
func (m *Manager) holderLocked(sid string) *holder {
	h := m.holders[sid]
	if h == nil {
		h = &holder{}
		m.holders[sid] = h
	}
	return h
}

// syncHeldLocked brings the accounts up to what t holds now.
func (m *Manager) syncHeldLocked(t *RemoteTrack) {
	n := cap(t.plain)
	if t.depkt != nil {
		n += t.depkt.Held()
	}
	if d := n - t.held; d != 0 {
		t.held = n
		t.holder.held += d
		m.held.Bytes += d
	}
}

// boundHeldLocked runs after a packet of t was handled: over the share of
// t's publisher or the room's budget, partial frames are given up until
// neither is exceeded. Each step gives back memory or stops, so it ends.
func (m *Manager) boundHeldLocked(t *RemoteTrack) {
	m.syncHeldLocked(t)
	for {
		var h *holder
		var why EvictReason
		switch {
		case t.holder.held > m.held.PerParticipant:
			h, why = t.holder, EvictParticipantShare
		case m.held.Bytes > m.held.Budget:
			h, why = m.largestHolderLocked(), EvictRoomBudget
		}
		if h == nil || !m.reclaimLocked(h, why) {
			break
		}
	}
	m.held.Peak = max(m.held.Peak, m.held.Bytes)
}

// largestHolderLocked is the participant holding the most.
func (m *Manager) largestHolderLocked() *holder {
	var top *holder
	for _, h := range m.holders {
		if top == nil || h.held > top.held {
			top = h
		}
	}
	return top
}

// reclaimLocked gives back some of what h holds: its buffers kept for
// reuse if any, else its oldest partial frame (counted, by why). It
// reports whether anything was given back.
func (m *Manager) reclaimLocked(h *holder, why EvictReason) bool {
	before := h.held
	var victim *RemoteTrack
	var oldest time.Time
	for _, t := range h.tracks {
		if t.held == 0 {
			continue
		}
		t.plain = nil
		if t.depkt != nil {
			t.depkt.Trim()
			if at, ok := t.depkt.Oldest(); ok && (victim == nil || at.Before(oldest)) {
				victim, oldest = t, at
			}
		}
		m.syncHeldLocked(t)
	}
	if h.held < before {
		return true
	}
	if victim == nil {
		return false
	}
	m.evictLocked(victim, why)
	return h.held < before
}

// evictLocked gives up t's oldest partial frame for why.
func (m *Manager) evictLocked(t *RemoteTrack, why EvictReason) {
	freed := t.depkt.Reclaim()
	t.evicted[why]++
	m.held.Evicted[why]++
	m.held.EvictedBytes[why] += uint64(freed)
	m.syncHeldLocked(t)
}

// expireIdleLocked runs after t.expire: it gives up t's partial frames
// whose newest packet is PartialTimeout old, and its buffers once its
// packets stopped that long.
func (m *Manager) expireIdleLocked(t *RemoteTrack, now time.Time) {
	if t.depkt == nil {
		return
	}
	for {
		at, ok := t.depkt.Oldest()
		if !ok || now.Sub(at) < m.opts.PartialTimeout {
			break
		}
		m.evictLocked(t, EvictIdle)
	}
	if now.Sub(t.c.lastAt) >= m.opts.PartialTimeout {
		t.depkt.Trim()
		t.plain = nil
	}
	// Expire took back the buffer of the last frame it lent: within bounds
	// too.
	m.boundHeldLocked(t)
}

// live counts h's tracks not unpublished.
func (h *holder) live() int {
	n := 0
	for _, t := range h.tracks {
		if t.State() != StateUnpublished {
			n++
		}
	}
	return n
}
