package outgoing

import (
	"errors"
	"strings"
	"testing"
)

// A reason out of range, negative or past the last, prints a stable
// fallback and matches no sentinel, without a panic.
func TestReasonOutOfRange(t *testing.T) {
	for _, tc := range []struct {
		r    Reason
		want string
	}{{-1, "reason(-1)"}, {ReasonInvalidType + 1, "reason(10)"}, {99, "reason(99)"}} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("Reason(%d).String() %q, want %q", int(tc.r), got, tc.want)
		}
		err := &PublishError{Reason: tc.r, Name: "x"}
		if !strings.HasPrefix(err.Error(), `publish "x": `) {
			t.Errorf("Error %q", err.Error())
		}
		for _, s := range reasonErrs {
			if errors.Is(err, s) {
				t.Errorf("Reason(%d) matches %v", int(tc.r), s)
			}
		}
	}
	if len(reasonNames) != int(ReasonInvalidType)+1 || len(reasonErrs) != len(reasonNames) {
		t.Fatalf("%d names, %d sentinels for %d reasons", len(reasonNames), len(reasonErrs), int(ReasonInvalidType)+1)
	}
}
