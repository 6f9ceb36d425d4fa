package server

import (
	"bytes"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/model"
	"gossipkv/pkg/storage"
	"gossipkv/pkg/transport/memnet"
)

// PutIfAbsent writes only where the key holds no value (a deletion counts
// as none), reports the version of a value it found, and ErrDep where the
// server has not seen the caller's dependency.
func TestServer_PutIfAbsent(t *testing.T) {
	c := newCluster(t, 2)
	s := c.servers[0]
	r, stored := s.PutIfAbsent([]byte("k"), []byte("first"), model.Version{})
	if r.Status != api.OK || !stored {
		t.Fatalf("PutIfAbsent on a missing key = %+v, %v", r, stored)
	}
	first := r.Version
	r, stored = s.PutIfAbsent([]byte("k"), []byte("second"), model.Version{})
	if r.Status != api.OK || stored || r.Version != first {
		t.Fatalf("PutIfAbsent on a held key = %+v, %v; want OK, not stored, version %v", r, stored, first)
	}
	if g, _ := s.Get([]byte("k"), model.Version{}); string(g.Value) != "first" {
		t.Fatalf("value after a refused PutIfAbsent = %q", g.Value)
	}
	del := s.Delete([]byte("k"), first)
	r, stored = s.PutIfAbsent([]byte("k"), []byte("again"), del.Version)
	if r.Status != api.OK || !stored || !del.Version.Less(r.Version) {
		t.Fatalf("PutIfAbsent on a deleted key = %+v, %v", r, stored)
	}
	// A dependency this server has not seen: it cannot tell.
	ahead := model.Version{Wall: r.Version.Wall + int64(time.Hour), Origin: 1}
	if r, stored = s.PutIfAbsent([]byte("k"), []byte("x"), ahead); r.Status != api.ErrDep || stored {
		t.Fatalf("PutIfAbsent behind the dependency = %+v, %v; want ERR_DEP", r, stored)
	}

	// Of many at once on one server, one writes.
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 20 {
		wg.Go(func() {
			if r, stored := s.PutIfAbsent([]byte("race"), []byte(strconv.Itoa(i)), model.Version{}); stored {
				mu.Lock()
				winners++
				mu.Unlock()
			} else if r.Status != api.OK {
				t.Errorf("PutIfAbsent %d = %+v", i, r)
			}
		})
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("%d of 20 concurrent PutIfAbsent wrote; want 1", winners)
	}
}

// Lag shows, from acks, the writes a peer holds that a server lacks and
// those it holds that the peer has not acknowledged; both go to zero once
// the link heals and the servers converge.
func TestServer_Lag(t *testing.T) {
	c := newCluster(t, 2)
	c.waitConverged(0, 1)
	c.put(0, "a", "1")
	c.waitConverged(0, 1)
	waitLag := func(id uint32, ok func(api.LagReply) bool, what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			l, err := c.servers[id].Lag()
			if err != nil {
				t.Fatal(err)
			}
			if ok(l) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d: Lag = %+v; want %s", id, l, what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	for id, peer := range []uint32{1, 0} {
		waitLag(uint32(id), func(l api.LagReply) bool {
			return l.Behind == 0 && len(l.Peers) == 1 && l.Peers[0] == model.PeerLag{Peer: peer, Linked: true}
		}, "in step")
	}
	c.cut(0, 1)
	c.put(0, "b", "2")
	c.put(0, "c", "3")
	// 1 knows nothing of the new writes; 0 knows 1 has not acknowledged them.
	waitLag(0, func(l api.LagReply) bool { return len(l.Peers) == 1 && !l.Peers[0].Linked && l.Peers[0].Unacked == 2 }, "2 unacked by 1")
	if l, _ := c.servers[1].Lag(); l.Behind != 0 {
		t.Errorf("server 1 cut off: Lag = %+v; want nothing it can know of", l)
	}
	c.heal(0, 1)
	c.waitConverged(0, 1)
	waitLag(0, func(l api.LagReply) bool { return l.Behind == 0 && l.Peers[0].Unacked == 0 && l.Peers[0].Linked }, "in step with 1")
}

// Latencies time each Put, Delete and Get; Stats counts checkpoints.
func TestServer_LatenciesAndCheckpoints(t *testing.T) {
	c := newCluster(t, 1)
	s := c.servers[0]
	for range 3 {
		c.put(0, "k", "v")
	}
	s.Delete([]byte("k"), model.Version{})
	s.Get([]byte("k"), model.Version{})
	s.Get([]byte("k"), model.Version{})
	l := s.Latencies()
	if l.Put.Count != 3 || l.Delete.Count != 1 || l.Get.Count != 2 || l.Put.Sum <= 0 {
		t.Errorf("Latencies: put %d (sum %v), delete %d, get %d; want 3, 1, 2", l.Put.Count, l.Put.Sum, l.Delete.Count, l.Get.Count)
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.Stats().Checkpoints == 0 { // every second by default
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A log that holds CheckpointBytes is folded at once, whatever the
// interval; below it, only the interval starts a checkpoint.
func TestServer_CheckpointAtLogSize(t *testing.T) {
	for _, c := range []struct {
		name  string
		bytes int
		want  bool
	}{
		{"64 KiB", 64 << 10, true},
		{"the default 1 MiB", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			timing := fastTiming()
			timing.Checkpoint = time.Hour
			s, err := New(Options{ID: 0, Peers: map[uint32]string{0: "127.0.0.1:1"}, Timing: timing,
				Backend: storage.NewMemory(), Transport: memnet.New().NewTransport("0"), Logger: slog.New(slog.DiscardHandler),
				Cluster: "test", CheckpointBytes: c.bytes})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Shutdown() })
			// The first checkpoint runs at start.
			deadline := time.Now().Add(10 * time.Second)
			for s.Stats().Checkpoints == 0 {
				if time.Now().After(deadline) {
					t.Fatal("no checkpoint at start")
				}
				time.Sleep(5 * time.Millisecond)
			}
			value := bytes.Repeat([]byte("v"), 4<<10)
			for i := range 40 { // 160 KiB
				if r := s.Put(fmt.Appendf(nil, "k%d", i), value, model.Version{}); r.Status != api.OK {
					t.Fatalf("put %d: %+v", i, r)
				}
			}
			got := func() bool { return s.Stats().Checkpoints > 1 }
			if c.want {
				for !got() {
					if time.Now().After(deadline) {
						t.Fatal("160 KiB logged and no checkpoint")
					}
					time.Sleep(5 * time.Millisecond)
				}
				return
			}
			time.Sleep(300 * time.Millisecond)
			if got() {
				t.Errorf("a checkpoint at 160 KiB of log, below the 1 MiB that starts one")
			}
		})
	}
}

// The config's durability.checkpoint_bytes reaches the server.
func TestOptionsFromConfig_CheckpointBytes(t *testing.T) {
	cfg := config.Local(1, 0, 7000)
	cfg.Durability.CheckpointBytes = 256 << 10
	opts, err := OptionsFromConfig(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if opts.CheckpointBytes != 256<<10 {
		t.Errorf("CheckpointBytes = %d, want %d", opts.CheckpointBytes, 256<<10)
	}
}
