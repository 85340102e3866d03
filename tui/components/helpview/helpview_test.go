package helpview

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// A note wider than the line wraps onto lines of its own, whole; the
// short ones around it still share lines (main: the chart marks' note was
// cut at "U unpublis…" at 140 columns).
func TestFlowNotesWrapsALongNote(t *testing.T) {
	long := "charts: per second; marks r/R reconnecting/reconnected, p/P republishing/republished, U unpublished, S stalled, D disconnected"
	got := flowNotes(40, "one", "two", long, "three")
	if got[0] != "one · two" || got[len(got)-1] != "three" {
		t.Fatalf("short notes not flowed around the long one: %q", got)
	}
	mid := got[1 : len(got)-1]
	for _, l := range mid {
		if ansi.StringWidth(l) > 40 || strings.Contains(l, "…") {
			t.Fatalf("line %q is cut or too wide", l)
		}
	}
	if joined := strings.Join(strings.Fields(strings.Join(mid, " ")), " "); joined != long {
		t.Fatalf("the long note, rejoined:\n%q\nwant\n%q", joined, long)
	}
}
