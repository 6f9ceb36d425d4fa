package server

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/model"
	"gossipkv/pkg/raftkv"
	"gossipkv/pkg/storage"
	"gossipkv/pkg/transport/memnet"
)

// fastRaft has Raft timings small enough for tests to run in seconds.
func fastRaft() raftkv.Config {
	cfg := raftkv.DefaultConfig()
	cfg.Timeout = time.Second
	cfg.IOTimeout = time.Second
	cfg.HeartbeatTimeout = 100 * time.Millisecond
	cfg.ElectionTimeout = 100 * time.Millisecond
	cfg.LeaderLeaseTimeout = 50 * time.Millisecond
	cfg.CommitTimeout = 5 * time.Millisecond
	return cfg
}

// newLinearCluster starts n linearizable servers one after the other, as
// joinServer does: the first bootstraps alone, the leader adds the rest.
func newLinearCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, net: memnet.New(), peers: map[uint32]string{},
		servers: map[uint32]*Server{}, disks: map[uint32]*storage.Memory{}, keys: map[uint32][]byte{},
		raftDirs: map[uint32]string{}}
	return c.startAll(n)
}

// waitVoters waits until server id sees a leader and exactly the voters
// want, and returns that leader.
func (c *cluster) waitVoters(id uint32, want ...uint32) uint32 {
	c.t.Helper()
	var last *api.RaftStatus
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		st, err := c.servers[id].Status()
		if err != nil {
			c.t.Fatal(err)
		}
		last = st.Raft
		if last != nil && last.HasLeader && slices.Equal(last.Voters, want) {
			return last.Leader
		}
	}
	c.t.Fatalf("server %d: raft status %+v, want a leader and voters %v", id, last, want)
	return 0
}

func (c *cluster) waitGet(id uint32, key string, want api.Status, value string) api.GetReply {
	c.t.Helper()
	var r api.GetReply
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var err error
		if r, err = c.servers[id].Get([]byte(key), model.Version{}); err != nil {
			c.t.Fatal(err)
		}
		if r.Status == want && string(r.Value) == value {
			return r
		}
	}
	c.t.Fatalf("get %s at %d: %v %q, want %v %q", key, id, r.Status, r.Value, want, value)
	return r
}

func TestLinear_GroupFormsAndEveryServerReadsTheLastWrite(t *testing.T) {
	c := newLinearCluster(t, 3)
	c.waitVoters(2, 0, 1, 2)
	for i := range 9 {
		at, from := uint32(i%3), uint32((i+1)%3)
		r := c.servers[at].Put([]byte("k"), []byte(fmt.Sprint(i)), model.Version{})
		if r.Status != api.OK || r.Version.Origin != at {
			t.Fatalf("put %d at %d: %+v", i, at, r)
		}
		// Linearizable: the next read, anywhere, sees it.
		g, err := c.servers[from].Get([]byte("k"), model.Version{})
		if err != nil || g.Status != api.OK || string(g.Value) != fmt.Sprint(i) || g.Version != r.Version {
			t.Fatalf("get at %d right after put %d at %d: %+v %v, want %d at %v", from, i, at, g, err, i, r.Version)
		}
	}
	if r := c.servers[1].CAS([]byte("k"), []byte("8"), []byte("x")); r.Status != api.OK {
		t.Errorf("cas 8->x: %+v", r)
	}
	if r := c.servers[2].CAS([]byte("k"), []byte("8"), []byte("y")); r.Status != api.ErrCAS {
		t.Errorf("cas 8->y after 8->x: %+v, want ERR_CAS", r)
	}
	if r := c.servers[0].Delete([]byte("k"), model.Version{}); r.Status != api.OK {
		t.Errorf("delete: %+v", r)
	}
	c.waitGet(2, "k", api.ErrKey, "")
	if r := c.servers[0].CAS([]byte("k"), []byte("x"), []byte("z")); r.Status != api.ErrCAS {
		t.Errorf("cas on a deleted key: %+v, want ERR_CAS", r)
	}
	c.put(1, "a", "1")
	// Every server's own applied state catches up: what printStore shows.
	for id := range uint32(3) {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			got := c.store(id)
			if len(got) == 1 && got["a"] == "1" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d applied %v, want only a=1", id, got)
			}
		}
	}
	// The gossip store is not used (its own count, before Status puts the
	// Raft node's in its place).
	if resp := c.servers[0].call(request{kind: reqStatus}); resp.err != nil || resp.status.Keys != 0 {
		t.Errorf("linearizable server holds %d keys in its eventual store (%v)", resp.status.Keys, resp.err)
	}
}

