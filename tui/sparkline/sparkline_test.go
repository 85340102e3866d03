package sparkline

import (
	"testing"
	"unicode/utf8"
)

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		in    []float64
		width int
		want  string
	}{
		{nil, 4, "    "},
		{[]float64{0, 1, 2, 4}, 4, " ▂▄█"},
		{[]float64{5, 5}, 4, "  ██"},
		{[]float64{1, 2, 3, 4, 8}, 3, "▃▄█"},
		{[]float64{1}, 0, ""},
	} {
		got := Render(tc.in, tc.width)
		if got != tc.want || utf8.RuneCountInString(got) != tc.width {
			t.Errorf("Render(%v, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}
