package histogram

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketsTileTheRange(t *testing.T) {
	var next int64
	for i := range NumBuckets {
		lo, hi := Bounds(i)
		if lo != next || hi <= lo {
			t.Fatalf("bucket %d = [%d, %d), want it to start at %d", i, lo, hi, next)
		}
		if lo >= 2*sub && float64(hi-lo) > float64(lo)/sub {
			t.Fatalf("bucket %d = [%d, %d) wider than 1/16 of its bound", i, lo, hi)
		}
		if bucket(uint64(lo)) != i || bucket(uint64(hi-1)) != i {
			t.Fatalf("bucket %d = [%d, %d): ends map to %d and %d", i, lo, hi, bucket(uint64(lo)), bucket(uint64(hi-1)))
		}
		next = hi
	}
	if next != MaxValue+1 {
		t.Fatalf("buckets end at %d, want %d", next, int64(MaxValue+1))
	}
}

func TestSmallValuesExact(t *testing.T) {
	var h Histogram
	for v := range int64(32) {
		h.Record(v)
	}
	for v := range int64(32) {
		if got := h.Quantile(float64(v+1) / 32); got != v {
			t.Fatalf("quantile of rank %d = %d, want %d", v+1, got, v)
		}
	}
	if h.Count() != 32 || h.Sum() != 31*32/2 || h.Mean() != 15.5 {
		t.Fatalf("count %d sum %d mean %v", h.Count(), h.Sum(), h.Mean())
	}
}

// nearestRank is the exact quantile Quantile approximates.
func nearestRank(sorted []int64, q float64) int64 {
	r := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(r, 1), len(sorted))-1]
}

// Property: on samples spread over many magnitudes, every quantile is
// within 1/32 of the exact one (and exact below 32).
func TestQuantilePrecision(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var h Histogram
		n := 1 + r.IntN(2000)
		vals := make([]int64, n)
		for i := range vals {
			vals[i] = int64(math.Exp2(r.Float64() * 40))
			if round%4 == 0 {
				vals[i] = r.Int64N(64)
			}
			h.Record(vals[i])
		}
		slices.Sort(vals)
		for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1} {
			want, got := nearestRank(vals, q), h.Quantile(q)
			if math.Abs(float64(got-want)) > float64(want)/32 {
				t.Fatalf("round %d q=%v: %d, exact %d", round, q, got, want)
			}
		}
	}
}

func TestClamping(t *testing.T) {
	var h Histogram
	h.Record(-5)
	h.Record(math.MaxInt64)
	if h.Quantile(0) != 0 || h.Sum() != MaxValue {
		t.Fatalf("q0 %d sum %d", h.Quantile(0), h.Sum())
	}
	if got := h.Quantile(1); math.Abs(float64(got-MaxValue)) > MaxValue/32 {
		t.Fatalf("q1 %d", got)
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Fatal("empty histogram")
	}
}

// Merge of two is recording both; Sub of an earlier snapshot is what was
// recorded since.
func TestMergeAndSub(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var a, b, both Histogram
	for range 1000 {
		v := r.Int64N(1 << 30)
		a.Record(v)
		both.Record(v)
	}
	before := both // a snapshot
	for range 500 {
		v := r.Int64N(1 << 20)
		b.Record(v)
		both.Record(v)
	}
	merged := a
	merged.Merge(&b)
	if merged != both {
		t.Fatal("a merged with b differs from recording both")
	}
	since := both
	since.Sub(&before)
	if since != b {
		t.Fatalf("since: count %d sum %d, want %d %d", since.Count(), since.Sum(), b.Count(), b.Sum())
	}
	// Subtracting something that is not an earlier state saturates.
	since.Sub(&both)
	if since.Count() != 0 || since.Sum() != 0 {
		t.Fatalf("over-subtracted: %d %d", since.Count(), since.Sum())
	}
	since.Record(7)
	if since.Count() != 1 || since.Quantile(0.5) != 7 {
		t.Fatal("unusable after saturating Sub")
	}
}

