package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/source"
	"github.com/dttui/dttui/tui/components/tracktable"
	"github.com/dttui/dttui/tui/format"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

// roomModel is a model at w×h with our "telemetry" track and the room's
// tracks, after 5 s of traffic.
func roomModel(t *testing.T, w, hgt int, remotes ...[3]string) (*harness, *fakeBackend, *clock) {
	t.Helper()
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	h.send(tea.WindowSizeMsg{Width: w, Height: hgt})
	publishTracks(t, h, b, 100, 1024, "telemetry")
	for i, r := range remotes {
		b.addRemote(r[0], r[1], r[2], float64(10*(i+1)), 512*(i+1))
	}
	traffic(h, b, c, 50, map[string]float64{"telemetry": 100}, 1024, nil)
	return h, b, c
}

var threeRemotes = [][3]string{{"robot-js", "pose", "DTR_pose"}, {"bob", "chat", "DTR_chat"}, {"robot-js", "status", "DTR_status"}}

// rowNames is the table's rows, in order: local names, then room rows as
// identity/name.
func rowNames(m Model) []string {
	var out []string
	for _, r := range m.tbl.rows {
		if r.Room() {
			out = append(out, r.R.Stats.PublisherIdentity+"/"+r.R.Stats.Name)
		} else {
			out = append(out, r.L.Name)
		}
	}
	return out
}

// The room's tracks are rows of their own section, under ours, with
// their own header and totals: TOTAL sums what we send, ROOM what
// arrives, never one with the other.
func TestRoomIsASectionOfItsOwn(t *testing.T) {
	h, _, _ := roomModel(t, 140, 40, threeRemotes...)
	v := plain(h.m)
	lines := strings.Split(v, "\n")
	idx := func(s string) int {
		return slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, s) })
	}
	total, rule, roomHead, room := idx("TOTAL (1)"), idx("── room · 3 tracks from 2 participants"), idx("FROM▲"), idx("ROOM (3)")
	if total < 0 || rule < 0 || roomHead < 0 || room < 0 || !(total < rule && rule < roomHead && roomHead < room) {
		t.Fatalf("sections out of place (TOTAL %d, rule %d, room header %d, ROOM %d):\n%s", total, rule, roomHead, room, v)
	}
	if got := rowNames(h.m); !slices.Equal(got, []string{"telemetry", "bob/chat", "robot-js/pose", "robot-js/status"}) {
		t.Fatalf("rows %v: ours first, then the room by publisher", got)
	}
	// TOTAL is telemetry's 100 frames/s; ROOM is 10+20+30 received.
	var loc, rem float64
	for _, r := range h.m.tbl.rows {
		if r.Room() {
			rem += r.R.Rate.ReceivedFPS
		} else {
			loc += r.L.Rate.SentFPS
		}
	}
	if loc < 90 || rem < 50 {
		t.Fatalf("fixture rates: sent %.0f, received %.0f", loc, rem)
	}
	for _, tc := range []struct {
		line string
		fps  float64
	}{{lines[total], loc}, {lines[room], rem}} {
		if !strings.Contains(tc.line, " "+fmt.Sprintf("%.0f", tc.fps)+" ") {
			t.Fatalf("totals line %q does not say %.0f frames/s", tc.line, tc.fps)
		}
	}
	for _, c := range []string{"P50", "P99", "DECRYPT", "PLOST", "RECV 10s", "TYPE"} {
		if !strings.Contains(lines[roomHead], c) {
			t.Errorf("room header lacks %s: %q", c, lines[roomHead])
		}
	}
	if !strings.Contains(lines[rule], tracktable.TwoClocks+": two clocks (our clock minus the publisher's timestamp)") {
		t.Errorf("the rule does not say what the room's latency compares: %q", lines[rule])
	}
}

