package session

import (
	"sync"

	"github.com/livekit/protocol/livekit"
)

// inbox takes a subscriber's room-state messages off the peer's signal
// reader. Applying one takes the incoming manager's lock and a pass over
// every track: a participant publishing 500 tracks sends a
// ParticipantUpdate listing all of them for each one, and every
// subscription brings a permission update and a handle map listing all
// of ours. Applied on the reader, they fell behind the SFU, whose
// outbound queue toward a participant holds 200 messages and which
// closes the signal connection when it is full (issue 20 item 10). The
// reader only files them here; a drain goroutine applies them, and what
// piles up meanwhile is merged: a ParticipantUpdate carries a
// participant's complete track list at a version and a handle map is
// complete, so only the latest of each counts.
type inbox struct {
	mu sync.Mutex
	// join is a JoinResponse not yet applied: a new participant session,
	// before which nothing filed counts (local: our identity in it).
	join  *livekit.JoinResponse
	local string
	// parts is each participant's latest info, in the order first filed.
	parts     map[string]int
	partInfos []*livekit.ParticipantInfo
	perms     []*livekit.SubscriptionPermissionUpdate
	// handles is the latest handle map, hasHandles whether one came.
	handles    map[uint32]*livekit.DataTrackSubscriberHandles_PublishedDataTrack
	hasHandles bool
	// draining says a drain goroutine runs (wg counts it); closed that
	// none starts any more.
	draining, closed bool
	wg               sync.WaitGroup
}

// inboxBatch is what one drain round applies, in this order.
type inboxBatch struct {
	join       *livekit.JoinResponse
	local      string
	parts      []*livekit.ParticipantInfo
	perms      []*livekit.SubscriptionPermissionUpdate
	handles    map[uint32]*livekit.DataTrackSubscriberHandles_PublishedDataTrack
	hasHandles bool
}

// file adds res (one of the four kinds) and says whether the caller must
// start a drain goroutine (in.wg already counts it).
func (in *inbox) file(local string, res *livekit.SignalResponse) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return false
	}
	switch msg := res.Message.(type) {
	case *livekit.SignalResponse_Join:
		in.join, in.local = msg.Join, local
		in.parts, in.partInfos, in.perms, in.handles, in.hasHandles = nil, nil, nil, nil, false
	case *livekit.SignalResponse_Update:
		for _, pi := range msg.Update.GetParticipants() {
			in.filePart(pi)
		}
	case *livekit.SignalResponse_SubscriptionPermissionUpdate:
		in.perms = append(in.perms, msg.SubscriptionPermissionUpdate)
	case *livekit.SignalResponse_DataTrackSubscriberHandles:
		in.handles, in.hasHandles = msg.DataTrackSubscriberHandles.GetSubHandles(), true
	default:
		return false
	}
	if in.draining {
		return false
	}
	in.draining = true
	in.wg.Add(1)
	return true
}

// filePart keeps pi unless a later version of its participant is filed
// (updates may arrive out of order).
func (in *inbox) filePart(pi *livekit.ParticipantInfo) {
	if in.parts == nil {
		in.parts = map[string]int{}
	}
	i, ok := in.parts[pi.GetSid()]
	switch {
	case !ok:
		in.parts[pi.GetSid()] = len(in.partInfos)
		in.partInfos = append(in.partInfos, pi)
	case pi.GetVersion() >= in.partInfos[i].GetVersion():
		in.partInfos[i] = pi
	}
}

// take empties the inbox into a batch; ok is false when it was empty,
// and then the drain ends (draining is cleared).
func (in *inbox) take() (b inboxBatch, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	b = inboxBatch{join: in.join, local: in.local, parts: in.partInfos, perms: in.perms,
		handles: in.handles, hasHandles: in.hasHandles}
	if b.join == nil && len(b.parts) == 0 && len(b.perms) == 0 && !b.hasHandles {
		in.draining = false
		return b, false
	}
	in.join, in.parts, in.partInfos, in.perms, in.handles, in.hasHandles = nil, nil, nil, nil, nil, false
	return b, true
}

// close stops filing and waits for a running drain.
func (in *inbox) close() {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
	in.wg.Wait()
}
