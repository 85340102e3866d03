package textsafe

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

// The body a hostile server answered a join with: retitle the window,
// clear the screen, home the cursor, draw a fake status in red.
const hostile = "\x1b]2;PWNED\x07\x1b[2J\x1b[H\x1b[31mFAKE: all frames delivered OK"

func TestLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"plain text, ünïcödé 日本": "plain text, ünïcödé 日本",
		hostile:                  `\x1b]2;PWNED\x07\x1b[2J\x1b[H\x1b[31mFAKE: all frames delivered OK`,
		"a\nb\r\tc":              `a\nb\r\tc`,
		"del\x7f":                `del\x7f`,
		"c1 \u009b2J":            `c1 \x9b2J`,  // CSI as a character
		"raw \x9b2J":             `raw \x9b2J`, // CSI as a lone byte (invalid UTF-8)
		"a\xff\xfe":              `a\xff\xfe`,
		"evil\u202egnp.exe":      `evil\u202egnp.exe`,
		"iso\u2066x\u2069":       `iso\u2066x\u2069`,
		"ls\u2028ps\u2029":       `ls\u2028ps\u2029`,
		"replacement \ufffd ok":  "replacement \ufffd ok",
		"zwj 👨\u200d👩 kept":      "zwj 👨\u200d👩 kept",
		// Look-alikes: invisible characters are shown (issue 20.12).
		"ali\u200bce":      `ali\u200bce`,
		"\ufeffbob":        `\ufeffbob`,
		"\u3164":           `\u3164`,
		"soft\u00adhyphen": `soft\xadhyphen`,
		"tag\U000e0041":    `tag\U000e0041`,
		"joiner\u2060x":    `joiner\u2060x`,
	} {
		if got := Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLinesKeepsNewlinesOnly(t *testing.T) {
	if got, want := Lines("one\ntwo\r\n\x1b[2J"), "one\ntwo\\r\n\\x1b[2J"; got != want {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
}

func TestCut(t *testing.T) {
	if got := Cut("héllo wörld", 5); got != "héllo…" {
		t.Fatalf("Cut = %q", got)
	}
	if got := Cut("short", 5); got != "short" {
		t.Fatalf("Cut = %q", got)
	}
	if got := Cut("\x1b[2Jabc", 3); got != `\x1b[2…` {
		t.Fatalf("Cut = %q", got)
	}
}

func TestBody(t *testing.T) {
	for _, tc := range []struct{ ct, body, want string }{
		{"text/plain", "invalid token: <redacted token>, error: bad\n", "invalid token: <redacted token>, error: bad"},
		{"text/plain", "\n\n  first line  \nsecond line", "first line"},
		{"text/plain", hostile + "\nmore", Line(hostile)},
		{"text/html; charset=utf-8", "<html><body>502</body></html>", ""},
		{"", "  <!DOCTYPE html><title>Bad Gateway</title>", ""},
		{"application/json", strings.Repeat("x", 500), strings.Repeat("x", MaxBodyRunes) + "…"},
		{"", "", ""},
	} {
		if got := Body(tc.ct, []byte(tc.body)); got != tc.want {
			t.Errorf("Body(%q, %q) = %q, want %q", tc.ct, tc.body, got, tc.want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for name, want := range map[string]error{
		"sensors":                nil,
		"日本語-トラック":               nil,
		strings.Repeat("x", 256): nil,
		"":                       ErrEmptyName,
		strings.Repeat("x", 257): ErrNameTooLong,
		"a\xff\xfe":              ErrNameNotUTF8,
		"head\x1b[2J":            ErrNameControl,
		"tab\tname":              ErrNameControl,
		"bidi\u202ename":         ErrNameControl,
		"c1\u0085":               ErrNameControl,
	} {
		err := CheckName(name, 256)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("CheckName(%q) = %v, want %v", name, err, want)
		}
		if err != nil && !safe(err.Error()) {
			t.Errorf("CheckName(%q) error is not safe to print: %q", name, err)
		}
	}
	if err := CheckName(strings.Repeat("x", 1000), 0); err != nil {
		t.Fatalf("no limit: %v", err)
	}
}

func TestWriterEscapesAllButNewlines(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if n, err := w.Write([]byte("dttui: refused: " + hostile + "\n")); err != nil || n != len("dttui: refused: "+hostile+"\n") {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if want := "dttui: refused: " + Line(hostile) + "\n"; buf.String() != want {
		t.Fatalf("wrote %q, want %q", buf.String(), want)
	}
}

// Both of slog's handlers get safe text: the text handler quotes control
// characters itself, but the JSON handler passes C1 and DEL through.
func TestHandler(t *testing.T) {
	for name, mk := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		l := slog.New(Handler(mk(&buf)))
		l.With("peer", "evil\u009b2J").WithGroup("g\x1b").Info("refused: "+hostile,
			"err", errors.New("body: "+hostile),
			"bytes", []byte("\x7f\u0085"),
			slog.Group("inner", "name\x1b", "x\u202ey"),
			"n", 42)
		out := buf.String()
		if !safe(strings.TrimSuffix(out, "\n")) {
			t.Fatalf("%s: unsafe output %q", name, out)
		}
		if !strings.Contains(out, "FAKE: all frames delivered OK") || !strings.Contains(out, "42") {
			t.Fatalf("%s: content lost: %s", name, out)
		}
	}
}

// safe says s holds nothing a terminal would act on.
func safe(s string) bool { return utf8.ValidString(s) && firstUnsafe(s, false) < 0 }

func FuzzLine(f *testing.F) {
	for _, s := range []string{"", hostile, "a\xff\xfe", "\u009b\u202e", "plain", "\u200b\ufeff\U000e0041"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Line(s)
		if !safe(out) {
			t.Fatalf("Line(%q) = %q is not safe", s, out)
		}
		if safe(s) && out != s {
			t.Fatalf("Line changed safe text %q to %q", s, out)
		}
		if got := Lines(s); !utf8.ValidString(got) || firstUnsafe(got, true) >= 0 {
			t.Fatalf("Lines(%q) = %q is not safe", s, got)
		}
		if got := Clip(s, 8); !safe(got) || utf8.RuneCountInString(got) > 9 {
			t.Fatalf("Clip(%q, 8) = %q", s, got)
		}
	})
}

func FuzzBody(f *testing.F) {
	f.Add("text/plain", []byte(hostile))
	f.Add("text/html", []byte("<html>x</html>"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		out := Body(ct, body)
		if !safe(out) || utf8.RuneCountInString(out) > 6*MaxBodyRunes+1 {
			t.Fatalf("Body(%q, %q) = %q", ct, body, out)
		}
	})
}

// Typed drops, from typed text, what Line would escape, and says so.
func TestTyped(t *testing.T) {
	for in, want := range map[string]string{
		"plain é 世界":   "plain é 世界",
		"a\u202eb":     "ab",
		"x\x1b[2Jy":    "x[2Jy",
		"bad\xffutf8":  "badutf8",
		"nl\nand\ttab": "nlandtab",
	} {
		got, ok := Typed(in)
		if got != want || ok != (in == want) {
			t.Errorf("Typed(%q) = %q, %v; want %q", in, got, ok, want)
		}
		if Line(got) != got {
			t.Errorf("Typed(%q) = %q still has what Line escapes", in, got)
		}
	}
}

// Clip bounds the escaped line, not the text: 100 ESC bytes are 400
// runes escaped, cut to n.
func TestClip(t *testing.T) {
	if got := Clip("plain", 10); got != "plain" {
		t.Fatalf("%q", got)
	}
	if got := Clip(strings.Repeat("\x1b", 100), 10); got != `\x1b\x1b\x`+"…" {
		t.Fatalf("%q", got)
	}
	if got := Clip(strings.Repeat("ab", 100), 10); got != "ababababab…" {
		t.Fatalf("%q", got)
	}
}
