package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/schema"
)

// replayPosRE reads the header's replay mark.
var replayPosRE = regexp.MustCompile(`(▶ replay|⏸ paused) ([0-9.]+)s / 1m0s ×([0-9.]+)`)

// The real binary in tmux, on the embedded SFU: `dttui replay FILE --ui`
// shows where the replay is in its header, and P, > and ) pause it, seek
// it and speed it up; a second dttui's R records the room (● REC and the
// file in its header), R again closes the file, which holds the replayed
// track's frames, byte for byte, typed as recorded.
func TestTUIRecordAndReplayInTmux(t *testing.T) {
	bin := buildBinary(t)
	srv := sfu(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "in.mcap")
	w, err := record.Create(file, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	typ := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON}}
	tr := &record.Track{SID: "DTR_p", Name: "pose", Identity: "robot", Type: typ}
	start := time.Now()
	payload := func(i int) []byte { return fmt.Appendf(nil, `{"i":%d}`, i) }
	for i := range 1201 { // 60 s at 20 frames/s
		if err := w.Write(tr, record.Frame{Arrival: start.Add(time.Duration(i) * 50 * time.Millisecond), Payload: payload(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	room := "tmux-rec-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	env := fmt.Sprintf("env XDG_CACHE_HOME=%s TERM=xterm-256color LIVEKIT_URL=%s LIVEKIT_API_KEY=%s LIVEKIT_API_SECRET=%s",
		filepath.Join(dir, "cache"), srv.URL, srv.APIKey, srv.APISecret)
	logFile := filepath.Join(dir, "player.log")
	p := startPaneSized(t, 140, 30, fmt.Sprintf("%s %s replay %s --ui --loop --room %s --identity player --log-file %s; echo DTTUI-EXITED $?; sleep 60",
		env, bin, file, room, logFile), logFile)
	pos := func(s string) (state string, at, speed float64) {
		m := replayPosRE.FindStringSubmatch(s)
		if m == nil {
			return "", -1, -1
		}
		at, _ = strconv.ParseFloat(m[2], 64)
		speed, _ = strconv.ParseFloat(m[3], 64)
		return m[1], at, speed
	}
	p.waitFor("the replay playing", 60*time.Second, func(s string) bool {
		st, at, _ := pos(s)
		return st == "▶ replay" && at > 0 && rowHas(s, "pose", "published")
	})
	p.keys("P")
	s := p.waitFor("paused", 10*time.Second, func(s string) bool { st, _, _ := pos(s); return st == "⏸ paused" })
	_, pausedAt, _ := pos(s)
	p.keys(">")
	p.keys(">")
	p.waitFor("sought 20 s on", 10*time.Second, func(s string) bool { _, at, _ := pos(s); return at >= pausedAt+19 })
	p.keys(")")
	p.keys("P")
	p.waitFor("playing at 2×", 10*time.Second, func(s string) bool { st, _, sp := pos(s); return st == "▶ replay" && sp == 2 })

	// A second dttui records the room with R.
	t.Run("record", func(t *testing.T) {
		recLog := filepath.Join(dir, "rec.log")
		r := startPaneSized(t, 140, 30, fmt.Sprintf("cd %s && %s %s --subscribe-only --room %s --identity rec --log-file %s; echo DTTUI-EXITED $?; sleep 60",
			dir, env, bin, room, recLog), recLog)
		r.waitFor("the replayed track", 60*time.Second, func(s string) bool { return rowHas(s, "pose", "player") })
		r.keys("R")
		s := r.waitFor("REC", 20*time.Second, func(s string) bool {
			return strings.Contains(s, "● REC") && strings.Contains(s, "dttui-"+room) && strings.Contains(s, "recording the room to")
		})
		time.Sleep(3 * time.Second) // 3 s of frames
		r.keys("R")
		s = r.waitFor("the recording closed", 20*time.Second, func(s string) bool {
			return !strings.Contains(s, "● REC") && strings.Contains(s, "recorded ")
		})
		files, _ := filepath.Glob(filepath.Join(dir, "dttui-"+room+"-*.mcap"))
		if len(files) != 1 {
			t.Fatalf("files %v; screen:\n%s", files, s)
		}
		n := 0
		want := map[string]bool{}
		for i := range 1201 {
			want[string(payload(i))] = true
		}
		if err := record.Read(files[0], func(ch *record.Channel, m *mcap.Message) error {
			if ch.Track.Name != "pose" || ch.Track.Identity != "player" || ch.Track.Type != typ || !want[string(m.Data)] {
				t.Fatalf("recorded %+v: %q", ch.Track, m.Data)
			}
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n < 40 {
			t.Fatalf("%d frames in 3 s of a 20–40 frames/s track", n)
		}
		t.Logf("R recorded %d frames to %s", n, filepath.Base(files[0]))
	})
	p.keys("q")
	p.waitFor("the replay's UI ended", 20*time.Second, func(s string) bool { return strings.Contains(s, "DTTUI-EXITED 0") })
}
