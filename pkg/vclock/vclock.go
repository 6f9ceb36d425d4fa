package vclock

import (
	"fmt"
	"sort"
	"strings"
)

// Entry is one component of a clock: how many events of node ID it covers.
type Entry struct {
	ID uint64 `msgpack:"i"`
	N  uint64 `msgpack:"n"`
}

// Clock is a vector clock kept as a slice sorted by ID with no zero entries,
// so that equal clocks have equal encodings (msgpack would encode a Go map in
// random order). The zero value is the empty clock. Clocks are values: every
// method that changes a clock returns a new one and leaves its receiver alone.
type Clock []Entry

// Ordering is how two clocks relate.
type Ordering int

const (
	// Equal clocks cover exactly the same events.
	Equal Ordering = iota
	// Before means the left clock is strictly dominated by the right one.
	Before
	// After means the left clock strictly dominates the right one.
	After
	// Concurrent clocks each cover an event the other lacks.
	Concurrent
)

func (o Ordering) String() string {
	switch o {
	case Equal:
		return "equal"
	case Before:
		return "before"
	case After:
		return "after"
	case Concurrent:
		return "concurrent"
	}
	return fmt.Sprintf("Ordering(%d)", int(o))
}

// Get returns the component for id, 0 when absent.
func (c Clock) Get(id uint64) uint64 {
	i := sort.Search(len(c), func(i int) bool { return c[i].ID >= id })
	if i < len(c) && c[i].ID == id {
		return c[i].N
	}
	return 0
}

// With returns a copy of c whose component for id is n (removed when n is 0).
func (c Clock) With(id uint64, n uint64) Clock {
	i := sort.Search(len(c), func(i int) bool { return c[i].ID >= id })
	out := make(Clock, 0, len(c)+1)
	out = append(out, c[:i]...)
	if n != 0 {
		out = append(out, Entry{ID: id, N: n})
	}
	if i < len(c) && c[i].ID == id {
		i++
	}
	return append(out, c[i:]...)
}

// Inc returns a copy of c with the component for id advanced by one.
func (c Clock) Inc(id uint64) Clock { return c.With(id, c.Get(id)+1) }

// Merge returns the component-wise maximum of a and b.
func Merge(a, b Clock) Clock {
	out := make(Clock, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].ID < b[j].ID):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].ID < a[i].ID:
			out = append(out, b[j])
			j++
		default:
			out = append(out, Entry{ID: a[i].ID, N: max(a[i].N, b[j].N)})
			i++
			j++
		}
	}
	return out
}

// Compare tells how a relates to b in the causal (partial) order.
func Compare(a, b Clock) Ordering {
	aBigger, bBigger := false, false
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].ID < b[j].ID):
			aBigger = aBigger || a[i].N > 0
			i++
		case i == len(a) || b[j].ID < a[i].ID:
			bBigger = bBigger || b[j].N > 0
			j++
		default:
			aBigger = aBigger || a[i].N > b[j].N
			bBigger = bBigger || b[j].N > a[i].N
			i++
			j++
		}
	}
	switch {
	case aBigger && bBigger:
		return Concurrent
	case aBigger:
		return After
	case bBigger:
		return Before
	}
	return Equal
}

// Descends reports whether c covers every event of o (c >= o).
func (c Clock) Descends(o Clock) bool {
	r := Compare(c, o)
	return r == Equal || r == After
}

// Valid reports whether c is sorted by ID without duplicates or zero entries,
// the canonical form every constructor here produces. Decoded clocks from the
// wire or disk must be checked with it before use.
func (c Clock) Valid() bool {
	for i, e := range c {
		if e.N == 0 || (i > 0 && c[i-1].ID >= e.ID) {
			return false
		}
	}
	return true
}

func (c Clock) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range c {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%d", e.ID, e.N)
	}
	b.WriteByte('}')
	return b.String()
}
