package raftkv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"gossipkv/pkg/transport"
	"gossipkv/pkg/transport/memnet"
)

// cluster is a Raft group of in-process nodes over memnet, each behind
// gossipkv's cuttable transport, as the server will run them: cut cuts a
// link as the harness's breakConnection does (both ends, the transport
// and the node's open streams), kill stops a node as killServer does
// (streams closed, state on disk), and start brings it back from its dir.
type cluster struct {
	t     *testing.T
	net   *memnet.Network
	cfg   Config
	addrs map[uint32]string
	// cuts holds the cut links, each under both orders of its ends.
	cuts    map[[2]uint32]bool
	members map[uint32]*member
	// dirs holds each node's data directory, kept across incarnations.
	dirs map[uint32]string
}

// member is one incarnation of a node: what kill ends.
type member struct {
	id   uint32
	dir  string
	tr   *transport.Cuttable
	node *Node
	stop chan struct{}
	done chan struct{}
}

// testConfig has timings small enough for the tests to run in seconds.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Label = "test"
	cfg.Timeout = time.Second
	cfg.IOTimeout = time.Second
	cfg.HeartbeatTimeout = 100 * time.Millisecond
	cfg.ElectionTimeout = 100 * time.Millisecond
	cfg.LeaderLeaseTimeout = 50 * time.Millisecond
	cfg.CommitTimeout = 5 * time.Millisecond
	return cfg
}

// newCluster starts n nodes, ids 0..n-1, with no Raft state.
func newCluster(t *testing.T, n int, cfg Config) *cluster {
	t.Helper()
	c := &cluster{t: t, net: memnet.New(), cfg: cfg, addrs: map[uint32]string{},
		cuts: map[[2]uint32]bool{}, members: map[uint32]*member{}, dirs: map[uint32]string{}}
	trs := map[uint32]*memnet.Transport{}
	for i := range uint32(n) {
		trs[i] = c.net.NewTransport(transport.Names(i))
		c.addrs[i] = trs[i].Addr()
	}
	base := t.TempDir()
	t.Cleanup(func() {
		for id := range c.members {
			c.kill(id)
		}
	})
	for i := range uint32(n) {
		c.start(i, filepath.Join(base, strconv.Itoa(int(i))), trs[i])
	}
	return c
}

func (c *cluster) peers() []Peer {
	var ps []Peer
	for id := range uint32(len(c.addrs)) {
		ps = append(ps, Peer{ID: id, Addr: c.addrs[id]})
	}
	return ps
}

// bootstrapAll bootstraps every running node with the whole group, as is
// safe; a node that a fast leader has reached already has state.
func (c *cluster) bootstrapAll() {
	c.t.Helper()
	for id, m := range c.members {
		if err := m.node.Bootstrap(c.peers()); err != nil && !errors.Is(err, ErrBootstrapped) {
			c.t.Fatalf("bootstrap of node %d: %v", id, err)
		}
	}
}

// start runs node id on dir, over tr (nil: a new transport at the node's
// old address, as a restarted process gets).
func (c *cluster) start(id uint32, dir string, tr *memnet.Transport) *Node {
	c.t.Helper()
	if tr == nil {
		tr = c.net.NewTransport(transport.Names(id))
	}
	cut := transport.New(tr, transport.Peers(c.addrs))
	cfg := c.cfg
	cfg.ID, cfg.Addr, cfg.Dir = id, c.addrs[id], dir
	cfg.Logger = testLogger().With("node", id)
	cfg.Dial = func(addr string, timeout time.Duration) (net.Conn, error) {
		return cut.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
	}
	n, err := New(cfg)
	if err != nil {
		cut.Shutdown()
		c.t.Fatalf("start node %d: %v", id, err)
	}
	c.dirs[id] = dir
	m := &member{id: id, dir: dir, tr: cut, node: n, stop: make(chan struct{}), done: make(chan struct{})}
	for peer := range c.addrs {
		if c.cuts[[2]uint32{id, peer}] {
			cut.Cut(peer)
			n.Cut(c.addrs[peer])
		}
	}
	go func() {
		defer close(m.done)
		for {
			select {
			case conn := <-cut.StreamCh():
				go n.Handle(conn)
			case <-m.stop:
				return
			}
		}
	}()
	c.members[id] = m
	return n
}

