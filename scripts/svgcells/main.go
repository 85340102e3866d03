// Command svgcells moves the background rectangles of an SVG that
// charmbracelet/freeze wrote (stdin to stdout) onto the cells the text
// really occupies. freeze places a background at column × size/1.68, the
// advance of its own font, JetBrains Mono; the screenshots are drawn in
// Agave, whose advance is half an em, so a highlight drifted right as
// its column grew (a log search's match sat five cells past its text,
// the prompt's cursor three cells past the end of the name) while the
// text stayed in place.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
)

// freezeRatio is freeze's font height to width ratio (ansi.go,
// fontHeightToWidthRatio in v0.2.2).
const freezeRatio = 1.68

var (
	rectRE = regexp.MustCompile(`<rect fill="([^"]*)" x="([0-9.]+)px" y="([0-9.]+)px" height="([0-9.]+)px" width="([0-9.]+)px"/>`)
	textRE = regexp.MustCompile(`<text x="([0-9.]+)px"`)
)

func main() {
	advance := flag.Float64("advance", 0.5, "the font's advance, in em (Agave: 1024/2048)")
	flag.Parse()
	svg, err := io.ReadAll(bufio.NewReader(os.Stdin))
	if err == nil {
		_, err = os.Stdout.Write(fix(svg, *advance))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "svgcells:", err)
		os.Exit(1)
	}
}

// fix rescales every background rectangle's x and width about the left
// edge of the text by the font's advance over freeze's.
func fix(svg []byte, advance float64) []byte {
	m := textRE.FindSubmatch(svg)
	if m == nil {
		return svg
	}
	left, _ := strconv.ParseFloat(string(m[1]), 64)
	r := advance * freezeRatio
	return rectRE.ReplaceAllFunc(svg, func(rect []byte) []byte {
		f := rectRE.FindSubmatch(rect)
		x, _ := strconv.ParseFloat(string(f[2]), 64)
		w, _ := strconv.ParseFloat(string(f[5]), 64)
		return fmt.Appendf(nil, `<rect fill="%s" x="%.2fpx" y="%spx" height="%spx" width="%.5fpx"/>`,
			f[1], left+(x-left)*r, f[3], f[4], w*r)
	})
}
