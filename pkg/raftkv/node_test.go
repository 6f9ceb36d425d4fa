package raftkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"gossipkv/pkg/model"
)

var bg = context.Background()

// TestNode_BootstrapAloneThenAddVoters grows a group from one bootstrapped
// node, then checks that a put on any node is forwarded to the leader and
// that a get on any node, right after, reads it: in log order, with the
// version the put returned.
func TestNode_BootstrapAloneThenAddVoters(t *testing.T) {
	c := newCluster(t, 3, testConfig())
	if c.node(1).HasState() {
		t.Fatal("a new node has raft state")
	}
	// A node that is no member knows no leader: it answers unavailable,
	// within its timeout.
	if _, err := c.node(1).Put(bg, []byte("k"), []byte("v")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("put on a node of no group: %v, want ErrUnavailable", err)
	}
	if err := c.node(0).Bootstrap([]Peer{{ID: 0, Addr: c.addrs[0]}}); err != nil {
		t.Fatal(err)
	}
	if c.leader(0) != 0 {
		t.Fatal("the bootstrapped node does not lead itself")
	}
	var early model.Version
	retry(t, "put on the lone node", func() (err error) {
		early, err = c.node(0).Put(bg, []byte("early"), []byte("e"))
		return err
	})
	for _, id := range []uint32{1, 2} {
		retry(t, fmt.Sprintf("add voter %d", id), func() error {
			return c.node(0).AddVoter(bg, Peer{ID: id, Addr: c.addrs[id]})
		})
	}
	leader := c.leader()
	eventually(t, "node 2 knows the three voters", func() (bool, string) {
		got := c.node(2).Status().Voters
		return len(got) == 3, fmt.Sprint(got)
	})
	if r := c.mustGet(2, "early"); !r.Found || string(r.Value) != "e" || r.Version != early {
		t.Fatalf("a voter added later reads %+v, want e at %v", r, early)
	}

	var last model.Version
	for i := range 30 {
		at, from := uint32(i%3), uint32((i+1)%3)
		val := fmt.Sprintf("v%d", i)
		var v model.Version
		retry(t, "put", func() (err error) {
			v, err = c.node(at).Put(bg, []byte("k"), []byte(val))
			return err
		})
		if v.Origin != at || !last.Less(v) {
			t.Fatalf("put %d at node %d got version %v; want origin %d, after %v", i, at, v, at, last)
		}
		last = v
		if r := c.mustGet(from, "k"); !r.Found || string(r.Value) != val || r.Version != v {
			t.Fatalf("get at node %d right after put %d at node %d: %+v, want %q at %v (leader %d)", from, i, at, r, val, v, leader)
		}
	}
	var del model.Version
	retry(t, "delete", func() (err error) {
		del, err = c.node(c.follower(leader)).Delete(bg, []byte("k"))
		return err
	})
	for id := range uint32(3) {
		if r := c.mustGet(id, "k"); r.Found || r.Version != del {
			t.Errorf("get at %d after the delete: %+v, want not found at %v", id, r, del)
		}
	}
	if r := c.mustGet(0, "never"); r.Found || !r.Version.IsZero() {
		t.Errorf("a key never written: %+v", r)
	}
}

