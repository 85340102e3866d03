package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/tui/logbuf"
)

// lineWith is the first line of the view holding s ("" if none).
func lineWith(m Model, s string) string {
	for _, l := range strings.Split(plain(m), "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// An E2EE track says so in its row, in words.
func TestE2EETracksAreMarked(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, New(b, Options{E2EEAvailable: true, Now: (&clock{t: t0}).now, Tick: time.Hour}))
	b.now = h.m.opts.Now
	h.send(tea.WindowSizeMsg{Width: 80, Height: 20})
	publishNow(t, h, b, "plain")
	b.answers <- publishAnswer{}
	h.send(press("p"))
	h.m.prompt.SetValue("secret")
	h.send(press("tab"))
	h.send(press("enter"))
	h.until("the E2EE track", 5*time.Second, func(m Model) bool { return len(m.tracks) == 2 })
	if l := lineWith(h.m, "secret"); !strings.Contains(l, "published E2EE") {
		t.Fatalf("E2EE row not marked: %q", l)
	}
	if l := lineWith(h.m, "plain"); strings.Contains(l, "E2EE") {
		t.Fatalf("plain row marked: %q", l)
	}
}

// When the tracks outnumber the rows, the totals line says which are in
// view and which way the others are.
func TestTableSaysWhenRowsAreHidden(t *testing.T) {
	b := newFakeBackend()
	b.monitorOff = true // the room's section has a test of its own
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	h.send(tea.WindowSizeMsg{Width: 80, Height: 10}) // the table: its header, 5 rows, totals
	for i := range 9 {
		publishNow(t, h, b, fmt.Sprintf("t%d", i))
	}
	for range 9 {
		h.send(press("up"))
	}
	if l := lineWith(h.m, "TOTAL"); !strings.Contains(l, "rows 1–5 of 9 ↓") {
		t.Fatalf("top of a long table: %q\n%s", l, plain(h.m))
	}
	for range 5 {
		h.send(press("down"))
	}
	if l := lineWith(h.m, "TOTAL"); !strings.Contains(l, "rows 2–6 of 9 ↑ ↓") {
		t.Fatalf("middle: %q\n%s", l, plain(h.m))
	}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 20})
	if l := lineWith(h.m, "TOTAL"); strings.Contains(l, "rows") {
		t.Fatalf("every row fits, yet: %q", l)
	}
}

// x takes an ended row (unpublished, or a failed publish) off the table,
// and the session forgets the track; a live one stays, with the reason;
// X takes every ended row.
func TestRemoveEndedRows(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	h.send(tea.WindowSizeMsg{Width: 100, Height: 20})
	for _, n := range []string{"live", "gone", "gone2"} {
		publishNow(t, h, b, n)
	}
	for _, n := range []string{"gone", "gone2"} {
		b.edit(n, func(fl *fakeLocal) { fl.l.State = outgoing.StateUnpublished })
	}
	b.answers <- publishAnswer{err: &outgoing.PublishError{Reason: outgoing.ReasonDuplicateName, Name: "dup"}}
	h.send(press("p"))
	h.m.prompt.SetValue("dup")
	h.send(press("enter"))
	h.until("the failed row", 5*time.Second, func(m Model) bool { return len(m.failed) == 1 })
	h.send(tickMsg(t0))

	h.send(press("kkkk"))
	h.send(press("x")) // on "live"
	if !h.m.statusErr || lineWith(h.m, "live") == "" {
		t.Fatalf("a published row was removed: %q", h.m.statusMsg)
	}
	h.send(press("down"))
	h.send(press("x"))
	if lineWith(h.m, "gone ") != "" || !strings.Contains(h.m.statusMsg, `removed "gone"`) {
		t.Fatalf("unpublished row still there (%q):\n%s", h.m.statusMsg, plain(h.m))
	}
	// It stays removed at the next report, and out of the totals.
	h.send(tickMsg(t0))
	if lineWith(h.m, "gone ") != "" || !strings.Contains(lineWith(h.m, "TOTAL"), "TOTAL (2)") {
		t.Fatalf("removed row came back:\n%s", plain(h.m))
	}
	h.send(press("X"))
	if lineWith(h.m, "gone2") != "" || lineWith(h.m, "dup") != "" || lineWith(h.m, "live") == "" ||
		!strings.Contains(h.m.statusMsg, "removed 2 ended row(s)") {
		t.Fatalf("X (%q):\n%s", h.m.statusMsg, plain(h.m))
	}
	// The session forgot them, with everything it recorded.
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.forgotten) != 2 || len(b.locals) != 1 {
		t.Fatalf("forgotten %v, %d tracks left in the session", b.forgotten, len(b.locals))
	}
}

