package session

import "time"

// StallAfter: a data channel that holds unsent bytes and makes no progress
// for this long shows the connection as stalled rather than connected.
// SCTP keeps a quiet path's connection up for tens of seconds before ICE
// gives up, and frames handed to it meanwhile arrive late, if at all.
const StallAfter = 3 * time.Second

// stallWatch follows one data channel's buffered amount: progress is the
// buffer shrinking (the peer acknowledged, or the sender gave chunks up),
// or being empty; bytes only start waiting once it was empty before.
type stallWatch struct {
	last     uint64
	progress time.Time // last time the buffer shrank or was empty
}

// observe takes the buffered amount at now and says whether the channel
// is stalled.
func (w *stallWatch) observe(now time.Time, buffered uint64) bool {
	if buffered == 0 || buffered < w.last || w.last == 0 || w.progress.IsZero() {
		w.progress = now
	}
	w.last = buffered
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
	p.mu.Lock()
	dc := p.dc
	p.mu.Unlock()
	if dc == nil {
		return
	}
	stalled := s.stall.observe(now, dc.dc.BufferedAmount())
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
