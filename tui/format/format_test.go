package format

import (
	"strings"
	"testing"
	"time"
)

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Bytes(0), "0 B"}, {Bytes(1023), "1023 B"}, {Bytes(1024), "1 KiB"}, {Bytes(64 << 10), "64 KiB"},
		{Bytes(1.5 * (1 << 20)), "1.5 MiB"}, {Bytes(3 << 30), "3 GiB"},
		{Bytes(1000 * 1024), "1000 KiB"}, {Bytes(1023.9 * 1024), "1024 KiB"}, {Bytes(5 << 40), "5 TiB"},
		{Count(0), "0"}, {Count(2.5), "2.5"}, {Count(469.4), "469"}, {Count(9999), "9999"}, {Count(12_345), "12.3k"},
		{Count(193_412), "193k"}, {Count(999_700), "1M"}, {Count(1_234_567), "1.23M"}, {Count(2_500_000), "2.5M"},
		{Count(45_600_000_000), "45.6G"}, {Count(-1), "-"},
		{Duration(0), "-"}, {Duration(531 * time.Microsecond), "531µs"}, {Duration(2100 * time.Microsecond), "2.1ms"},
		{Duration(9960 * time.Microsecond), "10ms"}, {Duration(87 * time.Millisecond), "87ms"}, {Duration(2300 * time.Millisecond), "2.3s"}, {Duration(125 * time.Second), "2m5s"},
		{Fit("abc", 5, false), "abc  "}, {Fit("abc", 5, true), "  abc"}, {Fit("abcdef", 4, false), "abc…"}, {Fit("ab", 0, false), ""},
		{OrDash(""), "-"}, {OrDash("x"), "x"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if got := LastN([]int{1, 2, 3}, 2); len(got) != 2 || got[0] != 2 {
		t.Errorf("LastN = %v", got)
	}
}

func TestFlowWrapsWithoutLosingItems(t *testing.T) {
	got := Flow(21, " · ", "pushed 185", "sent 185", "queued 0", "a-very-long-item-indeed")
	want := []string{"pushed 185 · sent 185", "queued 0", "a-very-long-item-ind…"}
	if len(got) != len(want) {
		t.Fatalf("Flow = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Flow = %q, want %q", got, want)
		}
	}
}

// No count or size outgrows its column, whatever the run's length: the
// table's UNPUB column once showed "193.…".
func TestCountsStayCompact(t *testing.T) {
	for v := 1.0; v < 1.9e19; v *= 1.07 {
		for _, x := range []float64{v, v + 0.5, float64(uint64(v))} {
			if c := Count(x); len(c) > CountWidth || strings.Contains(c, "e+") {
				t.Fatalf("Count(%g) = %q", x, c)
			}
			if b := Bytes(x); len(b) > 8 || strings.Contains(b, "e+") {
				t.Fatalf("Bytes(%g) = %q", x, b)
			}
		}
	}
	if c := Count(float64(^uint64(0))); len(c) > CountWidth {
		t.Fatalf("Count(max uint64) = %q", c)
	}
}

func TestOutside(t *testing.T) {
	for in, want := range map[string]string{
		"plain é 世界":                "plain é 世界",
		"\x1b[2Jwiped":              `\x1b[2Jwiped`,
		"bell\a del\x7f c1\u009b":   `bell\x07 del\x7f c1\x9b`,
		"two\nlines\r\n\tand a tab": "two lines and a tab",
		"bidi \u202egnp.exe":        `bidi \u202egnp.exe`,
		"bad \xff\xfe utf-8":        `bad \xff\xfe utf-8`,
		"\x1b]2;PWNED\x07 title":    `\x1b]2;PWNED\x07 title`,
	} {
		got := Outside(in)
		if got != want {
			t.Errorf("Outside(%q) = %q, want %q", in, got, want)
		}
		if again := Outside(got); again != got {
			t.Errorf("Outside is not idempotent: %q then %q", got, again)
		}
	}
}
