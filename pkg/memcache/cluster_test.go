package memcache

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/server"
	"gossipkv/pkg/storage"
	"gossipkv/pkg/transport/memnet"
)

// cluster is n servers in this process over an in-memory network, each
// with its memcache front on a loopback port.
type cluster struct {
	t       *testing.T
	servers []*server.Server
	fronts  []*Server
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	net := memnet.New()
	peers := map[uint32]string{}
	for i := range n {
		peers[uint32(i)] = fmt.Sprintf("127.0.0.1:%d", i+1) // memnet hands addresses out in order
	}
	c := &cluster{t: t}
	for i := range n {
		id := uint32(i)
		s, err := server.New(server.Options{
			ID: id, Cluster: "test", Peers: peers, Backend: storage.NewMemory(),
			Transport: net.NewTransport(strconv.Itoa(i)),
			Timing: server.Timing{
				Gossip: 20 * time.Millisecond, Probe: 50 * time.Millisecond, ProbeTimeout: 25 * time.Millisecond,
				PushPull: 500 * time.Millisecond, SuspicionMult: 2, Flush: time.Millisecond,
				Resend: 20 * time.Millisecond, Heartbeat: 200 * time.Millisecond, Rejoin: 100 * time.Millisecond,
			},
			MaxKeyBytes: 4096, MaxValueBytes: 1 << 20,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown() })
		c.servers = append(c.servers, s)
		c.fronts = append(c.fronts, listen(t, s, Config{ID: id, MaxKeyBytes: 4096, MaxValueBytes: 1 << 20}))
	}
	return c
}

func (c *cluster) link(cut bool, a, b uint32) {
	c.t.Helper()
	for _, p := range [][2]uint32{{a, b}, {b, a}} {
		op := c.servers[p[0]].Heal
		if cut {
			op = c.servers[p[0]].Cut
		}
		if err := op(p[1]); err != nil {
			c.t.Fatal(err)
		}
	}
}

// waitConverged polls until every server holds the same writes and store
// (what stabilize waits for).
func (c *cluster) waitConverged() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		first, err := c.servers[0].Status()
		if err != nil {
			c.t.Fatal(err)
		}
		same := true
		for _, s := range c.servers[1:] {
			st, err := s.Status()
			if err != nil {
				c.t.Fatal(err)
			}
			same = same && st.Seen.Equal(first.Seen) && st.StoreDigest == first.StoreDigest
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatal("the servers did not converge")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// What one server's memcache front stores, another's reads once the write
// has spread; a connection reads its own writes at once.
func TestCluster_Memcache_WriteHereReadThere(t *testing.T) {
	c := newCluster(t, 3)
	m0, m1, m2 := dial(t, c.fronts[0]), dial(t, c.fronts[1]), dial(t, c.fronts[2])
	for i := range 20 {
		v := strconv.Itoa(i)
		if got := m0.do(fmt.Sprintf("set k 0 0 %d\r\n%s\r\nget k\r\n", len(v), v), 4); got != fmt.Sprintf("STORED|VALUE k 0 %d|%s|END", len(v), v) {
			t.Fatalf("set then get on one connection = %q", got)
		}
	}
	m0.do("set user:1 0 0 3\r\nann\r\n", 1)
	c.waitConverged()
	if got := m1.do("get k user:1 nope\r\n", 5); got != "VALUE k 0 2|19|VALUE user:1 0 3|ann|END" {
		t.Errorf("get at server 1 = %q", got)
	}
	if got := m2.do("delete user:1\r\n", 1); got != "DELETED" {
		t.Errorf("delete at server 2 = %q", got)
	}
	c.waitConverged()
	if got := m0.do("get user:1\r\n", 1); got != "END" {
		t.Errorf("get of the deleted key at server 0 = %q", got)
	}
}

// add is one step at one server, but two servers cut apart may both
// store; once the link heals, every server holds the later write.
func TestCluster_Memcache_AddAcrossAPartition(t *testing.T) {
	c := newCluster(t, 2)
	m0, m1 := dial(t, c.fronts[0]), dial(t, c.fronts[1])
	c.waitConverged()
	c.link(true, 0, 1)
	if got := m0.do("add lock 0 0 5\r\nfirst\r\nadd lock 0 0 1\r\nx\r\n", 2); got != "STORED|NOT_STORED" {
		t.Fatalf("adds at server 0 = %q", got)
	}
	if got := m1.do("add lock 0 0 6\r\nsecond\r\n", 1); got != "STORED" {
		t.Fatalf("add at server 1, cut off = %q (it cannot know of server 0's)", got)
	}
	c.link(false, 0, 1)
	c.waitConverged()
	for i, m := range []*raw{m0, m1} {
		if got := m.do("get lock\r\n", 3); got != "VALUE lock 0 6|second|END" {
			t.Errorf("get at server %d after the heal = %q, want the later add", i, got)
		}
	}
	// Server 0's connection read "first" (its add's NOT_STORED read it
	// too): the later value is newer, so it may see it.
	if got := m0.do("add lock 0 0 1\r\nx\r\n", 1); !strings.HasPrefix(got, "NOT_STORED") {
		t.Errorf("add after the heal = %q", got)
	}
}
