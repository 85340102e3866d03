// Package budget is what a run must not exceed: expressions such as
// `loss>0.5%`, `telemetry:p99>40ms` or `fps<45` (--fail-if), parsed once,
// judged against the report's figures for every track they name, and
// written as verdicts a CI system reads (JSON, JUnit XML, Markdown).
//
// A budget names the condition that fails the run: `loss>0.5%` fails when
// more than 0.5 % of the frames were lost.
package budget

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dttui/dttui/outgoing"
)

// Metric is a figure a budget can hold a track to.
type Metric int

const (
	// Loss is the fraction of the frames expected at a subscriber that
	// were lost (written as a percentage: loss>0.5%).
	Loss Metric = iota + 1
	// FPS is frames per second: sent, for our tracks and a load run's;
	// received, for room tracks.
	FPS
	// P50, P95, P99 and Max are latency percentiles over the run.
	P50
	P95
	P99
	Max
	// Dropped counts frames dropped before sending, all or of one reason
	// (dropped[queue full]).
	Dropped
	// Reconnects counts the connection's completed reconnects.
	Reconnects
	// Stalls counts the times the connection stalled.
	Stalls
)

var metricNames = map[string]Metric{
	"loss": Loss, "fps": FPS, "p50": P50, "p95": P95, "p99": P99, "max": Max,
	"dropped": Dropped, "reconnects": Reconnects, "stalls": Stalls,
}

func (m Metric) String() string {
	for name, v := range metricNames {
		if v == m {
			return name
		}
	}
	return "unknown"
}

// Latency says m is a latency percentile (a duration).
func (m Metric) Latency() bool { return m >= P50 && m <= Max }

// Op compares a measured value with a budget's threshold.
type Op int

const (
	Greater Op = iota + 1
	GreaterEq
	Less
	LessEq
)

var opNames = [...]string{Greater: ">", GreaterEq: ">=", Less: "<", LessEq: "<="}

func (o Op) String() string {
	if o >= Greater && o <= LessEq {
		return opNames[o]
	}
	return "?"
}

// holds says v op threshold.
func (o Op) holds(v, threshold float64) bool {
	switch o {
	case Greater:
		return v > threshold
	case GreaterEq:
		return v >= threshold
	case Less:
		return v < threshold
	case LessEq:
		return v <= threshold
	}
	return false
}

// Expr is one budget: the run fails when Metric Op Value holds for a
// track it names.
type Expr struct {
	// Track is the track's name (a room track's, or a load run's: every
	// publisher's track of that name); "" names every track.
	Track  string
	Metric Metric
	// Reason narrows Dropped to one drop reason ("" all of them).
	Reason string
	Op     Op
	// Value is in the metric's unit: a fraction for Loss (0.005 for
	// 0.5%), nanoseconds for latency, frames per second, a count.
	Value float64
	// Text is the expression as given, for messages and reports.
	Text string
}

// String is the expression as given.
func (e Expr) String() string { return e.Text }

// ParseError is an expression that cannot be read: where (Pos, a byte
// offset into Text) and why.
type ParseError struct {
	Text string
	Pos  int
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%q at column %d: %s", e.Text, e.Pos+1, e.Msg)
}

// MaxLen bounds an expression; a track name is at most 256 bytes.
const MaxLen = 512

