package main

import (
	"fmt"
	"strings"
	"testing"
)

// A background freeze put at column 25, 8 cells wide (and its half cell),
// lands on Agave's column 25 at 19 px: 9.5 px a cell.
func TestFixMovesBackgroundsOntoCells(t *testing.T) {
	cell := 19 / freezeRatio
	in := fmt.Sprintf(`<svg><rect width="1400.00" height="987.29" fill="#171717" x="0.00px" y="0.00px"/><g>`+
		`<rect fill="#d29922" x="%.2fpx" y="449.44px" height="23.80px" width="%.5fpx"/></g>`+
		`<text x="20.00px" y="57.80px" xml:space="preserve">`, 20+25*cell, 8.5*cell)
	got := string(fix([]byte(in), 0.5))
	want := `<rect fill="#d29922" x="257.50px" y="449.44px" height="23.80px" width="80.75000px"/>`
	if !strings.Contains(got, want) {
		t.Fatalf("got\n%s\nwant a rect\n%s", got, want)
	}
	if !strings.Contains(got, `<rect width="1400.00" height="987.29" fill="#171717" x="0.00px" y="0.00px"/>`) {
		t.Fatalf("the window's rectangle moved:\n%s", got)
	}
}