// kill stops node id as a crash would: its streams close, its state stays
// on disk.
func (c *cluster) kill(id uint32) {
	m := c.members[id]
	if m == nil {
		return
	}
	delete(c.members, id)
	close(m.stop)
	<-m.done
	m.tr.Shutdown()
	if err := m.node.Shutdown(); err != nil {
		c.t.Errorf("shutdown of node %d: %v", id, err)
	}
}

func (c *cluster) node(id uint32) *Node {
	c.t.Helper()
	m := c.members[id]
	if m == nil {
		c.t.Fatalf("node %d is not running", id)
	}
	return m.node
}

// cut cuts the link a-b at both ends.
func (c *cluster) cut(a, b uint32) {
	c.cuts[[2]uint32{a, b}], c.cuts[[2]uint32{b, a}] = true, true
	for _, e := range [][2]uint32{{a, b}, {b, a}} {
		if m := c.members[e[0]]; m != nil {
			m.tr.Cut(e[1])
			m.node.Cut(c.addrs[e[1]])
		}
	}
}

// heal restores the link a-b at both ends.
func (c *cluster) heal(a, b uint32) {
	delete(c.cuts, [2]uint32{a, b})
	delete(c.cuts, [2]uint32{b, a})
	for _, e := range [][2]uint32{{a, b}, {b, a}} {
		if m := c.members[e[0]]; m != nil {
			m.tr.Heal(e[1])
			m.node.Heal(c.addrs[e[1]])
		}
	}
}

// partition cuts every link between the two sides.
func (c *cluster) partition(side1, side2 []uint32) {
	for _, a := range side1 {
		for _, b := range side2 {
			c.cut(a, b)
		}
	}
}

func (c *cluster) healAll() {
	for e := range c.cuts {
		c.heal(e[0], e[1])
	}
}

// eventually polls cond until it holds, or fails the test after waitFor
// with cond's last explanation.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %s", what, waitFor, why)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leader waits until the given nodes (all running ones if none) agree on
// one leader among them that knows it leads, and returns its id.
func (c *cluster) leader(ids ...uint32) uint32 {
	c.t.Helper()
	if len(ids) == 0 {
		for id := range c.members {
			ids = append(ids, id)
		}
	}
	var leader uint32
	eventually(c.t, fmt.Sprintf("a leader agreed on by %v", ids), func() (bool, string) {
		var seen []string
		agreed := true
		for i, id := range ids {
			s := c.node(id).Status()
			seen = append(seen, fmt.Sprintf("%d: %s, leader %q", id, s.State, s.Leader.Addr))
			if s.Leader.Addr == "" || (i > 0 && s.Leader.ID != leader) {
				agreed = false
			}
			leader = s.Leader.ID
		}
		if !agreed {
			return false, fmt.Sprint(seen)
		}
		in := false
		for _, id := range ids {
			in = in || id == leader
		}
		return in && c.node(leader).Status().State == "Leader", fmt.Sprint(seen)
	})
	return leader
}

// follower returns a running node among ids (all if none) that is not
// the leader.
func (c *cluster) follower(leader uint32, ids ...uint32) uint32 {
	c.t.Helper()
	if len(ids) == 0 {
		for id := range c.members {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if id != leader {
			return id
		}
	}
	c.t.Fatal("no follower")
	return 0
}

// retry runs op until it does not fail with ErrUnavailable (a leader
// change under load can take longer than one operation's timeout).
func retry(t *testing.T, what string, op func() error) {
	t.Helper()
	var err error
	eventually(t, what, func() (bool, string) {
		err = op()
		return !errors.Is(err, ErrUnavailable), fmt.Sprint(err)
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (c *cluster) mustGet(id uint32, key string) Read {
	c.t.Helper()
	var r Read
	retry(c.t, fmt.Sprintf("get %q at %d", key, id), func() (err error) {
		r, err = c.node(id).Get(context.Background(), []byte(key))
		return err
	})
	return r
}

// localValue is what node id's FSM holds for key, without Raft: for
// checking that a node has caught up, never as a read.
func (c *cluster) localValue(id uint32, key string) (string, bool) {
	r, ok := c.node(id).fsm.get([]byte(key))
	return string(r.Value), ok && !r.Deleted
}

// runConcurrently runs each function on a goroutine of its own and waits
// for all.
func runConcurrently(fs ...func()) {
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Go(f)
	}
	wg.Wait()
}
