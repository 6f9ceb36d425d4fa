package model

import (
	"fmt"
	"testing"
)

// gcPump runs nodes as servers do: tick, rebase when outdated (as
// server.rebase does), commit, send; until quiet for a while.
func gcPump(t *testing.T, now *int64, nodes map[uint32]*Node, rounds int, srcs *uint64) {
	t.Helper()
	for round := 0; round < rounds; round++ {
		*now += ms
		for id, n := range nodes {
			n.Tick(*now)
			if p, ok := n.Outdated(); ok {
				kept, meta := n.R.Rebase(p)
				*srcs++
				r := NewReplica(id, NewSrc(*srcs), kept, meta)
				r.SetRebased(p.Version)
				n.Recover(r)
			}
			n.R.TakeDirty()
			for _, o := range n.Ready() {
				if to := nodes[o.To]; to != nil {
					to.Step(n.cfg.ID, o.Msg, *now)
					if p, ok := to.Outdated(); ok {
						kept, meta := to.R.Rebase(p)
						*srcs++
						r := NewReplica(o.To, NewSrc(*srcs), kept, meta)
						r.SetRebased(p.Version)
						to.Recover(r)
					}
				}
			}
		}
	}
}

// Server 0 runs alone, takes a put (acknowledged: committed) and dies
// before any other server ever hears of it. Server 1 then starts alone and
// takes a write of another key. Were members only the servers heard of, 1
// would be its own whole cluster and make a stable point above 0's write;
// 0, back, would lack its cover and be rebased, dropping an acknowledged
// write nobody else ever held. Configured servers are members: 1 makes no
// point until 0 has reported, and both end with both writes.
//
// Harness script: joinServer 0; joinClient 5 0; put 5 a x; killServer 0;
// joinServer 1; joinClient 6 1; put 6 b y; (a second passes)
// joinServer 0; stabilize; get 5 a.
func TestNode_ServerUnheardOf_KeepsItsWrites(t *testing.T) {
	now := int64(1e9)
	var srcs uint64 = 100
	a := NewNode(pairConfig(0), NewReplica(0, NewSrc(1), nil, Meta{}))
	w := a.Put([]byte("a"), []byte("x"), Version{}, now)
	gcPump(t, &now, map[uint32]*Node{0: a}, 1000, &srcs)
	a.R.TakeDirty()
	disk0 := a.R.Snapshot()
	meta0 := a.R.Meta()

	// 0 is dead. 1 starts alone.
	b := NewNode(pairConfig(1), NewReplica(1, NewSrc(2), nil, Meta{}))
	now += 1000 * ms
	b.Put([]byte("b"), []byte("y"), Version{}, now)
	gcPump(t, &now, map[uint32]*Node{1: b}, 1000, &srcs)
	if !b.stable.IsZero() {
		t.Fatalf("1 alone made a stable point (%v) while server 0, a member, never reported its holding", b.stable.Version)
	}

	// 0 restarts from its own intact disk and links with 1.
	a = NewNode(pairConfig(0), NewReplica(0, NewSrc(3), disk0, meta0))
	linkPair(a, b)
	gcPump(t, &now, map[uint32]*Node{0: a, 1: b}, 3000, &srcs)

	for id, n := range map[uint32]*Node{0: a, 1: b} {
		if !n.R.Seen().Contains(w.Dot()) {
			t.Errorf("node %d lacks 0's acknowledged write %v (a=x): it was dropped by a rebase", id, w.Dot())
		}
		if _, st := n.R.Get([]byte("a"), w.Version); st != Found {
			t.Errorf("node %d: get a for the client that wrote it: status %v, want Found (NoKey is ERR_KEY: Read Your Writes broken)", id, st)
		}
	}
}