// TestNode_MinorityUnavailable cuts a 5-node group in two, the old leader
// in the minority: the majority elects a leader and takes a write, and
// every operation on the minority answers ErrUnavailable within the
// timeout, never the value the majority overwrote. After the heal the
// minority catches up.
func TestNode_MinorityUnavailable(t *testing.T) {
	cfg := testConfig()
	c := newCluster(t, 5, cfg)
	c.bootstrapAll()
	old := c.leader()
	retry(t, "put v1", func() error { _, err := c.node(old).Put(bg, []byte("k"), []byte("v1")); return err })

	minority := []uint32{old, (old + 1) % 5}
	var majority []uint32
	for id := range uint32(5) {
		if !slices.Contains(minority, id) {
			majority = append(majority, id)
		}
	}
	c.partition(minority, majority)
	newLeader := c.leader(majority...)
	var v2 model.Version
	retry(t, "put v2 on the majority", func() (err error) {
		v2, err = c.node(c.follower(newLeader, majority...)).Put(bg, []byte("k"), []byte("v2"))
		return err
	})

	ops := map[string]func(n *Node) error{
		"get": func(n *Node) error {
			r, err := n.Get(bg, []byte("k"))
			if err == nil {
				return fmt.Errorf("read %q at %v", r.Value, r.Version)
			}
			return err
		},
		"put":    func(n *Node) error { _, err := n.Put(bg, []byte("k"), []byte("v3")); return err },
		"delete": func(n *Node) error { _, err := n.Delete(bg, []byte("k")); return err },
		"cas":    func(n *Node) error { _, err := n.CAS(bg, []byte("k"), []byte("v1"), []byte("v4")); return err },
		"put-if-absent": func(n *Node) error {
			_, err := n.PutIfAbsent(bg, []byte("fresh"), []byte("v5"))
			return err
		},
		"keys": func(n *Node) error {
			keys, _, err := n.Keys(bg, nil, 10)
			if err == nil {
				return fmt.Errorf("listed %q", keys)
			}
			return err
		},
	}
	var fs []func()
	for _, id := range minority {
		for name, op := range ops {
			fs = append(fs, func() {
				start := time.Now()
				err := op(c.node(id))
				// Bounded, not timed: a generous margin over the timeout
				// tells an answer from an unbounded wait.
				if took := time.Since(start); took > cfg.Timeout+10*time.Second {
					t.Errorf("%s on minority node %d took %v (timeout %v)", name, id, took, cfg.Timeout)
				}
				if !errors.Is(err, ErrUnavailable) {
					t.Errorf("%s on minority node %d: %v, want ErrUnavailable", name, id, err)
				}
			})
		}
	}
	runConcurrently(fs...)
	if t.Failed() {
		return
	}

	c.healAll()
	c.leader()
	for _, id := range minority {
		if r := c.mustGet(id, "k"); string(r.Value) != "v2" || r.Version != v2 {
			t.Errorf("get at healed node %d: %+v, want v2 at %v", id, r, v2)
		}
		eventually(t, fmt.Sprintf("node %d applies v2", id), func() (bool, string) {
			v, _ := c.localValue(id, "k")
			return v == "v2", v
		})
	}
}

// TestNode_RestartKeepsAcknowledged restarts one node while the others go
// on, then the whole group, from their directories: every acknowledged
// write is still there, with its version.
func TestNode_RestartKeepsAcknowledged(t *testing.T) {
	c := newCluster(t, 3, testConfig())
	c.bootstrapAll()
	c.leader()
	acked := map[string]Read{}
	write := func(id uint32, i int, del bool) {
		t.Helper()
		key := fmt.Sprintf("k%02d", i%40)
		if del {
			var v model.Version
			retry(t, "delete", func() (err error) { v, err = c.node(id).Delete(bg, []byte(key)); return err })
			acked[key] = Read{Version: v}
			return
		}
		val := fmt.Sprintf("v%d", i)
		var v model.Version
		retry(t, "put", func() (err error) { v, err = c.node(id).Put(bg, []byte(key), []byte(val)); return err })
		acked[key] = Read{Value: []byte(val), Found: true, Version: v}
	}
	for i := range 60 {
		write(uint32(i%3), i, i%9 == 8)
	}

	c.kill(2)
	for i := 60; i < 100; i++ {
		write(uint32(i%2), i, i%9 == 8)
	}
	c.start(2, c.dirOf(2), nil)
	eventually(t, "restarted node 2 catches up", func() (bool, string) {
		for key, want := range acked {
			if v, ok := c.localValue(2, key); ok != want.Found || v != string(want.Value) {
				return false, fmt.Sprintf("%s: %q %v, want %q %v", key, v, ok, want.Value, want.Found)
			}
		}
		return true, ""
	})

	for id := range uint32(3) {
		c.kill(id)
	}
	for id := range uint32(3) {
		if n := c.start(id, c.dirOf(id), nil); !n.HasState() {
			t.Fatalf("node %d restarted without its state", id)
		} else if err := n.Bootstrap(c.peers()); !errors.Is(err, ErrBootstrapped) {
			t.Fatalf("bootstrap of a restarted node: %v, want ErrBootstrapped", err)
		}
	}
	c.leader()
	for key, want := range acked {
		id := uint32(len(key)) % 3
		if r := c.mustGet(id, key); r.Found != want.Found || !bytes.Equal(r.Value, want.Value) || r.Version != want.Version {
			t.Errorf("after the restart, %s at %d: %+v, want %+v", key, id, r, want)
		}
	}
}

