package vclock

import (
	"fmt"
	"testing"
)

// benchPair returns two clocks of n entries that share every id and are
// concurrent, the slowest case for Compare (it cannot stop early) and a full
// merge.
func benchPair(n int) (Clock, Clock) {
	var a, b Clock
	for i := range n {
		a = a.With(uint64(i*2), uint64(100+i))
		b = b.With(uint64(i*2), uint64(100+n-i))
	}
	return a, b
}

func BenchmarkCompare(b *testing.B) {
	for _, n := range []int{5, 20} {
		x, y := benchPair(n)
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			for b.Loop() {
				Compare(x, y)
			}
		})
	}
}

func BenchmarkMerge(b *testing.B) {
	for _, n := range []int{5, 20} {
		x, y := benchPair(n)
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Merge(x, y)
			}
		})
	}
}
