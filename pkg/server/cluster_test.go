package server

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"gossipkv/pkg/api"
	"gossipkv/pkg/model"
	"gossipkv/pkg/storage"
)

// cluster is N servers in one process over a memberlist.MockNetwork, after
// etcd-io/raft's newNetwork: links can be cut and healed, servers killed
// (their in-memory backend keeps exactly what was committed) and restarted.
type cluster struct {
	t       *testing.T
	net     *memberlist.MockNetwork
	peers   map[uint32]string
	trans   map[uint32]*memberlist.MockTransport
	servers map[uint32]*Server
	disks   map[uint32]*storage.Memory
}

func fastTiming() Timing {
	return Timing{
		Gossip: 20 * time.Millisecond, Probe: 50 * time.Millisecond, ProbeTimeout: 25 * time.Millisecond,
		PushPull: 500 * time.Millisecond, SuspicionMult: 2, Flush: time.Millisecond,
		Resend: 20 * time.Millisecond, Heartbeat: 200 * time.Millisecond, Rejoin: 100 * time.Millisecond,
	}
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, net: &memberlist.MockNetwork{}, peers: map[uint32]string{},
		trans: map[uint32]*memberlist.MockTransport{}, servers: map[uint32]*Server{}, disks: map[uint32]*storage.Memory{}}
	for i := 0; i < n; i++ {
		id := uint32(i)
		tr := c.net.NewTransport(strconv.Itoa(i))
		c.trans[id] = tr
		ip, port, _ := tr.FinalAdvertiseAddr("", 0)
		c.peers[id] = fmt.Sprintf("%s:%d", ip, port)
		c.disks[id] = storage.NewMemory()
	}
	for i := 0; i < n; i++ {
		c.start(uint32(i))
	}
	t.Cleanup(func() {
		for _, s := range c.servers {
			s.Shutdown()
		}
	})
	return c
}

func (c *cluster) start(id uint32) {
	c.t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("GOSSIPKV_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("id", id)
	}
	s, err := New(Options{ID: id, Peers: c.peers, Timing: fastTiming(), Backend: c.disks[id],
		Transport: c.trans[id], Logger: logger})
	if err != nil {
		c.t.Fatalf("start server %d: %v", id, err)
	}
	c.servers[id] = s
}

func (c *cluster) cut(a, b uint32) {
	c.t.Helper()
	for _, p := range [][2]uint32{{a, b}, {b, a}} {
		if s := c.servers[p[0]]; s != nil {
			if err := s.Cut(p[1]); err != nil {
				c.t.Fatal(err)
			}
		}
	}
}

func (c *cluster) heal(a, b uint32) {
	c.t.Helper()
	for _, p := range [][2]uint32{{a, b}, {b, a}} {
		if s := c.servers[p[0]]; s != nil {
			if err := s.Heal(p[1]); err != nil {
				c.t.Fatal(err)
			}
		}
	}
}

func (c *cluster) put(id uint32, key, value string) model.Version {
	c.t.Helper()
	r := c.servers[id].Put([]byte(key), []byte(value), model.Version{})
	if r.Status != api.OK {
		c.t.Fatalf("put %s at %d: %v %s", key, id, r.Status, r.Reason)
	}
	return r.Version
}

// waitConverged polls until the given servers hold the same writes and
// store, and returns that store.
func (c *cluster) waitConverged(ids ...uint32) map[string]string {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var first api.StatusReply
		same := true
		for i, id := range ids {
			st, err := c.servers[id].Status()
			if err != nil {
				c.t.Fatal(err)
			}
			if i == 0 {
				first = st
			} else if !st.Seen.Equal(first.Seen) || st.StoreDigest != first.StoreDigest {
				same = false
			}
		}
		if same {
			return c.store(ids[0])
		}
		if time.Now().After(deadline) {
			for _, id := range ids {
				st, _ := c.servers[id].Status()
				c.t.Logf("server %d: seen %v keys %d links %v", id, st.Seen, st.Keys, st.Links)
			}
			c.t.Fatalf("servers %v did not converge", ids)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (c *cluster) store(id uint32) map[string]string {
	d, err := c.servers[id].Dump()
	if err != nil {
		c.t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range d.Entries {
		m[string(kv.Key)] = string(kv.Value)
	}
	return m
}

func TestCluster_CompleteGraph_Converges(t *testing.T) {
	c := newCluster(t, 5)
	for i := 0; i < 50; i++ {
		c.put(uint32(i%5), fmt.Sprintf("k%d", i%7), fmt.Sprintf("v%d", i))
	}
	got := c.waitConverged(0, 1, 2, 3, 4)
	for k := 0; k < 7; k++ {
		// the last put of each key in program order wins
		last := -1
		for i := 0; i < 50; i++ {
			if i%7 == k {
				last = i
			}
		}
		if want := fmt.Sprintf("v%d", last); got[fmt.Sprintf("k%d", k)] != want {
			t.Errorf("k%d = %q, want %q", k, got[fmt.Sprintf("k%d", k)], want)
		}
	}
}

func TestCluster_Chain_RelaysWrites(t *testing.T) {
	c := newCluster(t, 5)
	c.waitConverged(0, 1, 2, 3, 4)
	// chain 0-1-2-3-4: cut every other link
	for a := uint32(0); a < 5; a++ {
		for b := a + 2; b < 5; b++ {
			c.cut(a, b)
		}
	}
	c.put(0, "a", "from0")
	c.put(4, "b", "from4")
	got := c.waitConverged(0, 1, 2, 3, 4)
	if got["a"] != "from0" || got["b"] != "from4" {
		t.Fatalf("store %v", got)
	}
}
