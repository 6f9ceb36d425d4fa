package raftkv

import (
	"sync/atomic"

	"github.com/hashicorp/raft"

	"gossipkv/pkg/model"
)

// Faults are deliberate bugs, for the tests that prove the harness's
// linearizability check catches each (the server sets them from
// GOSSIPKV_FAULT; nothing else does). The zero value is the node as it
// should be, and leaves every code path as it is.
type Faults struct {
	// LocalReads: a follower answers a get from its own applied state
	// instead of going through the leader's read index; a follower cut off
	// from the leader answers the past.
	LocalReads bool
	// AckOnPropose: the leader answers a put or delete as soon as it has
	// proposed the entry, before a quorum has it; a leader cut off right
	// then loses writes it acknowledged.
	AckOnPropose bool
	// StaleLeaderReads: the leader reads its applied state without
	// confirming with a quorum that it still leads, and a leader that lost
	// its quorum goes on doing so until it hears of another leader.
	StaleLeaderReads bool
}

// faultState is what the faults keep.
type faultState struct {
	// ledLast: the last leader this node heard of is itself (kept under
	// StaleLeaderReads only).
	ledLast atomic.Bool
}

// watchLeader, under StaleLeaderReads, keeps ledLast: set when this node
// becomes the leader, cleared when it hears of another one, and left as it
// is while no leader is known (a leader that stepped down for want of a
// quorum goes on believing it leads).
func (n *Node) watchLeader() {
	if !n.cfg.Faults.StaleLeaderReads {
		return
	}
	ch := make(chan raft.Observation, 64)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(obs)
	n.wg.Add(1) // Shutdown waits for it
	go func() {
		defer n.wg.Done()
		defer n.raft.DeregisterObserver(obs)
		for {
			select {
			case <-n.ctx.Done():
				return
			case o := <-ch:
				lo := o.Data.(raft.LeaderObservation)
				switch {
				case lo.LeaderID == serverID(n.cfg.ID):
					n.fault.ledLast.Store(true)
				case lo.LeaderID != "":
					n.fault.ledLast.Store(false)
				}
			}
		}
	}()
}

// faultRead, under LocalReads at a follower or StaleLeaderReads at a node
// that believes it leads, answers a get from this node's applied state and
// reports true; otherwise it reports false and the get goes as it should.
func (n *Node) faultRead(key []byte) (response, bool) {
	f := n.cfg.Faults
	leads := n.raft.State() == raft.Leader
	switch {
	case f.LocalReads && !leads:
	case f.StaleLeaderReads && (leads || n.fault.ledLast.Load()):
	default:
		return response{}, false
	}
	return n.appliedRead(key), true
}

// appliedRead reads key from this node's applied state, as it is.
func (n *Node) appliedRead(key []byte) response {
	reg, ok := n.fsm.get(key)
	found := ok && !reg.Deleted
	resp := response{Status: statusOK, Found: found, Version: reg.Version}
	if found {
		resp.Value = reg.Value
	}
	return resp
}

// ackOnPropose, under AckOnPropose, answers a put or delete that was just
// proposed, without waiting for its commit (raft resolves the abandoned
// future anyway): the version is the index the entry should get. It
// reports false for anything else, and the caller waits as it should.
func (n *Node) ackOnPropose(req request) (response, bool) {
	if !n.cfg.Faults.AckOnPropose || (req.Op != opPut && req.Op != opDelete) {
		return response{}, false
	}
	return response{Status: statusOK, Version: model.Version{Wall: int64(n.raft.LastIndex() + 1), Origin: req.Origin}}, true
}
