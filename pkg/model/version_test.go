package model

import (
	"math"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"
)

func TestVersion_Compare(t *testing.T) {
	tests := []struct {
		name string
		a, b Version
		want int
	}{
		{"zero", Version{}, Version{}, 0},
		{"same", Version{5, 2, 1}, Version{5, 2, 1}, 0},
		{"wall decides", Version{4, 9, 9}, Version{5, 0, 0}, -1},
		{"wall decides reversed", Version{6, 0, 0}, Version{5, 9, 9}, 1},
		{"logical decides", Version{5, 1, 9}, Version{5, 2, 0}, -1},
		{"origin breaks tie", Version{5, 2, 1}, Version{5, 2, 3}, -1},
		{"origin breaks tie reversed", Version{5, 2, 3}, Version{5, 2, 1}, 1},
		{"negative wall", Version{-1, 0, 0}, Version{}, -1},
		{"extremes", Version{math.MinInt64, 0, 0}, Version{math.MaxInt64, math.MaxUint32, math.MaxUint32}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Compare(tt.b); got != tt.want {
				t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := tt.a.Less(tt.b); got != (tt.want < 0) {
				t.Errorf("%v.Less(%v) = %v", tt.a, tt.b, got)
			}
		})
	}
}

func TestVersion_Tick(t *testing.T) {
	last := Version{Wall: 100, Logical: 3, Origin: 2}
	tests := []struct {
		name   string
		now    int64
		origin uint32
		want   Version
	}{
		{"clock ahead takes the clock", 150, 1, Version{150, 0, 1}},
		{"same wall bumps logical", 100, 1, Version{100, 4, 1}},
		{"same wall, higher origin", 100, 7, Version{100, 4, 7}},
		{"clock behind keeps the wall", 20, 1, Version{100, 4, 1}},
		{"clock far behind", math.MinInt64, 1, Version{100, 4, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Tick(last, tt.now, tt.origin)
			if got != tt.want {
				t.Errorf("Tick(%v, %d, %d) = %v, want %v", last, tt.now, tt.origin, got, tt.want)
			}
			if !last.Less(got) {
				t.Errorf("Tick(%v, %d, %d) = %v is not above last", last, tt.now, tt.origin, got)
			}
		})
	}
	if got := Tick(Version{}, 0, 3); got != (Version{0, 1, 3}) {
		t.Errorf("Tick(zero, 0, 3) = %v, want v0.1@3", got)
	}
}

// TestVersion_Tick_LogicalOverflow: a full logical counter must not wrap to
// zero, or the new write would sort below the writes it follows (and lose to
// them everywhere). A peer's corrupt or hostile version can put any counter
// in front of Tick, not only four billion writes in one nanosecond.
func TestVersion_Tick_LogicalOverflow(t *testing.T) {
	last := Version{Wall: 100, Logical: math.MaxUint32, Origin: 1}
	for _, now := range []int64{100, 50} {
		if got := Tick(last, now, 2); !last.Less(got) {
			t.Errorf("Tick(%v, %d, 2) = %v, not above last", last, now, got)
		}
	}
}

