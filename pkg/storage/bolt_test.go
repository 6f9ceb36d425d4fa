package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	bolt "go.etcd.io/bbolt"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

func TestBolt_Contract(t *testing.T) {
	testBackend(t, func(t *testing.T) (Backend, func() Backend) {
		// A missing parent directory is created.
		path := filepath.Join(t.TempDir(), "data", "server", "state.db")
		cur := openBolt(t, path)
		return cur, func() Backend {
			if err := cur.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			cur = openBolt(t, path)
			return cur
		}
	})
}

// openBolt opens path with fsync on and closes it when the test ends.
func openBolt(t *testing.T, path string) *Bolt {
	t.Helper()
	b, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// rawUpdate changes a closed database file with bbolt directly, to plant
// what this package would never write.
func rawUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatalf("raw update: %v", err)
	}
}

func TestBolt_SecondOpen_FailsWithErrLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	first := openBolt(t, path)
	second, err := OpenBolt(path, BoltOptions{LockTimeout: 50 * time.Millisecond})
	if err == nil {
		second.Close()
		t.Fatalf("second OpenBolt of a held file succeeded")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second OpenBolt = %v, want ErrLocked naming %s", err, path)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	openBolt(t, path)
}

func TestBolt_Open_Format(t *testing.T) {
	v4, err := msgpack.Marshal(formatVersion + 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		plant   func(tx *bolt.Tx) error
		wantMsg string
	}{
		{"NewerVersion", func(tx *bolt.Tx) error { return tx.Bucket(metaBucket).Put(formatKey, v4) }, "version 4"},
		{"GarbageVersion", func(tx *bolt.Tx) error { return tx.Bucket(metaBucket).Put(formatKey, []byte{0xc1}) }, "format record"},
		{"NoVersion", func(tx *bolt.Tx) error { return tx.Bucket(metaBucket).Delete(formatKey) }, "no format record"},
		{"NoStoreBucket", func(tx *bolt.Tx) error { return tx.DeleteBucket(storeBucket) }, "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			openBolt(t, path).Close()
			rawUpdate(t, path, tc.plant)
			b, err := OpenBolt(path, BoltOptions{})
			if err == nil {
				b.Close()
				t.Fatalf("OpenBolt succeeded")
			}
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("OpenBolt = %v, want ErrFormat saying %q", err, tc.wantMsg)
			}
			// The failed open released the file.
			rawUpdate(t, path, func(*bolt.Tx) error { return nil })
		})
	}
}

func TestBolt_Open_NotABoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := OpenBolt(path, BoltOptions{}); err == nil {
		b.Close()
		t.Fatalf("OpenBolt of a text file succeeded")
	}
}

func TestBolt_Commit_FailureIsSticky(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b := openBolt(t, path)
	good := []model.Entry{entry("a", "1", 1, 1, 1)}
	if err := b.Commit(good, metaAt(1, 1, 1)); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	injected := errors.New("injected I/O error")
	b.commitHook = func(*bolt.Tx) error { return injected }
	if err := b.Commit([]model.Entry{entry("b", "2", 2, 1, 2)}, metaAt(2, 1, 2)); !errors.Is(err, injected) {
		t.Fatalf("Commit = %v, want the injected error", err)
	}
	b.commitHook = nil
	if err := b.Commit([]model.Entry{entry("c", "3", 3, 1, 3)}, metaAt(3, 1, 3)); !errors.Is(err, injected) {
		t.Fatalf("Commit after a failed one = %v, want it to keep failing with the injected error", err)
	}
	b.Close()
	b = openBolt(t, path)
	checkLoad(t, b, good, metaAt(1, 1, 1))
	if err := b.Commit([]model.Entry{entry("c", "3", 3, 1, 3)}, metaAt(3, 1, 3)); err != nil {
		t.Fatalf("Commit after reopen: %v", err)
	}
}

func TestBolt_NoSync_CommitsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, err := OpenBolt(path, BoltOptions{NoSync: true})
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	want := []model.Entry{entry("a", "1", 1, 1, 1)}
	if err := b.Commit(want, metaAt(1, 1, 1)); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkLoad(t, openBolt(t, path), want, metaAt(1, 1, 1))
}

