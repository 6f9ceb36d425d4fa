package metrics

import (
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds, in seconds, of the latency
// histograms: from 50 µs (an in-memory read) to 10 s (a put stuck behind
// a slow disk), about three per decade.
var LatencyBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05,
	0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
}

// Histogram counts durations into LatencyBuckets. Observe may be called
// from any number of goroutines; Snapshot too, concurrently with them
// (a snapshot taken while observations land may be off by those few).
type Histogram struct {
	// counts[i] counts observations in bucket i (not cumulative); the
	// last one is above every bound.
	counts [18]atomic.Uint64
	sumNs  atomic.Int64
}

// Observe adds one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

// Since observes the time since start.
func (h *Histogram) Since(start time.Time) { h.Observe(time.Since(start)) }

// HistogramSnapshot is a histogram as the exposition format gives it:
// Cumulative[i] observations at most Bounds[i] seconds, Count in all,
// Sum their total in seconds.
type HistogramSnapshot struct {
	Bounds     []float64
	Cumulative []uint64
	Count      uint64
	Sum        float64
}

// Snapshot reads the histogram.
func (h *Histogram) Snapshot() HistogramSnapshot {
	s := HistogramSnapshot{Bounds: LatencyBuckets, Cumulative: make([]uint64, len(LatencyBuckets))}
	var n uint64
	for i := range LatencyBuckets {
		n += h.counts[i].Load()
		s.Cumulative[i] = n
	}
	s.Count = n + h.counts[len(LatencyBuckets)].Load()
	s.Sum = time.Duration(h.sumNs.Load()).Seconds()
	return s
}
