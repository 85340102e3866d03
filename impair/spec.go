// Package impair makes dttui's own network path bad on purpose: one-way
// delay, jitter, random and bursty (Gilbert–Elliott) loss, a rate cap with
// a bounded drop-tail queue, reordering, duplication and blackouts, applied
// to the datagrams a connection sends (by default), receives, or both. The kernel here has no netem, and a
// user testing their own receiver needs the publisher's path bad on demand,
// so the shaping lives in the process: a Shaper decides each datagram's
// fate on an injected clock, and Net wraps pion's network with it.
package impair

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Direction is which way datagrams travel: Up is what we send, Down what
// we receive. As a set: Both is Up|Down.
type Direction uint8

const (
	Up   Direction = 1 << iota // what our sockets send
	Down                       // what our sockets receive
	Both = Up | Down
)

// Has says whether d includes o.
func (d Direction) Has(o Direction) bool { return d&o != 0 }

func (d Direction) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	case Both:
		return "both"
	}
	return "none"
}

// Spec is an impairment. The zero Spec impairs nothing.
type Spec struct {
	// Dir is the way it applies: our sends (Up, also when zero), what we
	// receive (Down), or Both, each way with its own rate-capped link,
	// bursts and order.
	Dir Direction
	// Delay is added to every datagram; Jitter spreads it uniformly by up
	// to ± Jitter (never below zero). Datagrams keep their order unless
	// Reorder lets some pass.
	Delay, Jitter time.Duration
	// Loss is the share of datagrams dropped at random (0–1).
	Loss float64
	// BurstEnter and BurstLeave are the Gilbert–Elliott model's chances,
	// per datagram, of entering and of leaving the bad state, where every
	// datagram is lost: bursts of mean length 1/BurstLeave, a mean loss of
	// BurstEnter/(BurstEnter+BurstLeave). Zero BurstEnter: no bursts.
	BurstEnter, BurstLeave float64
	// Rate caps the path (bits/s; 0: no cap). Datagrams wait their turn in
	// a drop-tail queue of Queue bytes (default DefaultQueue).
	Rate  int64
	Queue int
	// Reorder is the share of datagrams that skip the delay (as netem's
	// reorder): with Delay, they overtake the delayed ones before them.
	Reorder float64
	// Duplicate is the share of datagrams sent twice.
	Duplicate float64
	// Blackout drops everything for this long from the moment the spec is
	// applied.
	Blackout time.Duration
}

// DefaultQueue is the rate cap's queue when the spec names none: 50 ms at
// the cap, at least 16 KiB (one full data-track packet and more).
func DefaultQueue(rate int64) int { return max(int(rate/8/20), 16<<10) }

// IsZero says whether the spec impairs nothing.
func (s Spec) IsZero() bool { return s == Spec{} || s == Spec{Dir: s.Dir} }

// Ways is the directions the spec applies to (Up when Dir is zero).
func (s Spec) Ways() Direction {
	if s.Dir == 0 {
		return Up
	}
	return s.Dir
}

// ParseError is a malformed spec: Pos is the byte offset of the bad item.
type ParseError struct {
	Spec string
	Pos  int
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("impairment %q at byte %d: %s", e.Spec, e.Pos, e.Msg)
}

// Syntax is the spec's syntax, for help texts and errors.
const Syntax = "comma-separated key=value: delay=DUR, jitter=DUR, loss=PCT, burst=ENTER/LEAVE (percentages), " +
	"rate=N[k|M|G]bit, queue=BYTES, reorder=PCT, dup=PCT, blackout=DUR, dir=up|down|both (what we send, the default; " +
	"what we receive; each way); \"off\" or \"\" for none"

// Parse reads a spec such as "delay=40ms,jitter=5ms,loss=1%,rate=5Mbit".
// "off" and "" are the zero spec.
func Parse(text string) (Spec, error) {
	var s Spec
	if t := strings.TrimSpace(text); t == "" || t == "off" || t == "none" {
		return s, nil
	}
	seen := map[string]bool{}
	pos := 0
	for _, item := range strings.Split(text, ",") {
		at := pos
		pos += len(item) + 1
		fail := func(format string, a ...any) (Spec, error) {
			return Spec{}, &ParseError{Spec: text, Pos: at, Msg: fmt.Sprintf(format, a...)}
		}
		key, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return fail("%q is not key=value (%s)", strings.TrimSpace(item), Syntax)
		}
		if seen[key] {
			return fail("%s given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "delay":
			s.Delay, err = duration(val, time.Minute)
		case "jitter":
			s.Jitter, err = duration(val, time.Minute)
		case "blackout":
			s.Blackout, err = duration(val, time.Hour)
		case "loss":
			s.Loss, err = percent(val)
		case "reorder":
			s.Reorder, err = percent(val)
		case "dup":
			s.Duplicate, err = percent(val)
		case "burst":
			enter, leave, ok := strings.Cut(val, "/")
			if !ok {
				return fail("burst is ENTER/LEAVE, two percentages (e.g. 1%%/25%%)")
			}
			if s.BurstEnter, err = percent(enter); err == nil {
				s.BurstLeave, err = percent(leave)
			}
			if err == nil && s.BurstEnter > 0 && s.BurstLeave == 0 {
				err = errors.New("a burst that never ends: LEAVE must be above 0")
			}
		case "rate":
			s.Rate, err = bitRate(val)
		case "queue":
			s.Queue, err = bytesOf(val)
		case "dir":
			switch val {
			case "up":
				s.Dir = 0 // the default, kept as zero so that specs compare equal
			case "down":
				s.Dir = Down
			case "both":
				s.Dir = Both
			default:
				err = fmt.Errorf("%q is not up, down or both", val)
			}
		default:
			return fail("unknown key %q (%s)", key, Syntax)
		}
		if err != nil {
			return fail("%s: %v", key, err)
		}
	}
	if s.BurstEnter == 0 {
		s.BurstLeave = 0 // no bursts to leave
	}
	if s.IsZero() && s.Dir != 0 {
		return Spec{}, &ParseError{Spec: text, Pos: strings.Index(text, "dir"), Msg: "dir alone impairs nothing"}
	}
	if s.Queue > 0 && s.Rate == 0 {
		return Spec{}, &ParseError{Spec: text, Pos: strings.Index(text, "queue"), Msg: "queue needs a rate"}
	}
	if s.Rate > 0 && s.Queue == 0 {
		s.Queue = DefaultQueue(s.Rate)
	}
	return s, nil
}