func TestLinear_MinorityUnavailableAndNothingAcknowledgedLost(t *testing.T) {
	c := newLinearCluster(t, 3)
	c.waitVoters(2, 0, 1, 2)
	c.put(2, "k", "before")
	c.cut(2, 0)
	c.cut(2, 1)
	start := time.Now()
	if r := c.servers[2].Put([]byte("k"), []byte("minority"), model.Version{}); r.Status != api.ErrUnavailable || !strings.Contains(r.Reason, "unavailable") {
		t.Errorf("put on the cut-off server: %+v, want ERR_UNAVAILABLE", r)
	}
	if g, err := c.servers[2].Get([]byte("k"), model.Version{}); err != nil || g.Status != api.ErrUnavailable {
		t.Errorf("get on the cut-off server: %+v %v, want ERR_UNAVAILABLE (never the old value)", g, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the minority took %v to answer", d)
	}
	c.waitGet(0, "k", api.OK, "before")
	c.put(1, "k", "majority")
	c.heal(2, 0)
	c.heal(2, 1)
	// Nothing acknowledged is lost, and the minority's unacknowledged put
	// either took effect before "majority" or never.
	c.waitGet(2, "k", api.OK, "majority")
}

// TestLinear_RestartKeepsTheLog kills a follower, writes without it, and
// restarts it from its Raft directory: it rejoins as the voter it was and
// applies what it missed.
func TestLinear_RestartKeepsTheLog(t *testing.T) {
	c := newLinearCluster(t, 3)
	leader := c.waitVoters(0, 0, 1, 2)
	f := (leader + 1) % 3
	c.put(f, "k", "1")
	c.kill(f)
	c.put(leader, "k", "2")
	c.start(f)
	c.waitGet(f, "k", api.OK, "2")
	for deadline := time.Now().Add(10 * time.Second); c.store(f)["k"] != "2"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("restarted server %d applied %v", f, c.store(f))
		}
	}
	if st, _ := c.servers[f].Status(); !slices.Equal(st.Raft.Voters, []uint32{0, 1, 2}) {
		t.Errorf("voters after the restart: %v", st.Raft.Voters)
	}
}

// listAll walks server id's keys in pages of two, as SCAN does.
func (c *cluster) listAll(id uint32) ([]string, error) {
	c.t.Helper()
	var got []string
	var from []byte
	for pages := 0; ; pages++ {
		keys, more, err := c.servers[id].Keys(from, 2)
		if err != nil {
			return got, err
		}
		if pages > 100 || len(keys) > 2 {
			c.t.Fatalf("server %d: page %d of %q", id, pages, keys)
		}
		for _, k := range keys {
			got = append(got, string(k))
		}
		if !more {
			return got, nil
		}
		from = append(keys[len(keys)-1], 0)
	}
}

// Keys reads the Raft group's keys, not the (empty) gossip store: at a
// follower, right after writes through another server, with no wait, as
// linearizable as a get.
func TestLinear_KeysThroughAFollower(t *testing.T) {
	c := newLinearCluster(t, 3)
	leader := c.waitVoters(2, 0, 1, 2)
	writer, reader := (leader+1)%3, (leader+2)%3
	for i, k := range []string{"b", "a", "e", "c", "d"} {
		c.put(writer, k, "v")
		if i == 3 {
			if r := c.servers[writer].Delete([]byte("c"), model.Version{}); r.Status != api.OK {
				t.Fatalf("delete c: %+v", r)
			}
		}
		got, err := c.listAll(reader)
		if err != nil {
			t.Fatalf("keys at follower %d after put %s at %d: %v", reader, k, writer, err)
		}
		if !slices.IsSorted(got) || (k != "c" && !slices.Contains(got, k)) || slices.Contains(got, "c") {
			t.Fatalf("follower %d lists %q right after put %s at %d (c deleted)", reader, got, k, writer)
		}
	}
	for id := range uint32(3) {
		got, err := c.listAll(id)
		if err != nil || fmt.Sprint(got) != "[a b d e]" {
			t.Errorf("server %d lists %q, %v; want [a b d e]", id, got, err)
		}
	}
	if _, _, err := c.servers[0].Keys(nil, 0); err == nil {
		t.Error("Keys with limit 0 gave no error")
	}
	// Status counts what each server has applied (the fronts' DBSIZE and
	// /v1/status): five keys written, one of them deleted.
	for id := range uint32(3) {
		var st api.StatusReply
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var err error
			if st, err = c.servers[id].Status(); err != nil {
				t.Fatal(err)
			}
			if (st.Keys == 5 && st.Live == 4) || time.Now().After(deadline) {
				break
			}
		}
		if st.Keys != 5 || st.Live != 4 {
			t.Errorf("server %d: status counts %d keys, %d live; want 5 and 4", id, st.Keys, st.Live)
		}
	}
}

