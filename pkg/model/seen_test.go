package model

import (
	"math/rand"
	"reflect"
	"slices"
	"testing"
	"testing/quick"

	"gossipkv/pkg/vclock"
)

// seenOf adds dots given as origin,seq pairs.
func seenOf(pairs ...uint64) Seen {
	var s Seen
	for i := 0; i+1 < len(pairs); i += 2 {
		s.Add(Dot{Origin: pairs[i], Seq: pairs[i+1]})
	}
	return s
}

func TestSeen_Add_GapFilledLater(t *testing.T) {
	s := seenOf(1, 1, 1, 3, 1, 4, 1, 6, 2, 2)
	want := Seen{Prefix: vclock.Clock{{ID: 1, N: 1}}, Extra: []Dot{{1, 3}, {1, 4}, {1, 6}, {2, 2}}}
	if !s.Equal(want) {
		t.Fatalf("before the gap fills: %v, want %v", s, want)
	}
	if !s.Add(Dot{1, 2}) {
		t.Fatal("Add(1:2) reported the dot as already held")
	}
	// 1:2 closes the gap, so 1:3 and 1:4 join the prefix; 1:6 stays beyond
	// the new gap at 5, and origin 2's extras are untouched.
	want = Seen{Prefix: vclock.Clock{{ID: 1, N: 4}}, Extra: []Dot{{1, 6}, {2, 2}}}
	if !s.Equal(want) || !s.Valid() {
		t.Fatalf("after the gap fills: %v, want %v", s, want)
	}
	s.Add(Dot{2, 1})
	s.Add(Dot{1, 5})
	want = Seen{Prefix: vclock.Clock{{ID: 1, N: 6}, {ID: 2, N: 2}}}
	if !s.Equal(want) || !s.Valid() || s.Count() != 8 {
		t.Fatalf("after every gap fills: %v (count %d), want %v", s, s.Count(), want)
	}
}

func TestSeen_Add(t *testing.T) {
	tests := []struct {
		name   string
		start  Seen
		dot    Dot
		isNew  bool
		result Seen
	}{
		{"first write", Seen{}, Dot{0, 1}, true, Seen{Prefix: vclock.Clock{{ID: 0, N: 1}}}},
		{"out of order", Seen{}, Dot{0, 3}, true, Seen{Extra: []Dot{{0, 3}}}},
		{"duplicate in prefix", seenOf(0, 1, 0, 2), Dot{0, 2}, false, seenOf(0, 1, 0, 2)},
		{"duplicate extra", seenOf(0, 3), Dot{0, 3}, false, seenOf(0, 3)},
		{"extra sorted in", seenOf(0, 5, 2, 2), Dot{1, 9}, true, Seen{Extra: []Dot{{0, 5}, {1, 9}, {2, 2}}}},
		{"seq 0 is no write", seenOf(0, 1), Dot{0, 0}, false, seenOf(0, 1)},
		{"seq 0 of an unknown origin", Seen{}, Dot{4, 0}, false, Seen{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.start.Clone()
			if got := s.Add(tt.dot); got != tt.isNew {
				t.Errorf("Add(%v) = %v, want %v", tt.dot, got, tt.isNew)
			}
			if !s.Equal(tt.result) || !s.Valid() {
				t.Errorf("after Add(%v): %v, want %v", tt.dot, s, tt.result)
			}
		})
	}
}

