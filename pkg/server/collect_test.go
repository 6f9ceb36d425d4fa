package server

import (
	"fmt"
	"testing"
	"time"

	"gossipkv/pkg/storage"
	"gossipkv/pkg/transport/memnet"
)

// A server that takes a write and dies before any other server hears of
// it keeps that write when it comes back to a cluster that ran without
// it: every configured server is a member, so the others make no stable
// point (and collect nothing) without its holding, and it is never
// rebased on the strength of one.
//
//	joinServer 0; joinClient 5 0; put 5 a x; killServer 0
//	joinServer 1; joinClient 6 1; put 6 b y   (heartbeats pass)
//	joinServer 0; stabilize; printStore 0
func TestCluster_ServerUnheardOf_KeepsItsWritesOnReturn(t *testing.T) {
	c := &cluster{t: t, net: memnet.New(), peers: map[uint32]string{},
		servers: map[uint32]*Server{}, disks: map[uint32]*storage.Memory{}, keys: map[uint32][]byte{}}
	for i := 0; i < 2; i++ {
		c.peers[uint32(i)] = fmt.Sprintf("127.0.0.1:%d", i+1)
		c.disks[uint32(i)] = storage.NewMemory()
	}
	t.Cleanup(func() {
		for _, s := range c.servers {
			s.Shutdown()
		}
	})
	c.start(0)
	c.put(0, "a", "x")
	c.kill(0)
	c.start(1)
	c.put(1, "b", "y")
	// Heartbeats pass (200 ms each): time enough for a server that took
	// itself for the whole cluster to make a stable point.
	time.Sleep(time.Second)
	if d, err := c.servers[1].Dump(); err != nil || !d.Stable.IsZero() {
		t.Errorf("server 1 took a stable point (%v, %v) while server 0, configured, never reported", d.Stable, err)
	}
	c.start(0)
	got := c.waitConverged(0, 1)
	if got["a"] != "x" || got["b"] != "y" {
		t.Fatalf("stores converged on %v, want a=x and b=y", got)
	}
}
