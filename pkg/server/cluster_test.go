package server

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/model"
	"gossipkv/pkg/raftkv"
	"gossipkv/pkg/storage"
	"gossipkv/pkg/transport/memnet"
)

// cluster is N servers in one process over an in-memory network, after
// etcd-io/raft's newNetwork: links can be cut and healed, servers killed
// (their in-memory backend keeps exactly what was committed, and their
// address refuses connections as a dead host's would) and restarted.
type cluster struct {
	t       *testing.T
	net     *memnet.Network
	peers   map[uint32]string
	servers map[uint32]*Server
	disks   map[uint32]*storage.Memory
	keys    map[uint32][]byte // secret key per server (none: no encryption)
	runs    map[uint32]string // run per server (none: "")
	offset  time.Duration     // MaxClockOffset of every server (0: none)
	flush   time.Duration     // the flush interval of every server (0: fastTiming's)
	// raftDirs, when set, makes every server linearizable, with its Raft
	// state in raftDirs[id] (kept across a restart); raftStarted, that a
	// server was started to bootstrap the group (the first, as the master
	// does).
	raftDirs    map[uint32]string
	raftStarted bool
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
	c := &cluster{t: t, net: memnet.New(), peers: map[uint32]string{},
		servers: map[uint32]*Server{}, disks: map[uint32]*storage.Memory{}, keys: map[uint32][]byte{}}
	return c.startAll(n)
}

// newClusterWithKeys is newCluster with a secret key per server.
func newClusterWithKeys(t *testing.T, keys [][]byte) *cluster {
	t.Helper()
	c := &cluster{t: t, net: memnet.New(), peers: map[uint32]string{},
		servers: map[uint32]*Server{}, disks: map[uint32]*storage.Memory{}, keys: map[uint32][]byte{}}
	for i, k := range keys {
		c.keys[uint32(i)] = k
	}
	return c.startAll(len(keys))
}