// S unsubscribes the selected room track and subscribes to it again,
// through the room monitor, by SID; the row keeps its figures. S on our
// own track, or an unpublished one, says why not.
func TestSubscribeKey(t *testing.T) {
	h, b, _ := roomModel(t, 140, 30, threeRemotes...)
	h.send(press("S")) // telemetry selected
	if !h.m.statusErr || !strings.Contains(h.m.statusMsg, "room section") || len(b.monCalls) != 0 {
		t.Fatalf("S on our own track: %q, calls %v", h.m.statusMsg, b.monCalls)
	}
	selectRow(t, h, "pose")
	h.send(press("S"))
	h.until("unsubscribed", 5*time.Second, func(m Model) bool {
		r, _ := m.selectedRow()
		return r.Room() && r.R.Stats.State == incoming.StateUnsubscribed && strings.Contains(m.statusMsg, "unsubscribed from")
	})
	if l := lineWith(h.m, "DTR_pose"); !strings.Contains(l, "unsubscribed") {
		t.Fatalf("row after S: %q", l)
	}
	frames := func() uint64 { r, _ := h.m.selectedRow(); return r.R.Stats.FramesCompleted }
	before := frames()
	h.send(press("S"))
	h.until("subscribed again", 5*time.Second, func(m Model) bool {
		r, _ := m.selectedRow()
		return r.R.Stats.State == incoming.StateSubscribed && strings.Contains(m.statusMsg, "asked the SFU")
	})
	if frames() < before {
		t.Fatalf("the row lost its figures: %d frames, had %d", frames(), before)
	}
	if !slices.Equal(b.monCalls, []string{"unsub DTR_pose", "sub DTR_pose"}) {
		t.Fatalf("monitor calls %v", b.monCalls)
	}
	// The SFU refusing shows, with its words made safe.
	b.mu.Lock()
	b.monErr = &incoming.SubscribeError{Reason: incoming.ReasonNotAllowed, SID: "DTR_pose", Name: "pose", Err: errors.New("perm\x1b[2J denied")}
	b.mu.Unlock()
	h.send(press("S"))
	h.until("the refusal", 5*time.Second, func(m Model) bool { return m.statusErr && strings.Contains(m.statusMsg, "unsubscribe from") })
	if strings.Contains(h.m.statusMsg, "\x1b") {
		t.Fatalf("status line carries an escape: %q", h.m.statusMsg)
	}
	// An unpublished track is not subscribed to.
	b.editRemote("DTR_chat", func(fr *fakeRemote) { fr.setState(incoming.StateUnpublished, fr.st.Since, "the publisher left") })
	h.send(tickMsg(time.Now()))
	selectRow(t, h, "chat")
	n := len(b.monCalls)
	h.send(press("S"))
	if !h.m.statusErr || !strings.Contains(h.m.statusMsg, "unpublished") || len(b.monCalls) != n {
		t.Fatalf("S on an unpublished track: %q, calls %v", h.m.statusMsg, b.monCalls)
	}
}

// A room track that was unpublished stays as history until x removes it
// (the room monitor forgets it); a live one is not removed; X takes every
// ended row, ours and the room's.
func TestRemoveRoomRows(t *testing.T) {
	h, b, _ := roomModel(t, 140, 30, threeRemotes...)
	selectRow(t, h, "pose")
	h.send(press("x"))
	if !h.m.statusErr || len(b.monCalls) != 0 || len(h.m.tbl.rows) != 4 {
		t.Fatalf("x on a live room track: %q, calls %v, %d rows", h.m.statusMsg, b.monCalls, len(h.m.tbl.rows))
	}
	for _, sid := range []string{"DTR_pose", "DTR_chat"} {
		b.editRemote(sid, func(fr *fakeRemote) { fr.setState(incoming.StateUnpublished, fr.st.Since, "the publisher left") })
	}
	h.send(tickMsg(time.Now()))
	if l := lineWith(h.m, "DTR_pose"); !strings.Contains(l, "unpublished") {
		t.Fatalf("an unpublished track keeps its row: %q", l)
	}
	h.send(press("x"))
	if got := rowNames(h.m); slices.Contains(got, "robot-js/pose") || !slices.Contains(b.monCalls, "remove DTR_pose") {
		t.Fatalf("x: rows %v, calls %v", got, b.monCalls)
	}
	h.send(tickMsg(time.Now()))
	if got := rowNames(h.m); slices.Contains(got, "robot-js/pose") {
		t.Fatalf("the removed row came back: %v", got)
	}
	h.send(press("X"))
	if got := rowNames(h.m); !slices.Equal(got, []string{"telemetry", "robot-js/status"}) || !slices.Contains(b.monCalls, "remove DTR_chat") {
		t.Fatalf("X: rows %v, calls %v", got, b.monCalls)
	}
}