func TestBolt_CloseDuringCommits(t *testing.T) {
	b := openBolt(t, filepath.Join(t.TempDir(), "state.db"))
	var wg sync.WaitGroup
	wg.Add(1)
	started := make(chan struct{})
	go func() {
		defer wg.Done()
		for i := uint64(1); ; i++ {
			err := b.Commit([]model.Entry{entry("k", "v", int64(i), 1, i)}, metaAt(int64(i), 1, i))
			if i == 1 {
				close(started)
			}
			if err != nil {
				if !errors.Is(err, ErrClosed) {
					t.Errorf("Commit %d: %v", i, err)
				}
				return
			}
		}
	}()
	<-started
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
}

// TestUnmarshal_DoesNotAlias pins the msgpack behaviour that Load relies on:
// decoded []byte fields are copies, not slices of the input (which, inside a
// bbolt transaction, is the memory map).
func TestUnmarshal_DoesNotAlias(t *testing.T) {
	in := storeRecord{Value: []byte("the value"), Version: model.Version{Wall: 1}, Seq: 1}
	raw, err := msgpack.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out storeRecord
	if err := unmarshal(raw, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	for i := range raw {
		raw[i] = 0
	}
	if !bytes.Equal(out.Value, in.Value) {
		t.Fatalf("decoded value changed with its input: %q", out.Value)
	}
}

// A checkpoint takes a collected tombstone out of the file itself, not just
// out of what Load returns: the store stays bounded.
func TestBolt_Checkpoint_RemovesCollectedTombstoneRecords(t *testing.T) {
	b := openBolt(t, filepath.Join(t.TempDir(), "store.db"))
	var tombs []model.Entry
	for i := range 50 {
		tombs = append(tombs, model.Entry{Key: fmt.Appendf(nil, "k%d", i), Value: []byte{}, Version: model.Version{Wall: int64(i + 1), Origin: 1}, Seq: uint64(i + 1), Src: 1, Deleted: true})
	}
	seen := model.Seen{Prefix: vclock.Clock(nil).With(1, 50)}
	if err := b.Log(tombs, model.Meta{Seen: seen}); err != nil {
		t.Fatal(err)
	}
	if err := b.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	records := func() int {
		n := 0
		if err := b.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(storeBucket).Stats().KeyN; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := records(); n != 50 {
		t.Fatalf("%d records before collection, want 50", n)
	}
	stable := model.Stable{Version: model.Version{Wall: 40, Origin: ^uint32(0)}, Cover: seen}
	if err := b.Log(tombs[:40], model.Meta{Seen: seen, Stable: stable}); err != nil {
		t.Fatal(err)
	}
	if err := b.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if n := records(); n != 10 {
		t.Errorf("%d records after collecting 40 of 50 tombstones, want 10", n)
	}
	st, err := b.Load()
	if err != nil || len(st.Damage) > 0 || len(st.Entries) != 10 {
		t.Fatalf("Load after collection: %d entries, damage %q, err %v", len(st.Entries), st.Damage, err)
	}
}

// Syncs counts one fdatasync per log append and two per bbolt commit, and
// none without fsync.
func TestBolt_Syncs_Counted(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		var n atomic.Uint64
		b, err := OpenBolt(filepath.Join(t.TempDir(), "state.db"), BoltOptions{NoSync: noSync, Syncs: &n})
		if err != nil {
			t.Fatalf("OpenBolt: %v", err)
		}
		opened := n.Load()
		if err := b.Log([]model.Entry{entry("a", "1", 1, 1, 1)}, metaAt(1, 1, 1)); err != nil {
			t.Fatalf("Log: %v", err)
		}
		logged := n.Load()
		if err := b.Checkpoint(); err != nil {
			t.Fatalf("Checkpoint: %v", err)
		}
		checkpointed := n.Load()
		b.Close()
		if noSync {
			if checkpointed != 0 {
				t.Errorf("NoSync: %d syncs counted, want 0", checkpointed)
			}
			continue
		}
		if opened == 0 {
			t.Errorf("no sync counted at open")
		}
		if got := logged - opened; got != 1 {
			t.Errorf("a log append counted %d syncs, want 1", got)
		}
		if got := checkpointed - logged; got != 2 {
			t.Errorf("a checkpoint counted %d syncs, want 2", got)
		}
	}
}
