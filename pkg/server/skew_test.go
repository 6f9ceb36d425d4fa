package server

import (
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/model"
	"gossipkv/pkg/storage"
	"gossipkv/pkg/transport/memnet"
)

// A server whose clock is 2s behind still orders a client's write after
// what that client read from a server with a right clock: the client's
// dependency goes into the version, whatever the physical clock says.
func TestCluster_SkewedBehind_WriteFollowsWhatItsClientRead(t *testing.T) {
	c := newCluster(t, 2)
	c.waitConverged(0, 1)
	c.servers[1].SkewClock(-2 * time.Second)
	c.cut(0, 1) // server 1 must not learn v1 by replication, only from the client
	v1 := c.put(0, "k", "v1")
	got, err := c.servers[0].Get([]byte("k"), model.Version{})
	if err != nil || got.Status != api.OK || got.Version != v1 {
		t.Fatalf("get at 0 = %+v, %v; want v1 at %v", got, err, v1)
	}
	// The skew is in force: a write without a dependency at server 1 is
	// issued well below v1.
	other := c.put(1, "other", "x")
	if other.Wall > v1.Wall-int64(time.Second) {
		t.Fatalf("server 1's write without dependency got %v, not about 2s below v1 %v: is the clock skewed?", other, v1)
	}
	// The client that read v1 writes through server 1.
	w := c.servers[1].Put([]byte("k"), []byte("v2"), got.Version)
	if w.Status != api.OK {
		t.Fatalf("put at 1: %+v", w)
	}
	if !v1.Less(w.Version) {
		t.Fatalf("the write after the read got %v, not above what its client read (%v)", w.Version, v1)
	}
	c.heal(0, 1)
	if s := c.waitConverged(0, 1); s["k"] != "v2" {
		t.Fatalf("converged on k=%q, want the later write v2", s["k"])
	}
}

// A server refuses writes further ahead of its clock than MaxClockOffset:
// its own clock does not jump, and it takes them once its clock is within
// the offset.
func TestCluster_WriteTooFarAhead_RefusedUntilClockWithinOffset(t *testing.T) {
	c := &cluster{t: t, net: memnet.New(), peers: map[uint32]string{},
		servers: map[uint32]*Server{}, disks: map[uint32]*storage.Memory{}, keys: map[uint32][]byte{},
		offset: time.Second}
	c.startAll(2)
	c.waitConverged(0, 1)
	c.servers[0].SkewClock(time.Hour) // far enough that time alone will not catch up during the test
	v := c.put(0, "k", "ahead")
	deadline := time.Now().Add(20 * time.Second)
	for c.servers[1].Stats().RefusedAhead == 0 {
		if time.Now().After(deadline) {
			t.Fatal("server 1 never refused the write an hour ahead")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, ok := c.store(1)["k"]; ok {
		t.Fatal("server 1 applied a write an hour ahead of its clock")
	}
	// Its clock did not follow the refused write: its own next write is
	// issued below it (and goes through to server 0 meanwhile).
	if near := c.put(1, "near", "x"); !near.Less(v) {
		t.Fatalf("server 1 issued %v after refusing %v: its clock followed the refused write", near, v)
	}
	// Server 1's clock moves within the offset of the write: it takes it.
	c.servers[1].SkewClock(time.Hour)
	if s := c.waitConverged(0, 1); s["k"] != "ahead" || s["near"] != "x" {
		t.Fatalf("converged on %v, want k=ahead and near=x", s)
	}
}