func TestSeen_Union(t *testing.T) {
	tests := []struct {
		name string
		a, b Seen
		want Seen
	}{
		{"empty", Seen{}, Seen{}, Seen{}},
		{"other prefix closes my gap", seenOf(0, 1, 0, 3, 0, 4, 0, 7), seenOf(0, 1, 0, 2), Seen{Prefix: vclock.Clock{{ID: 0, N: 4}}, Extra: []Dot{{0, 7}}}},
		{"other extra closes my gap", seenOf(0, 1, 0, 3), seenOf(0, 2), Seen{Prefix: vclock.Clock{{ID: 0, N: 3}}}},
		{"my extras covered by other prefix", seenOf(0, 3, 0, 5), seenOf(0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6), seenOf(0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6)},
		{"same extra on both sides", seenOf(1, 4), seenOf(1, 4, 2, 2), Seen{Extra: []Dot{{1, 4}, {2, 2}}}},
		{"disjoint origins", seenOf(0, 1), seenOf(3, 1, 3, 2), Seen{Prefix: vclock.Clock{{ID: 0, N: 1}, {ID: 3, N: 2}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.a.Clone()
			b := tt.b.Clone()
			s.Union(b)
			if !s.Equal(tt.want) || !s.Valid() {
				t.Errorf("%v ∪ %v = %v, want %v", tt.a, tt.b, s, tt.want)
			}
			if !b.Equal(tt.b) {
				t.Errorf("Union changed its argument: %v, was %v", b, tt.b)
			}
		})
	}
}

func TestSeen_Covers(t *testing.T) {
	tests := []struct {
		name string
		s, o Seen
		want bool
	}{
		{"empty covers empty", Seen{}, Seen{}, true},
		{"empty covers nothing else", Seen{}, seenOf(0, 3), false},
		{"longer prefix", seenOf(0, 1, 0, 2, 0, 3), seenOf(0, 1, 0, 2), true},
		{"shorter prefix", seenOf(0, 1), seenOf(0, 1, 0, 2), false},
		{"gap at 0:2", seenOf(0, 1, 0, 3, 0, 4, 0, 5), Seen{Prefix: vclock.Clock{{ID: 0, N: 5}}}, false},
		{"gap at 0:3", seenOf(0, 1, 0, 2, 0, 4, 0, 5), Seen{Prefix: vclock.Clock{{ID: 0, N: 3}}}, false},
		{"extras of another origin do not count", seenOf(0, 1, 1, 2, 1, 3), Seen{Prefix: vclock.Clock{{ID: 0, N: 3}}}, false},
		{"extra held in prefix", seenOf(0, 1, 0, 2, 0, 3, 0, 4), seenOf(0, 4), true},
		{"extra held as extra", seenOf(0, 4, 1, 1), seenOf(0, 4), true},
		{"extra missing", seenOf(0, 4), seenOf(0, 5), false},
		{"other origin missing", seenOf(0, 1), seenOf(0, 1, 1, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Covers(tt.o); got != tt.want {
				t.Errorf("%v.Covers(%v) = %v, want %v", tt.s, tt.o, got, tt.want)
			}
		})
	}
	// In a canonical set the dot just past the prefix is never an extra, so
	// the branch of Covers that counts extras inside a gap only decides on
	// non-canonical input; check it on hand-built sets.
	full := Seen{Prefix: vclock.Clock{{ID: 0, N: 1}}, Extra: []Dot{{0, 2}, {0, 3}, {0, 4}, {0, 5}}}
	holed := Seen{Prefix: vclock.Clock{{ID: 0, N: 1}}, Extra: []Dot{{0, 2}, {0, 3}, {0, 5}, {0, 6}}}
	five := Seen{Prefix: vclock.Clock{{ID: 0, N: 5}}}
	if !full.Covers(five) {
		t.Errorf("%v does not cover %v", full, five)
	}
	if holed.Covers(five) {
		t.Errorf("%v covers %v with 0:4 missing", holed, five)
	}
}

func TestSeen_Equal(t *testing.T) {
	tests := []struct {
		name string
		a, b Seen
		want bool
	}{
		{"empty", Seen{}, Seen{Prefix: vclock.Clock{}, Extra: []Dot{}}, true},
		{"same dots added in another order", seenOf(0, 3, 0, 1, 1, 1, 0, 2), seenOf(1, 1, 0, 2, 0, 1, 0, 3), true},
		{"prefix differs", seenOf(0, 1), seenOf(0, 1, 0, 2), false},
		{"prefix origin differs", seenOf(0, 1), seenOf(1, 1), false},
		{"extra seq differs", seenOf(0, 3), seenOf(0, 4), false},
		{"extra origin differs", seenOf(0, 3), seenOf(1, 3), false},
		{"extra count differs", seenOf(0, 3), seenOf(0, 3, 0, 5), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Equal(tt.b); got != tt.want {
				t.Errorf("%v.Equal(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := tt.b.Equal(tt.a); got != tt.want {
				t.Errorf("%v.Equal(%v) = %v, want %v", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

func TestSeen_Valid(t *testing.T) {
	tests := []struct {
		name string
		s    Seen
		want bool
	}{
		{"empty", Seen{}, true},
		{"prefix and extras", Seen{Prefix: vclock.Clock{{ID: 0, N: 2}}, Extra: []Dot{{0, 4}, {1, 3}}}, true},
		{"bad prefix", Seen{Prefix: vclock.Clock{{ID: 0, N: 0}}}, false},
		{"extra inside prefix", Seen{Prefix: vclock.Clock{{ID: 0, N: 2}}, Extra: []Dot{{0, 2}}}, false},
		{"extra extends prefix", Seen{Prefix: vclock.Clock{{ID: 0, N: 2}}, Extra: []Dot{{0, 3}}}, false},
		{"extra is first write", Seen{Extra: []Dot{{5, 1}}}, false},
		{"extra seq 0", Seen{Extra: []Dot{{5, 0}}}, false},
		{"unsorted extras", Seen{Extra: []Dot{{1, 3}, {0, 3}}}, false},
		{"unsorted seqs", Seen{Extra: []Dot{{0, 5}, {0, 3}}}, false},
		{"duplicate extras", Seen{Extra: []Dot{{0, 3}, {0, 3}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Valid(); got != tt.want {
				t.Errorf("%v.Valid() = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

func TestSeen_String(t *testing.T) {
	if got := seenOf(0, 1, 0, 2, 3, 1).String(); got != "{0:2 3:1}" {
		t.Errorf("String() = %q", got)
	}
	if got := seenOf(0, 1, 0, 3, 2, 5).String(); got != "{0:1}+[0:3 2:5]" {
		t.Errorf("String() = %q", got)
	}
}

func TestSeen_Clone_SharesNoMemory(t *testing.T) {
	s := seenOf(0, 1, 0, 2, 1, 1, 0, 5, 1, 4)
	// Give the original spare capacity, so an append through a shallow copy
	// would write into memory the original can see.
	s.Extra = slices.Grow(s.Extra, 8)
	s.Prefix = slices.Grow(s.Prefix, 8)
	orig := Seen{Prefix: slices.Clone(s.Prefix), Extra: slices.Clone(s.Extra)}

	c := s.Clone()
	if !c.Equal(s) {
		t.Fatalf("Clone() = %v, want %v", c, s)
	}
	c.Prefix[0].N = 99
	c.Extra[0] = Dot{7, 7}
	c = s.Clone()
	c.Add(Dot{0, 3})
	c.Add(Dot{0, 9})
	c.Add(Dot{2, 8})
	c.Union(seenOf(3, 1, 3, 5))
	if !s.Equal(orig) {
		t.Errorf("changing a clone changed the original: %v, was %v", s, orig)
	}
	s.Add(Dot{1, 2})
	s.Add(Dot{0, 7})
	if c2 := c.Clone(); !c2.Equal(c) {
		t.Errorf("clone of clone differs")
	}
	if c.Contains(Dot{0, 7}) || c.Contains(Dot{1, 2}) {
		t.Errorf("changing the original changed a clone: %v", c)
	}
}

// seenModel is the naive reference: the set of dots, as a map.
type seenModel map[Dot]bool

func (m seenModel) count() uint64 { return uint64(len(m)) }

// seenOps is a random sequence of Adds over origins 0..4 and seqs 1..30,
// weighted towards low seqs so that prefixes grow, gaps close and duplicates
// come up.
type seenOps []Dot

func (seenOps) Generate(r *rand.Rand, size int) reflect.Value {
	ops := make(seenOps, r.Intn(150))
	for i := range ops {
		seq := uint64(1 + r.Intn(30))
		if r.Intn(2) == 0 {
			seq = uint64(1 + r.Intn(8))
		}
		ops[i] = Dot{Origin: uint64(r.Intn(5)), Seq: seq}
	}
	return reflect.ValueOf(ops)
}

// build applies ops to a Seen and to the model, checking Add's answer and
// the canonical form at every step.
func (ops seenOps) build(t *testing.T) (Seen, seenModel, bool) {
	t.Helper()
	var s Seen
	m := seenModel{}
	for i, d := range ops {
		if got := s.Add(d); got == m[d] {
			t.Logf("op %d: Add(%v) = %v but the model already held it: %v", i, d, got, m[d])
			return s, m, false
		}
		m[d] = true
		if !s.Valid() {
			t.Logf("op %d: Add(%v) left a non-canonical set %#v", i, d, s)
			return s, m, false
		}
	}
	return s, m, true
}

// allDots is every dot the generator can produce, and some it cannot (origin
// 5, seq 31) that must never be held.
func allDots() []Dot {
	var out []Dot
	for o := range uint64(6) {
		for q := uint64(1); q <= 31; q++ {
			out = append(out, Dot{o, q})
		}
	}
	return out
}

// agrees reports whether s holds exactly the model's dots.
func agrees(t *testing.T, what string, s Seen, m seenModel) bool {
	t.Helper()
	for _, d := range allDots() {
		if s.Contains(d) != m[d] {
			t.Logf("%s: Contains(%v) = %v, model %v; set %v", what, d, s.Contains(d), m[d], s)
			return false
		}
	}
	if s.Count() != m.count() || !s.Valid() {
		t.Logf("%s: Count() = %d, model %d, valid %v; set %v", what, s.Count(), m.count(), s.Valid(), s)
		return false
	}
	return true
}

var seenQuick = &quick.Config{MaxCount: 1000}

func TestSeen_Quick_AddMatchesModel(t *testing.T) {
	prop := func(ops seenOps) bool {
		s, m, ok := ops.build(t)
		return ok && agrees(t, "after adds", s, m)
	}
	if err := quick.Check(prop, seenQuick); err != nil {
		t.Error(err)
	}
}

// TestSeen_Quick_OrderDoesNotMatter: the same dots added in another order (a
// server receiving them reordered) give a field-for-field equal set, which
// is what lets Seen be compared and hashed by its encoding.
func TestSeen_Quick_OrderDoesNotMatter(t *testing.T) {
	prop := func(ops seenOps, seed int64) bool {
		a, _, ok := ops.build(t)
		shuffled := slices.Clone(ops)
		rand.New(rand.NewSource(seed)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		b, _, ok2 := shuffled.build(t)
		return ok && ok2 && a.Equal(b) && reflect.DeepEqual(normalize(a), normalize(b))
	}
	if err := quick.Check(prop, seenQuick); err != nil {
		t.Error(err)
	}
}

// normalize maps nil and empty slices to nil so that DeepEqual compares
// content only.
func normalize(s Seen) Seen {
	if len(s.Prefix) == 0 {
		s.Prefix = nil
	}
	if len(s.Extra) == 0 {
		s.Extra = nil
	}
	return s
}

func TestSeen_Quick_Union(t *testing.T) {
	prop := func(opsA, opsB seenOps) bool {
		a, ma, okA := opsA.build(t)
		b, mb, okB := opsB.build(t)
		if !okA || !okB {
			return false
		}
		union := seenModel{}
		for d := range ma {
			union[d] = true
		}
		for d := range mb {
			union[d] = true
		}
		ab := a.Clone()
		ab.Union(b)
		if !agrees(t, "a ∪ b", ab, union) || !agrees(t, "b after a ∪ b", b, mb) {
			return false
		}
		ba := b.Clone()
		ba.Union(a)
		if !ba.Equal(ab) {
			t.Logf("not commutative: a ∪ b = %v, b ∪ a = %v", ab, ba)
			return false
		}
		aa := a.Clone()
		aa.Union(a)
		again := ab.Clone()
		again.Union(b)
		if !aa.Equal(a) || !again.Equal(ab) {
			t.Logf("not idempotent: a ∪ a = %v (a = %v), (a ∪ b) ∪ b = %v", aa, a, again)
			return false
		}
		var empty Seen
		empty.Union(a)
		return empty.Equal(a)
	}
	if err := quick.Check(prop, seenQuick); err != nil {
		t.Error(err)
	}
}

// TestSeen_Quick_UnionOfSplit: a set split in two (some dots each side, some
// on both) and united again is the whole set, field for field.
func TestSeen_Quick_UnionOfSplit(t *testing.T) {
	prop := func(ops seenOps, mask []bool) bool {
		var left, right seenOps
		for i, d := range ops {
			switch {
			case i < len(mask) && mask[i]:
				left = append(left, d)
			case i%3 == 0:
				left = append(left, d)
				right = append(right, d)
			default:
				right = append(right, d)
			}
		}
		whole, _, ok := ops.build(t)
		l, _, okL := left.build(t)
		r, _, okR := right.build(t)
		l.Union(r)
		return ok && okL && okR && l.Equal(whole)
	}
	if err := quick.Check(prop, seenQuick); err != nil {
		t.Error(err)
	}
}

func TestSeen_Quick_CoversAndEqual(t *testing.T) {
	prop := func(opsA, opsB seenOps, extend uint8) bool {
		// B is often A plus or minus a little, so that Covers and Equal
		// come out true as well as false.
		switch extend % 4 {
		case 0:
			opsB = append(slices.Clone(opsA), opsB[:len(opsB)/8]...)
		case 1:
			opsB = slices.Clone(opsA[:len(opsA)*7/8])
		case 2:
			// Move one dot: often the same shape with one extra's seq
			// changed.
			opsB = slices.Clone(opsA)
			if len(opsB) > 0 {
				opsB[len(opsB)/2].Seq++
			}
		}
		a, ma, okA := opsA.build(t)
		b, mb, okB := opsB.build(t)
		if !okA || !okB {
			return false
		}
		subset := func(x, y seenModel) bool {
			for d := range x {
				if !y[d] {
					return false
				}
			}
			return true
		}
		same := subset(ma, mb) && subset(mb, ma)
		if a.Covers(b) != subset(mb, ma) || b.Covers(a) != subset(ma, mb) {
			t.Logf("Covers: %v ⊇ %v = %v, model %v; reverse %v, model %v", a, b, a.Covers(b), subset(mb, ma), b.Covers(a), subset(ma, mb))
			return false
		}
		if a.Equal(b) != same || b.Equal(a) != same {
			t.Logf("Equal(%v, %v) = %v, model %v", a, b, a.Equal(b), same)
			return false
		}
		ab := a.Clone()
		ab.Union(b)
		return ab.Covers(a) && ab.Covers(b) && a.Covers(a)
	}
	if err := quick.Check(prop, seenQuick); err != nil {
		t.Error(err)
	}
}

func TestSeen_Quick_CloneIndependent(t *testing.T) {
	prop := func(ops, more seenOps) bool {
		s, m, ok := ops.build(t)
		c := s.Clone()
		for _, d := range more {
			c.Add(d)
		}
		for i := range c.Prefix {
			c.Prefix[i].N += 100
		}
		for i := range c.Extra {
			c.Extra[i].Seq += 100
		}
		return ok && agrees(t, "original after changing its clone", s, m)
	}
	if err := quick.Check(prop, seenQuick); err != nil {
		t.Error(err)
	}
}

func TestSeen_Quick_OverlapCountsCommonDots(t *testing.T) {
	prop := func(opsA, opsB seenOps) bool {
		opsB = append(opsB, opsA[:len(opsA)/2]...) // share some dots
		a, ma, okA := opsA.build(t)
		b, mb, okB := opsB.build(t)
		if !okA || !okB {
			return false
		}
		var want uint64
		for d := range mb {
			if ma[d] {
				want++
			}
		}
		if got := a.Overlap(b); got != want {
			t.Logf("Overlap = %d, model %d; a %v b %v", got, want, a, b)
			return false
		}
		return true
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 500}); err != nil {
		t.Error(err)
	}
}
