//go:build !linux

package record

import "time"

// fineSleep is nil where there is no high-resolution sleep at hand: the
// pacer yields (runtime.Gosched) through its fine stretch instead.
var fineSleep func(time.Duration)