// A republish after the publisher reconnected is visible as such: the
// old row reads "replaced", the new one is marked, and its detail pane
// links them.
func TestRepublishedRoomTrack(t *testing.T) {
	h, b, _ := roomModel(t, 140, 40, [3]string{"robot-js", "status", "DTR_s1"})
	b.editRemote("DTR_s1", func(fr *fakeRemote) {
		fr.st.ReplacedBy = "DTR_s2"
		fr.setState(incoming.StateUnpublished, fr.st.Since, "republished")
	})
	b.addRemote("robot-js", "status", "DTR_s2", 10, 64)
	b.editRemote("DTR_s2", func(fr *fakeRemote) { fr.st.Replaces = "DTR_s1" })
	h.send(tickMsg(time.Now()))
	if l := lineWith(h.m, "DTR_s1"); !strings.Contains(l, "replaced") {
		t.Fatalf("old publication: %q", l)
	}
	if l := lineWith(h.m, "DTR_s2"); !strings.Contains(l, "subscribed "+tracktable.Republished) {
		t.Fatalf("republish: %q", l)
	}
	for range 4 {
		h.send(press("j"))
	}
	h.send(press("d"))
	if !strings.Contains(plain(h.m), "republishes DTR_s1 (its publisher reconnected)") {
		t.Fatalf("the detail pane does not link the publications:\n%s", plain(h.m))
	}
}

// Sorting, the filter and the scroll indicator work in the room too: s
// orders both sections (the room by publisher, name, received bytes/s,
// frames lost) and marks each header; / matches names and publishers;
// ROOM says which of its rows are in view.
func TestRoomSortFilterScroll(t *testing.T) {
	h, b, _ := roomModel(t, 140, 40, threeRemotes...)
	b.editRemote("DTR_chat", func(fr *fakeRemote) { fr.lossPerStep = 1 })
	traffic(h, b, &clock{t: h.m.tbl.snap.At}, 1, nil, 0, nil)
	want := map[sortMode][]string{
		sortHandle: {"bob/chat", "robot-js/pose", "robot-js/status"},
		sortName:   {"bob/chat", "robot-js/pose", "robot-js/status"},
		sortRate:   {"robot-js/status", "bob/chat", "robot-js/pose"}, // 30×1536, 20×1024, 10×512
		sortDrops:  {"bob/chat", "robot-js/pose", "robot-js/status"},
	}
	arrows := map[sortMode]string{sortHandle: "FROM▲", sortName: "NAME▲", sortRate: "▼BYTES/S", sortDrops: "▼LOST"}
	for mode := range numSorts {
		if got := rowNames(h.m)[1:]; !slices.Equal(got, want[mode]) {
			t.Errorf("sort by %s: room rows %v, want %v", mode, got, want[mode])
		}
		head := lineWith(h.m, "FROM")
		if !strings.Contains(head, arrows[mode]) {
			t.Errorf("sort by %s: room header %q lacks %s", mode, head, arrows[mode])
		}
		h.send(press("s"))
	}
	h.send(press("/"))
	h.send(press("robot"))
	if got := rowNames(h.m); !slices.Equal(got, []string{"robot-js/pose", "robot-js/status"}) {
		t.Fatalf("filter by publisher: %v", got)
	}
	if l := lineWith(h.m, "ROOM ("); !strings.Contains(l, "ROOM (2/3)") {
		t.Fatalf("filtered room totals: %q", l)
	}
	h.send(press("esc"))

	// Many room rows on a short screen: ROOM says which are in view.
	for i := range 20 {
		b.addRemote("fleet", fmt.Sprintf("robot-%02d", i), fmt.Sprintf("DTR_f%02d", i), 5, 100)
	}
	h.send(tea.WindowSizeMsg{Width: 100, Height: 16})
	h.send(tickMsg(time.Now()))
	selectRow(t, h, "robot-19")
	l := lineWith(h.m, "ROOM (23)")
	if !strings.Contains(l, "of 23 ↑") {
		t.Fatalf("scrolled to the last room row: %q\n%s", l, plain(h.m))
	}
	if !strings.Contains(plain(h.m), "› robot-19") || !strings.Contains(plain(h.m), "TOTAL (1)") {
		t.Fatalf("the selection or our totals left the screen:\n%s", plain(h.m))
	}
}