// dirs are kept per node across incarnations.
func (c *cluster) dirOf(id uint32) string {
	c.t.Helper()
	if d, ok := c.dirs[id]; ok {
		return d
	}
	c.t.Fatalf("no directory for node %d", id)
	return ""
}

// TestNode_WipedNodeCatchesUpFromSnapshot takes a node out, writes well
// past the snapshot threshold so that the leader's log no longer starts at
// the beginning, then brings the node back with an empty directory: it can
// only catch up from a snapshot.
func TestNode_WipedNodeCatchesUpFromSnapshot(t *testing.T) {
	cfg := testConfig()
	cfg.SnapshotThreshold = 32
	cfg.TrailingLogs = 8
	cfg.SnapshotInterval = 20 * time.Millisecond
	c := newCluster(t, 3, cfg)
	c.bootstrapAll()
	leader := c.leader()
	retry(t, "put", func() error { _, err := c.node(2).Put(bg, []byte("first"), []byte("1")); return err })

	c.kill(2)
	retry(t, "remove node 2", func() error { return c.node(c.follower(2, 0, 1)).RemoveServer(bg, 2) })
	const n = 300
	for i := range n {
		retry(t, "put", func() error {
			_, err := c.node(uint32(i%2)).Put(bg, fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i))
			return err
		})
	}
	eventually(t, "a snapshot well past the start of the log", func() (bool, string) {
		s := c.node(c.leader(0, 1)).Status()
		return s.SnapshotIndex > 2*uint64(cfg.TrailingLogs)+10, fmt.Sprintf("%+v", s)
	})

	if err := os.RemoveAll(c.dirOf(2)); err != nil {
		t.Fatal(err)
	}
	c.start(2, c.dirOf(2), nil)
	leader = c.leader(0, 1)
	retry(t, "add node 2 back", func() error {
		return c.node(c.follower(leader, 0, 1)).AddVoter(bg, Peer{ID: 2, Addr: c.addrs[2]})
	})
	eventually(t, "the wiped node catches up", func() (bool, string) {
		for i := range n {
			key := fmt.Sprintf("k%03d", i)
			if v, _ := c.localValue(2, key); v != fmt.Sprintf("v%d", i) {
				return false, fmt.Sprintf("%s: %q", key, v)
			}
		}
		return true, ""
	})
	if r := c.node(2).fsm.restores; r < 1 {
		t.Errorf("the wiped node caught up without a snapshot (%d restores)", r)
	}
	if r := c.mustGet(2, "first"); string(r.Value) != "1" {
		t.Errorf("get at the wiped node: %+v", r)
	}
	eventually(t, "three voters", func() (bool, string) {
		v := c.node(2).Status().Voters
		return len(v) == 3, fmt.Sprint(v)
	})
}

