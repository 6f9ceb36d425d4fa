package model

import "testing"

// Review: a write of an earlier life of an origin that is alive and in
// reach, but whose disk no longer holds it (a wiped or restored data
// directory), is classed "rooted" by responsibleFor: only the laggard's
// parent in the origin's tree repairs it on the fast path, and that
// parent (or the origin itself) may lack it. The holder then waits for
// the slow safety net (two heartbeats and more), where a dead origin's
// write is repaired in one or two resends.
//
// Chain 0 - 1 - 2. Node 2 writes w, which only node 0 takes (0-2 the only
// link); node 2 restarts from an empty disk; then the links become 0-1
// and 1-2. Node 1 lacks w; its parent in node 2's tree is node 2, which
// lacks it too; node 0 holds it.
func TestReview2_LiveOriginLostItsWrite_RepairedOnlyBySlowNet(t *testing.T) {
	s := newSimNet(t, 7, 3)
	s.cut[key(0, 1)], s.cut[key(1, 2)] = true, true
	s.gossip(1)
	s.put(2)
	w := s.writes[0]
	for i := 0; i < 200 && !s.nodes[0].R.Seen().Contains(w.Dot()); i++ {
		s.step()
	}
	if !s.nodes[0].R.Seen().Contains(w.Dot()) {
		t.Fatal("node 0 never got the write")
	}
	s.restartFrom(2, simDisk{}) // wiped: the new life lacks w
	s.cut[key(0, 2)] = true
	delete(s.cut, key(0, 1))
	delete(s.cut, key(1, 2))
	s.gossip(1)
	start := s.now
	for !s.nodes[1].R.Seen().Contains(w.Dot()) {
		if s.now-start > 3000*ms {
			t.Fatal("node 1 never got w")
		}
		s.step()
	}
	// Resend 20 ms, heartbeat 200 ms.
	if took := s.now - start; took > 150*ms {
		t.Errorf("node 1 got w %d ms after the links came up: left to the slow safety net (a dead origin's write takes one or two resends)", took/ms)
	}
}
