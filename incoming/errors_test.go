package incoming

import (
	"errors"
	"testing"
)

// The zero Reason is ReasonUnknown, and every reason has a name and a
// sentinel: the tables indexed by Reason stay aligned.
func TestReasonZeroIsUnknown(t *testing.T) {
	var r Reason
	if r != ReasonUnknown || r.String() != "unknown" {
		t.Fatalf("zero reason %d %q", int(r), r)
	}
	if len(reasonNames) != int(ReasonClosed)+1 || len(reasonErrs) != len(reasonNames) {
		t.Fatalf("%d names, %d sentinels for %d reasons", len(reasonNames), len(reasonErrs), int(ReasonClosed)+1)
	}
	if err := (&SubscribeError{SID: "DTR_x"}); !errors.Is(err, ErrUnknown) || err.Problem() != "unknown" {
		t.Fatalf("zero SubscribeError %q", err.Error())
	}
}

// A reason out of range, negative or past the last, prints a stable
// fallback and matches no sentinel, without a panic.
func TestReasonOutOfRange(t *testing.T) {
	for _, tc := range []struct {
		r    Reason
		want string
	}{{-1, "reason(-1)"}, {ReasonClosed + 1, "reason(7)"}, {99, "reason(99)"}} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("Reason(%d).String() %q, want %q", int(tc.r), got, tc.want)
		}
		err := &SubscribeError{Reason: tc.r, SID: "DTR_x"}
		if want := "subscribe DTR_x: " + tc.want; err.Error() != want {
			t.Errorf("Error %q, want %q", err.Error(), want)
		}
		for _, s := range reasonErrs {
			if errors.Is(err, s) {
				t.Errorf("Reason(%d) matches %v", int(tc.r), s)
			}
		}
	}
}
