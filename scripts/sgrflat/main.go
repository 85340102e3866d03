// Command sgrflat rewrites ANSI text (stdin to stdout) so that
// charmbracelet/freeze draws what a terminal shows. freeze styles text
// with the attributes of the latest SGR sequence alone: it ignores resets
// of one attribute (39 default foreground, 49, 22, 24, 27), reverse video
// (7), and it drops the style at every line break. tmux capture-pane ends
// a coloured run with 39, so freeze painted the rest of the line in that
// colour (the green row in the old live.png), and the selected row's
// reverse video never showed. sgrflat keeps the SGR state as a terminal
// does and re-emits all of it, after a reset, at every change and at the
// start of every line, drawing reverse video as swapped colours.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// What a colour reverses to when it is the terminal's default: freeze's
// window background, and a light foreground.
const (
	defaultFG = "2;208;208;208"
	defaultBG = "2;23;23;23"
)

// attrs are the on/off attributes, as bits.
type attrs uint8

const (
	bold attrs = 1 << iota
	faint
	italic
	underline
	reverse
	strike
)

// SGR codes that set and clear them; emitted is what freeze is given
// (reverse is drawn as swapped colours instead).
var (
	setAttr   = map[int]attrs{1: bold, 2: faint, 3: italic, 4: underline, 7: reverse, 9: strike}
	clearAttr = map[int]attrs{22: bold | faint, 23: italic, 24: underline, 27: reverse, 29: strike}
	emitted   = []struct {
		a    attrs
		code string
	}{{bold, "1"}, {faint, "2"}, {italic, "3"}, {underline, "4"}, {strike, "9"}}
)

// state is the SGR state. Colours are kept without their 38/48 prefix:
// "5;n", "2;r;g;b", or "" for the terminal's default.
type state struct {
	on     attrs
	fg, bg string
}

func (s state) String() string {
	var p []string
	for _, e := range emitted {
		if s.on&e.a != 0 {
			p = append(p, e.code)
		}
	}
	fg, bg := s.fg, s.bg
	if s.on&reverse != 0 {
		fg, bg = bg, fg
		if fg == "" {
			fg = defaultBG
		}
		if bg == "" {
			bg = defaultFG
		}
	}
	if fg != "" {
		p = append(p, "38;"+fg)
	}
	if bg != "" {
		p = append(p, "48;"+bg)
	}
	if len(p) == 0 {
		return "\x1b[0m"
	}
	return "\x1b[0;" + strings.Join(p, ";") + "m"
}

// basic turns a 16-colour index (0-15) into a 256-colour one.
func basic(n int) string { return "5;" + strconv.Itoa(n) }

func (s *state) apply(params string) {
	ps := strings.FieldsFunc(params, func(r rune) bool { return r == ';' || r == ':' })
	if len(ps) == 0 {
		*s = state{}
		return
	}
	num := func(i int) int {
		if i >= len(ps) {
			return 0
		}
		n, _ := strconv.Atoi(ps[i])
		return n
	}
	for i := 0; i < len(ps); i++ {
		switch n := num(i); {
		case n == 0:
			*s = state{}
		case setAttr[n] != 0:
			s.on |= setAttr[n]
		case clearAttr[n] != 0:
			s.on &^= clearAttr[n]
		case n >= 30 && n <= 49, n >= 90 && n <= 107:
			// Colours: 3x/9x foreground, 4x/10x background (n-10 the same).
			c, fg := &s.fg, n < 40 || (n >= 90 && n < 100)
			if !fg {
				c, n = &s.bg, n-10
			}
			switch {
			case n == 39:
				*c = ""
			case n == 38 && num(i+1) == 5:
				*c = fmt.Sprintf("5;%d", num(i+2))
				i += 2
			case n == 38 && num(i+1) == 2:
				*c = fmt.Sprintf("2;%d;%d;%d", num(i+2), num(i+3), num(i+4))
				i += 4
			case n >= 90:
				*c = basic(n - 90 + 8)
			case n <= 37:
				*c = basic(n - 30)
			}
		}
	}
}

var sgr = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

func flatten(in string) string {
	var b strings.Builder
	var s state
	for i, line := range strings.Split(in, "\n") {
		if i > 0 {
			b.WriteByte('\n')
			if s != (state{}) {
				b.WriteString(s.String()) // freeze forgets the style at a line break
			}
		}
		last := 0
		for _, m := range sgr.FindAllStringSubmatchIndex(line, -1) {
			b.WriteString(line[last:m[0]])
			s.apply(line[m[2]:m[3]])
			b.WriteString(s.String())
			last = m[1]
		}
		b.WriteString(line[last:])
	}
	return b.String()
}

func main() {
	in, err := io.ReadAll(bufio.NewReader(os.Stdin))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sgrflat:", err)
		os.Exit(1)
	}
	if _, err := io.WriteString(os.Stdout, flatten(string(in))); err != nil {
		fmt.Fprintln(os.Stderr, "sgrflat:", err)
		os.Exit(1)
	}
}
