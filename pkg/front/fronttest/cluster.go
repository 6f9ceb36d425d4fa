package fronttest

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"gossipkv/pkg/server"
	"gossipkv/pkg/storage"
	"gossipkv/pkg/transport/memnet"
)

// The limits of a Cluster's servers, for the fronts put on them.
const (
	MaxKeyBytes   = 4096
	MaxValueBytes = 1 << 20
)

// Cluster is real servers in this process over an in-memory network
// (memnet), with in-memory disks and fast timing, of cluster "test";
// they shut down when the test ends. Servers[i] is server i, for a test
// to put fronts on.
type Cluster struct {
	t       *testing.T
	Servers []*server.Server
}

// NewCluster starts servers 0 to n-1, each listing all the others.
func NewCluster(t *testing.T, n int) *Cluster {
	t.Helper()
	net := memnet.New()
	peers := map[uint32]string{}
	for i := range n {
		peers[uint32(i)] = fmt.Sprintf("127.0.0.1:%d", i+1) // memnet hands addresses out in order
	}
	c := &Cluster{t: t}
	for i := range n {
		s, err := server.New(server.Options{
			ID: uint32(i), Cluster: "test", Peers: peers, Backend: storage.NewMemory(),
			Transport: net.NewTransport(strconv.Itoa(i)),
			Timing: server.Timing{
				Gossip: 20 * time.Millisecond, Probe: 50 * time.Millisecond, ProbeTimeout: 25 * time.Millisecond,
				PushPull: 500 * time.Millisecond, SuspicionMult: 2, Flush: time.Millisecond,
				Resend: 20 * time.Millisecond, Heartbeat: 200 * time.Millisecond, Rejoin: 100 * time.Millisecond,
			},
			MaxKeyBytes: MaxKeyBytes, MaxValueBytes: MaxValueBytes,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown() })
		c.Servers = append(c.Servers, s)
	}
	return c
}

// IDs lists the servers' ids.
func (c *Cluster) IDs() []uint32 {
	ids := make([]uint32, len(c.Servers))
	for i := range ids {
		ids[i] = uint32(i)
	}
	return ids
}

// Cut cuts the link between servers a and b, at both ends.
func (c *Cluster) Cut(a, b uint32) {
	c.t.Helper()
	for _, p := range [][2]uint32{{a, b}, {b, a}} {
		if err := c.Servers[p[0]].Cut(p[1]); err != nil {
			c.t.Fatal(err)
		}
	}
}

// Heal restores the link between servers a and b, at both ends.
func (c *Cluster) Heal(a, b uint32) {
	c.t.Helper()
	for _, p := range [][2]uint32{{a, b}, {b, a}} {
		if err := c.Servers[p[0]].Heal(p[1]); err != nil {
			c.t.Fatal(err)
		}
	}
}

// WaitConverged polls until every server holds the same writes and store
// (what stabilize waits for). The deadline only guards against a hang.
func (c *Cluster) WaitConverged() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		first, err := c.Servers[0].Status()
		if err != nil {
			c.t.Fatal(err)
		}
		same := true
		for _, s := range c.Servers[1:] {
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