// TestNode_CAS checks cas through followers, and that of concurrent cas
// operations expecting one value exactly one wins.
func TestNode_CAS(t *testing.T) {
	c := newCluster(t, 3, testConfig())
	c.bootstrapAll()
	f := c.follower(c.leader())
	cas := func(id uint32, old, val string) (model.Version, error) {
		t.Helper()
		var v model.Version
		var err error
		eventually(t, "cas", func() (bool, string) {
			v, err = c.node(id).CAS(bg, []byte("k"), []byte(old), []byte(val))
			return !errors.Is(err, ErrUnavailable), fmt.Sprint(err)
		})
		return v, err
	}
	if v, err := cas(f, "", "x"); !errors.Is(err, ErrCASFailed) || !v.IsZero() {
		t.Fatalf("cas on a missing key: %v %v, want ErrCASFailed and no version", v, err)
	}
	var put model.Version
	retry(t, "put", func() (err error) { put, err = c.node(f).Put(bg, []byte("k"), []byte("a")); return err })
	if v, err := cas(f, "b", "c"); !errors.Is(err, ErrCASFailed) || v != put {
		t.Fatalf("cas b->c on a: %v %v, want ErrCASFailed at %v", v, err, put)
	}
	v, err := cas(f, "a", "b")
	if err != nil || !put.Less(v) || v.Origin != f {
		t.Fatalf("cas a->b on a: %v %v", v, err)
	}
	if r := c.mustGet(0, "k"); string(r.Value) != "b" || r.Version != v {
		t.Fatalf("after cas: %+v, want b at %v", r, v)
	}
	retry(t, "delete", func() error { _, err := c.node(f).Delete(bg, []byte("k")); return err })
	if _, err := cas(f, "", "x"); !errors.Is(err, ErrCASFailed) {
		t.Fatalf("cas on a deleted key: %v, want ErrCASFailed", err)
	}

	// Concurrent cas from every node: exactly one moves "start" on.
	retry(t, "put start", func() error { _, err := c.node(0).Put(bg, []byte("k"), []byte("start")); return err })
	exactlyOneWins(t, c, "k", func(n *Node, val string) error {
		_, err := n.CAS(bg, []byte("k"), []byte("start"), []byte(val))
		return err
	})
}

// exactlyOneWins runs 12 writes of key at once, from every node in turn,
// each of its own value, where all but one must lose with ErrCASFailed,
// and checks that one won and that key holds its value.
func exactlyOneWins(t *testing.T, c *cluster, key string, write func(n *Node, val string) error) {
	t.Helper()
	var mu sync.Mutex
	var winners []string
	var fs []func()
	for i := range 12 {
		fs = append(fs, func() {
			val := fmt.Sprintf("g%d", i)
			switch err := write(c.node(uint32(i%3)), val); {
			case err == nil:
				mu.Lock()
				winners = append(winners, val)
				mu.Unlock()
			case !errors.Is(err, ErrCASFailed):
				t.Errorf("write %s: %v", val, err)
			}
		})
	}
	runConcurrently(fs...)
	if len(winners) != 1 {
		t.Fatalf("winners %v, want exactly one", winners)
	}
	if r := c.mustGet(1, key); string(r.Value) != winners[0] {
		t.Errorf("%s is %q, want the winner %q", key, r.Value, winners[0])
	}
}

// TestNode_PutIfAbsent checks put-if-absent through followers, and that
// of concurrent ones on one key, from every node, exactly one writes.
func TestNode_PutIfAbsent(t *testing.T) {
	c := newCluster(t, 3, testConfig())
	c.bootstrapAll()
	f := c.follower(c.leader())
	add := func(id uint32, key, val string) (model.Version, error) {
		t.Helper()
		var v model.Version
		var err error
		eventually(t, "put-if-absent", func() (bool, string) {
			v, err = c.node(id).PutIfAbsent(bg, []byte(key), []byte(val))
			return !errors.Is(err, ErrUnavailable), fmt.Sprint(err)
		})
		return v, err
	}
	first, err := add(f, "k", "a")
	if err != nil || first.Origin != f {
		t.Fatalf("put-if-absent on a missing key: %v %v", first, err)
	}
	if v, err := add(0, "k", "b"); !errors.Is(err, ErrCASFailed) || v != first {
		t.Fatalf("put-if-absent on a held key: %v %v, want ErrCASFailed at %v", v, err, first)
	}
	if r := c.mustGet(1, "k"); string(r.Value) != "a" {
		t.Fatalf("after a failed put-if-absent: %+v, want a", r)
	}
	retry(t, "delete", func() error { _, err := c.node(f).Delete(bg, []byte("k")); return err })
	if v, err := add(2, "k", "c"); err != nil || !first.Less(v) {
		t.Fatalf("put-if-absent on a deleted key: %v %v", v, err)
	}

	exactlyOneWins(t, c, "race", func(n *Node, val string) error {
		_, err := n.PutIfAbsent(bg, []byte("race"), []byte(val))
		return err
	})
}

