package session

import "time"

// StallAfter: a data channel that holds unsent bytes and makes no progress
// for this long shows the connection as stalled rather than connected.
// SCTP keeps a quiet path's connection up for tens of seconds before ICE
// gives up, and frames handed to it meanwhile arrive late, if at all.
// With SCTP's retransmission timeout capped at SCTPRTOMax (1 s), a lost
// packet holds bytes back for at most about that long before SCTP gives it
// up, so half a second more tells a dead path from an unlucky one, and a
// blackout shows within 2 s of its start.
const StallAfter = 1500 * time.Millisecond

// stallWatch follows one data channel: progress is bytes leaving it (the
// peer acknowledged them, or the sender gave chunks up), seen as the bytes
// written minus the bytes still buffered growing, or the buffer being
// empty; bytes only start waiting once it was empty before. The buffered
// amount alone does not tell: a steady stream keeps it at the same few
// bytes while everything flows.
type stallWatch struct {
	acked    uint64    // most bytes seen gone: written − buffered
	waiting  bool      // the buffer held bytes at the last look
	progress time.Time // last time bytes left or the buffer was empty
}

// observe takes the bytes written to the channel so far and its buffered
// amount at now (read in that order, so a write in between only makes
// acked look smaller) and says whether the channel is stalled.
func (w *stallWatch) observe(now time.Time, written, buffered uint64) bool {
	var acked uint64
	if written > buffered {
		acked = written - buffered
	}
	if buffered == 0 || !w.waiting || acked > w.acked || w.progress.IsZero() {
		w.progress = now
	}
	w.acked, w.waiting = max(w.acked, acked), buffered > 0
	return now.Sub(w.progress) >= StallAfter
}

// checkStall moves the status between connected and stalled as the
// publisher's data channel makes progress or not. The sampler runs it.
func (s *Session) checkStall(now time.Time) {
	s.mu.Lock()
	p := s.p
	state := s.status.State
	s.mu.Unlock()
	if p == nil || (state != StateConnected && state != StateStalled) {
		s.stall = stallWatch{}
		return
	}
	dc := p.Channel()
	if dc == nil {
		return
	}
	written, buffered := dc.Progress()
	stalled := s.stall.observe(now, written, buffered)
	switch {
	case stalled && state == StateConnected:
		s.setStatusIf(StateConnected, StateStalled, errNoProgress)
	case !stalled && state == StateStalled:
		s.setStatusIf(StateStalled, StateConnected, nil)
	}
}

// errNoProgress is why a connection shows as stalled.
var errNoProgress = errStalled("the data channel has sent nothing for " + StallAfter.String())

type errStalled string

func (e errStalled) Error() string { return string(e) }
