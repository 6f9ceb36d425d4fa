package server

import (
	"fmt"
	"strings"
	"time"

	"gossipkv/pkg/model"
	"gossipkv/pkg/raftkv"
)

// Fault is a deliberate bug, for the tests that prove the history checker
// (package check) catches each class of mistake in the real system. The
// server binary reads it once from GOSSIPKV_FAULT; nothing else ever sets
// it, and NoFault leaves every code path as it is.
type Fault int

const (
	// NoFault: the server as it should be.
	NoFault Fault = iota
	// FaultDropWrites acknowledges one local put in ten (the first, the
	// eleventh, ...) with a fresh version but never applies it: a lost
	// write.
	FaultDropWrites
	// FaultIgnoreDeps serves gets without looking at the client's
	// dependency: a client that moves to a server that is behind reads
	// the past (Read Your Writes, Monotonic Reads).
	FaultIgnoreDeps
	// FaultAckBeforeCommit answers a put as soon as it is applied in
	// memory and commits lazily: only when another request waits on the
	// commit, or after ackBeforeCommitLag. A kill right after the put
	// (which goes to the watchdog, not to the server) loses it.
	FaultAckBeforeCommit
	// FaultNoCausality merges writes from other servers by arrival: the
	// first write of a key to arrive stays, whatever the conflict order
	// says of later ones, so servers disagree and overwrites are lost.
	FaultNoCausality
	// FaultIgnoreWriteDeps issues a put's or delete's version from the
	// server's own clock alone, without the client's dependency: a client
	// that read a write its server has not seen may write below it, which
	// a server whose clock is behind (skewClock) makes lose.
	FaultIgnoreWriteDeps
	// FaultRaftLocalRead (linearizable mode): a follower answers gets from
	// its own applied state instead of through the leader's read index; a
	// follower cut off from the leader reads the past.
	FaultRaftLocalRead
	// FaultRaftAckBeforeCommit (linearizable mode): the leader answers a
	// put or delete as soon as it has proposed it, before a quorum has it;
	// a leader cut off right then loses the write.
	FaultRaftAckBeforeCommit
	// FaultRaftStaleLeader (linearizable mode): the leader reads its own
	// applied state without confirming its leadership with a quorum, and
	// goes on doing so after it lost its quorum, until it hears of the new
	// leader.
	FaultRaftStaleLeader
)

var faultNames = map[Fault]string{
	NoFault:              "",
	FaultDropWrites:      "drop-writes",
	FaultIgnoreDeps:      "ignore-deps",
	FaultAckBeforeCommit: "ack-before-commit",
	FaultNoCausality:     "no-causality",
	FaultIgnoreWriteDeps: "ignore-write-deps",

	FaultRaftLocalRead:       "raft-local-read",
	FaultRaftAckBeforeCommit: "raft-ack-before-commit",
	FaultRaftStaleLeader:     "raft-stale-leader",
}

func (f Fault) String() string {
	if n, ok := faultNames[f]; ok && n != "" {
		return n
	}
	if f == NoFault {
		return "none"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// ParseFault reads a fault name as GOSSIPKV_FAULT spells it ("" is none).
func ParseFault(s string) (Fault, error) {
	for f, n := range faultNames {
		if n == s {
			return f, nil
		}
	}
	var names []string
	for _, f := range []Fault{FaultDropWrites, FaultIgnoreDeps, FaultAckBeforeCommit, FaultNoCausality, FaultIgnoreWriteDeps,
		FaultRaftLocalRead, FaultRaftAckBeforeCommit, FaultRaftStaleLeader} {
		names = append(names, f.String())
	}
	return NoFault, fmt.Errorf("unknown fault %q (known: %s)", s, strings.Join(names, ", "))
}

// raft is the fault's part in the Raft node of linearizable mode: none
// unless f is one of the raft- faults.
func (f Fault) raft() raftkv.Faults {
	return raftkv.Faults{
		LocalReads:       f == FaultRaftLocalRead,
		AckOnPropose:     f == FaultRaftAckBeforeCommit,
		StaleLeaderReads: f == FaultRaftStaleLeader,
	}
}

// ackBeforeCommitLag is the longest FaultAckBeforeCommit lets acknowledged
// puts wait for their commit when nothing else asks for one.
const ackBeforeCommitLag = time.Second

// faultState is the fault's own state, owned by run like the replica.
type faultState struct {
	kind       Fault
	puts       int
	lastCommit time.Time
}

// dropPut, under FaultDropWrites, takes one put in ten: it gives r the
// version the put would have had and reports true, and the put is never
// applied.
func (f *faultState) dropPut(s *Server, r *request) bool {
	if f.kind != FaultDropWrites {
		return false
	}
	f.puts++
	if f.puts%10 != 1 {
		return false
	}
	r.dep = model.Tick(model.Max(r.dep, s.node.R.Meta().Clock), s.wall(), s.opts.ID)
	return true
}

// ackEarly reports whether puts are answered before their commit.
func (f *faultState) ackEarly() bool { return f.kind == FaultAckBeforeCommit }

// holdCommit, under FaultAckBeforeCommit, reports whether the commit must
// wait: no request waits on it (pending of them) and the last one was
// recent.
func (f *faultState) holdCommit(pending int) bool {
	if f.kind != FaultAckBeforeCommit {
		return false
	}
	if now := time.Now(); pending > 0 || now.Sub(f.lastCommit) >= ackBeforeCommitLag {
		f.lastCommit = now
		return false
	}
	return true
}

// writeDep is the dependency a put or delete is issued above.
func (f *faultState) writeDep(d model.Version) model.Version {
	if f.kind == FaultIgnoreWriteDeps {
		return model.Version{}
	}
	return d
}

// dep is the dependency a get honours.
func (f *faultState) dep(d model.Version) model.Version {
	if f.kind == FaultIgnoreDeps {
		return model.Version{}
	}
	return d
}

// filter, under FaultNoCausality, removes from a message the writes of
// keys that r already holds at another version, and records them as held
// as if they had been applied.
func (f *faultState) filter(r *model.Replica, m model.Message) model.Message {
	if f.kind != FaultNoCausality {
		return m
	}
	keep := func(es []model.Entry) []model.Entry {
		var out []model.Entry
		for _, e := range es {
			cur, st := r.Get(e.Key, model.Version{})
			if st == model.Found && cur.Version != e.Version && !r.Seen().Contains(e.Dot()) {
				var one model.Seen
				one.Add(e.Dot())
				r.Merge(one)
				continue
			}
			out = append(out, e)
		}
		return out
	}
	switch m := m.(type) {
	case model.Writes:
		m.Entries = keep(m.Entries)
		return m
	case model.Delta:
		m.Entries = keep(m.Entries)
		return m
	}
	return m
}