// A rebased replica has no stable point until it holds the new one's
// cover: it dropped live values below the points it had taken, so until
// its peers have refilled it, a client that depends on one of them is told
// it is behind (ERR_DEP), not that the key is gone (ERR_KEY).
func TestNode_RebasedReplica_BehindForLiveValuesItDropped(t *testing.T) {
	s := newSimNet(t, 5, 3)
	live := s.nodes[0].Put([]byte("live"), []byte("v"), Version{}, s.now)
	s.writes = append(s.writes, live)
	s.writes = append(s.writes, s.nodes[0].Put([]byte("k"), []byte("old"), Version{}, s.now))
	s.writes = append(s.writes, s.nodes[0].Delete([]byte("k"), Version{}, s.now))
	s.settle()
	for i := 0; i < 2000; i++ {
		s.step()
	}
	if s.nodes[2].R.Stable().Version.Less(live.Version) {
		t.Fatal("setup: node 2 took no stable point above the live key")
	}
	s.nodes[2].R.TakeDirty()
	backup := simDisk{entries: s.nodes[2].R.Snapshot(), meta: s.nodes[2].R.Meta()}
	// The cluster moves on: a new delete, a new stable point.
	s.writes = append(s.writes, s.nodes[0].Put([]byte("k2"), []byte("x"), Version{}, s.now))
	s.writes = append(s.writes, s.nodes[1].Delete([]byte("k2"), Version{}, s.now))
	s.settle()
	for i := 0; i < 2000; i++ {
		s.step()
	}
	// 2 comes back from the backup and learns the new point from 0.
	s.restartFrom(2, backup)
	n := s.nodes[2]
	n.Step(0, Ack{Seen: s.nodes[0].R.Seen().Clone(), Src: s.nodes[0].R.Src(), Stable: s.nodes[0].stable}, s.now)
	s.rebaseIfOutdated(2)
	if s.rebases != 1 {
		t.Fatalf("setup: %d rebases", s.rebases)
	}
	if _, st := n.R.Get([]byte("live"), live.Version); st != Behind {
		t.Errorf("rebased node 2, before its refill, answers status %v (1 = NoKey: ERR_KEY) to the client that wrote live=v at %v; want Behind (stable kept %v)", st, live.Version, n.R.Stable().Version)
	}
}

// In a quiet cluster (no writes) holdings do not flood: a server makes a
// new one only when its set or clock changed, and once every holdRefresh
// heartbeats; each crosses a link once. Over 50 heartbeats each server's
// holding is refreshed twice, so at most 2 n (n-1) holdings travel per
// server, where one a heartbeat would make 50 n (n-1).
func TestNode_QuietCluster_HoldingsRefreshedSlowly(t *testing.T) {
	for _, n := range []int{5, 10, 20} {
		nodes := map[uint32]*Node{}
		now := int64(1e9)
		var members []uint32
		for i := 0; i < n; i++ {
			members = append(members, uint32(i))
		}
		for i := 0; i < n; i++ {
			cfg := pairConfig(uint32(i))
			cfg.Members = members
			nodes[uint32(i)] = NewNode(cfg, NewReplica(uint32(i), NewSrc(uint64(i)), nil, Meta{}))
		}
		for i, nd := range nodes {
			var nbs []uint32
			for j := range nodes {
				if j != i {
					nbs = append(nbs, j)
				}
			}
			nd.SetNeighbors(nbs)
			for j := range nodes {
				if j != i {
					var l []uint32
					for k := range nodes {
						if k != j {
							l = append(l, k)
						}
					}
					nd.SetLinks(j, 1, l)
				}
			}
			nd.Put([]byte(fmt.Sprint("k", i)), []byte("v"), Version{}, now)
		}
		run := func(rounds int) (holdings int) {
			for r := 0; r < rounds; r++ {
				now += ms
				for _, nd := range nodes {
					nd.Tick(now)
					nd.R.TakeDirty()
					for _, o := range nd.Ready() {
						if a, ok := o.Msg.(Ack); ok {
							holdings += len(a.Holdings)
						}
						nodes[o.To].Step(nd.cfg.ID, o.Msg, now)
					}
				}
			}
			return holdings
		}
		run(3000) // settle: every write everywhere, a stable point taken
		for id, nd := range nodes {
			if nd.R.Stable().IsZero() {
				t.Fatalf("%d nodes: node %d took no stable point in a quiet, connected cluster", n, id)
			}
		}
		got := run(10000) // 50 heartbeats of 200 ms
		if most := 2 * n * n * (n - 1); got > most {
			t.Errorf("%d nodes, quiet, 50 heartbeats: %d holdings sent, more than the %d of two refreshes", n, got, most)
		}
		t.Logf("%d nodes, quiet, 50 heartbeats: %d holdings sent", n, got)
	}
}
