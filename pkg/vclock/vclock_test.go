package vclock

import (
	"math/rand"
	"reflect"
	"slices"
	"testing"
	"testing/quick"
)

// c builds a clock from id,n pairs through With, so it is canonical whatever
// order the pairs come in.
func c(pairs ...uint64) Clock {
	var out Clock
	for i := 0; i+1 < len(pairs); i += 2 {
		out = out.With(uint64(pairs[i]), pairs[i+1])
	}
	return out
}

func TestClock_Get(t *testing.T) {
	tests := []struct {
		name  string
		clock Clock
		id    uint64
		want  uint64
	}{
		{"empty", nil, 3, 0},
		{"present first", c(1, 4, 3, 9), 1, 4},
		{"present last", c(1, 4, 3, 9), 3, 9},
		{"absent between", c(1, 4, 3, 9), 2, 0},
		{"absent below", c(1, 4, 3, 9), 0, 0},
		{"absent above", c(1, 4, 3, 9), 7, 0},
		{"max id", c(1<<32-1, 2), 1<<32 - 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.clock.Get(tt.id); got != tt.want {
				t.Errorf("%v.Get(%d) = %d, want %d", tt.clock, tt.id, got, tt.want)
			}
		})
	}
}

func TestClock_With(t *testing.T) {
	tests := []struct {
		name  string
		clock Clock
		id    uint64
		n     uint64
		want  Clock
	}{
		{"into empty", nil, 2, 5, Clock{{2, 5}}},
		{"zero into empty", nil, 2, 0, Clock{}},
		{"insert front", Clock{{2, 1}, {4, 1}}, 1, 3, Clock{{1, 3}, {2, 1}, {4, 1}}},
		{"insert middle", Clock{{2, 1}, {4, 1}}, 3, 3, Clock{{2, 1}, {3, 3}, {4, 1}}},
		{"insert back", Clock{{2, 1}, {4, 1}}, 5, 3, Clock{{2, 1}, {4, 1}, {5, 3}}},
		{"replace", Clock{{2, 1}, {4, 1}}, 4, 9, Clock{{2, 1}, {4, 9}}},
		{"lower is allowed", Clock{{2, 7}}, 2, 3, Clock{{2, 3}}},
		{"remove with zero", Clock{{2, 1}, {4, 1}}, 2, 0, Clock{{4, 1}}},
		{"zero for absent id", Clock{{2, 1}}, 3, 0, Clock{{2, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.clock)
			got := tt.clock.With(tt.id, tt.n)
			if !slices.Equal(got, tt.want) || !got.Valid() {
				t.Errorf("%v.With(%d, %d) = %v, want %v", before, tt.id, tt.n, got, tt.want)
			}
			if !slices.Equal(tt.clock, before) {
				t.Errorf("With changed its receiver: %v, was %v", tt.clock, before)
			}
		})
	}
}

// TestClock_With_DoesNotAlias guards the value semantics: a clock built from
// another must not share its backing array, or one server's update would
// leak into a clock it sent earlier.
func TestClock_With_DoesNotAlias(t *testing.T) {
	base := make(Clock, 2, 10)
	base[0], base[1] = Entry{1, 1}, Entry{3, 1}
	a := base.With(5, 1)
	b := base.With(5, 2)
	if a.Get(5) != 1 || b.Get(5) != 2 {
		t.Errorf("clocks derived from one base share memory: a=%v b=%v", a, b)
	}
	a[0].N = 99
	if base[0].N != 1 {
		t.Errorf("writing the result changed the receiver: %v", base)
	}
}

