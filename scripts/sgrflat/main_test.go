package main

import "testing"

func TestFlatten(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// tmux ends a coloured run with 39: the rest of the line is default.
		{"\x1b[38;2;63;185;80mpublished\x1b[39m 50", "\x1b[0;38;2;63;185;80mpublished\x1b[0m 50"},
		// Reverse video becomes swapped colours, defaults included.
		{"\x1b[7m› \x1b[38;5;245mDTR\x1b[0m", "\x1b[0;38;2;23;23;23;48;2;208;208;208m› \x1b[0;38;2;23;23;23;48;5;245mDTR\x1b[0m"},
		// The style carries over a line break, as in a terminal.
		{"\x1b[1;31ma\nb\x1b[22m", "\x1b[0;1;38;5;1ma\n\x1b[0;1;38;5;1mb\x1b[0;38;5;1m"},
		// Backgrounds: true colour, reset by 49; bright ones.
		{"\x1b[48;2;1;2;3mX\x1b[49mY\x1b[101;97mZ", "\x1b[0;48;2;1;2;3mX\x1b[0mY\x1b[0;38;5;15;48;5;9mZ"},
		{"plain\ntext", "plain\ntext"},
	} {
		if got := flatten(tc.in); got != tc.want {
			t.Errorf("flatten(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