func TestForEach(t *testing.T) {
	var h Histogram
	for _, v := range []int64{3, 3, 100, 5000} {
		h.Record(v)
	}
	var got []uint64
	var total uint64
	h.ForEach(func(lo, hi int64, c uint64) {
		if lo < 0 || hi <= lo {
			t.Fatalf("[%d, %d)", lo, hi)
		}
		got = append(got, c)
		total += c
	})
	if !slices.Equal(got, []uint64{2, 1, 1}) || total != h.Count() {
		t.Fatalf("%v", got)
	}
	h.Reset()
	if h.Count() != 0 {
		t.Fatal("reset")
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	h := new(Histogram)
	v := int64(1)
	if n := testing.AllocsPerRun(1000, func() { h.Record(v); v = v*3 + 1 }); n != 0 {
		t.Fatalf("%v allocations per Record", n)
	}
}

func BenchmarkRecord(b *testing.B) {
	h := new(Histogram)
	v := int64(12345)
	for b.Loop() {
		h.Record(v)
		v = (v*7 + 3) & (1<<40 - 1)
	}
}

func BenchmarkQuantile(b *testing.B) {
	var h Histogram
	for i := range int64(10000) {
		h.Record(i * 997)
	}
	for b.Loop() {
		_ = h.Quantile(0.99)
	}
}

func TestJSONRoundTripIsExact(t *testing.T) {
	var h Histogram
	for _, v := range []int64{0, 1, 31, 32, 33, 1000, 1e6, 1e9, 1e9, MaxValue + 5} {
		h.Record(v)
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var got Histogram
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got != h {
		t.Fatalf("round trip changed the histogram:\n%s", b)
	}
	var empty Histogram
	b, _ = json.Marshal(empty)
	if string(b) != `{"count":0,"sum":0,"buckets":[]}` {
		t.Fatalf("empty histogram: %s", b)
	}
}

func TestJSONRefusesWhatMarshalCannotWrite(t *testing.T) {
	for _, in := range []string{
		`{"count":1,"sum":0,"buckets":[[33,1]]}`,                         // 33 is inside bucket [32,34)
		`{"count":2,"sum":0,"buckets":[[5,1],[4,1]]}`,                    // out of order
		`{"count":2,"sum":0,"buckets":[[5,1],[5,1]]}`,                    // twice
		`{"count":3,"sum":0,"buckets":[[5,1]]}`,                          // count disagrees
		`{"count":0,"sum":0,"buckets":[[5,0]]}`,                          // empty bucket
		`{"count":1,"sum":0,"buckets":[[1099511627776,1]]}`,              // past MaxValue
		`{"count":0,"sum":0,"buckets":[[1,18446744073709551615],[2,1]]}`, // overflow
		`[]`,
	} {
		var h Histogram
		if err := json.Unmarshal([]byte(in), &h); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"count":2,"sum":40,"buckets":[[5,1],[35,1]]}`))
	f.Add([]byte(`{"count":0,"sum":0,"buckets":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Histogram
		if json.Unmarshal(b, &h) != nil {
			return
		}
		// Whatever is accepted writes back to the same histogram.
		out, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var again Histogram
		if err := json.Unmarshal(out, &again); err != nil || again != h {
			t.Fatalf("%s → %s: %v", b, out, err)
		}
		var n uint64
		h.ForEach(func(_, _ int64, c uint64) { n += c })
		if n != h.Count() {
			t.Fatalf("buckets hold %d, count %d", n, h.Count())
		}
	})
}

// quantileOneByOne is Quantile as a scan of its own, to check the
// one-pass Quantiles against.
func quantileOneByOne(h *Histogram, q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			lo, hi := Bounds(i)
			return lo + (hi-lo)/2
		}
	}
	return -1
}

// Quantiles in one pass answers what a scan per quantile answers.
func TestQuantilesMatchQuantile(t *testing.T) {
	var h Histogram
	qs := []float64{0, 0.1, 0.5, 0.5, 0.9, 0.99, 0.999, 1}
	out := make([]int64, len(qs))
	h.Quantiles(qs, out)
	for i := range out {
		if out[i] != 0 {
			t.Fatalf("empty: Quantiles[%d] = %d", i, out[i])
		}
	}
	for v := int64(1); v < 1<<30; v = v*3 + 7 {
		for range v % 5 {
			h.Record(v)
		}
		h.Quantiles(qs, out)
		for i, q := range qs {
			if want := quantileOneByOne(&h, q); out[i] != want || h.Quantile(q) != want {
				t.Fatalf("after %d: Quantiles(%v) = %d, Quantile = %d, want %d", v, q, out[i], h.Quantile(q), want)
			}
		}
	}
}