// --subscribe-only: the screen is the room, says so, and the publishing
// keys say why they do nothing.
func TestSubscribeOnly(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	b.now = c.now
	h := newHarness(t, New(b, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour, SubscribeOnly: true}))
	h.send(tea.WindowSizeMsg{Width: 100, Height: 24})
	v := plain(h.m)
	for _, s := range []string{"subscribe-only", "waiting for another participant to publish a data track", "FROM"} {
		if !strings.Contains(v, s) {
			t.Fatalf("empty subscribe-only screen lacks %q:\n%s", s, v)
		}
	}
	if strings.Contains(v, "press p") || strings.Contains(v, "p publish") {
		t.Fatalf("subscribe-only offers to publish:\n%s", v)
	}
	for _, k := range []string{"p", "space", "g", "o"} {
		h.send(press(k))
		if !h.m.statusErr || !strings.Contains(h.m.statusMsg, "--subscribe-only") || len(b.calls) != 0 {
			t.Fatalf("%s: %q", k, h.m.statusMsg)
		}
	}
	b.addRemote("robot-js", "pose", "DTR_pose", 30, 100)
	h.send(tickMsg(time.Now()))
	if r, ok := h.m.selectedRow(); !ok || !r.Room() || !strings.Contains(lineWith(h.m, "robot-js"), "› pose") {
		t.Fatalf("the room row is not selected:\n%s", plain(h.m))
	}
}

// o pushes a file's frames into the selected track, in order, waiting
// for room (none dropped), and the detail pane says how far it got; a
// file that cannot be read says why, and nothing is pushed.
func TestFileSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lines.ndjson")
	var want []string
	var body strings.Builder
	for i := range 300 {
		line := fmt.Sprintf(`{"n":%d}`, i)
		want = append(want, line)
		body.WriteString(line + "\n")
	}
	if err := os.WriteFile(path, []byte(body.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	h.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	tr := publishNow(t, h, b, "telemetry")
	tr.setCapacity(16) // a real queue: the source waits for room
	go func() {
		for !h.quit.Load() && len(tr.frames()) < len(want) {
			tr.drain(-1)
			time.Sleep(time.Millisecond)
		}
	}()
	h.send(press("o"))
	if !h.m.source.IsOpen() {
		t.Fatal("o did not open the file prompt")
	}
	h.m.source.SetValue(path)
	h.send(press("enter"))
	h.until("the file pushed", 10*time.Second, func(m Model) bool { return strings.Contains(m.statusMsg, "done") })
	if got := tr.frames(); !slices.Equal(got, want) {
		t.Fatalf("pushed %d frames, want the file's %d lines in order", len(got), len(want))
	}
	if tr.refused != 0 {
		t.Fatalf("%d frames dropped: a file source waits for room", tr.refused)
	}
	h.send(press("d"))
	if !strings.Contains(plain(h.m), "pushed 300/300 frames") {
		t.Fatalf("the detail pane lacks the progress:\n%s", plain(h.m))
	}
	// A file that is not there.
	h.send(press("o"))
	h.m.source.SetValue(filepath.Join(dir, "missing\x1b[2J.ndjson"))
	h.send(press("enter"))
	h.until("the error", 5*time.Second, func(m Model) bool { return m.statusErr && strings.Contains(m.statusMsg, "stopped") })
	if strings.Contains(h.m.statusMsg, "\x1b") || !strings.Contains(h.m.statusMsg, "no such file") {
		t.Fatalf("missing file: %q", h.m.statusMsg)
	}
	if !strings.Contains(plain(h.m), "pushed 0/? frames") {
		t.Fatalf("the detail pane lacks the failed source:\n%s", plain(h.m))
	}
}

// The publish prompt refuses what --track refuses: control characters,
// escapes, invalid UTF-8.
func TestPromptRefusesUnsafeNames(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	h.send(tea.WindowSizeMsg{Width: 100, Height: 20})
	for _, name := range []string{"rtl\u202eevil", "zw\u2066x", "ls\u2028x"} {
		h.send(press("p"))
		h.m.prompt.SetValue(name)
		h.send(press("enter"))
		if !h.m.prompt.IsOpen() || !h.m.statusErr || len(b.calls) != 0 {
			t.Fatalf("%q: prompt open %v, status %q, publishes %v", name, h.m.prompt.IsOpen(), h.m.statusMsg, b.calls)
		}
		if !utf8.ValidString(h.m.statusMsg) || strings.ContainsAny(h.m.statusMsg, "\x1b\t\u202e") {
			t.Fatalf("the refusal shows the name raw: %q", h.m.statusMsg)
		}
		h.send(press("esc"))
	}
	// Typed (or pasted), such a character never reaches the input.
	h.send(press("p"))
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("ok\u202ename"), Paste: true})
	if v := h.m.prompt.Value(); v != "okname" || !h.m.statusErr {
		t.Fatalf("pasted bidi override: input %q, status %q", v, h.m.statusMsg)
	}
}

