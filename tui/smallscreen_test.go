package tui

import (
	"regexp"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/tui/logbuf"
)

// On small screens the way out comes first in the footer (the publish
// prompt at 80×24 keeps "esc cancel"; the log pane at 50×15 its "esc"),
// and the log pane at 50×15 shows whole records under one pinned line,
// not half a join line and the tail of a wrapped warning.
func TestSmallScreensKeepTheWayOutAndWholeRecords(t *testing.T) {
	buf := logbuf.New(100)
	seedLogs(buf)
	b := newFakeBackend()
	m := newTestModel(b, &clock{t: t0}, buf)
	m.opts.LocalSFU = &LocalSFU{URL: "ws://127.0.0.1:7880", APIKey: "dttuiab12cd34", EnvFile: "/home/user/.cache/dttui/local-sfu-7880.env"}
	h := newHarness(t, m)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	publishNow(t, h, b, "demo")
	h.send(press("p"))
	if v := plain(h.m); !strings.Contains(lastLine(v), "esc cancel") {
		t.Fatalf("the prompt's footer at 80×24 has no way out:\n%s", v)
	}
	h.send(press("esc"))

	h.send(tea.WindowSizeMsg{Width: 50, Height: 15})
	h.send(press("l"))
	v := plain(h.m)
	assertFits(t, h.m.View(), 50, 15)
	if !strings.HasPrefix(strings.TrimSpace(lastLine(v)), "esc close logs") {
		t.Fatalf("the log pane's footer at 50×15 does not start with its way out:\n%s", v)
	}
	var box []string
	for _, l := range strings.Split(v, "\n") {
		if s := strings.TrimSpace(l); strings.HasPrefix(s, "│") {
			box = append(box, strings.TrimSpace(strings.Trim(s, "│")))
		}
	}
	stamp := regexp.MustCompile(`^\d\d:\d\d:\d\d `)
	if len(box) < 3 || !strings.HasPrefix(box[0], "embedded SFU") || !stamp.MatchString(box[1]) {
		t.Fatalf("want one pinned line, then a record from its start:\n%s", v)
	}
}

func lastLine(v string) string {
	ls := strings.Split(strings.TrimRight(v, "\n"), "\n")
	return ls[len(ls)-1]
}
