package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/dttui/dttui/internal/jsclient"
)

// RoomShotEnv, set to a directory, makes TestTUIRoomInTmux write the
// pane, in colour, there: the room's table (room_table.ansi), the JS
// publisher's track in the detail pane (room_detail.ansi) and the other
// passphrase's decrypt failures (room_e2ee_detail.ansi);
// scripts/screenshots.sh turns them into screenshots/*.png.
const RoomShotEnv = "DTTUI_ROOM_SHOT"

// roomFrame is what the browser publishes: JSON, the same every frame.
const roomFrame = `{"robot":"rover-1","x":12.5,"y":-3.25,"heading":87.5,"battery":0.82,"mode":"auto"}`

// The room, in the real binary, against the embedded SFU: a livekit-client
// publisher in headless Chromium and a second dttui publishing with
// another passphrase show up in the room section; the JS track's last
// frame is previewed as JSON; S unsubscribes and subscribes again; the
// wrong passphrase's frames count as decrypt failures; the JS publisher
// leaving leaves its row, unpublished, until x removes it.
func TestTUIRoomInTmux(t *testing.T) {
	jsclient.Require(t)
	bin := buildBinary(t)
	srv := sfu(t)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "dttui.log")
	room := "room-ui-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	env := fmt.Sprintf("env XDG_CACHE_HOME=%s TERM=xterm-256color COLORTERM=truecolor LIVEKIT_URL=%s LIVEKIT_API_KEY=%s LIVEKIT_API_SECRET=%s DTTUI_E2EE_PASSPHRASE=right-passphrase",
		filepath.Join(dir, "cache"), srv.URL, srv.APIKey, srv.APISecret)
	p := startPaneSized(t, 140, 40, fmt.Sprintf("%s %s --room %s --identity dttui-ui --track telemetry:100:1k --log-file %s; echo DTTUI-EXITED $?; sleep 60",
		env, bin, room, logFile), logFile)
	waitFor, keys := p.waitFor, p.keys
	waitFor("our track", 60*time.Second, func(s string) bool { return rowHas(s, "telemetry", "published") })

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Another dttui, with another passphrase: its frames do not open here.
	drone := exec.CommandContext(ctx, bin, "--headless", "--url", srv.URL, "--room", room, "--identity", "drone-7",
		"--track", "cam-meta:60:2k", "--loopback=false", "--monitor=false", "--duration", "150s")
	drone.Env = append(os.Environ(), "LIVEKIT_API_KEY="+srv.APIKey, "LIVEKIT_API_SECRET="+srv.APISecret, "DTTUI_E2EE_PASSPHRASE=another-passphrase",
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache2"))
	if err := drone.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drone.Process.Kill(); _ = drone.Wait() })

	// A browser: livekit-client publishing JSON with the user timestamp.
	js := jsclient.Start(t, jsclient.Options{Name: "js-room"})
	token, err := auth.NewAccessToken(srv.APIKey, srv.APISecret).SetIdentity("browser-js").SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Join(ctx, jsclient.JoinOptions{URL: srv.URL, Token: token}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "pose"); err != nil {
		t.Fatal(err)
	}
	pushCtx, stopPush := context.WithCancel(ctx)
	pushed := make(chan error, 1)
	go func() {
		_, err := js.Push(pushCtx, jsclient.PushOptions{Track: "pose", Count: 30 * 150, Rate: 30, Payload: []byte(roomFrame), UserTimestampNow: true, Flush: "none"})
		pushed <- err
	}()
	defer stopPush()

	// Both in the room section, subscribed by themselves, ours above them.
	s := waitFor("the room's tracks", 60*time.Second, func(s string) bool {
		return strings.Contains(s, "── room · 2 tracks from 2 participants") && rowHas(s, "browser-js", "subscribed") &&
			rowHas(s, "drone-7", "E2EE") && rowHas(s, "pose", "browser-js")
	})
	if strings.Index(s, "telemetry") > strings.Index(s, "── room") {
		t.Fatalf("our track is not above the room:\n%s", s)
	}
	// The room is ordered by publisher: browser-js, then drone-7.
	keys("j")
	waitFor("the JS track selected", 10*time.Second, func(s string) bool { return rowHas(s, "› pose", "browser-js") })
	shot := func(name string) {
		if dir := os.Getenv(RoomShotEnv); dir != "" {
			time.Sleep(6 * time.Second) // a few seconds of sparkline
			if err := os.WriteFile(filepath.Join(dir, name+".ansi"), []byte(p.tmux("capture-pane", "-e", "-p", "-t", "e2e")), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	shot("room_table")
	keys("d")
	s = waitFor("the JSON preview", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "pose  from browser-js") && strings.Contains(s, "as json") && strings.Contains(s, `"heading": 87.5`) &&
			strings.Contains(s, "two clocks")
	})
	if m := regexp.MustCompile(`frames received (\d+)`).FindStringSubmatch(s); m == nil || m[1] == "0" {
		t.Fatalf("no frames counted:\n%s", s)
	}
	shot("room_detail")
	// S: unsubscribed, and subscribed again.
	keys("S")
	waitFor("unsubscribed", 20*time.Second, func(s string) bool { return rowHas(s, "browser-js", "unsubscribed") })
	keys("S")
	waitFor("subscribed again", 20*time.Second, func(s string) bool {
		return rowHas(s, "browser-js", "subscribed") && !rowHas(s, "browser-js", "unsubscribed") && strings.Contains(s, "2 subscriptions")
	})
	// The drone's frames fail to open: another passphrase.
	keys("j")
	waitFor("decrypt failures", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "cam-meta  from drone-7") && regexp.MustCompile(`decrypt failures [1-9]\d* \(authentication failed`).MatchString(s)
	})
	shot("room_e2ee_detail")
	// The browser leaves: its row stays, unpublished, until x.
	stopPush()
	<-pushed
	if err := js.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	keys("k")
	waitFor("the browser's track unpublished", 30*time.Second, func(s string) bool { return rowHas(s, "browser-js", "unpublished") })
	keys("x")
	waitFor("its row removed", 10*time.Second, func(s string) bool {
		return !strings.Contains(s, "browser-js") && strings.Contains(s, "── room · 1 track from 1 participant")
	})
	keys("q")
	waitFor("clean exit", 20*time.Second, func(s string) bool { return strings.Contains(s, "DTTUI-EXITED 0") })
}
