package report

// LocalTotal is what the local tracks ls add up to, as one pseudo-track
// (no name, handle or state): their rates and send counters summed, and
// what the loopback received of them (Rx nil when none had a receiver).
// The table's TOTAL line shows it; the caller picks the tracks (a filter,
// failed publishes left out).
func LocalTotal(ls []Local) Local {
	var t Local
	var rx Receive
	hasRx := false
	for i := range ls {
		l := &ls[i]
		t.Rate = addRates(t.Rate, l.Rate)
		t.Out.FramesPushed += l.Out.FramesPushed
		t.Out.FramesSent += l.Out.FramesSent
		t.Out.FramesDropped += l.Out.FramesDropped
		t.Out.FramesQueued += l.Out.FramesQueued
		t.Out.PacketsSent += l.Out.PacketsSent
		t.Out.BytesSent += l.Out.BytesSent
		for r, n := range l.Out.DroppedBy {
			t.Out.DroppedBy[r] += n
		}
		t.Out.UnpublishedErrors += l.Out.UnpublishedErrors
		t.Out.PublishAttempts += l.Out.PublishAttempts
		if x := l.Rx; x != nil {
			hasRx = true
			rx.Frames += x.Frames
			rx.Bytes += x.Bytes
			rx.Lost += x.Lost
			rx.InGrace += x.InGrace
			rx.Duplicates += x.Duplicates
			rx.Late += x.Late
			rx.Foreign += x.Foreign
			rx.Data += x.Data
			rx.Unfollowed += x.Unfollowed
			rx.Incomplete += x.Incomplete
			rx.Corrupt += x.Corrupt
			rx.UserTimestamps += x.UserTimestamps
		}
	}
	if hasRx {
		t.Rx = &rx
	}
	return t
}

// RemoteTotal is what the room tracks rs add up to, as one pseudo-track
// (no name, SID or state): their receive rates and counters summed
// (Stats.LostFrames of the total is the sum of theirs), decrypt failures
// by reason, and E2EE when any of them is. The table's ROOM line shows
// it; what arrives from the room is never added to what we send.
func RemoteTotal(rs []Remote) Remote {
	var t Remote
	s := &t.Stats
	for i := range rs {
		r := &rs[i]
		x := &r.Stats
		t.Rate = addRates(t.Rate, r.Rate)
		s.Packets += x.Packets
		s.Bytes += x.Bytes
		s.PacketsLost += x.PacketsLost
		s.FramesCompleted += x.FramesCompleted
		s.FrameBytes += x.FrameBytes
		s.FramesLost += x.FramesLost
		s.FramesIncomplete += x.FramesIncomplete
		s.FramesCut += x.FramesCut
		for why, n := range x.DecryptFailures {
			s.DecryptFailures[why] += n
		}
		if x.E2EE() {
			s.Encryption = x.Encryption
		}
	}
	return t
}

// addRates sums two tracks' rates over the same window.
func addRates(a, b Rates) Rates {
	return Rates{Window: max(a.Window, b.Window),
		SentFPS: a.SentFPS + b.SentFPS, SentPPS: a.SentPPS + b.SentPPS, SentBPS: a.SentBPS + b.SentBPS,
		DroppedFPS: a.DroppedFPS + b.DroppedFPS, ReceivedFPS: a.ReceivedFPS + b.ReceivedFPS, ReceivedBPS: a.ReceivedBPS + b.ReceivedBPS,
		LostFPS: a.LostFPS + b.LostFPS, ReceivedPPS: a.ReceivedPPS + b.ReceivedPPS, PacketsLostPS: a.PacketsLostPS + b.PacketsLostPS,
		ReceivedValid: a.ReceivedValid || b.ReceivedValid}
}
