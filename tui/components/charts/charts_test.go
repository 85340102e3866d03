package charts

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/report/series"
	"github.com/dttui/dttui/tui/common"
	"github.com/dttui/dttui/tui/keys"
	"github.com/dttui/dttui/tui/theme"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func pane() *Model {
	return New(common.Context{Theme: theme.Plain(), Now: func() time.Time { return t0 }}, keys.Default())
}

// The value axis ends on a round number: 1, 2 or 5 times a power of ten,
// bytes on a power of two.
func TestNiceCeil(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		u    series.Unit
		want float64
	}{
		{0, series.PerSecond, 1}, {math.NaN(), series.PerSecond, 1}, {0.7, series.PerSecond, 1}, {1, series.PerSecond, 1},
		{101, series.PerSecond, 200}, {480, series.PerSecond, 500}, {0.0023, series.Duration, 0.005},
		{1000, series.BytesPerSecond, 1024}, {524000, series.BytesPerSecond, 512 << 10},
	} {
		if got := niceCeil(tc.v, tc.u); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("niceCeil(%v) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// The time axis has "now" at its right end, relative times at round
// steps, and each mark where it happened, over any label it meets.
func TestTimeAxis(t *testing.T) {
	m := pane()
	end := t0.Add(10 * time.Minute)
	marks := []series.Mark{{At: end.Add(-150 * time.Second), Kind: series.Reconnected}}
	axis := m.timeAxis(marks, 5*time.Minute, end, 3, 60)
	if w := ansi.StringWidth(axis); w != 3+1+60 {
		t.Fatalf("axis is %d cells: %q", w, axis)
	}
	if !strings.HasSuffix(axis, "now") || !strings.Contains(axis, "-4m") || !strings.HasPrefix(axis, "   └") {
		t.Fatalf("axis %q", axis)
	}
	// -2m30s of a 5-minute window is the middle: column 30 of 60 (±1).
	at := slices.Index([]rune(axis)[4:], 'R') // after the gutter and the corner
	if at < 29 || at > 31 {
		t.Fatalf("mark at column %d of %q", at, axis)
	}
}

// Too many panels for the room: the most telling ones stay, in their own
// order.
func TestKeepByPriority(t *testing.T) {
	set := &series.Set{}
	var slots []slot
	for _, title := range []string{series.TitleFrames, series.TitleBytes, series.TitleDrops, series.TitleLatency, series.TitleRTT} {
		slots = append(slots, slot{set, series.Panel{Title: title}})
	}
	var got []string
	for _, s := range keep(slots, 3) {
		got = append(got, s.panel.Title)
	}
	if strings.Join(got, ",") != strings.Join([]string{series.TitleFrames, series.TitleDrops, series.TitleLatency}, ",") {
		t.Fatalf("kept %v", got)
	}
}

// Auto shows only with room for two rows of panels, three across, and not
// over a log pane; On takes the minimum even from the table; Off never.
func TestRoom(t *testing.T) {
	m := pane()
	if m.Room(140, AutoHeight, AutoHeight, false) != AutoHeight || m.Room(AutoWidth-1, 30, 30, false) != 0 ||
		m.Room(140, AutoHeight-1, 40, false) != 0 || m.Room(140, 30, 30, true) != 0 {
		t.Fatal("auto")
	}
	m.Toggle(false)
	if m.Room(80, 3, 12, false) != MinHeight || m.Room(80, 20, 20, false) != 20 || m.Room(80, 3, 5, false) != 0 {
		t.Fatal("on")
	}
	m.Toggle(true)
	if m.Mode() != Off || m.Room(200, 50, 50, false) != 0 {
		t.Fatal("off")
	}
}