// TestNode_Keys lists keys through a follower right after writes through
// another node: linearizable as a get, so every acknowledged write shows.
func TestNode_Keys(t *testing.T) {
	c := newCluster(t, 3, testConfig())
	c.bootstrapAll()
	leader := c.leader()
	f := c.follower(leader)
	other := 3 - leader - f
	for _, k := range []string{"b", "a", "d", "c"} {
		retry(t, "put "+k, func() error { _, err := c.node(other).Put(bg, []byte(k), []byte("v")); return err })
	}
	retry(t, "delete c", func() error { _, err := c.node(other).Delete(bg, []byte("c")); return err })
	var got []string
	var from []byte
	for pages := 0; ; pages++ {
		var keys [][]byte
		var more bool
		retry(t, "keys", func() (err error) { keys, more, err = c.node(f).Keys(bg, from, 2); return err })
		if pages > 2 || len(keys) > 2 {
			t.Fatalf("page %d: %q", pages, keys)
		}
		for _, k := range keys {
			got = append(got, string(k))
		}
		if !more {
			break
		}
		from = append(keys[len(keys)-1], 0)
	}
	if !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("follower %d lists %q, want [a b d]", f, got)
	}
	if _, _, err := c.node(f).Keys(bg, nil, 0); err == nil {
		t.Error("Keys with limit 0 gave no error")
	}
}

// TestNode_Applied_LocalStateAndRaftApplied checks what a follower reports
// of its own state: every key it applied, sorted, tombstones included, and
// a RaftApplied index that reaches the leader's commit index (a new
// leader's no-op entry, which the FSM never sees, included).
func TestNode_Applied_LocalStateAndRaftApplied(t *testing.T) {
	c := newCluster(t, 3, testConfig())
	c.bootstrapAll()
	leader := c.leader()
	for _, k := range []string{"b", "a", "c"} {
		retry(t, "put "+k, func() error { _, err := c.node(leader).Put(bg, []byte(k), []byte("v"+k)); return err })
	}
	retry(t, "delete c", func() error { _, err := c.node(leader).Delete(bg, []byte("c")); return err })
	f := c.follower(leader)
	commit := c.node(leader).Status().CommitIndex
	eventually(t, "the follower applies the leader's commit index", func() (bool, string) {
		st := c.node(f).Status()
		return st.RaftApplied >= commit, fmt.Sprintf("%+v, leader commit %d", st, commit)
	})
	_, regs := c.node(f).Applied()
	var got []string
	for _, r := range regs {
		got = append(got, fmt.Sprintf("%s=%s/%v", r.Key, r.Value, r.Deleted))
	}
	want := []string{"a=va/false", "b=vb/false", "c=/true"}
	if !slices.Equal(got, want) {
		t.Errorf("Applied() at follower %d = %v, want %v", f, got, want)
	}
}

// TestNode_Keys_CutOffLeaderNeverLists lists keys at a leader right after
// it is cut off from its quorum, before its lease runs out and it steps
// down: it must confirm its leadership first, so it answers
// ErrUnavailable, never the listing it holds; and so it does once the
// majority has moved on.
func TestNode_Keys_CutOffLeaderNeverLists(t *testing.T) {
	c := newCluster(t, 3, testConfig())
	c.bootstrapAll()
	lead := c.leader()
	c.putEverywhere(lead, "a", "1")
	c.partition([]uint32{lead}, others(lead))
	if keys, _, err := c.node(lead).Keys(bg, nil, 10); !errors.Is(err, ErrUnavailable) {
		t.Errorf("keys at the leader just cut off: %q, %v; want ErrUnavailable", keys, err)
	}
	maj := c.leader(others(lead)...)
	retry(t, "put b", func() error { _, err := c.node(maj).Put(bg, []byte("b"), []byte("2")); return err })
	if keys, _, err := c.node(lead).Keys(bg, nil, 10); !errors.Is(err, ErrUnavailable) {
		t.Errorf("keys at the cut-off old leader: %q, %v; want ErrUnavailable", keys, err)
	}
}