// PutIfAbsent is one Raft command: of many racing from two servers on
// one key, exactly one stores, and every other reports the winner's
// version; after a delete the key takes one again.
func TestLinear_PutIfAbsentRacingStoresOnce(t *testing.T) {
	c := newLinearCluster(t, 3)
	c.waitVoters(2, 0, 1, 2)
	type result struct {
		value  string
		reply  api.PutReply
		stored bool
	}
	results := make(chan result, 16)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			v := fmt.Sprint("from-", i%2, "-", i)
			r, stored := c.servers[uint32(i%2)].PutIfAbsent([]byte("lock"), []byte(v), model.Version{})
			results <- result{v, r, stored}
		})
	}
	wg.Wait()
	close(results)
	var winner result
	var losers []result
	for r := range results {
		switch {
		case r.reply.Status != api.OK:
			t.Errorf("PutIfAbsent %s: %+v", r.value, r.reply)
		case r.stored && winner.stored:
			t.Errorf("both %s and %s stored", winner.value, r.value)
		case r.stored:
			winner = r
		default:
			losers = append(losers, r)
		}
	}
	if !winner.stored {
		t.Fatal("no PutIfAbsent stored")
	}
	for _, r := range losers {
		if r.reply.Version != winner.reply.Version {
			t.Errorf("PutIfAbsent %s not stored, at version %v; want the winner's %v", r.value, r.reply.Version, winner.reply.Version)
		}
	}
	g := c.waitGet(2, "lock", api.OK, winner.value)
	if g.Version != winner.reply.Version {
		t.Errorf("lock read at %v, want the winner's version %v", g.Version, winner.reply.Version)
	}
	if r := c.servers[2].Delete([]byte("lock"), model.Version{}); r.Status != api.OK {
		t.Fatalf("delete: %+v", r)
	}
	if r, stored := c.servers[1].PutIfAbsent([]byte("lock"), []byte("again"), model.Version{}); r.Status != api.OK || !stored {
		t.Errorf("PutIfAbsent after the delete: %+v, stored %v", r, stored)
	}
}

// A server cut off from the quorum answers Keys and PutIfAbsent with
// ERR_UNAVAILABLE within the timeout: never the listing it holds, which
// misses what the majority wrote meanwhile.
func TestLinear_CutOffServerRefusesKeysAndPutIfAbsent(t *testing.T) {
	c := newLinearCluster(t, 3)
	c.waitVoters(2, 0, 1, 2)
	c.put(0, "old", "v")
	c.waitGet(2, "old", api.OK, "v")
	c.cut(2, 0)
	c.cut(2, 1)
	c.waitGet(0, "old", api.OK, "v") // the majority has a leader again
	c.put(1, "new", "v")
	start := time.Now()
	keys, _, err := c.servers[2].Keys(nil, 10)
	if !errors.Is(err, raftkv.ErrUnavailable) || !strings.Contains(err.Error(), "ERR_UNAVAILABLE") || keys != nil {
		t.Errorf("keys on the cut-off server: %q, %v; want ERR_UNAVAILABLE", keys, err)
	}
	if r, stored := c.servers[2].PutIfAbsent([]byte("fresh"), []byte("v"), model.Version{}); r.Status != api.ErrUnavailable || stored {
		t.Errorf("PutIfAbsent on the cut-off server: %+v, stored %v; want ERR_UNAVAILABLE", r, stored)
	}
	// Bounded, not timed: a generous margin over the timeout tells an
	// answer from an unbounded wait.
	if d := time.Since(start); d > 2*fastRaft().Timeout+10*time.Second {
		t.Errorf("the cut-off server took %v to answer", d)
	}
	c.heal(2, 0)
	c.heal(2, 1)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got, err := c.listAll(2)
		if err == nil && (fmt.Sprint(got) == "[new old]" || fmt.Sprint(got) == "[fresh new old]") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healed server 2 lists %q, %v; want [new old], with fresh if the unacknowledged add took effect", got, err)
		}
	}
}

func TestEventual_CASRefusedNamingTheMode(t *testing.T) {
	c := newCluster(t, 1)
	r := c.servers[0].CAS([]byte("k"), []byte("a"), []byte("b"))
	if r.Status != api.ErrFailed || !strings.Contains(r.Reason, "linearizable") || !strings.Contains(r.Reason, "eventual") {
		t.Errorf("cas in eventual mode: %+v, want ERR_FAILED naming the modes", r)
	}
	if st, _ := c.servers[0].Status(); st.Raft != nil {
		t.Errorf("an eventual server reports raft status %+v", st.Raft)
	}
}
