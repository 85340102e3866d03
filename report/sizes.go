package report

import (
	"math"

	"github.com/dttui/dttui/histogram"
)

// Sizes are a frame-size distribution's figures (bytes): the exact mean,
// and quantiles within the histogram's precision (3 %).
type Sizes struct {
	Frames                  uint64
	Mean                    float64
	Min, P50, P90, P99, Max int64
}

// SizesOf is h's figures (zero for an empty h). A quantile is its
// bucket's midpoint; the mean is exact. Frames all in one bucket (a
// generator's fixed size) are best told by the mean, and no estimate may
// contradict it: Min ≤ Mean ≤ Max.
func SizesOf(h *histogram.Histogram) Sizes {
	if h.Count() == 0 {
		return Sizes{}
	}
	var q [5]int64
	h.Quantiles([]float64{0, 0.5, 0.9, 0.99, 1}, q[:])
	mean := int64(math.Round(h.Mean()))
	if q[0] == q[4] {
		q = [5]int64{mean, mean, mean, mean, mean}
	}
	q[0], q[4] = min(q[0], mean), max(q[4], mean)
	return Sizes{Frames: h.Count(), Mean: h.Mean(), Min: q[0], P50: q[1], P90: q[2], P99: q[3], Max: q[4]}
}