// Parse reads one budget: [track:]metric OP value[unit], where metric is
// loss, fps, p50, p95, p99, max, dropped, dropped[REASON], reconnects or
// stalls; OP is >, >=, < or <=; loss takes a percentage (loss>0.5%),
// latency a duration with its unit (p99>40ms; ns, us, µs, ms, s), the
// others a plain number. Spaces around the parts are allowed.
func Parse(text string) (Expr, error) {
	e := Expr{Text: text}
	fail := func(pos int, format string, args ...any) (Expr, error) {
		return Expr{}, &ParseError{Text: text, Pos: pos, Msg: fmt.Sprintf(format, args...)}
	}
	if len(text) > MaxLen {
		return fail(MaxLen, "longer than %d bytes", MaxLen)
	}
	if !utf8.ValidString(text) {
		return fail(invalidAt(text), "not valid UTF-8")
	}
	for i, r := range text {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fail(i, "control character")
		}
	}
	// The operator is the first <, > outside a drop reason's brackets.
	opAt, depth := -1, 0
	for i := 0; i < len(text) && opAt < 0; i++ {
		switch text[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '<', '>':
			if depth == 0 {
				opAt = i
			}
		case '=', '!':
			if depth == 0 {
				return fail(i, "want an operator: >, >=, < or <=")
			}
		}
	}
	if opAt < 0 && depth > 0 {
		return fail(len(text), "want ']' to close the drop reason")
	}
	if opAt < 0 {
		return fail(len(text), "want an operator: >, >=, < or <= (e.g. loss>0.5%%)")
	}
	opLen := 1
	switch {
	case text[opAt] == '>' && strings.HasPrefix(text[opAt:], ">="):
		e.Op, opLen = GreaterEq, 2
	case text[opAt] == '>':
		e.Op = Greater
	case strings.HasPrefix(text[opAt:], "<="):
		e.Op, opLen = LessEq, 2
	default:
		e.Op = Less
	}

	// Left: [track:]metric. The track is what comes before the last
	// colon outside brackets.
	left := text[:opAt]
	colon, depth := -1, 0
	for i := 0; i < len(left); i++ {
		switch left[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ':':
			if depth == 0 {
				colon = i
			}
		}
	}
	mStart := 0
	if colon >= 0 {
		e.Track = strings.Trim(left[:colon], " ")
		if e.Track == "" {
			return fail(colon, "empty track name before ':' (leave out 'TRACK:' for every track)")
		}
		mStart = colon + 1
	}
	mText := left[mStart:]
	lead := len(mText) - len(strings.TrimLeft(mText, " "))
	mText = strings.Trim(mText, " ")
	mPos := mStart + lead
	name, rest, hasReason := strings.Cut(mText, "[")
	m, ok := metricNames[name]
	if !ok {
		if name == "" {
			return fail(mPos, "want a metric: loss, fps, p50, p95, p99, max, dropped, reconnects or stalls")
		}
		return fail(mPos, "unknown metric %q: want loss, fps, p50, p95, p99, max, dropped, reconnects or stalls", name)
	}
	e.Metric = m
	if hasReason {
		rPos := mPos + len(name) + 1
		if m != Dropped {
			return fail(rPos-1, "only dropped takes a [reason]")
		}
		reason, ok := strings.CutSuffix(rest, "]")
		if !ok || strings.ContainsAny(reason, "[]") {
			return fail(rPos+len(rest), "want ']' to close the drop reason")
		}
		if !knownReason(reason) {
			return fail(rPos, "unknown drop reason %q: want one of %s", reason, strings.Join(reasons(), ", "))
		}
		e.Reason = reason
	}

	// Right: value[unit].
	vStart := opAt + opLen
	vText := text[vStart:]
	lead = len(vText) - len(strings.TrimLeft(vText, " "))
	vText = strings.Trim(vText, " ")
	vPos := vStart + lead
	if vText == "" {
		return fail(vPos, "want a value after %s", e.Op)
	}
	numEnd := 0
	for numEnd < len(vText) && (vText[numEnd] >= '0' && vText[numEnd] <= '9' || vText[numEnd] == '.') {
		numEnd++
	}
	if numEnd == 0 {
		if vText[0] == '=' || vText[0] == '<' || vText[0] == '>' {
			return fail(vPos, "want a number, not a second operator")
		}
		return fail(vPos, "want a number")
	}
	v, err := strconv.ParseFloat(vText[:numEnd], 64)
	if err != nil || math.IsInf(v, 0) {
		return fail(vPos, "%q is not a number", vText[:numEnd])
	}
	unit := strings.Trim(vText[numEnd:], " ")
	uPos := vPos + numEnd + (len(vText[numEnd:]) - len(strings.TrimLeft(vText[numEnd:], " ")))
	switch {
	case m == Loss:
		switch {
		case unit == "%":
			v /= 100
		case unit == "" && v == 0:
		case unit == "":
			return fail(uPos, "loss is a percentage: write %s%%", vText[:numEnd])
		default:
			return fail(uPos, "unit %q: loss is a percentage (%%)", unit)
		}
		if v > 1 {
			return fail(vPos, "loss is at most 100%%")
		}
	case m.Latency():
		scale, ok := durationUnits[unit]
		switch {
		case ok:
			v *= float64(scale)
		case unit == "" && v == 0:
		case unit == "":
			return fail(uPos, "a latency needs its unit: %sms, %ss, %sus", vText[:numEnd], vText[:numEnd], vText[:numEnd])
		default:
			return fail(uPos, "unit %q: want ns, us, µs, ms or s", unit)
		}
		if v > float64(math.MaxInt64) {
			return fail(vPos, "too long a duration")
		}
	case m == FPS:
		if unit != "" && unit != "fps" && unit != "/s" {
			return fail(uPos, "unit %q: frames per second take no unit (or fps)", unit)
		}
	default: // counts
		if unit != "" {
			return fail(uPos, "unit %q: %s is a count", unit, m)
		}
		if v != math.Trunc(v) {
			return fail(vPos, "%s is a count: want a whole number", m)
		}
	}
	e.Value = v
	return e, nil
}

var durationUnits = map[string]time.Duration{
	"ns": time.Nanosecond, "us": time.Microsecond, "µs": time.Microsecond, "μs": time.Microsecond,
	"ms": time.Millisecond, "s": time.Second,
}

// invalidAt is the offset of the first invalid UTF-8 byte of s.
func invalidAt(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(s)
}

func reasons() []string {
	var out []string
	for r := range outgoing.NumDropReasons {
		if s := outgoing.DropReason(r).String(); s != "" && s != "none" {
			out = append(out, s)
		}
	}
	return out
}

func knownReason(s string) bool {
	for _, r := range reasons() {
		if r == s {
			return true
		}
	}
	return false
}
