package check

import (
	"fmt"
	"slices"
	"time"

	"gossipkv/pkg/router"
)

// Repair is a stabilize that had repair to wait for: since the stabilize
// before it, a heal, restart or resume joined servers that had been apart
// (or a server that was down) into one group. A server's first start is
// no repair: the run is setting up, or a server joins late.
type Repair struct {
	// Line is the stabilize's script line; From the line of the first
	// event since the previous stabilize that made repair necessary.
	Line, From int
	// Took runs from that event's return to the stabilize's return, on
	// the master's clock (Event.Call and Return).
	Took time.Duration
	// Ops is how many client operations (puts, gets, deletes, cas) ran
	// between that event and the stabilize: their time is in Took, so a
	// repair that spans many of them is an upper bound, not the time the
	// servers took.
	Ops int
}

// Repairs lists the repairs of h: one for each stabilize that converged
// after servers were reconnected. A stabilize that did not converge is
// left out (it is a violation of its own, and its time is its timeout).
func Repairs(h History) []Repair {
	live := map[uint32]bool{}
	paused := map[uint32]bool{}
	cuts := map[pair]bool{}
	started := map[uint32]bool{}
	groups := func() map[uint32]int {
		ids := make([]uint32, 0, len(live))
		for id := range live {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		of := map[uint32]int{}
		comps := router.Full(ids, func(a, b uint32) bool {
			return cuts[mkpair(a, b)] || paused[a] || paused[b]
		}).Components()
		for i, g := range comps {
			for _, id := range g {
				of[id] = i
			}
		}
		return of
	}
	var out []Repair
	from := -1 // index in h of the event that made repair necessary
	ops := 0   // client operations since from
	for i, e := range h {
		var before map[uint32]int
		switch {
		case e.Op == Start && started[e.Server], e.Op == Heal, e.Op == Resume:
			before = groups()
		}
		switch e.Op {
		case Start:
			started[e.Server] = true
			live[e.Server] = true
			delete(paused, e.Server)
			for p := range cuts {
				if p.lo == e.Server || p.hi == e.Server {
					delete(cuts, p)
				}
			}
		case Kill:
			delete(live, e.Server)
			delete(paused, e.Server)
		case Pause:
			paused[e.Server] = true
		case Resume:
			delete(paused, e.Server)
		case Cut:
			cuts[mkpair(e.Server, e.Peer)] = true
		case Heal:
			delete(cuts, mkpair(e.Server, e.Peer))
		case Put, Get, Delete, CAS:
			ops++
		case Stabilize:
			if from >= 0 && e.Converged {
				out = append(out, Repair{Line: e.Line, From: h[from].Line, Took: e.Return - h[from].Return, Ops: ops})
			}
			from = -1
		}
		if before != nil && from < 0 && joined(before, groups()) {
			from, ops = i, 0
		}
	}
	return out
}

// joined reports whether a group of after holds servers from two groups
// of before, a server that was down counting as a group of its own.
func joined(before, after map[uint32]int) bool {
	type origin struct {
		group int
		id    uint32 // a server that was down
	}
	seen := map[int]origin{}
	for id, g := range after {
		o := origin{group: -1, id: id}
		if b, ok := before[id]; ok {
			o = origin{group: b}
		}
		if s, ok := seen[g]; ok && s != o {
			return true
		}
		seen[g] = o
	}
	return false
}

// RepairStats sums up Repairs.
type RepairStats struct {
	Count       int
	Median, Max time.Duration
	// MaxLine and MaxFrom are the lines of the slowest repair's stabilize
	// and of the event it started from; MaxOps the client operations
	// between them.
	MaxLine, MaxFrom, MaxOps int
	// Each is every repair, in script order.
	Each []Repair
}

// SummarizeRepairs gives the count, median and maximum of rs.
func SummarizeRepairs(rs []Repair) RepairStats {
	s := RepairStats{Count: len(rs), Each: rs}
	if len(rs) == 0 {
		return s
	}
	took := make([]time.Duration, len(rs))
	for i, r := range rs {
		took[i] = r.Took
		if i == 0 || r.Took > s.Max {
			s.Max, s.MaxLine, s.MaxFrom, s.MaxOps = r.Took, r.Line, r.From, r.Ops
		}
	}
	slices.Sort(took)
	if n := len(took); n%2 == 1 {
		s.Median = took[n/2]
	} else {
		s.Median = (took[n/2-1] + took[n/2]) / 2
	}
	return s
}

// String is the summary line on stderr.
func (s RepairStats) String() string {
	if s.Count == 0 {
		return "check: repairs: none (no stabilize after a heal, restart or resume)"
	}
	between := ""
	if s.MaxOps > 0 {
		between = fmt.Sprintf(", %d client operations between", s.MaxOps)
	}
	return fmt.Sprintf("check: repairs: %d (stabilizes after a heal, restart or resume), median %s, max %s (line %d, from line %d%s)",
		s.Count, ms(s.Median), ms(s.Max), s.MaxLine, s.MaxFrom, between)
}

// ms prints d in milliseconds with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
