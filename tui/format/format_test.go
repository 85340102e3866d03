package format

import (
	"testing"
	"time"
)

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Bytes(0), "0 B"}, {Bytes(1023), "1023 B"}, {Bytes(1024), "1 KiB"}, {Bytes(64 << 10), "64 KiB"},
		{Bytes(1.5 * (1 << 20)), "1.5 MiB"}, {Bytes(3 << 30), "3 GiB"},
		{Count(0), "0"}, {Count(2.5), "2.5"}, {Count(469.4), "469"}, {Count(12_345), "12.3k"}, {Count(2_500_000), "2.50M"},
		{Duration(0), "-"}, {Duration(531 * time.Microsecond), "531µs"}, {Duration(2100 * time.Microsecond), "2.1ms"},
		{Duration(87 * time.Millisecond), "87ms"}, {Duration(2300 * time.Millisecond), "2.3s"}, {Duration(125 * time.Second), "2m5s"},
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