// hostile is text from outside that would drive a terminal: a title set,
// the screen wiped, C1 CSI, a bidi override, invalid UTF-8, a carriage
// return and a backspace.
const hostile = "\x1b]2;PWNED\x07\x1b[2J\u009b31m\u202eevil\xff\xfe\r\b"

// checkSafe fails when a view carries anything a terminal would act on
// (the plain theme draws no escapes of its own).
func checkSafe(t *testing.T, what, v string) {
	t.Helper()
	if !utf8.ValidString(v) {
		t.Fatalf("%s: the view is not valid UTF-8", what)
	}
	for i, r := range v {
		bad := (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x061c || r == 0x200e || r == 0x200f ||
			(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x2028 || r == 0x2029
		if bad {
			t.Fatalf("%s: %U at byte %d reaches the screen:\n%s", what, r, i, v)
		}
	}
}

// Every string from outside the program — the connection's status and
// error, the SFU's reasons and messages, names, identities, SIDs and
// encodings of other participants' tracks, their frames and schemas,
// timeline reasons, errors, log lines — reaches View() with nothing a
// terminal would act on.
func TestOutsideTextIsSafeEverywhere(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	logs := logbuf.New(100)
	b.now = c.now
	h := newHarness(t, New(b, Options{Theme: theme.Plain(), Now: c.now, Logs: logs, Tick: time.Hour,
		LocalSFU: &LocalSFU{URL: "ws://127.0.0.1:7880", APIKey: "key", EnvFile: "~/.cache/dttui/local-sfu.env"}})) // the room's name pinned in the log pane
	h.send(tea.WindowSizeMsg{Width: 240, Height: 60}) // every column, LAST ERROR too
	publishTracks(t, h, b, 100, 1024, "telemetry")
	b.mu.Lock()
	b.status.Room, b.status.Identity, b.status.URL = "room"+hostile, "me"+hostile, "ws://host"+hostile
	b.status.State, b.status.Err = report.Reconnecting, errors.New("signal lost: "+hostile)
	b.mu.Unlock()
	b.edit("telemetry", func(fl *fakeLocal) {
		fl.l.Timeline = append(fl.l.Timeline, outgoing.StateChange{At: c.t, State: outgoing.StateRepublishing, SID: "DTR_" + hostile, Reason: "sfu says " + hostile})
		fl.l.Errors = append(fl.l.Errors,
			outgoing.ErrorEvent{At: c.t, Cause: &outgoing.PublishError{Reason: outgoing.ReasonUnknown, Name: "telemetry", SFUReason: 9, RawMessage: "msg" + hostile}},
			outgoing.ErrorEvent{At: c.t, Err: "raw " + hostile})
	})
	b.addRemote("robot"+hostile, "pose"+hostile, "DTR_"+hostile, 30, 200)
	b.editRemote("DTR_"+hostile, func(fr *fakeRemote) {
		fr.st.Encryption = incoming.EncryptionGCM
		fr.st.Type = schema.Decl{Frame: schema.FrameEncoding{Custom: "enc" + hostile}, Schema: schema.ID{Name: "s" + hostile, Encoding: schema.SchemaEncoding{Custom: "x" + hostile}}}
		fr.st.Replaces, fr.st.ReplacedBy = "DTR_old"+hostile, "DTR_new"+hostile
		fr.st.Timeline = append(fr.st.Timeline, incoming.StateChange{At: c.t, State: incoming.StateSubscribed, Reason: "why " + hostile})
		fr.st.Errors = append(fr.st.Errors, incoming.ErrorEvent{At: c.t, Err: "err " + hostile})
		fr.st.LastFrame = incoming.Preview{Number: 1, At: c.t, Size: 40, Head: []byte("frame " + hostile)}
		fr.schemaDef = []byte("schema " + hostile + "\nline 2")
	})
	b.addRemote("other", "json", "DTR_json", 30, 200)
	b.editRemote("DTR_json", func(fr *fakeRemote) {
		fr.st.Type = schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON}}
		fr.st.LastFrame = incoming.Preview{Number: 1, At: c.t, Size: 40, Head: []byte(`{"k":"` + strings.ReplaceAll(hostile, "\x1b", `\u001b`) + `"}`)}
		fr.schemaErr = errors.New("blob " + hostile)
		fr.st.Type.Schema = schema.ID{Name: "s", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}
	})
	logAt(logs, c.t, 8, "sfu", "log "+hostile, "k"+hostile, "v"+hostile)
	traffic(h, b, c, 20, map[string]float64{"telemetry": 100}, 1024, nil)
	b.answers <- publishAnswer{err: &outgoing.PublishError{Reason: outgoing.ReasonUnknown, Name: "bad", SFUReason: 7, RawMessage: "M" + hostile}}
	h.send(press("p"))
	h.m.prompt.SetValue("bad")
	h.send(press("enter"))
	h.until("the failed row", 5*time.Second, func(m Model) bool { return len(m.failed) == 1 })

	checkSafe(t, "table", h.m.View())
	for _, name := range []string{"telemetry", "bad", "pose" + hostile, "json"} {
		selectRow(t, h, format.Outside(name))
		for _, k := range []string{"d", "t"} { // the detail pane, the charts
			h.send(press(k))
			checkSafe(t, name+" "+k, h.m.View())
			h.send(press(k))
		}
	}
	h.send(press("l"))
	checkSafe(t, "logs", h.m.View())
	h.send(press("l"))
	h.send(press("/"))
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("x\u202ey"), Paste: true})
	checkSafe(t, "filter", h.m.View())
	h.send(press("esc"))

	// The connection's failure, in the banner.
	reconnectWith(h, c, func(context.Context, string) (Backend, error) {
		return nil, errors.New("HTTP 401: " + hostile)
	})
	checkSafe(t, "connect error", h.m.View())
}

