package tui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

// pickerRooms is what a server with three rooms lists, busiest first;
// one name is hostile.
var pickerRooms = []session.RoomListing{
	{Name: "lab", Listed: true, NumParticipants: 3, Participants: []session.ParticipantListing{
		{Identity: "alice", DataTracks: []string{"imu", "pose"}}, {Identity: "bob"}, {Identity: "robot-7", DataTracks: []string{"lidar"}}}},
	{Name: "standup", Listed: true, NumParticipants: 1, Participants: []session.ParticipantListing{{Identity: "carol"}}},
	{Name: "evil\x1b]0;pwned\x07", Listed: true, NumParticipants: 1, Participants: []session.ParticipantListing{
		{Identity: "mallory\x1b[2J", DataTracks: []string{"x\x1b[31m"}}}},
	{Name: "archive", NumParticipants: 0},
}

// connects records the rooms Connect was asked for.
type connects struct {
	mu    sync.Mutex
	rooms []string
	b     Backend
}

func (c *connects) connect(ctx context.Context, room string) (Backend, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rooms = append(c.rooms, room)
	return c.b, nil
}

func (c *connects) asked() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.rooms...)
}

// pickerHarness is a model that lists rooms with list, at w×h.
func pickerHarness(t *testing.T, list func(context.Context) ([]session.RoomListing, error), w, ht int) (*harness, *connects) {
	t.Helper()
	c := &connects{b: newFakeBackend()}
	h := newHarness(t, New(nil, Options{Theme: theme.Plain(), Now: func() time.Time { return t0 }, Tick: time.Hour, Logs: logbuf.New(100),
		URL: "ws://127.0.0.1:7880", Connect: c.connect, Rooms: list}))
	h.send(tea.WindowSizeMsg{Width: w, Height: ht})
	h.init()
	return h, c
}

func listed(rooms []session.RoomListing) func(context.Context) ([]session.RoomListing, error) {
	return func(context.Context) ([]session.RoomListing, error) { return rooms, nil }
}

// Enter joins the selected room; ↓ moves; the connect is for that room
// and the header names it.
func TestPickerJoinsTheSelectedRoom(t *testing.T) {
	h, c := pickerHarness(t, listed(pickerRooms), 100, 24)
	if !h.m.pickerOpen() || len(c.asked()) != 0 {
		t.Fatalf("picker open %v, connects %v", h.m.pickerOpen(), c.asked())
	}
	v := strings.Join(strings.Fields(plain(h.m)), " ")
	for _, want := range []string{"Rooms on the server: 4", "lab 3 3", "standup 1 0", "archive 0 ?", "alice imu, pose", "bob no data tracks", "enter join room"} {
		if !strings.Contains(v, want) {
			t.Fatalf("view lacks %q:\n%s", want, v)
		}
	}
	h.send(press("down"))
	h.send(press("enter"))
	h.until("connected", 5*time.Second, func(m Model) bool { return m.b != nil })
	if got := c.asked(); len(got) != 1 || got[0] != "standup" || h.m.picking() {
		t.Fatalf("connects %q, picking %v", got, h.m.picking())
	}
}

// / filters by room, identity or data track name; enter keeps the
// filter, enter again joins the one room left; q typed into the filter is
// text, not quit.
func TestPickerFilters(t *testing.T) {
	h, c := pickerHarness(t, listed(pickerRooms), 100, 24)
	h.send(press("/"))
	h.send(press("lidq"))
	if h.m.quitting {
		t.Fatal("q in the filter quit")
	}
	if v := plain(h.m); !strings.Contains(v, "no room matches /lidq") {
		t.Fatalf("filter lidq:\n%s", v)
	}
	h.send(tea.KeyMsg{Type: tea.KeyBackspace})
	v := plain(h.m)
	if !strings.Contains(v, "1 of 4 rooms") || strings.Contains(v, "standup") {
		t.Fatalf("filter lid (robot-7's lidar):\n%s", v)
	}
	h.send(press("enter"))
	h.send(press("enter"))
	h.until("connected", 5*time.Second, func(m Model) bool { return m.b != nil })
	if got := c.asked(); len(got) != 1 || got[0] != "lab" {
		t.Fatalf("connects %q", got)
	}
}

// n types a new room's name; enter joins it; empty, a generated one;
// what the header could not show as typed (a bidi override, a control
// character) is not typed; esc goes back to the list.
func TestPickerNewRoom(t *testing.T) {
	for _, tc := range []struct{ typed, want string }{{"fresh-room", "fresh-room"}, {"", ""}, {"a\u202eb\x01c", "abc"}} {
		h, c := pickerHarness(t, listed(pickerRooms), 100, 24)
		h.send(press("n"))
		h.send(press("esc"))
		if !h.m.pickerOpen() || h.m.pick.picker.Typing() || len(c.asked()) != 0 {
			t.Fatal("esc did not go back to the list")
		}
		h.send(press("n"))
		if tc.typed != "" {
			h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(tc.typed), Paste: true})
		}
		h.send(press("enter"))
		h.until("connected", 5*time.Second, func(m Model) bool { return m.b != nil })
		if got := c.asked(); len(got) != 1 || got[0] != tc.want {
			t.Fatalf("typed %q: connects %q", tc.typed, got)
		}
	}
}

