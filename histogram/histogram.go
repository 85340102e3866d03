// Package histogram is a fixed-bucket logarithmic histogram of
// non-negative integers (nanoseconds, bytes). Record never allocates and
// costs a few nanoseconds; histograms merge and subtract bucket by bucket,
// so the histogram of a window ("since the last reset", "the last
// second") is the difference of two snapshots of one histogram.
//
// Precision: values below 32 are counted exactly. Above, every power of
// two is split into 16 equal buckets, so a bucket is at most 1/16 of its
// lower bound wide, and Quantile, which answers with the midpoint of the
// bucket holding the wanted rank, is within 1/32 (3.125 %) of the true
// value. Values range over [0, 2^40) — 1.1e12: 18 minutes in nanoseconds,
// 1 TiB in bytes; larger ones are counted in the last bucket and negative
// ones as 0.
//
// A Histogram is a plain value (an array, no pointers): assigning it takes
// a snapshot. It is not safe for concurrent use.
package histogram

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

const (
	subBits = 4
	sub     = 1 << subBits // buckets per power of two
	// MaxValue is the largest value counted in its own bucket; larger ones
	// are counted as MaxValue.
	MaxValue = 1<<40 - 1
	// NumBuckets is the number of buckets: 32 exact ones for 0…31, then 16
	// for each power of two from 2^5 to 2^39.
	NumBuckets = (40-subBits-1)*sub + 2*sub
)

// Histogram counts values in NumBuckets logarithmic buckets. The zero
// value is empty and ready to use.
type Histogram struct {
	counts [NumBuckets]uint64
	n      uint64
	sum    uint64
}

// bucket returns the index of v's bucket, for 0 ≤ v ≤ MaxValue.
func bucket(v uint64) int {
	e := max(bits.Len64(v)-subBits-1, 0)
	return e<<subBits + int(v>>e)
}

// Bounds returns bucket i's range [lo, hi).
func Bounds(i int) (lo, hi int64) {
	if i < 2*sub {
		return int64(i), int64(i) + 1
	}
	e := i>>subBits - 1
	m := int64(i - e<<subBits)
	return m << e, (m + 1) << e
}

func clamp(v int64) uint64 {
	switch {
	case v < 0:
		return 0
	case v > MaxValue:
		return MaxValue
	}
	return uint64(v)
}

// Record counts v once.
func (h *Histogram) Record(v int64) {
	u := clamp(v)
	h.counts[bucket(u)]++
	h.n++
	h.sum += u
}

// Count is how many values were recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Sum is the exact sum of the recorded values (as clamped).
func (h *Histogram) Sum() uint64 { return h.sum }

// Mean is the exact mean of the recorded values, 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return float64(h.sum) / float64(h.n)
}

// Quantile returns the value of rank ⌈q·Count⌉ (at least 1) among the
// recorded values, within the package's precision; q is clamped to
// [0, 1]. It is 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) int64 {
	var out [1]int64
	h.Quantiles([]float64{q}, out[:])
	return out[0]
}

// Quantiles sets out[i] to Quantile(qs[i]) for qs in ascending order, in
// one pass over the buckets (a window's p50, p99 and max cost one scan,
// not three).
func (h *Histogram) Quantiles(qs []float64, out []int64) {
	if h.n == 0 {
		clear(out[:len(qs)])
		return
	}
	var seen uint64
	i := 0
	for j, q := range qs {
		q = min(max(q, 0), 1)
		rank := uint64(q * float64(h.n))
		if float64(rank) < q*float64(h.n) {
			rank++
		}
		rank = min(max(rank, 1), h.n)
		for ; i < len(h.counts) && satAdd(seen, h.counts[i]) < rank; i++ {
			seen = satAdd(seen, h.counts[i])
		}
		if i == len(h.counts) {
			out[j] = MaxValue // unreachable while n matches the counts
			continue
		}
		lo, hi := Bounds(i)
		out[j] = lo + (hi-lo)/2
	}
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] = satAdd(h.counts[i], c)
	}
	h.n = satAdd(h.n, o.n)
	h.sum = satAdd(h.sum, o.sum)
}

// satAdd is a + b, or the largest uint64 when that overflows: merged
// histograms may come from files (dttui summary), and a count that wraps
// reads as a small one (a p50 of 0).
func satAdd(a, b uint64) uint64 {
	if s, carry := bits.Add64(a, b, 0); carry == 0 {
		return s
	}
	return math.MaxUint64
}

// Sub removes o's counts from h: with o an earlier snapshot of h, h
// becomes the histogram of what was recorded since. Buckets never go
// below zero, whatever o is.
func (h *Histogram) Sub(o *Histogram) {
	h.n = 0
	for i, c := range o.counts {
		h.counts[i] -= min(c, h.counts[i])
		h.n += h.counts[i]
	}
	h.sum -= min(o.sum, h.sum)
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// ForEach calls fn for every non-empty bucket, lowest first, with the
// bucket's range [lo, hi) and count.
func (h *Histogram) ForEach(fn func(lo, hi int64, count uint64)) {
	for i, c := range h.counts {
		if c != 0 {
			lo, hi := Bounds(i)
			fn(lo, hi, c)
		}
	}
}

// jsonHistogram is a Histogram's JSON form: its exact count and sum, and
// each non-empty bucket as [lower bound, count], lowest first. Exact, so
// histograms written by several runs merge into the one of them all.
type jsonHistogram struct {
	Count   uint64      `json:"count"`
	Sum     uint64      `json:"sum"`
	Buckets [][2]uint64 `json:"buckets"`
}

// MarshalJSON implements json.Marshaler.
func (h Histogram) MarshalJSON() ([]byte, error) {
	j := jsonHistogram{Count: h.n, Sum: h.sum, Buckets: [][2]uint64{}}
	h.ForEach(func(lo, _ int64, c uint64) { j.Buckets = append(j.Buckets, [2]uint64{uint64(lo), c}) })
	return json.Marshal(j)
}

// UnmarshalJSON implements json.Unmarshaler. It accepts only what
// MarshalJSON writes: bucket lower bounds in increasing order whose
// counts add up to count.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var j jsonHistogram
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var out Histogram
	prev := -1
	for _, bk := range j.Buckets {
		lo, c := bk[0], bk[1]
		if lo > MaxValue {
			return fmt.Errorf("histogram: bucket %d out of range", lo)
		}
		i := bucket(lo)
		if l, _ := Bounds(i); uint64(l) != lo {
			return fmt.Errorf("histogram: %d is not a bucket's lower bound", lo)
		}
		if i <= prev {
			return errors.New("histogram: buckets out of order")
		}
		prev = i
		if c == 0 || out.n+c < out.n {
			return errors.New("histogram: bad bucket count")
		}
		out.counts[i] = c
		out.n += c
	}
	if out.n != j.Count {
		return fmt.Errorf("histogram: buckets hold %d values, count says %d", out.n, j.Count)
	}
	out.sum = j.Sum
	*h = out
	return nil
}
