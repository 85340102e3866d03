// Package format renders numbers, sizes and durations for narrow columns.
package format

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/dttui/dttui/textsafe"
)

// Bytes is a byte count (or rate) in binary units, at most 4 digits and
// 8 cells ("1023 KiB"): frame sizes are powers of two, so 1 KiB reads as
// 1 KiB, and no counter, however long the run, outgrows its column.
func Bytes(v float64) string {
	if v < 1024 {
		return fmt.Sprintf("%.0f B", max(v, 0))
	}
	units := [...]string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	u := 0
	for v /= 1024; v >= 1024 && u < len(units)-1; u++ {
		v /= 1024
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f %s", v, units[u]) // "%.3g" would say 1e+03
	}
	return fmt.Sprintf("%.3g %s", v, units[u])
}

// CountWidth is the most cells Count ever takes.
const CountWidth = 5

// Count is a counter or rate in at most CountWidth cells: exact below
// 10 000 (with one decimal below 10, for fractional rates), then three
// significant digits and an SI suffix: 12.3k, 193k, 1.2M, 45.6G.
func Count(v float64) string {
	switch {
	case v < 0 || v != v:
		return "-"
	case v < 10 && v != float64(int64(v)):
		return fmt.Sprintf("%.1f", v)
	case v < 10_000:
		return fmt.Sprintf("%.0f", v)
	}
	for _, u := range []string{"k", "M", "G", "T", "P", "E"} {
		// Round first: 999.7k is 1M, not "1e+03k".
		if v /= 1000; v < 999.5 {
			return strconv.FormatFloat(v, 'g', 3, 64) + u
		}
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + "E" // beyond uint64
}

func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 9950*time.Microsecond:
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	case d < 10*time.Millisecond:
		return "10ms" // not "10.0ms": a cell sized for the widest is one shorter
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Truncate(time.Second).String()
}

// Fit pads or truncates plain text to exactly w cells; right aligns numbers.
func Fit(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		if w == 1 {
			return "…"
		}
		s = ansi.Truncate(s, w-1, "") + "…"
	}
	pad := strings.Repeat(" ", w-ansi.StringWidth(s))
	if right {
		return pad + s
	}
	return s + pad
}

// OrDash shows an empty value as "-".
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// LastN returns the last n elements of s.
func LastN[T any](s []T, n int) []T {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Flow packs items into lines of at most w cells, joined by sep, in
// order: a row of counters wraps onto more lines instead of losing its
// end. An item wider than w gets a line of its own, cut with "…".
func Flow(w int, sep string, items ...string) []string {
	var lines []string
	cur := ""
	for _, it := range items {
		switch {
		case cur == "":
			cur = it
		case ansi.StringWidth(cur)+ansi.StringWidth(sep)+ansi.StringWidth(it) <= w:
			cur += sep + it
		default:
			lines = append(lines, cur)
			cur = it
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			lines[i] = ansi.Truncate(l, w, "…")
		}
	}
	return lines
}

// Outside is text from outside dttui (a server's error, an SFU's reason,
// another participant's name, a library's log line) made fit for one
// line of the screen: runs of whitespace that break lines (a message
// over several lines) fold into one space, and everything a terminal
// could act on is shown as a visible escape by textsafe.Line, the one
// boundary for such text. Idempotent: what it returns passes unchanged.
func Outside(s string) string {
	if strings.ContainsAny(s, "\r\n\t") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return textsafe.Line(s)
}
