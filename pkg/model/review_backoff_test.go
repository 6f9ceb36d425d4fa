package model

import (
	"slices"
	"testing"
)

// Review: the backoff for a neighbour that takes none of its Deltas is
// kept per neighbour, not per write, so a neighbour that refuses one
// write for good (its origin's clock beyond the max offset ahead of the
// neighbour's) also has every later write it lost on the fast path
// repaired at the backed-off interval (up to 16 resends, bounded only by
// the slow safety net), not after one resend as before.
//
// Chain 2 - 0 - 1 (node 2 joins late). Node 0 writes e1 with its clock 4 s ahead; node 1's
// clock is 4 s behind, so e1 is 8 s ahead of it and it refuses e1 (max
// offset 5 s) for the 3 s this test needs. After 2 s of that, node 2 (normal
// clock) writes e2; node 0 is node 1's parent in 2's tree and forwards e2,
// and that Writes batch is lost. e2 is not refused by node 1: it should
// be repaired one resend (20 ms) after node 0 holds it.
func TestReview2_Backoff_DelaysRepairOfAnUnrelatedLostWrite(t *testing.T) {
	const sec = int64(1e9)
	const maxOffset = 5 * sec
	skew := map[uint32]int64{0: 0, 1: -4 * sec, 2: 0}
	mk := func(id uint32) *Node {
		return NewNode(NodeConfig{ID: id, Resend: 20 * ms, Heartbeat: 200 * ms, MaxDeltaBytes: 1 << 20, Start: 10 * sec, Members: []uint32{0, 1, 2}},
			NewReplica(id, uint64(id)+1, nil, Meta{}))
	}
	nodes := map[uint32]*Node{0: mk(0), 1: mk(1), 2: mk(2)}
	nodes[0].SetNeighbors([]uint32{1})
	nodes[1].SetNeighbors([]uint32{0})
	now := 10 * sec
	dropWrites01 := false
	run := func(d int64, until func() bool) {
		for end := now + d; now < end && (until == nil || !until()); {
			now += ms
			for _, id := range []uint32{0, 1, 2} {
				n := nodes[id]
				n.Tick(now + skew[id])
				for _, o := range n.Ready() {
					if id == 0 && o.To == 1 {
						if _, ok := o.Msg.(Writes); ok && dropWrites01 {
							continue
						}
					}
					to := nodes[o.To]
					if !slices.Contains(to.Neighbors(), id) {
						continue
					}
					m, _ := Ahead(o.Msg, now+skew[o.To], maxOffset)
					to.Step(id, m, now+skew[o.To])
				}
			}
		}
	}
	run(500*ms, nil) // topology settles
	e1 := nodes[0].Put([]byte("a"), []byte("ahead"), Version{}, now+4*sec)
	run(2*sec, nil)
	if nodes[1].R.Seen().Contains(e1.Dot()) {
		t.Fatal("node 1 took e1, which is beyond its max offset")
	}
	// Node 2 links up with node 0 and writes at once (its clock has not
	// taken e1's).
	nodes[0].SetNeighbors([]uint32{1, 2})
	nodes[2].SetNeighbors([]uint32{0})
	dropWrites01 = true
	e2 := nodes[2].Put([]byte("b"), []byte("normal"), Version{}, now)
	run(2*sec, func() bool { return nodes[0].R.Seen().Contains(e2.Dot()) })
	if !nodes[0].R.Seen().Contains(e2.Dot()) {
		t.Fatal("node 0 never got e2")
	}
	start := now
	run(2*sec, func() bool { return nodes[1].R.Seen().Contains(e2.Dot()) })
	if !nodes[1].R.Seen().Contains(e2.Dot()) {
		t.Fatal("node 1 never got e2")
	}
	if took := now - start; took > 60*ms {
		t.Errorf("node 1 got e2, a write it does not refuse, %d ms after its parent held it (resend is 20 ms): the backoff earned by e1's refusals delayed it", took/ms)
	}
}
