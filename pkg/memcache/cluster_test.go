package memcache

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"gossipkv/pkg/front/fronttest"
)

// newCluster puts a memcache front on each of n servers.
func newCluster(t *testing.T, n int) (*fronttest.Cluster, []*Server) {
	t.Helper()
	c := fronttest.NewCluster(t, n)
	var fronts []*Server
	for i, s := range c.Servers {
		fronts = append(fronts, listen(t, s, Config{ID: uint32(i), MaxKeyBytes: fronttest.MaxKeyBytes, MaxValueBytes: fronttest.MaxValueBytes}))
	}
	return c, fronts
}

// What one server's memcache front stores, another's reads once the write
// has spread; a connection reads its own writes at once.
func TestCluster_Memcache_WriteHereReadThere(t *testing.T) {
	c, fronts := newCluster(t, 3)
	m0, m1, m2 := dial(t, fronts[0]), dial(t, fronts[1]), dial(t, fronts[2])
	for i := range 20 {
		v := strconv.Itoa(i)
		if got := m0.do(fmt.Sprintf("set k 0 0 %d\r\n%s\r\nget k\r\n", len(v), v), 4); got != fmt.Sprintf("STORED|VALUE k 0 %d|%s|END", len(v), v) {
			t.Fatalf("set then get on one connection = %q", got)
		}
	}
	m0.do("set user:1 0 0 3\r\nann\r\n", 1)
	c.WaitConverged()
	if got := m1.do("get k user:1 nope\r\n", 5); got != "VALUE k 0 2|19|VALUE user:1 0 3|ann|END" {
		t.Errorf("get at server 1 = %q", got)
	}
	if got := m2.do("delete user:1\r\n", 1); got != "DELETED" {
		t.Errorf("delete at server 2 = %q", got)
	}
	c.WaitConverged()
	if got := m0.do("get user:1\r\n", 1); got != "END" {
		t.Errorf("get of the deleted key at server 0 = %q", got)
	}
}

// add is one step at one server, but two servers cut apart may both
// store; once the link heals, every server holds the later write.
func TestCluster_Memcache_AddAcrossAPartition(t *testing.T) {
	c, fronts := newCluster(t, 2)
	m0, m1 := dial(t, fronts[0]), dial(t, fronts[1])
	c.WaitConverged()
	c.Cut(0, 1)
	if got := m0.do("add lock 0 0 5\r\nfirst\r\nadd lock 0 0 1\r\nx\r\n", 2); got != "STORED|NOT_STORED" {
		t.Fatalf("adds at server 0 = %q", got)
	}
	if got := m1.do("add lock 0 0 6\r\nsecond\r\n", 1); got != "STORED" {
		t.Fatalf("add at server 1, cut off = %q (it cannot know of server 0's)", got)
	}
	c.Heal(0, 1)
	c.WaitConverged()
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
