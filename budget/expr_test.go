package budget

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Expr
	}{
		{"loss>0.5%", Expr{Metric: Loss, Op: Greater, Value: 0.005}},
		{"loss>0", Expr{Metric: Loss, Op: Greater, Value: 0}},
		{"loss >= 2 %", Expr{Metric: Loss, Op: GreaterEq, Value: 0.02}},
		{"telemetry:p99>40ms", Expr{Track: "telemetry", Metric: P99, Op: Greater, Value: 40e6}},
		{"telemetry : p95 > 1.5s", Expr{Track: "telemetry", Metric: P95, Op: Greater, Value: 1.5e9}},
		{"p50>=250us", Expr{Metric: P50, Op: GreaterEq, Value: 250e3}},
		{"p50>250µs", Expr{Metric: P50, Op: Greater, Value: 250e3}},
		{"max>900ns", Expr{Metric: Max, Op: Greater, Value: 900}},
		{"fps<45", Expr{Metric: FPS, Op: Less, Value: 45}},
		{"fps<=49.5fps", Expr{Metric: FPS, Op: LessEq, Value: 49.5}},
		{"dropped>0", Expr{Metric: Dropped, Op: Greater}},
		{"dropped[queue full]>0", Expr{Metric: Dropped, Reason: "queue full", Op: Greater}},
		{"a:b:dropped[memory cap]>=10", Expr{Track: "a:b", Metric: Dropped, Reason: "memory cap", Op: GreaterEq, Value: 10}},
		{"reconnects>0", Expr{Metric: Reconnects, Op: Greater}},
		{"stalls>2", Expr{Metric: Stalls, Op: Greater, Value: 2}},
	} {
		got, err := Parse(tc.in)
		tc.want.Text = tc.in
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// A malformed expression is refused with the column of what is wrong.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		col  int
		want string
	}{
		{"loss", 5, "want an operator"},
		{"loss=1%", 5, "want an operator"},
		{"loss>>1%", 6, "second operator"},
		{"loss>", 6, "want a value"},
		{"loss>1", 7, "percentage"},
		{"loss>1ms", 7, "unit \"ms\""},
		{"loss>101%", 6, "at most 100%"},
		{"lost>1%", 1, "unknown metric \"lost\""},
		{"t: >1%", 4, "want a metric"},
		{":loss>1%", 1, "empty track name"},
		{"p99>40", 7, "needs its unit"},
		{"p99>40m", 7, "unit \"m\""},
		{"p99>abc", 5, "want a number"},
		{"p99>1.2.3ms", 5, "not a number"},
		{"fps<45Hz", 7, "unit \"Hz\""},
		{"dropped>1.5", 9, "whole number"},
		{"dropped[queue full>1", 21, "']'"},
		{"dropped[nope]>1", 9, "unknown drop reason \"nope\""},
		{"loss[queue full]>1%", 5, "only dropped"},
		{"reconnects>1x", 13, "is a count"},
		{"loss>1%\x1b[31m", 8, "control character"},
		{"loss>\xff", 6, "UTF-8"},
		{"p99>99999999999999s", 5, "too long"},
	} {
		_, err := Parse(tc.in)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Pos+1 != tc.col || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): %v; want column %d and %q", tc.in, err, tc.col, tc.want)
		}
	}
}

// Whatever the input, Parse returns an expression or a ParseError whose
// position is within the text; an expression it accepts is one it reads
// the same way again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"loss>0.5%", "telemetry:p99>40ms", "fps<45", "dropped[queue full]>0", "a:b:max>=1s", "p99>>4", "[:]<", "loss>1e400%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Pos < 0 || pe.Pos > len(s) || pe.Text != s {
				t.Fatalf("Parse(%q): %v", s, err)
			}
			if !utf8.ValidString(err.Error()) && utf8.ValidString(s) {
				t.Fatalf("error not UTF-8: %q", err.Error())
			}
			return
		}
		if e.Metric < Loss || e.Metric > Stalls || e.Op < Greater || e.Op > LessEq || e.Value < 0 || e.Text != s {
			t.Fatalf("Parse(%q) = %+v", s, e)
		}
		if e.Metric.Latency() && e.Value > float64(1<<63-1) {
			t.Fatalf("latency %v overflows", e.Value)
		}
		again, err := Parse(e.Text)
		if err != nil || again != e {
			t.Fatalf("again: %+v %v", again, err)
		}
	})
}