func duration(v string, most time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 40ms)", v)
	}
	if d < 0 || d > most {
		return 0, fmt.Errorf("%s is outside [0, %s]", d, most)
	}
	return d, nil
}

func percent(v string) (float64, error) {
	num, ok := strings.CutSuffix(v, "%")
	if !ok {
		return 0, fmt.Errorf("%q is not a percentage (e.g. 1%%)", v)
	}
	p, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(p) || p < 0 || p > 100 {
		return 0, fmt.Errorf("%q is not a percentage in [0%%, 100%%]", v)
	}
	return p / 100, nil
}

func bitRate(v string) (int64, error) {
	num, ok := strings.CutSuffix(v, "bit")
	if !ok {
		return 0, fmt.Errorf("%q is not a rate (e.g. 5Mbit, 500kbit)", v)
	}
	mult := int64(1)
	switch {
	case strings.HasSuffix(num, "k"):
		mult, num = 1e3, strings.TrimSuffix(num, "k")
	case strings.HasSuffix(num, "M"):
		mult, num = 1e6, strings.TrimSuffix(num, "M")
	case strings.HasSuffix(num, "G"):
		mult, num = 1e9, strings.TrimSuffix(num, "G")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || !(f > 0) || f*float64(mult) < 8000 || f*float64(mult) > 100e9 {
		return 0, fmt.Errorf("%q is not a rate in [8kbit, 100Gbit]", v)
	}
	return int64(f * float64(mult)), nil
}

func bytesOf(v string) (int, error) {
	mult := 1
	num := v
	switch {
	case strings.HasSuffix(v, "KiB"):
		mult, num = 1<<10, strings.TrimSuffix(v, "KiB")
	case strings.HasSuffix(v, "MiB"):
		mult, num = 1<<20, strings.TrimSuffix(v, "MiB")
	case strings.HasSuffix(v, "B"):
		num = strings.TrimSuffix(v, "B")
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1500/mult || n > (64<<20)/mult {
		return 0, fmt.Errorf("%q is not a size in [1500B, 64MiB] (e.g. 64KiB)", v)
	}
	return n * mult, nil
}

// String is the spec in Parse's syntax ("off" for none).
func (s Spec) String() string {
	if s.IsZero() {
		return "off"
	}
	var parts []string
	pct := func(f float64) string { return strconv.FormatFloat(f*100, 'g', 4, 64) + "%" }
	if s.Delay > 0 {
		parts = append(parts, "delay="+s.Delay.String())
	}
	if s.Jitter > 0 {
		parts = append(parts, "jitter="+s.Jitter.String())
	}
	if s.Loss > 0 {
		parts = append(parts, "loss="+pct(s.Loss))
	}
	if s.BurstEnter > 0 {
		parts = append(parts, "burst="+pct(s.BurstEnter)+"/"+pct(s.BurstLeave))
	}
	if s.Rate > 0 {
		parts = append(parts, "rate="+rateString(s.Rate), fmt.Sprintf("queue=%dB", s.Queue))
	}
	if s.Reorder > 0 {
		parts = append(parts, "reorder="+pct(s.Reorder))
	}
	if s.Duplicate > 0 {
		parts = append(parts, "dup="+pct(s.Duplicate))
	}
	if s.Blackout > 0 {
		parts = append(parts, "blackout="+s.Blackout.String())
	}
	if s.Dir == Down || s.Dir == Both {
		parts = append(parts, "dir="+s.Dir.String())
	}
	return strings.Join(parts, ",")
}

func rateString(r int64) string {
	switch {
	case r%1e9 == 0:
		return strconv.FormatInt(r/1e9, 10) + "Gbit"
	case r%1e6 == 0:
		return strconv.FormatInt(r/1e6, 10) + "Mbit"
	case r%1e3 == 0:
		return strconv.FormatInt(r/1e3, 10) + "kbit"
	}
	return strconv.FormatInt(r, 10) + "bit"
}