func (c *cluster) startAll(n int) *cluster {
	t := c.t
	for i := 0; i < n; i++ {
		// Addresses are handed out in order, so they are known before
		// any server starts; a late joiner's is reserved too.
		c.peers[uint32(i)] = fmt.Sprintf("127.0.0.1:%d", i+1)
		c.disks[uint32(i)] = storage.NewMemory()
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

func (c *cluster) start(id uint32) { c.startWith(id, c.disks[id], nil) }

// startWith starts server id on the given backend (and way to reopen it).
func (c *cluster) startWith(id uint32, backend storage.Backend, reopen func() (storage.Backend, error)) {
	c.t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("GOSSIPKV_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("id", id)
	}
	tr := c.net.NewTransport(strconv.Itoa(int(id)))
	if tr.Addr() != c.peers[id] {
		c.t.Fatalf("server %d got address %s, want %s", id, tr.Addr(), c.peers[id])
	}
	var rc *raftkv.Config
	if c.raftDirs != nil {
		if c.raftDirs[id] == "" {
			c.raftDirs[id] = c.t.TempDir()
		}
		cfg := fastRaft()
		cfg.Dir = c.raftDirs[id]
		rc = &cfg
	}
	bootstrap := rc != nil && !c.raftStarted
	c.raftStarted = c.raftStarted || bootstrap
	timing := fastTiming()
	if c.flush > 0 {
		timing.Flush = c.flush
	}
	s, err := New(Options{ID: id, Peers: c.peers, Timing: timing, Backend: backend, Reopen: reopen,
		Transport: tr, Logger: logger, SecretKey: c.keys[id], Cluster: "test", Run: c.runs[id],
		MaxClockOffset: c.offset, Raft: rc, RaftBootstrap: bootstrap})
	if err != nil {
		c.t.Fatalf("start server %d: %v", id, err)
	}
	c.servers[id] = s
}

// kill stops server id as SIGKILL would: its disk keeps exactly what was
// committed, and its address refuses connections.
func (c *cluster) kill(id uint32) {
	c.t.Helper()
	c.disks[id] = c.disks[id].Crash()
	c.servers[id].Shutdown()
	delete(c.servers, id)
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
			st, err := c.servers[id].StabilizeStatus() // as the master's stabilize polls
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

// store is what server id shows (tombstones left out, as printStore does).
func (c *cluster) store(id uint32) map[string]string {
	d, err := c.servers[id].Dump()
	if err != nil {
		c.t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range d.Entries {
		if !kv.Deleted {
			m[string(kv.Key)] = string(kv.Value)
		}
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

// Stabilize watches for convergence with status queries; each makes the
// servers send what waits at once, so the last writes and their acks do
// not wait out a flush interval (an hour here) at every hop. Other status
// queries (the fronts' status pages, a monitor) leave batching alone.
func TestCluster_StabilizeStatus_SendsWithoutWaitingOutTheFlush(t *testing.T) {
	c := &cluster{t: t, net: memnet.New(), peers: map[uint32]string{}, flush: time.Hour,
		servers: map[uint32]*Server{}, disks: map[uint32]*storage.Memory{}, keys: map[uint32][]byte{}}
	c.startAll(3)
	for i := range 6 {
		c.put(0, "k"+strconv.Itoa(i), "v")
	}
	// Only the first put went at once, on an idle link; the rest wait
	// out the hour, however often a plain Status asks.
	for range 50 {
		for id := range uint32(3) {
			if _, err := c.servers[id].Status(); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	for _, id := range []uint32{1, 2} {
		if st, _ := c.servers[id].Status(); st.Keys == 6 {
			t.Fatalf("server %d holds all 6 keys: a plain Status hurried the sends", id)
		}
	}
	if got := c.waitConverged(0, 1, 2); len(got) != 6 {
		t.Fatalf("converged on %v, want 6 keys", got)
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

// isolate cuts every link between the two groups.
func (c *cluster) split(left, right []uint32) {
	c.t.Helper()
	for _, a := range left {
		for _, b := range right {
			c.cut(a, b)
		}
	}
}

func TestCluster_SplitBrain_ThenHeal(t *testing.T) {
	c := newCluster(t, 5)
	c.waitConverged(0, 1, 2, 3, 4)
	left, right := []uint32{0, 1}, []uint32{2, 3, 4}
	c.split(left, right)
	c.put(0, "k", "left-early")
	c.put(3, "k", "right")
	c.put(1, "only-left", "l")
	c.put(4, "only-right", "r")
	c.put(1, "k", "left-late") // last in program order: wins after the heal
	if got := c.waitConverged(left...); got["k"] != "left-late" || got["only-right"] != "" {
		t.Fatalf("left side %v", got)
	}
	if got := c.waitConverged(right...); got["k"] != "right" || got["only-left"] != "" {
		t.Fatalf("right side %v", got)
	}
	for _, a := range left {
		for _, b := range right {
			c.heal(a, b)
		}
	}
	got := c.waitConverged(0, 1, 2, 3, 4)
	if got["k"] != "left-late" || got["only-left"] != "l" || got["only-right"] != "r" {
		t.Fatalf("healed store %v", got)
	}
}

func TestCluster_KillRightAfterPut_RestartKeepsWrite(t *testing.T) {
	c := newCluster(t, 3)
	c.waitConverged(0, 1, 2)
	c.split([]uint32{2}, []uint32{0, 1}) // nobody else can have it
	c.put(2, "durable", "yes")
	c.kill(2)
	c.start(2)
	c.heal(2, 0)
	c.heal(2, 1)
	if got := c.waitConverged(0, 1, 2); got["durable"] != "yes" {
		t.Fatalf("acknowledged write lost across a kill: %v", got)
	}
}

func TestCluster_LateJoiner_CatchesUp(t *testing.T) {
	c := newCluster(t, 4)
	c.kill(3) // never wrote anything: as if it had not started yet
	for i := 0; i < 200; i++ {
		c.put(uint32(i%3), fmt.Sprintf("k%03d", i), fmt.Sprintf("v%d", i))
	}
	c.waitConverged(0, 1, 2)
	c.start(3)
	got := c.waitConverged(0, 1, 2, 3)
	if len(got) != 200 {
		t.Fatalf("late joiner converged on %d keys, want 200", len(got))
	}
}

func TestCluster_DeadOrigin_WriteSpreadsFromSurvivor(t *testing.T) {
	c := newCluster(t, 4)
	c.waitConverged(0, 1, 2, 3)
	c.split([]uint32{0}, []uint32{2, 3}) // 0 reaches only 1
	c.put(0, "orphan", "survives")
	c.waitConverged(0, 1)
	c.kill(0)
	if got := c.waitConverged(1, 2, 3); got["orphan"] != "survives" {
		t.Fatalf("dead origin's write did not spread: %v", got)
	}
}

func TestCluster_Ring_Converges(t *testing.T) {
	c := newCluster(t, 5)
	c.waitConverged(0, 1, 2, 3, 4)
	// ring 0-1-2-3-4-0: cut the chords
	for _, p := range [][2]uint32{{0, 2}, {0, 3}, {1, 3}, {1, 4}, {2, 4}} {
		c.cut(p[0], p[1])
	}
	for i := 0; i < 25; i++ {
		c.put(uint32(i%5), fmt.Sprintf("k%d", i%4), fmt.Sprintf("v%d", i))
	}
	got := c.waitConverged(0, 1, 2, 3, 4)
	if got["k0"] != "v24" || got["k3"] != "v23" {
		t.Fatalf("ring store %v", got)
	}
	// and around a dead server: 1 dies, 0 and 2 still reach each other via 4-3
	c.kill(1)
	c.put(0, "around", "the ring")
	if got := c.waitConverged(0, 2, 3, 4); got["around"] != "the ring" {
		t.Fatalf("write did not go around the dead server: %v", got)
	}
}

// A server restarted from a backup of its disk taken before it wrote b and
// c (acknowledged, replicated) takes them back from its peers, and its next
// write, numbered under a new replica id, is not mistaken for one of them.
func TestCluster_RestoredFromBackup_TakesBackLostWrites(t *testing.T) {
	c := newCluster(t, 3)
	c.waitConverged(0, 1, 2)
	c.put(0, "a", "1")
	c.waitConverged(0, 1, 2)
	backup := c.disks[0].Copy()
	c.put(0, "b", "2")
	c.put(0, "c", "3")
	c.waitConverged(0, 1, 2)
	c.kill(0)
	c.disks[0] = backup
	c.start(0)
	c.put(0, "d", "4")
	got := c.waitConverged(0, 1, 2)
	if fmt.Sprint(got) != "map[a:1 b:2 c:3 d:4]" {
		t.Fatalf("store after the restore: %v, want a b c d", got)
	}
}

// A delete replicates like a put, wins over the value it deleted on every
// server, survives a kill and restart, and a value deleted in a minority
// does not come back when the partition heals.
func TestCluster_Delete_ReplicatesAndStays(t *testing.T) {
	c := newCluster(t, 3)
	c.waitConverged(0, 1, 2)
	put := c.put(0, "k", "v")
	c.put(0, "kept", "yes")
	c.waitConverged(0, 1, 2)
	c.split([]uint32{2}, []uint32{0, 1})
	del := c.servers[2].Delete([]byte("k"), put)
	if del.Status != api.OK || !put.Less(del.Version) {
		t.Fatalf("delete at 2: %+v", del)
	}
	c.kill(2)
	c.start(2)
	for _, b := range []uint32{0, 1} {
		c.heal(2, b)
	}
	got := c.waitConverged(0, 1, 2)
	if len(got) != 1 || got["kept"] != "yes" {
		t.Fatalf("store after the heal: %v, want only kept", got)
	}
	for id := range uint32(3) {
		r, err := c.servers[id].Get([]byte("k"), put)
		// The tombstone, or nothing once it is collected below the
		// server's stable point.
		collected := r.Version.IsZero() && !r.Stable.Less(del.Version)
		if err != nil || r.Status != api.ErrKey || (r.Version != del.Version && !collected) {
			t.Fatalf("get k at %d: %+v %v, want ERR_KEY at the delete's version %v", id, r, err, del.Version)
		}
	}
}

// Keys lists the live keys in order, in pages, at every server once the
// writes have spread, and after a restart from disk; Status counts them.
func TestCluster_Keys_ListsLiveKeysInPages(t *testing.T) {
	c := newCluster(t, 2)
	for _, k := range []string{"b", "a", "d", "c", "e"} {
		c.put(0, k, "v"+k)
	}
	if r := c.servers[1].Delete([]byte("c"), model.Version{}); r.Status != api.OK {
		t.Fatalf("delete c: %+v", r)
	}
	c.waitConverged(0, 1)
	c.kill(1)
	c.start(1)
	for id := range uint32(2) {
		var got []string
		var from []byte
		for pages := 0; ; pages++ {
			keys, more, err := c.servers[id].Keys(from, 2)
			if err != nil {
				t.Fatal(err)
			}
			if pages > 3 || len(keys) > 2 {
				t.Fatalf("server %d: page %d of %q", id, pages, keys)
			}
			for _, k := range keys {
				got = append(got, string(k))
			}
			if !more {
				break
			}
			from = append(keys[len(keys)-1], 0)
		}
		if fmt.Sprint(got) != "[a b d e]" {
			t.Errorf("server %d lists %v, want [a b d e] (c deleted)", id, got)
		}
		st, err := c.servers[id].Status()
		if err != nil {
			t.Fatal(err)
		}
		if st.Keys != 5 || st.Live != 4 {
			t.Errorf("server %d: Keys %d Live %d, want 5 and 4", id, st.Keys, st.Live)
		}
	}
	if _, _, err := c.servers[0].Keys(nil, 0); err == nil {
		t.Error("Keys with limit 0 gave no error")
	}
}

// A cluster that puts and deletes ever new keys keeps bounded storage:
// every tombstone is collected once all servers hold it, in memory and on
// disk; a client that depends on a collected delete still reads ERR_KEY,
// not ERR_DEP; and a server restarted afterwards keeps it collected.
func TestCluster_Churn_TombstonesCollected(t *testing.T) {
	c := newCluster(t, 3)
	c.waitConverged(0, 1, 2)
	var last api.PutReply
	for i := range 300 {
		key := []byte(fmt.Sprintf("key%d", i))
		p := c.servers[uint32(i%3)].Put(key, []byte("v"), model.Version{})
		if p.Status != api.OK {
			t.Fatalf("put %s: %+v", key, p)
		}
		last = c.servers[uint32((i+1)%3)].Delete(key, p.Version)
		if last.Status != api.OK {
			t.Fatalf("delete %s: %+v", key, last)
		}
	}
	c.put(0, "kept", "yes")
	c.waitConverged(0, 1, 2)
	deadline := time.Now().Add(20 * time.Second)
	for id := range uint32(3) {
		for {
			st, err := c.servers[id].Status()
			if err != nil {
				t.Fatal(err)
			}
			disk, err := c.disks[id].Copy().Load()
			if err != nil {
				t.Fatal(err)
			}
			if st.Keys == 1 && st.Live == 1 && len(disk.Entries) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d holds %d keys (%d live) after 300 deletes: tombstones were not collected", id, st.Keys, st.Live)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for id := range uint32(3) {
		r, err := c.servers[id].Get([]byte("key299"), last.Version)
		if err != nil || r.Status != api.ErrKey || !r.Version.IsZero() || r.Stable.Less(last.Version) {
			t.Fatalf("get of a collected key at %d, depending on its delete: %+v %v", id, r, err)
		}
	}
	c.kill(1)
	c.start(1)
	c.waitConverged(0, 1, 2)
	if got := c.store(1); len(got) != 1 || got["kept"] != "yes" {
		t.Fatalf("server 1 after a restart: %v", got)
	}
	if st, _ := c.servers[1].Status(); st.Keys != 1 {
		t.Fatalf("server 1 holds %d keys after a restart, want 1", st.Keys)
	}
}