// / filters the table by name while the table has the keys: the rows
// narrow as the name is typed, typed keys are text (g starts nothing),
// enter gives the keys back with the filter kept, esc clears it. With the
// log pane focused, / is still its search.
func TestFilterByName(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	h.send(tea.WindowSizeMsg{Width: 100, Height: 20})
	for _, n := range []string{"telemetry", "chat", "TeleCmd"} {
		publishNow(t, h, b, n)
	}
	names := func() (out []string) {
		for _, r := range h.m.tbl.rows {
			out = append(out, r.L.Name)
		}
		return out
	}
	h.send(press("/"))
	h.send(press("tele"))
	h.send(press("g"))
	if len(h.m.tbl.rows) != 0 || lineWith(h.m, "no row matches /teleg") == "" {
		t.Fatalf("\"teleg\" matches nothing, yet %v:\n%s", names(), plain(h.m))
	}
	for _, tu := range h.m.tracks {
		if tu.gen != nil {
			t.Fatal("g typed into the filter started a generator")
		}
	}
	h.send(tea.KeyMsg{Type: tea.KeyBackspace})
	if got := strings.Join(names(), ","); got != "telemetry,TeleCmd" {
		t.Fatalf("filter \"tele\": rows %s\n%s", got, plain(h.m))
	}
	if l := lineWith(h.m, "TOTAL"); !strings.Contains(l, "TOTAL (2/3)") {
		t.Fatalf("totals of a filtered table: %q", l)
	}
	if l := lineWith(h.m, "/tele"); !strings.Contains(l, "2 of 3 rows") {
		t.Fatalf("filter bar: %q", l)
	}
	h.send(press("enter")) // keep it; the table has the keys again
	h.send(press("g"))
	if r, _ := h.m.selectedRow(); !strings.Contains(strings.ToLower(r.L.Name), "tele") || r.ui.gen == nil {
		t.Fatalf("g after enter: selected %q, generator %v", r.L.Name, r.ui.gen != nil)
	}
	h.send(press("g"))
	if l := lineWith(h.m, "filter /tele"); l == "" {
		t.Fatalf("kept filter not shown:\n%s", plain(h.m))
	}
	h.send(press("esc"))
	if len(h.m.tbl.rows) != 3 || lineWith(h.m, "filter") != "" {
		t.Fatalf("esc did not clear the filter:\n%s", plain(h.m))
	}

	// The log pane keeps / while it has the keys; back on the table, /
	// is the filter again.
	h = newHarness(t, newTestModel(b, c, logbuf.New(10)))
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	h.send(press("l"))
	h.send(press("/"))
	if !h.m.logs.Searching() || h.m.filter.Editing() {
		t.Fatal("/ in the focused log pane is not its search")
	}
	h.send(press("esc"))
	h.send(press("esc")) // back to the table
	h.send(press("/"))
	if !h.m.filter.Editing() {
		t.Fatal("/ on the table does not open the filter")
	}
}

// A published track whose frames are lost on the way (the SFU shed them)
// reads "losing" while it loses them, not "published", and "published"
// again once the drop window has passed without loss.
func TestRowSaysWhenATrackLosesFrames(t *testing.T) {
	b := newFakeBackend()
	c := &clock{t: t0}
	h := newHarness(t, newTestModel(b, c, nil))
	h.send(tea.WindowSizeMsg{Width: 140, Height: 20})
	publishNow(t, h, b, "burst")
	b.edit("burst", func(fl *fakeLocal) { fl.lossPerStep = 2 })
	traffic(h, b, c, 30, map[string]float64{"burst": 50}, 1024, nil)
	if l := lineWith(h.m, "burst"); !strings.Contains(l, "losing") {
		t.Fatalf("while losing: %q", l)
	}
	b.edit("burst", func(fl *fakeLocal) { fl.lossPerStep = 0 })
	traffic(h, b, c, 10*int(DropWindow/time.Second), map[string]float64{"burst": 50}, 1024, nil)
	if l := lineWith(h.m, "burst"); !strings.Contains(l, "published") {
		t.Fatalf("after the drop window: %q", l)
	}
}

// Display details: with no rows yet, the header still has the receive
// columns a loopback fills (RX/S, LOST, P50, P99); at 200 columns the SID
// is whole, not cut as at 140.
func TestTableHeaderAndWideSID(t *testing.T) {
	b := newFakeBackend()
	h := newHarness(t, newTestModel(b, &clock{t: t0}, nil))
	h.send(tea.WindowSizeMsg{Width: 140, Height: 20})
	h.send(tickMsg(t0))
	head := lineWith(h.m, "NAME")
	for _, col := range []string{"RX/S", "LOST", "P50", "P99"} {
		if !strings.Contains(head, col) {
			t.Errorf("the empty table's header lacks %s: %q", col, head)
		}
	}
	publishNow(t, h, b, "telemetry-imu")
	h.send(tea.WindowSizeMsg{Width: 200, Height: 20})
	if l := lineWith(h.m, "telemetry-imu"); !strings.Contains(l, "DTR_telemetry-imu") {
		t.Errorf("the SID is cut at 200 columns: %q", l)
	}
}
