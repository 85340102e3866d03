package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/session"
)

// The room picker and lk's config, in the real binary, against the
// embedded SFU: with no flags and no LIVEKIT_* but a HOME whose
// cli-config.yaml has a default project naming the SFU, dttui takes the
// URL, key and secret from it (the header says so), lists the rooms
// (another dttui's room shows with its data track), filters with /, and
// enter joins the room picked, whose track then shows in the room
// section.
func TestTUIRoomPickerInTmux(t *testing.T) {
	bin := buildBinary(t)
	srv := sfu(t)
	dir := t.TempDir()
	room := "picked-" + strconv.FormatInt(time.Now().UnixNano(), 36)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	other := exec.CommandContext(ctx, bin, "--headless", "--url", srv.URL, "--room", room, "--identity", "rover-3",
		"--track", "odometry:20:256", "--loopback=false", "--monitor=false", "--duration", "100s")
	other.Env = append(os.Environ(), "LIVEKIT_API_KEY="+srv.APIKey, "LIVEKIT_API_SECRET="+srv.APISecret, "XDG_CACHE_HOME="+filepath.Join(dir, "cache2"))
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	// The picker lists once at start and connects at once to a room of its
	// own when there is none: the other's room and track must be there.
	waitUntil(t, 60*time.Second, "the other dttui's room and track listed", func() bool {
		rooms, err := session.ListRooms(ctx, srv.URL, srv.APIKey, srv.APISecret)
		for _, r := range rooms {
			for _, p := range r.Participants {
				if err == nil && r.Name == room && slices.Contains(p.DataTracks, "odometry") {
					return true
				}
			}
		}
		return false
	})

	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".livekit"), 0o700); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf("default_project: bench\nprojects:\n  - name: bench\n    url: %s\n    api_key: %s\n    api_secret: %s\n", srv.URL, srv.APIKey, srv.APISecret)
	if err := os.WriteFile(filepath.Join(home, lkConfigPath), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "dttui.log")
	p := startPaneSized(t, 140, 40, fmt.Sprintf("env -u LIVEKIT_URL -u LIVEKIT_API_KEY -u LIVEKIT_API_SECRET HOME=%s XDG_CACHE_HOME=%s TERM=xterm-256color %s --identity picker-ui --log-file %s; echo DTTUI-EXITED $?; sleep 60",
		home, filepath.Join(dir, "cache"), bin, logFile), logFile)
	p.waitFor("the other dttui's room with its track", 60*time.Second, func(s string) bool {
		return strings.Contains(s, "Rooms on the server") && strings.Contains(s, room) && strings.Contains(s, "odometry")
	})
	p.keys("/")
	p.keys("-l", room)
	p.keys("Enter")
	s := p.waitFor("the filter kept", 10*time.Second, func(s string) bool { return strings.Contains(s, "filter /"+room) })
	if !strings.Contains(s, "▸ "+room) {
		t.Fatalf("the filtered room is not selected:\n%s", s)
	}
	p.keys("Enter")
	s = p.waitFor("joined the picked room, the other's track in the room section", 60*time.Second, func(s string) bool {
		return strings.Contains(s, "● connected") && strings.Contains(s, "room "+room) && strings.Contains(s, "odometry")
	})
	if !strings.Contains(s, "via default project bench") {
		t.Fatalf("the header does not say where the credentials came from:\n%s", s)
	}
	if strings.Contains(s, srv.APISecret) {
		t.Fatal("the secret is on screen")
	}
	p.keys("q")
	p.waitFor("a clean exit", 30*time.Second, func(s string) bool { return strings.Contains(s, "DTTUI-EXITED 0") })
}

// --mouse in the real binary: an SGR mouse click (what a terminal sends
// once asked for cell motion) on a row selects it; the wheel moves the
// selection.
func TestTUIMouseInTmux(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "dttui.log")
	p := startPaneSized(t, 120, 32, fmt.Sprintf("env HOME=%s XDG_CACHE_HOME=%s TERM=xterm-256color %s --local --local-port 0 --mouse --track alpha:5 --track bravo:5 --track charlie:5 --log-file %s; echo DTTUI-EXITED $?; sleep 60",
		dir, filepath.Join(dir, "cache"), bin, logFile), logFile)
	s := p.waitFor("three tracks published", 60*time.Second, func(s string) bool {
		return rowHas(s, "alpha", "published") && rowHas(s, "bravo", "published") && rowHas(s, "charlie", "published")
	})
	row := func(s, name string) int {
		for i, l := range strings.Split(s, "\n") {
			if strings.Contains(l, " "+name+" ") {
				return i
			}
		}
		t.Fatalf("no row %s:\n%s", name, s)
		return -1
	}
	selected := func(s, name string) bool { return strings.Contains(s, "› "+name+" ") }
	// Click the end row that is not selected, then wheel toward bravo.
	target, notch := "alpha", 65 // wheel down
	if selected(s, "alpha") {
		target, notch = "charlie", 64 // wheel up
	}
	// SGR: ESC [ < button ; column ; row M (press) / m (release), 1-based.
	y := row(s, target) + 1
	p.keys("-l", fmt.Sprintf("\x1b[<0;6;%dM\x1b[<0;6;%dm", y, y))
	p.waitFor(target+" selected by the click", 10*time.Second, func(s string) bool { return selected(s, target) })
	p.keys("-l", fmt.Sprintf("\x1b[<%d;6;%dM", notch, y))
	p.waitFor("bravo selected by the wheel", 10*time.Second, func(s string) bool { return selected(s, "bravo") })
	p.keys("q")
	p.waitFor("a clean exit", 30*time.Second, func(s string) bool { return strings.Contains(s, "DTTUI-EXITED 0") })
}
