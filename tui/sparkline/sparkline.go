// Package sparkline draws a series as block characters, newest on the
// right, scaled to the series' own maximum (as k9s's tchart does).
package sparkline

import "strings"

var blocks = []rune("▁▂▃▄▅▆▇█")

// Render draws the last width values of series. Zero draws a space so an
// idle track reads as empty, not as a low bar.
func Render(series []float64, width int) string {
	if width <= 0 {
		return ""
	}
	if len(series) > width {
		series = series[len(series)-width:]
	}
	var peak float64
	for _, v := range series {
		peak = max(peak, v)
	}
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", width-len(series)))
	for _, v := range series {
		switch {
		case v <= 0 || peak <= 0:
			b.WriteRune(' ')
		default:
			i := int(v / peak * float64(len(blocks)-1))
			b.WriteRune(blocks[min(max(i, 0), len(blocks)-1)])
		}
	}
	return b.String()
}
