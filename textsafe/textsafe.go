// Package textsafe makes text that dttui did not write itself — a server's
// error body, an SFU's reason, a participant's or track's name, a library's
// log line — safe to put on a terminal. A terminal obeys escape sequences
// wherever they come from: an HTTP 401 body can retitle the window, clear
// the screen and draw a fake status inside the UI. Everything from outside
// passes through Line (one line, for a cell, a header or a log value) or a
// Writer (whole lines, for stderr) before it is shown, and names dttui
// sends are checked with CheckName before they leave.
package textsafe

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Line returns s as one line a terminal shows literally. C0 controls
// (newlines and ESC included), DEL, C1 controls, the characters that
// reorder text (bidirectional overrides and isolates) or break lines
// (U+2028, U+2029) become visible Go-style escapes (\n, \x1b, \u202e), as
// do the invisible format characters that make look-alike names (zero-width
// space \u200b, byte order mark \ufeff, see invisible) and every byte that
// is not valid UTF-8 (\xff). Anything else, wide and combining characters
// and the zero-width joiners included, is kept.
func Line(s string) string { return escape(s, false) }

// Lines is Line for text whose line breaks are meant: "\n" is kept, every
// other control is escaped (a "\r" would let a line overwrite itself).
func Lines(s string) string { return escape(s, true) }

func escape(s string, keepNewline bool) string {
	i := firstUnsafe(s, keepNewline)
	if i < 0 {
		return s // the common case allocates nothing
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' && keepNewline:
			b.WriteByte('\n')
		case unsafeRune(r):
			writeEscape(&b, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// firstUnsafe is the byte offset of the first rune escape would change, or -1.
func firstUnsafe(s string, keepNewline bool) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				return i
			}
			continue
		}
		if unsafeRune(r) && !(keepNewline && r == '\n') {
			return i
		}
	}
	return -1
}

func writeEscape(b *strings.Builder, r rune) {
	switch r {
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\t':
		b.WriteString(`\t`)
	default:
		switch {
		case r < 0x100:
			fmt.Fprintf(b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			fmt.Fprintf(b, `\U%08x`, r)
		}
	}
}

// unsafeRune says whether a terminal could act on r rather than show it.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f: // C0, DEL, C1 (0x9b is CSI)
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, // bidi marks
		r >= 0x202a && r <= 0x202e, // bidi embeddings and overrides
		r >= 0x2066 && r <= 0x2069, // bidi isolates
		r == 0x2028, r == 0x2029:   // line and paragraph separators
		return true
	}
	return invisible(r)
}

// invisible says whether r is a format or filler character that shows
// nothing, so two names that look the same can differ by it (a zero-width
// space, a byte order mark, a Hangul filler passed off as a blank name).
// The joiners U+200C and U+200D are kept: scripts and emoji sequences
// need them.
func invisible(r rune) bool {
	switch {
	case r == 0x00ad, // soft hyphen
		r == 0x034f,              // combining grapheme joiner
		r == 0x115f, r == 0x1160, // Hangul fillers
		r == 0x180e,                // Mongolian vowel separator
		r == 0x200b,                // zero-width space
		r >= 0x2060 && r <= 0x2064, // word joiner, invisible operators
		r >= 0x206a && r <= 0x206f, // deprecated format characters
		r == 0x3164, r == 0xffa0,   // Hangul fillers
		r == 0xfeff,                  // byte order mark, zero-width no-break space
		r >= 0xfff9 && r <= 0xfffb,   // interlinear annotation
		r >= 0xe0000 && r <= 0xe007f: // tags
		return true
	}
	return false
}

// Typed returns s without the characters Line would escape: for text a
// person is typing into an input, where an escape would be typed text
// and the character itself must not reach the screen (a bidi override
// pasted into a search box). ok says nothing was dropped.
func Typed(s string) (clean string, ok bool) {
	if firstUnsafe(s, false) < 0 {
		return s, true
	}
	var b strings.Builder
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				continue
			}
		}
		if !unsafeRune(r) {
			b.WriteRune(r)
		}
	}
	return b.String(), false
}

// Cut returns Line(s) with at most n runes of s kept, and "…" when cut.
func Cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return Line(s)
	}
	i, k := 0, 0
	for i = range s {
		if k == n {
			break
		}
		k++
	}
	return Line(s[:i]) + "…"
}

// Clip returns Line(s) of at most n runes, escapes counted, and "…" when
// cut: the bound of a cell or a label however many escapes s needs (Cut
// bounds the runes of s, whose escapes may take ten runes each). s is cut
// before it is escaped, so its length costs nothing.
func Clip(s string, n int) string {
	out := Cut(s, n)
	if utf8.RuneCountInString(out) <= n+1 {
		return out
	}
	k := 0
	for i := range out {
		if k == n {
			return out[:i] + "…"
		}
		k++
	}
	return out
}

// MaxBodyRunes is how much of a server's error body is shown: one line of
// a terminal, enough for LiveKit's own messages ("invalid token: ...,
// error: go-jose/go-jose: error in cryptographic primitive").
const MaxBodyRunes = 200

// Body reduces an HTTP error body to one safe line of at most MaxBodyRunes
// runes: its first non-blank line. An HTML page (a proxy's or a load
// balancer's error page) gives "", so the caller shows the status alone:
// its markup says nothing a person can use.
func Body(contentType string, body []byte) string {
	s := strings.TrimSpace(string(body))
	ct := strings.ToLower(contentType)
	if strings.Contains(ct, "html") || strings.HasPrefix(s, "<") {
		return ""
	}
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			return Cut(line, MaxBodyRunes)
		}
	}
	return ""
}

// Name errors, as CheckName returns them (wrapped, with the details).
var (
	// ErrEmptyName is a name with no characters.
	ErrEmptyName = errors.New("name is empty")
	// ErrNameTooLong is a name over the limit the caller gave, in bytes.
	ErrNameTooLong = errors.New("name is too long")
	// ErrNameNotUTF8 is a name with bytes that are not valid UTF-8.
	ErrNameNotUTF8 = errors.New("name is not valid UTF-8")
	// ErrNameControl is a name with a character a terminal acts on or that
	// reorders text (control, escape, bidirectional override).
	ErrNameControl = errors.New("name contains a control character")
)

// CheckName refuses a name dttui would send or show that cannot be shown
// as it is: empty, over maxBytes bytes (0: no limit), not UTF-8, or
// containing a character Line would escape.
func CheckName(name string, maxBytes int) error {
	switch {
	case name == "":
		return ErrEmptyName
	case maxBytes > 0 && len(name) > maxBytes:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrNameTooLong, len(name), maxBytes)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w (%s)", ErrNameNotUTF8, Line(name))
	}
	if i := firstUnsafe(name, false); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		var b strings.Builder
		writeEscape(&b, r)
		return fmt.Errorf("%w: %s at byte %d", ErrNameControl, b.String(), i)
	}
	return nil
}