func TestClock_Inc(t *testing.T) {
	tests := []struct {
		clock Clock
		id    uint64
		want  Clock
	}{
		{nil, 0, Clock{{0, 1}}},
		{Clock{{1, 4}}, 1, Clock{{1, 5}}},
		{Clock{{1, 4}}, 0, Clock{{0, 1}, {1, 4}}},
		{Clock{{1, 4}}, 2, Clock{{1, 4}, {2, 1}}},
	}
	for _, tt := range tests {
		if got := tt.clock.Inc(tt.id); !slices.Equal(got, tt.want) {
			t.Errorf("%v.Inc(%d) = %v, want %v", tt.clock, tt.id, got, tt.want)
		}
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name string
		a, b Clock
		want Clock
	}{
		{"both empty", nil, nil, Clock{}},
		{"left empty", nil, c(1, 2), c(1, 2)},
		{"right empty", c(1, 2), nil, c(1, 2)},
		{"disjoint interleaved", c(1, 1, 5, 5), c(3, 3, 7, 7), c(1, 1, 3, 3, 5, 5, 7, 7)},
		{"overlap takes max", c(1, 4, 2, 1), c(1, 2, 2, 6), c(1, 4, 2, 6)},
		{"mixed", c(0, 1, 2, 9, 4, 4), c(2, 3, 3, 3, 4, 8), c(0, 1, 2, 9, 3, 3, 4, 8)},
		{"equal", c(1, 1, 2, 2), c(1, 1, 2, 2), c(1, 1, 2, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a0, b0 := slices.Clone(tt.a), slices.Clone(tt.b)
			got := Merge(tt.a, tt.b)
			if !slices.Equal(got, tt.want) || !got.Valid() {
				t.Errorf("Merge(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if !slices.Equal(tt.a, a0) || !slices.Equal(tt.b, b0) {
				t.Errorf("Merge changed its arguments")
			}
		})
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		a, b Clock
		want Ordering
	}{
		{"both empty", nil, nil, Equal},
		{"nil and empty", nil, Clock{}, Equal},
		{"equal", c(1, 2, 3, 4), c(1, 2, 3, 4), Equal},
		{"empty before", nil, c(1, 1), Before},
		{"after empty", c(1, 1), nil, After},
		{"one component smaller", c(1, 2, 3, 4), c(1, 2, 3, 5), Before},
		{"one component bigger", c(1, 2, 3, 6), c(1, 2, 3, 5), After},
		{"extra id on the right", c(1, 2), c(1, 2, 3, 1), Before},
		{"extra id on the left", c(1, 2, 0, 1), c(1, 2), After},
		{"crossed components", c(1, 2, 3, 1), c(1, 1, 3, 2), Concurrent},
		{"disjoint ids", c(1, 1), c(2, 1), Concurrent},
		{"bigger but missing an id", c(1, 5), c(1, 1, 2, 1), Concurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Compare(tt.a, tt.b); got != tt.want {
				t.Errorf("Compare(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestClock_Descends(t *testing.T) {
	tests := []struct {
		a, b Clock
		want bool
	}{
		{nil, nil, true},
		{c(1, 1), nil, true},
		{nil, c(1, 1), false},
		{c(1, 2, 2, 2), c(1, 2, 2, 2), true},
		{c(1, 3, 2, 2), c(1, 2, 2, 2), true},
		{c(1, 3), c(1, 2, 2, 2), false},
		{c(1, 1, 2, 3), c(1, 2, 2, 2), false},
	}
	for _, tt := range tests {
		if got := tt.a.Descends(tt.b); got != tt.want {
			t.Errorf("%v.Descends(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestClock_Valid(t *testing.T) {
	tests := []struct {
		name  string
		clock Clock
		want  bool
	}{
		{"nil", nil, true},
		{"empty", Clock{}, true},
		{"sorted", Clock{{0, 1}, {2, 3}, {9, 1}}, true},
		{"zero entry", Clock{{0, 1}, {2, 0}}, false},
		{"unsorted", Clock{{2, 1}, {1, 1}}, false},
		{"duplicate id", Clock{{1, 1}, {1, 2}}, false},
		{"only zero", Clock{{5, 0}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.clock.Valid(); got != tt.want {
				t.Errorf("%#v.Valid() = %v, want %v", tt.clock, got, tt.want)
			}
		})
	}
}

func TestClock_String(t *testing.T) {
	tests := []struct {
		clock Clock
		want  string
	}{
		{nil, "{}"},
		{Clock{{1, 2}}, "{1:2}"},
		{Clock{{0, 7}, {3, 1}, {12, 40}}, "{0:7 3:1 12:40}"},
	}
	for _, tt := range tests {
		if got := tt.clock.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestOrdering_String(t *testing.T) {
	for o, want := range map[Ordering]string{Equal: "equal", Before: "before", After: "after", Concurrent: "concurrent", Ordering(9): "Ordering(9)"} {
		if got := o.String(); got != want {
			t.Errorf("Ordering(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}

// randomClock builds a clock through With from a few small ids and counts,
// so that random pairs are often equal, ordered or share components.
func randomClock(r *rand.Rand, maxEntries int) Clock {
	var out Clock
	for range r.Intn(maxEntries + 1) {
		out = out.With(uint64(r.Intn(2*maxEntries+1)), uint64(r.Intn(5)))
	}
	return out
}

// qclock lets testing/quick generate canonical clocks.
type qclock Clock

func (qclock) Generate(r *rand.Rand, size int) reflect.Value {
	return reflect.ValueOf(qclock(randomClock(r, 6)))
}

var quickCfg = &quick.Config{MaxCount: 2000}

func check(t *testing.T, prop any) {
	t.Helper()
	if err := quick.Check(prop, quickCfg); err != nil {
		t.Error(err)
	}
}

// equal compares entries exactly (nil and empty are the same clock), so a
// property also catches a non-canonical result that Compare would accept.
func equal(a, b Clock) bool { return slices.Equal(a, b) }

func TestQuick_Merge_Commutative(t *testing.T) {
	check(t, func(a, b qclock) bool { return equal(Merge(Clock(a), Clock(b)), Merge(Clock(b), Clock(a))) })
}

func TestQuick_Merge_Associative(t *testing.T) {
	check(t, func(a, b, x qclock) bool {
		return equal(Merge(Merge(Clock(a), Clock(b)), Clock(x)), Merge(Clock(a), Merge(Clock(b), Clock(x))))
	})
}

func TestQuick_Merge_Idempotent(t *testing.T) {
	check(t, func(a, b qclock) bool {
		m := Merge(Clock(a), Clock(b))
		return equal(Merge(Clock(a), Clock(a)), Clock(a)) && equal(Merge(m, Clock(b)), m)
	})
}

func TestQuick_Merge_DescendsBoth(t *testing.T) {
	check(t, func(a, b qclock) bool {
		m := Merge(Clock(a), Clock(b))
		return m.Descends(Clock(a)) && m.Descends(Clock(b))
	})
}

// TestQuick_Merge_IsLeastUpperBound: every component of the merge comes from
// one of the inputs, so nothing is invented.
func TestQuick_Merge_IsLeastUpperBound(t *testing.T) {
	check(t, func(a, b qclock) bool {
		for _, e := range Merge(Clock(a), Clock(b)) {
			if e.N != max(Clock(a).Get(e.ID), Clock(b).Get(e.ID)) {
				return false
			}
		}
		for _, e := range a {
			if Merge(Clock(a), Clock(b)).Get(e.ID) < e.N {
				return false
			}
		}
		return true
	})
}

func TestQuick_Compare_Antisymmetric(t *testing.T) {
	mirror := map[Ordering]Ordering{Equal: Equal, Before: After, After: Before, Concurrent: Concurrent}
	check(t, func(a, b qclock) bool {
		return Compare(Clock(b), Clock(a)) == mirror[Compare(Clock(a), Clock(b))]
	})
}

func TestQuick_Compare_MergeIsAbove(t *testing.T) {
	check(t, func(a, b qclock) bool {
		o := Compare(Clock(a), Merge(Clock(a), Clock(b)))
		return o == Before || o == Equal
	})
}

// TestQuick_Compare_MatchesModel compares against the textbook definition
// over maps, component by component.
func TestQuick_Compare_MatchesModel(t *testing.T) {
	naive := func(a, b Clock) Ordering {
		ids := map[uint64]bool{}
		for _, e := range a {
			ids[e.ID] = true
		}
		for _, e := range b {
			ids[e.ID] = true
		}
		le, ge := true, true
		for id := range ids {
			le = le && a.Get(id) <= b.Get(id)
			ge = ge && a.Get(id) >= b.Get(id)
		}
		switch {
		case le && ge:
			return Equal
		case le:
			return Before
		case ge:
			return After
		}
		return Concurrent
	}
	check(t, func(a, b qclock) bool { return Compare(Clock(a), Clock(b)) == naive(Clock(a), Clock(b)) })
}

func TestQuick_Compare_EqualIffSameEntries(t *testing.T) {
	check(t, func(a, b qclock) bool {
		return (Compare(Clock(a), Clock(b)) == Equal) == (len(a) == len(b) && slices.Equal(a, b))
	})
}

func TestQuick_Results_Valid(t *testing.T) {
	check(t, func(a, b qclock, id uint8, n uint8) bool {
		w := Clock(a).With(uint64(id%16), uint64(n%4))
		return Clock(a).Valid() && w.Valid() && Merge(Clock(a), Clock(b)).Valid() && Clock(a).Inc(uint64(id)).Valid()
	})
}

// TestQuick_With_MatchesModel applies random sets to a clock and to a map.
func TestQuick_With_MatchesModel(t *testing.T) {
	check(t, func(ops []uint16) bool {
		var clk Clock
		m := map[uint64]uint64{}
		for _, op := range ops {
			id, n := uint64(op>>8)%12, uint64(op&0xff)%4
			clk = clk.With(id, n)
			m[id] = n
		}
		for id := range uint64(12) {
			if clk.Get(id) != m[id] {
				return false
			}
		}
		return clk.Valid()
	})
}

func TestQuick_Inc_IsAfter(t *testing.T) {
	check(t, func(a qclock, id uint8) bool {
		inc := Clock(a).Inc(uint64(id % 16))
		return Compare(inc, Clock(a)) == After && inc.Get(uint64(id%16)) == Clock(a).Get(uint64(id%16))+1
	})
}
