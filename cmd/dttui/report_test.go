package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/dttui/dttui/report/series"
)

// A --report path that cannot be written, or a --metrics-addr that
// cannot be bound, fails before the run (before the embedded SFU starts:
// its line is not printed), as a bad command line, rather than during or
// after it: the report lost, the metrics not served.
func TestOutputsFailBeforeTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("would start the embedded SFU if the outputs were not checked first")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--report", filepath.Join(t.TempDir(), "missing", "run.html")}, "dttui: --report: "},
		{[]string{"--metrics-addr", "bogus"}, "dttui: --metrics-addr bogus: "},
		{[]string{"--metrics-addr", busy.Addr().String()}, "dttui: --metrics-addr " + busy.Addr().String() + ": "},
	} {
		var out bytes.Buffer
		var errOut lockedBuffer
		args := append([]string{"--headless", "--local-port", "0", "--duration", "3s", "--track", "a:10"}, tc.args...)
		code := run(context.Background(), args, env(nil), stdio{out: &out, err: &errOut})
		lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
		if code != exitUsage || out.Len() != 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, code, out.String(), errOut.String())
		}
	}
}

// A recorded headless run against the embedded SFU writes its HTML report
// (--report): for each track the JSON's final line names, a section with
// a chart per panel, naming every series, and the per-second figures they
// are drawn from, which add up to no more than the run's totals; opened
// in headless Chromium, the charts are drawn.
func TestRunHeadlessWritesReport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded SFU")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	path := filepath.Join(dir, "run.html")
	var out bytes.Buffer
	var errOut lockedBuffer
	code := run(context.Background(), []string{"--headless", "--local-port", "0", "--duration", "4s", "--track", "telemetry:200:1k", "--track", "chat:20:256",
		"--report", path}, env(nil), stdio{out: &out, err: &errOut})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var final struct {
		Tracks []struct {
			Name         string
			Handle       int
			Pushed, Sent uint64
			Rx           struct{ Frames uint64 }
		}
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &final); err != nil {
			t.Fatal(err)
		}
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	if len(final.Tracks) != 2 {
		t.Fatalf("final line: %+v", final)
	}
	panels := map[string][]string{series.TitleFrames: {"sent", "received"}, series.TitleBytes: {"sent", "received"},
		series.TitleDrops: {"lost"}, series.TitleLatency: {"p50", "p95", "p99"}}
	for _, tr := range final.Tracks {
		sec := find(doc, func(n *html.Node) bool { return attr(n, "id") == fmt.Sprintf("track-%d", tr.Handle) })
		if len(sec) != 1 || !strings.Contains(textOf(sec[0]), "Track "+tr.Name) {
			t.Fatalf("no section for %s", tr.Name)
		}
		svgs := find(sec[0], tagged("svg"))
		if len(svgs) != len(panels) {
			t.Fatalf("%s: %d charts", tr.Name, len(svgs))
		}
		for _, svg := range svgs {
			text := textOf(svg)
			for title, names := range panels {
				if strings.Contains(text, title) {
					for _, n := range names {
						if !strings.Contains(text, n) {
							t.Fatalf("%s: chart %q does not name %q", tr.Name, title, n)
						}
					}
				}
			}
		}
		figures := textOf(find(sec[0], func(n *html.Node) bool { return attr(n, "class") == "figures" })[0])
		if !strings.Contains(figures, "frames pushed "+strconv.FormatUint(tr.Pushed, 10)) || !strings.Contains(figures, "sent "+strconv.FormatUint(tr.Sent, 10)) {
			t.Fatalf("%s: figures %q differ from the final line %+v", tr.Name, figures, tr)
		}
		tables := find(sec[0], tagged("table"))
		rows := find(tables[len(tables)-1], tagged("tr"))
		head := find(rows[0], tagged("th"))
		col := -1
		for i, h := range head {
			if textOf(h) == series.TitleFrames+": sent" {
				col = i
			}
		}
		var sum uint64
		for _, r := range rows[1:] {
			n, err := strconv.ParseUint(textOf(find(r, tagged("td"))[col]), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			sum += n
		}
		// Whole seconds only: the run's first and last moments are not in them.
		if len(rows) < 3 || sum == 0 || sum > tr.Sent {
			t.Fatalf("%s: %d seconds summing to %d frames sent, of %d", tr.Name, len(rows)-1, sum, tr.Sent)
		}
	}
	// The connection's chart: the session sampled its RTT every second.
	conn := find(doc, func(n *html.Node) bool { return attr(n, "id") == "connection" })
	if len(conn) != 1 || len(find(conn[0], tagged("svg"))) != 1 {
		t.Fatal("no connection chart")
	}
	tables := find(conn[0], tagged("table"))
	measured := 0
	for _, r := range find(tables[len(tables)-1], tagged("tr"))[1:] {
		if v, err := strconv.ParseFloat(textOf(find(r, tagged("td"))[1]), 64); err == nil && v > 0 {
			measured++
		}
	}
	if measured < 2 {
		t.Fatalf("%d seconds of the connection have an RTT", measured)
	}
	screenshot(t, path, filepath.Join(dir, "run.png"))
}

// screenshot opens the report in headless Chromium and checks the charts
// were drawn: the sent curve's colour is on the page.
func screenshot(t *testing.T, page, shot string) {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("DTTUI_REQUIRE_JS") == "1" {
			t.Fatal("chromium is missing and DTTUI_REQUIRE_JS=1")
		}
		t.Log("chromium not installed: the report is not opened in a browser (apt-get install chromium; DTTUI_REQUIRE_JS=1 makes this an error)")
		return
	}
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(), "--hide-scrollbars",
		"--window-size=1280,1400", "--screenshot="+shot, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	blue := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			// The curve's colour, give or take the anti-aliasing of a
			// thin line.
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, 0x58) && near(g>>8, 0xA6) && near(bl>>8, 0xFF) {
				blue++
			}
		}
	}
	if blue < 50 {
		t.Fatalf("the screenshot shows no sent curve (%d pixels of its colour)", blue)
	}
}

func near(v, want uint32) bool { return max(v, want)-min(v, want) <= 0x20 }

func find(n *html.Node, match func(*html.Node) bool) (out []*html.Node) {
	if match(n) {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, find(c, match)...)
	}
	return out
}

func tagged(tag string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == tag }
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for _, t := range find(n, func(m *html.Node) bool { return m.Type == html.TextNode }) {
		b.WriteString(t.Data)
	}
	return b.String()
}
