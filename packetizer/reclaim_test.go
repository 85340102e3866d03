package packetizer

import (
	"testing"
	"time"
)

// startAt is the START packet of a frame of several, for PushAt.
func startAt(seq, frame uint16, n int) *Packet {
	return &Packet{Header: Header{Marker: MarkerStart, Handle: 1, Sequence: seq, FrameNumber: frame}, Payload: make([]byte, n)}
}

// A partial frame a silent track left behind is named by Oldest with its
// newest packet's arrival, and Reclaim gives it up (counted, by reason)
// and gives its memory back: Held falls to nothing, buffers included.
func TestDepacketizerReclaimGivesBackTheOldestPartial(t *testing.T) {
	d := NewDepacketizer(DepacketizerOptions{})
	t0 := time.Unix(1000, 0)
	if _, ok := d.Oldest(); ok || d.Reclaim() != 0 {
		t.Fatal("an empty depacketizer has something to reclaim")
	}
	d.PushAt(startAt(0, 0, 1000), t0)
	d.PushAt(startAt(1, 1, 2000), t0.Add(time.Second))
	if at, ok := d.Oldest(); !ok || !at.Equal(t0) {
		t.Fatalf("oldest %v %v, want %v", at, ok, t0)
	}
	held := d.Held()
	if want := 3000 + 2*PacketOverhead; held != want {
		t.Fatalf("held %d, want %d", held, want)
	}
	if got := d.Reclaim(); got != 1000+PacketOverhead {
		t.Fatalf("reclaimed %d bytes, want %d", got, 1000+PacketOverhead)
	}
	if at, ok := d.Oldest(); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("after one reclaim, oldest %v %v", at, ok)
	}
	d.Reclaim()
	s := d.Stats()
	if d.Held() != 0 || s.FramesInFlight != 0 || s.IncompleteBy[IncompleteReclaimed] != 2 || s.FramesIncomplete != 2 {
		t.Fatalf("held %d after reclaiming both: %+v", d.Held(), s)
	}
	// The rest of a reclaimed frame is late, not a new partial.
	d.PushAt(&Packet{Header: Header{Marker: MarkerFinal, Handle: 1, Sequence: 2, FrameNumber: 1}, Payload: []byte{1}}, t0.Add(2*time.Second))
	if s := d.Stats(); s.PacketsLate != 1 || s.FramesInFlight != 0 {
		t.Fatalf("a reclaimed frame's last packet: %+v", s)
	}
}

// Trim gives back the buffers kept for reuse after frames complete.
func TestDepacketizerTrimDropsReusedBuffers(t *testing.T) {
	d := NewDepacketizer(DepacketizerOptions{})
	t0 := time.Unix(1000, 0)
	for i := range uint16(4) {
		d.PushAt(startAt(2*i, i, 4000), t0)
		d.PushAt(&Packet{Header: Header{Marker: MarkerFinal, Handle: 1, Sequence: 2*i + 1, FrameNumber: i}, Payload: make([]byte, 4000)}, t0)
	}
	d.PushAt(singleAt(100, 100), t0) // takes back the last frame's buffer
	if d.Held() == 0 {
		t.Fatal("no buffer kept for reuse")
	}
	if d.Trim() == 0 || d.Held() != 0 {
		t.Fatalf("held %d after Trim", d.Held())
	}
}
