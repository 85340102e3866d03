package logorigin

import (
	"log/slog"
	"testing"
)

// An origin reads back whether a handler kept the value or flattened it
// to its name; any other value is no origin.
func TestOf(t *testing.T) {
	for _, tc := range []struct {
		v    slog.Value
		want Origin
		ok   bool
	}{
		{slog.AnyValue(Pion), Pion, true},
		{slog.StringValue("sfu"), SFU, true},
		{slog.IntValue(3), "", false},
		{slog.AnyValue(struct{}{}), "", false},
	} {
		if got, ok := Of(tc.v); got != tc.want || ok != tc.ok {
			t.Errorf("Of(%v) = %q, %v; want %q, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}