// A --track with --encoding, --schema and file=PATH publishes typed, its
// schema stored first, and pushes the file's frames instead of running
// the generator.
func TestAutostartTypedFileTrack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pose.ndjson")
	if err := os.WriteFile(path, []byte("{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	decl := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON},
		Schema: schema.ID{Name: "pose", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}}
	b := newFakeBackend()
	c := &clock{t: t0}
	b.now = c.now
	h := newHarness(t, New(b, Options{Theme: theme.Plain(), Now: c.now, Tick: time.Hour, Autostart: []AutoTrack{{
		Name: "pose", Type: decl, SchemaDef: []byte(`{"type":"object"}`), Source: &source.Spec{Path: path, MaxFrame: source.DefaultMaxFrame, ValidateJSON: true}}}}))
	h.send(tea.WindowSizeMsg{Width: 120, Height: 30})
	b.answers <- publishAnswer{}
	h.init()
	h.until("the file pushed", 5*time.Second, func(m Model) bool { return strings.Contains(m.statusMsg, "done") })
	b.mu.Lock()
	schemas, types, tr := b.schemas, b.types, b.tracks["pose"]
	b.mu.Unlock()
	if !slices.Equal(schemas, []string{`jsonschema:pose={"type":"object"}`}) || len(types) != 1 || types[0] != decl {
		t.Fatalf("schemas %v, declarations %v", schemas, types)
	}
	if got := tr.frames(); !slices.Equal(got, []string{`{"x":1}`, `{"x":2}`, `{"x":3}`}) {
		t.Fatalf("frames %q", got)
	}
	if tu := h.m.tracks[1]; tu == nil || tu.gen != nil {
		t.Fatal("a file track runs no generator")
	}
}

// 256 rows, ours or the room's, stay usable: every size fits, the
// selection scrolls to the last row and back, the filter narrows them and
// the totals count them all.
func TestManyRowsStayUsable(t *testing.T) {
	for _, room := range []bool{false, true} {
		_, _, m := manyRows(256, room, 100_000, 5)
		h := newHarness(t, m)
		for _, sz := range [][2]int{{80, 24}, {140, 40}, {50, 15}} {
			h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			assertFits(t, h.m.View(), sz[0], sz[1])
		}
		totals, last := "TOTAL (256)", "track-255"
		if room {
			totals, last = "ROOM (256)", "sensor-255"
		}
		if !strings.Contains(plain(h.m), totals) {
			t.Fatalf("room %v: no %s:\n%s", room, totals, plain(h.m))
		}
		h.send(tea.WindowSizeMsg{Width: 140, Height: 40})
		h.send(press(strings.Repeat("j", 300)))
		if l := lineWith(h.m, last); !strings.HasPrefix(l, "› ") || !strings.Contains(lineWith(h.m, totals), "/256 ↑") {
			t.Fatalf("room %v: the last row is not in view and selected:\n%s", room, plain(h.m))
		}
		h.send(press(strings.Repeat("k", 300)))
		h.send(press("/"))
		h.send(press("-12"))
		v := plain(h.m)
		if !strings.Contains(v, "/256)") || strings.Contains(v, "-200") {
			t.Fatalf("room %v: the filter did not narrow:\n%s", room, v)
		}
	}
}