// Today's behaviour where there is nothing to pick: a server with no
// rooms (the embedded SFU just started), or rooms that cannot be listed,
// connect at once to a new room; the failure is logged, not fatal.
func TestPickerSkippedWithoutRooms(t *testing.T) {
	for name, list := range map[string]func(context.Context) ([]session.RoomListing, error){
		"no rooms": listed(nil),
		"cannot list": func(context.Context) ([]session.RoomListing, error) {
			return nil, errors.New("twirp error permission_denied")
		},
	} {
		h, c := pickerHarness(t, list, 100, 24)
		h.until("connected", 5*time.Second, func(m Model) bool { return m.b != nil })
		if got := c.asked(); len(got) != 1 || got[0] != "" || h.m.picking() {
			t.Fatalf("%s: connects %q", name, got)
		}
	}
}

// q quits from the picker (nothing to close); ctrl+c too, while typing.
// Pasted text runs no picker command.
func TestPickerQuits(t *testing.T) {
	h, c := pickerHarness(t, listed(pickerRooms), 100, 24)
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("nq"), Paste: true})
	if h.quit.Load() || h.m.pick.picker.Typing() {
		t.Fatal("pasted text ran picker commands")
	}
	h.send(press("q"))
	if !h.quit.Load() || len(c.asked()) != 0 {
		t.Fatalf("q: quit %v, connects %v", h.quit.Load(), c.asked())
	}
	h, _ = pickerHarness(t, listed(pickerRooms), 100, 24)
	h.send(press("/"))
	h.send(press("ctrl+c"))
	if !h.quit.Load() {
		t.Fatal("ctrl+c in the filter did not quit")
	}
}

// The server's names reach the screen sanitized.
func TestPickerSanitizesServerNames(t *testing.T) {
	h, _ := pickerHarness(t, listed(pickerRooms), 100, 24)
	h.send(press("down"))
	h.send(press("down"))
	v := h.m.View()
	if strings.ContainsAny(v, "\x07") || strings.Contains(v, "\x1b]0;") || strings.Contains(v, "\x1b[2J") {
		t.Fatalf("a raw control sequence from the server reached the screen: %q", v)
	}
	if p := plain(h.m); !strings.Contains(p, `evil\x1b]0;pwned\x07`) || !strings.Contains(p, `mallory\x1b[2J`) {
		t.Fatalf("names not shown escaped:\n%s", p)
	}
}

// pickWith replaces the scenario's model by one that lists rooms first,
// as the app does without --room.
func pickWith(h *harness, c *clock, rooms []session.RoomListing) {
	w, ht := h.m.width, h.m.height
	h.m = New(nil, Options{Theme: h.m.th, Now: c.now, Logs: h.m.opts.Logs, Tick: time.Hour, URL: "ws://127.0.0.1:7880",
		Connect: func(ctx context.Context, _ string) (Backend, error) { <-ctx.Done(); return nil, ctx.Err() }, Rooms: listed(rooms)})
	h.send(tea.WindowSizeMsg{Width: w, Height: ht})
	h.init()
}

// The open picker lists the rooms again: a room opened meanwhile
// appears, the cursor stays on the room it was on, and a listing that
// fails keeps the last one.
func TestPickerRefreshes(t *testing.T) {
	var mu sync.Mutex
	rooms, fail := pickerRooms[:2], false
	list := func(context.Context) ([]session.RoomListing, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return nil, errors.New("503")
		}
		return rooms, nil
	}
	h, _ := pickerHarness(t, list, 100, 24)
	h.send(press("down")) // standup
	mu.Lock()
	rooms = append([]session.RoomListing{{Name: "new-busy", Listed: true, NumParticipants: 9}}, pickerRooms[:2]...)
	mu.Unlock()
	h.send(refreshRoomsMsg{})
	if sel, _ := h.m.pick.picker.Selected(); sel.Name != "standup" || !strings.Contains(plain(h.m), "new-busy") {
		t.Fatalf("after the refresh: selected %q\n%s", sel.Name, plain(h.m))
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	h.send(refreshRoomsMsg{})
	if !strings.Contains(plain(h.m), "new-busy") || !h.m.pickerOpen() {
		t.Fatalf("a failed refresh lost the list:\n%s", plain(h.m))
	}
}
