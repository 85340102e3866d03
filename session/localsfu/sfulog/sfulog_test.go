package sfulog

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/dttui/dttui/logorigin"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session/rtc"
)

// The SFU's records reach the view through the livekit logger as the
// embedded SFU writes them: attributes from the down track's logger, the
// error as Warnw passes it, the stats as Infow's key-values.
func TestSFUViewReadsTheSFUsRecords(t *testing.T) {
	v := NewView()
	lk := rtc.LiveKitLogger(slog.New(v.Handler()), logorigin.SFU)
	down := lk.WithValues("room", "r", "participant", "me-loopback", "trackID", "DTR_a", "name", "a")
	for range 3 {
		down.Warnw("could not send data track message", errors.New(ShedError+": bitrate 88183272, buffered amount 1103756, target latency limit 1102290"))
	}
	down.Warnw("could not send data track message", errors.New("data channel is not available"))
	lk.WithValues("participant", "other", "trackID", "DTR_a").Warnw("could not send data track message", errors.New(ShedError))
	lk.WithValues("participant", "me-loopback", "trackID", "DTR_b").Infow("created data track")
	lk.WithValues("participant", "me", "trackID", "DTR_a").Infow("data track stats",
		"duration", 1.5, "numPackets", 120, "numPacketsLost", 2, "numPacketsOutOfOrder", 1, "numFrames", 40, "fps", 26.6, "numBytes", 9000)

	got, ok := v.Of([]string{"DTR_a", "DTR_b"}, "me-loopback")
	want := report.SFUObserved{Shed: 3, ShedAll: 4, NotReady: 1, Up: &report.SFUUp{Packets: 120, PacketsLost: 2, PacketsOutOfOrder: 1, Frames: 40}}
	if !ok || got.Shed != want.Shed || got.ShedAll != want.ShedAll || got.NotReady != want.NotReady || got.Up == nil || *got.Up != *want.Up {
		t.Fatalf("got %+v (up %+v), want %+v (up %+v)", got, got.Up, want, want.Up)
	}
	if _, ok := v.Of([]string{"DTR_b"}, "me"); ok {
		t.Fatal("a track the SFU logged nothing about is known")
	}
}

func TestSFUViewIsBounded(t *testing.T) {
	v := NewView()
	for i := range maxSFUTracks + 10 {
		v.notForwarded(string(rune('a'+i%26))+string(rune(i)), "x", true)
	}
	if len(v.tracks) != maxSFUTracks || len(v.order) != maxSFUTracks {
		t.Fatalf("%d tracks, %d in order", len(v.tracks), len(v.order))
	}
}
