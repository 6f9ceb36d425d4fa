package model

import (
	"fmt"
	"sort"

	"gossipkv/pkg/vclock"
)

// Dot names one write: the Seq-th write issued by server Origin (from 1).
type Dot struct {
	Origin uint64 `msgpack:"o"`
	Seq    uint64 `msgpack:"s"`
}

func (d Dot) String() string { return fmt.Sprintf("%d:%d", d.Origin, d.Seq) }

// Seen is the set of writes a server holds (or holds something newer than,
// key by key): a version vector with exceptions. Prefix says that writes
// 1..Prefix[o] of every origin o are held; Extra lists, sorted, the writes held
// beyond a gap (messages may arrive out of order). Two servers with equal Seen
// sets have identical stores.
//
// Seen is persisted and sent over the wire, so it is kept canonical: Extra is
// sorted, has no duplicates and no dot that Prefix already covers or that
// would extend it.
type Seen struct {
	Prefix vclock.Clock `msgpack:"p"`
	Extra  []Dot        `msgpack:"x"`
}

func dotLess(a, b Dot) bool {
	return a.Origin < b.Origin || (a.Origin == b.Origin && a.Seq < b.Seq)
}

// Contains reports whether the write d is in the set.
func (s Seen) Contains(d Dot) bool {
	if d.Seq <= s.Prefix.Get(d.Origin) {
		return true
	}
	i := sort.Search(len(s.Extra), func(i int) bool { return !dotLess(s.Extra[i], d) })
	return i < len(s.Extra) && s.Extra[i] == d
}

// Add puts d in the set and reports whether it was new.
func (s *Seen) Add(d Dot) bool {
	if d.Seq == 0 || s.Contains(d) {
		return false
	}
	if d.Seq == s.Prefix.Get(d.Origin)+1 {
		s.Prefix = s.Prefix.With(d.Origin, d.Seq)
		s.absorb(d.Origin)
		return true
	}
	i := sort.Search(len(s.Extra), func(i int) bool { return !dotLess(s.Extra[i], d) })
	s.Extra = append(s.Extra, Dot{})
	copy(s.Extra[i+1:], s.Extra[i:])
	s.Extra[i] = d
	return true
}

// absorb moves the extras of origin that now continue the prefix into it.
func (s *Seen) absorb(origin uint64) {
	n := s.Prefix.Get(origin)
	i := sort.Search(len(s.Extra), func(i int) bool { return s.Extra[i].Origin >= origin })
	j := i
	for j < len(s.Extra) && s.Extra[j].Origin == origin && s.Extra[j].Seq <= n+1 {
		if s.Extra[j].Seq == n+1 {
			n++
		}
		j++
	}
	if j > i {
		s.Prefix = s.Prefix.With(origin, n)
		s.Extra = append(s.Extra[:i], s.Extra[j:]...)
	}
}

// Union adds every write of o to s.
func (s *Seen) Union(o Seen) {
	s.Prefix = vclock.Merge(s.Prefix, o.Prefix)
	extra := make([]Dot, 0, len(s.Extra)+len(o.Extra))
	for _, d := range s.Extra {
		if d.Seq > s.Prefix.Get(d.Origin) {
			extra = append(extra, d)
		}
	}
	for _, d := range o.Extra {
		if d.Seq > s.Prefix.Get(d.Origin) {
			extra = append(extra, d)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return dotLess(extra[i], extra[j]) })
	s.Extra = extra[:0]
	for i, d := range extra {
		if i == 0 || d != extra[i-1] {
			s.Extra = append(s.Extra, d)
		}
	}
	origins := map[uint64]bool{}
	for _, d := range s.Extra {
		origins[d.Origin] = true
	}
	for o := range origins {
		s.absorb(o)
	}
}

// Covers reports whether every write of o is in s.
func (s Seen) Covers(o Seen) bool {
	for _, e := range o.Prefix {
		have := s.Prefix.Get(e.ID)
		if have >= e.N {
			continue
		}
		// The gap (have, e.N] is covered only if every dot of it is an
		// extra; extras are unique, so counting them is enough.
		lo := sort.Search(len(s.Extra), func(i int) bool { return !dotLess(s.Extra[i], Dot{e.ID, have + 1}) })
		hi := sort.Search(len(s.Extra), func(i int) bool { return dotLess(Dot{e.ID, e.N}, s.Extra[i]) })
		if uint64(hi-lo) != e.N-have {
			return false
		}
	}
	for _, d := range o.Extra {
		if !s.Contains(d) {
			return false
		}
	}
	return true
}

// Overlap counts the writes of o that s holds too.
func (s Seen) Overlap(o Seen) uint64 {
	var n uint64
	for _, e := range o.Prefix {
		have := s.Prefix.Get(e.ID)
		n += min(have, e.N)
		// s's extras of this origin inside o's prefix
		lo := sort.Search(len(s.Extra), func(i int) bool { return !dotLess(s.Extra[i], Dot{e.ID, have + 1}) })
		for i := lo; i < len(s.Extra) && s.Extra[i].Origin == e.ID && s.Extra[i].Seq <= e.N; i++ {
			n++
		}
	}
	for _, d := range o.Extra {
		if s.Contains(d) {
			n++
		}
	}
	return n
}

// Equal reports whether s and o hold the same writes. Canonical sets are
// equal exactly when their fields are.
func (s Seen) Equal(o Seen) bool {
	if len(s.Prefix) != len(o.Prefix) || len(s.Extra) != len(o.Extra) {
		return false
	}
	for i := range s.Prefix {
		if s.Prefix[i] != o.Prefix[i] {
			return false
		}
	}
	for i := range s.Extra {
		if s.Extra[i] != o.Extra[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy that shares no memory with s.
func (s Seen) Clone() Seen {
	return Seen{Prefix: append(vclock.Clock(nil), s.Prefix...), Extra: append([]Dot(nil), s.Extra...)}
}

// Count returns how many writes the set holds.
func (s Seen) Count() uint64 {
	var n uint64
	for _, e := range s.Prefix {
		n += e.N
	}
	return n + uint64(len(s.Extra))
}

// Valid reports whether s is canonical; decoded sets must be checked.
func (s Seen) Valid() bool {
	if !s.Prefix.Valid() {
		return false
	}
	for i, d := range s.Extra {
		if d.Seq <= s.Prefix.Get(d.Origin)+1 || (i > 0 && !dotLess(s.Extra[i-1], d)) {
			return false
		}
	}
	return true
}

func (s Seen) String() string {
	if len(s.Extra) == 0 {
		return s.Prefix.String()
	}
	return fmt.Sprintf("%v+%v", s.Prefix, s.Extra)
}