func TestVersion_MaxAndString(t *testing.T) {
	a, b := Version{5, 1, 2}, Version{5, 1, 3}
	if Max(a, b) != b || Max(b, a) != b || Max(a, a) != a {
		t.Errorf("Max(%v, %v) = %v, Max(%v, %v) = %v", a, b, Max(a, b), b, a, Max(b, a))
	}
	if !(Version{}).IsZero() || a.IsZero() || (Version{Origin: 1}).IsZero() {
		t.Error("IsZero wrong")
	}
	for v, want := range map[Version]string{{}: "v0", a: "v5.1@2", {-3, 0, 0}: "v-3.0@0"} {
		if got := v.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

// qversion generates versions from small ranges so that equal walls and
// logical counters, where the tie-breaks matter, come up often; now and then
// a field takes an extreme value.
type qversion Version

func (qversion) Generate(r *rand.Rand, size int) reflect.Value {
	pick := func(small int64, extremes ...int64) int64 {
		if r.Intn(10) == 0 {
			return extremes[r.Intn(len(extremes))]
		}
		return r.Int63n(small)
	}
	return reflect.ValueOf(qversion{
		Wall:    pick(4, math.MinInt64, -1, math.MaxInt64),
		Logical: uint32(pick(3, 0, math.MaxUint32-1, math.MaxUint32)),
		Origin:  uint32(pick(3, 0, math.MaxUint32)),
	})
}

var versionQuick = &quick.Config{MaxCount: 5000}

func TestVersion_Quick_TotalOrder(t *testing.T) {
	prop := func(qa, qb, qc qversion) bool {
		a, b, c := Version(qa), Version(qb), Version(qc)
		if a.Compare(a) != 0 {
			return false
		}
		// Antisymmetric, and total: only identical versions compare equal.
		if a.Compare(b) != -b.Compare(a) || (a.Compare(b) == 0) != (a == b) {
			return false
		}
		// Transitive.
		if a.Compare(b) <= 0 && b.Compare(c) <= 0 && a.Compare(c) > 0 {
			return false
		}
		return a.Less(b) == (a.Compare(b) < 0)
	}
	if err := quick.Check(prop, versionQuick); err != nil {
		t.Error(err)
	}
}

func TestVersion_Quick_Max(t *testing.T) {
	prop := func(qa, qb qversion) bool {
		a, b := Version(qa), Version(qb)
		m := Max(a, b)
		return (m == a || m == b) && !m.Less(a) && !m.Less(b) && Max(b, a) == m
	}
	if err := quick.Check(prop, versionQuick); err != nil {
		t.Error(err)
	}
}

// TestVersion_Quick_TickAboveLast: whatever the physical clock says (ahead,
// equal, behind), a new version is above everything its origin has seen, so
// a write always wins over the writes it depends on.
func TestVersion_Quick_TickAboveLast(t *testing.T) {
	prop := func(qlast qversion, now int64, nowKind uint8, origin uint32) bool {
		last := Version(qlast)
		if last.Wall == math.MaxInt64 && last.Logical == math.MaxUint32 {
			return true // the largest representable time has nothing above it
		}
		switch nowKind % 4 {
		case 0:
			now = last.Wall
		case 1:
			if last.Wall > math.MinInt64 {
				now = last.Wall - 1
			}
		case 2:
			if last.Wall < math.MaxInt64 {
				now = last.Wall + 1
			}
		}
		v := Tick(last, now, origin)
		if !last.Less(v) || v.Origin != origin {
			t.Logf("Tick(%v, %d, %d) = %v", last, now, origin, v)
			return false
		}
		if now > last.Wall && (v.Wall != now || v.Logical != 0) {
			t.Logf("Tick(%v, %d, %d) = %v ignores a clock that is ahead", last, now, origin, v)
			return false
		}
		return true
	}
	if err := quick.Check(prop, versionQuick); err != nil {
		t.Error(err)
	}
}

// TestVersion_Quick_TickSequence issues versions at one origin from a clock
// that jumps back and forth, folding in versions seen from others, and
// checks that each is above the previous one and above everything seen.
func TestVersion_Quick_TickSequence(t *testing.T) {
	prop := func(nows []int16, seen []qversion) bool {
		var last, prev Version
		for i, now := range nows {
			if i < len(seen) && seen[i].Wall >= -1<<40 && seen[i].Wall <= 1<<40 {
				last = Max(last, Version(seen[i]))
			}
			v := Tick(last, int64(now), 9)
			if !prev.Less(v) && i > 0 || !last.Less(v) {
				t.Logf("step %d: Tick(%v, %d) = %v after %v", i, last, now, v, prev)
				return false
			}
			prev, last = v, Max(last, v)
		}
		return true
	}
	if err := quick.Check(prop, versionQuick); err != nil {
		t.Error(err)
	}
}
