package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

// testBackend is the one contract every Backend meets. open returns a fresh,
// empty backend and a reopen function that simulates a restart (Bolt: close
// and open the file again; Memory: Crash) and returns the new backend; the
// backend given earlier must not be used after reopen.
func testBackend(t *testing.T, open func(t *testing.T) (Backend, func() Backend)) {
	// A stable point logged with the tombstones it collects takes them
	// out of the store, through the log and through a checkpoint alike,
	// and leaves a tombstone above it, and every value, alone; members
	// gather from every record.
	t.Run("StablePoint_DropsCollectedTombstones", func(t *testing.T) {
		b, reopen := open(t)
		value := entry("v", "kept", 1, 1, 1)
		gone := model.Entry{Key: []byte("gone"), Value: []byte{}, Version: model.Version{Wall: 2, Origin: 1}, Seq: 2, Src: 1, Deleted: true}
		late := model.Entry{Key: []byte("late"), Value: []byte{}, Version: model.Version{Wall: 9, Origin: 1}, Seq: 3, Src: 1, Deleted: true}
		if err := b.Log([]model.Entry{value, gone, late}, model.Meta{Seen: metaAt(0, 1, 3).Seen, Members: []uint32{0, 1}}); err != nil {
			t.Fatalf("Log: %v", err)
		}
		if err := b.Checkpoint(); err != nil { // gone is in the file now
			t.Fatalf("Checkpoint: %v", err)
		}
		stable := model.Stable{Version: model.Version{Wall: 5, Origin: ^uint32(0)}, Cover: metaAt(0, 1, 2).Seen}
		if err := b.Log([]model.Entry{gone}, model.Meta{Seen: metaAt(0, 1, 3).Seen, Stable: stable, Members: []uint32{2}}); err != nil {
			t.Fatalf("Log: %v", err)
		}
		want := metaAt(0, 1, 3)
		want.Clock = model.Version{}
		want.Stable, want.Members = stable, []uint32{0, 1, 2}
		checkLoad(t, b, []model.Entry{value, late}, want)
		b = reopen()
		checkLoad(t, b, []model.Entry{value, late}, want)
		if err := b.Checkpoint(); err != nil {
			t.Fatalf("Checkpoint: %v", err)
		}
		checkLoad(t, reopen(), []model.Entry{value, late}, want)
	})

	t.Run("EmptyLoad", func(t *testing.T) {
		b, reopen := open(t)
		checkLoad(t, b, nil, model.Meta{})
		checkLoad(t, reopen(), nil, model.Meta{})
	})

	t.Run("CommitThenReopen", func(t *testing.T) {
		b, reopen := open(t)
		entries := []model.Entry{
			entry("abc", "1", 10, 1, 1),
			entry("", "empty key", 11, 2, 1),
			entry("nil value", "", 12, 1, 2),
			{Key: []byte("bin\x00\xff"), Value: bytes.Repeat([]byte{0, 0xff}, 5000), Version: model.Version{Wall: 13, Logical: 4, Origin: 3}, Seq: 1, Src: 1<<63 | 77},
			{Key: []byte("deleted"), Value: []byte{}, Version: model.Version{Wall: 14, Origin: 3}, Seq: 2, Src: 1<<63 | 77, Deleted: true},
		}
		meta := metaAt(14, 1, 2, 2, 1, 3, 1)
		meta.Seen.Add(model.Dot{Origin: 7, Seq: 5})
		if err := b.Commit(entries, meta); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		checkLoad(t, b, entries, meta)
		checkLoad(t, reopen(), entries, meta)
	})

	t.Run("LaterCommitReplaces", func(t *testing.T) {
		b, reopen := open(t)
		first := []model.Entry{entry("a", "old", 1, 1, 1), entry("b", "kept", 2, 1, 2)}
		if err := b.Commit(first, metaAt(2, 1, 2)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		second := entry("a", "new", 3, 2, 1)
		if err := b.Commit([]model.Entry{second}, metaAt(3, 1, 2, 2, 1)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		want := []model.Entry{second, first[1]}
		checkLoad(t, b, want, metaAt(3, 1, 2, 2, 1))
		checkLoad(t, reopen(), want, metaAt(3, 1, 2, 2, 1))
	})

	t.Run("DuplicateKeyInBatchLastWins", func(t *testing.T) {
		b, reopen := open(t)
		batch := []model.Entry{entry("k", "first", 1, 1, 1), entry("k", "second", 2, 1, 2)}
		if err := b.Commit(batch, metaAt(2, 1, 2)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		checkLoad(t, reopen(), batch[1:], metaAt(2, 1, 2))
	})

	t.Run("MetaOnlyCommit", func(t *testing.T) {
		b, reopen := open(t)
		e := entry("x", "y", 5, 1, 1)
		if err := b.Commit([]model.Entry{e}, metaAt(5, 1, 1)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := b.Commit(nil, metaAt(9, 1, 1, 4, 3)); err != nil {
			t.Fatalf("Commit(nil entries): %v", err)
		}
		checkLoad(t, b, []model.Entry{e}, metaAt(9, 1, 1, 4, 3))
		b = reopen()
		if err := b.Commit([]model.Entry{}, metaAt(10, 1, 1, 4, 4)); err != nil {
			t.Fatalf("Commit(empty entries): %v", err)
		}
		checkLoad(t, reopen(), []model.Entry{e}, metaAt(10, 1, 1, 4, 4))
	})

	t.Run("ManyCommitsMatchModel", func(t *testing.T) {
		seed := rand.Uint64()
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 0))
		b, reopen := open(t)
		want := map[string]model.Entry{}
		var meta model.Meta
		for i := 1; i <= 300; i++ {
			batch := make([]model.Entry, rng.IntN(6))
			for j := range batch {
				// Few distinct keys, so that most commits replace.
				key := []byte(fmt.Sprintf("%c", 'a'+rng.IntN(20)))
				if rng.IntN(20) == 0 {
					key = []byte{}
				}
				val := make([]byte, rng.IntN(3000))
				for k := range val {
					val[k] = byte(rng.Uint32())
				}
				batch[j] = model.Entry{Key: key, Value: val, Version: model.Version{Wall: int64(i), Logical: uint32(j), Origin: uint32(rng.IntN(5))}, Seq: uint64(i)}
				want[string(key)] = batch[j]
			}
			meta.Seen.Add(model.Dot{Origin: uint64(rng.IntN(5)), Seq: uint64(rng.IntN(30) + 1)})
			meta.Clock = model.Version{Wall: int64(i), Origin: 1}
			if err := b.Commit(batch, meta); err != nil {
				t.Fatalf("commit %d: %v", i, err)
			}
			if rng.IntN(50) == 0 {
				b = reopen()
			}
		}
		var wantList []model.Entry
		for _, e := range want {
			wantList = append(wantList, e)
		}
		checkLoad(t, b, wantList, meta)
		checkLoad(t, reopen(), wantList, meta)
	})

	t.Run("LoadResultNotAliased", func(t *testing.T) {
		b, _ := open(t)
		entries := []model.Entry{entry("key", "value", 1, 1, 1)}
		meta := metaAt(1, 1, 1)
		meta.Seen.Add(model.Dot{Origin: 2, Seq: 3})
		if err := b.Commit(entries, meta); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		got, gotMeta := load(t, b)
		for _, e := range got {
			for i := range e.Key {
				e.Key[i] = 'X'
			}
			for i := range e.Value {
				e.Value[i] = 'X'
			}
		}
		gotMeta.Seen.Prefix[0].N = 99
		gotMeta.Seen.Extra[0].Seq = 99
		checkLoad(t, b, entries, meta)
	})

	t.Run("CommitInputNotAliased", func(t *testing.T) {
		b, _ := open(t)
		in := []model.Entry{entry("key", "value", 1, 1, 1)}
		meta := metaAt(1, 1, 1)
		if err := b.Commit(in, meta); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		want := []model.Entry{entry("key", "value", 1, 1, 1)}
		in[0].Key[0] = 'X'
		in[0].Value[0] = 'X'
		meta.Seen.Prefix[0].N = 99
		checkLoad(t, b, want, metaAt(1, 1, 1))
	})

	t.Run("LoadResultOutlivesClose", func(t *testing.T) {
		// For Bolt, anything still pointing into the memory map would fault
		// or change once the file is closed and unmapped.
		b, _ := open(t)
		entries := []model.Entry{entry("key", string(bytes.Repeat([]byte("v"), 5000)), 1, 1, 1)}
		if err := b.Commit(entries, metaAt(1, 1, 1)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		got, meta := load(t, b)
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		checkEntries(t, got, entries)
		checkMeta(t, meta, metaAt(1, 1, 1))
	})

	t.Run("InvalidBatchRejected", func(t *testing.T) {
		b, reopen := open(t)
		good := []model.Entry{entry("a", "1", 1, 1, 1)}
		if err := b.Commit(good, metaAt(1, 1, 1)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		bad := model.Meta{Seen: model.Seen{Prefix: vclock.Clock{{ID: 2, N: 1}, {ID: 1, N: 1}}}}
		if err := b.Commit([]model.Entry{entry("b", "2", 2, 1, 2)}, bad); err == nil {
			t.Fatalf("Commit with unsorted seen prefix succeeded")
		}
		long := model.Entry{Key: make([]byte, MaxKeySize+1), Value: []byte("v"), Seq: 3}
		if err := b.Commit([]model.Entry{entry("c", "3", 3, 1, 3), long}, metaAt(3, 1, 3)); err == nil {
			t.Fatalf("Commit with a %d-byte key succeeded", len(long.Key))
		}
		// A rejected batch leaves the backend usable.
		if err := b.Commit(nil, metaAt(4, 1, 1)); err != nil {
			t.Fatalf("Commit after rejected batches: %v", err)
		}
		checkLoad(t, reopen(), good, metaAt(4, 1, 1))
	})

	t.Run("LogThenReopen", func(t *testing.T) {
		b, reopen := open(t)
		base := []model.Entry{entry("a", "committed", 5, 1, 1), entry("b", "newer than its log", 50, 1, 2)}
		meta := metaAt(50, 1, 2)
		if err := b.Commit(base, meta); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		logged := []model.Entry{
			entry("a", "logged", 6, 2, 1), // newer: replaces
			entry("b", "older", 7, 2, 2),  // older: only its dot counts
			entry("c", "new key", 8, 2, 3),
		}
		if err := b.Log(logged[:1], model.Meta{}); err != nil {
			t.Fatalf("Log: %v", err)
		}
		if err := b.Log(logged[1:], model.Meta{}); err != nil {
			t.Fatalf("Log: %v", err)
		}
		want := []model.Entry{logged[0], base[1], logged[2]}
		wantMeta := metaAt(50, 1, 2, 2, 3) // a log does not move the clock
		checkLoad(t, b, want, wantMeta)
		checkLoad(t, reopen(), want, wantMeta)
	})

	t.Run("CommitCoversLog", func(t *testing.T) {
		b, reopen := open(t)
		x, y := entry("x", "1", 1, 1, 1), entry("y", "2", 2, 1, 2)
		if err := b.Log([]model.Entry{x}, model.Meta{}); err != nil {
			t.Fatalf("Log: %v", err)
		}
		if err := b.Commit([]model.Entry{x}, metaAt(1, 1, 1)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := b.Log([]model.Entry{y}, model.Meta{}); err != nil {
			t.Fatalf("Log: %v", err)
		}
		b = reopen()
		checkLoad(t, b, []model.Entry{x, y}, metaAt(1, 1, 2))
		z := entry("z", "3", 3, 1, 3)
		if err := b.Log([]model.Entry{z}, model.Meta{}); err != nil {
			t.Fatalf("Log after reopen: %v", err)
		}
		checkLoad(t, reopen(), []model.Entry{x, y, z}, metaAt(1, 1, 3))
	})

	// A restarted server loads what its last life logged but does not
	// commit it again: its first commit, of other keys, must keep it.
	t.Run("LoggedBeforeRestartSurvivesNextCommit", func(t *testing.T) {
		b, reopen := open(t)
		x, y := entry("x", "logged", 1, 1, 1), entry("y", "later", 2, 2, 1)
		if err := b.Log([]model.Entry{x}, model.Meta{}); err != nil {
			t.Fatalf("Log: %v", err)
		}
		b = reopen()
		checkLoad(t, b, []model.Entry{x}, seenMeta(1, 1))
		if err := b.Commit([]model.Entry{y}, metaAt(2, 1, 1, 2, 1)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		checkLoad(t, reopen(), []model.Entry{x, y}, metaAt(2, 1, 1, 2, 1))
	})

	// A server logs puts while its commit of an older snapshot runs:
	// whatever the interleaving, every logged write survives, with its
	// dot, and no key goes back to an older value.
	t.Run("LogDuringCommits", func(t *testing.T) {
		b, reopen := open(t)
		const n, keys = 300, 17
		var mu sync.Mutex
		durable := 0 // writes 1..durable have been logged
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 1; i <= n; i++ {
				e := entry(fmt.Sprintf("k%d", i%keys), fmt.Sprint(i), int64(i), 1, uint64(i))
				if err := b.Log([]model.Entry{e}, model.Meta{}); err != nil {
					t.Errorf("Log %d: %v", i, err)
					return
				}
				mu.Lock()
				durable = i
				mu.Unlock()
			}
		}()
		commits := 0
		for running := true; running; commits++ {
			select {
			case <-done:
				running = false
				continue // no last commit: the log must hold the rest
			default:
			}
			// The snapshot: what was durable a moment ago.
			mu.Lock()
			upTo := durable
			mu.Unlock()
			var snap []model.Entry
			for i := max(1, upTo-keys+1); i <= upTo; i++ {
				snap = append(snap, entry(fmt.Sprintf("k%d", i%keys), fmt.Sprint(i), int64(i), 1, uint64(i)))
			}
			if err := b.Commit(snap, metaAt(int64(upTo), 1, uint64(upTo))); err != nil {
				t.Fatalf("Commit: %v", err)
			}
		}
		var want []model.Entry
		for i := n - keys + 1; i <= n; i++ {
			want = append(want, entry(fmt.Sprintf("k%d", i%keys), fmt.Sprint(i), int64(i), 1, uint64(i)))
		}
		t.Logf("%d commits", commits)
		entries, meta := load(t, reopen())
		checkEntries(t, entries, want)
		if want := metaAt(0, 1, n).Seen; !meta.Seen.Equal(want) {
			t.Fatalf("seen after reopen = %v, want %v", meta.Seen, want)
		}
	})

	// A log record's seen set holds writes whose entries are superseded:
	// they count as held after a restart, and a checkpoint keeps them.
	t.Run("LoggedSeenAndCheckpoint", func(t *testing.T) {
		b, reopen := open(t)
		base := entry("a", "committed", 5, 1, 1)
		if err := b.Commit([]model.Entry{base}, metaAt(5, 1, 1)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		newer := entry("a", "newer", 9, 2, 4)
		// Writes 2:1..2:3 were superseded by 2:4 before they got here.
		if err := b.Log([]model.Entry{newer}, model.Meta{Seen: metaAt(0, 1, 1, 2, 4).Seen}); err != nil {
			t.Fatalf("Log: %v", err)
		}
		want, wantMeta := []model.Entry{newer}, metaAt(5, 1, 1, 2, 4)
		checkLoad(t, b, want, wantMeta)
		b = reopen()
		checkLoad(t, b, want, wantMeta)
		if err := b.Checkpoint(); err != nil {
			t.Fatalf("Checkpoint: %v", err)
		}
		checkLoad(t, b, want, wantMeta)
		b = reopen()
		checkLoad(t, b, want, wantMeta)
		if err := b.Checkpoint(); err != nil { // nothing logged: a no-op
			t.Fatalf("empty Checkpoint: %v", err)
		}
		checkLoad(t, reopen(), want, wantMeta)
	})

	// A Commit whose snapshot predates a write that an earlier Commit
	// folded in from the log leaves that write whole: neither its entry
	// nor its dot goes back. (Found by LogDuringCommits in CI, by chance;
	// this is the interleaving, made certain.)
	t.Run("StaleSnapshotLeavesFoldedLogWhole", func(t *testing.T) {
		b, reopen := open(t)
		v1, v2 := entry("k", "v1", 1, 1, 1), entry("k", "v2", 2, 1, 2)
		if err := b.Log([]model.Entry{v1}, model.Meta{}); err != nil {
			t.Fatal(err)
		}
		if err := b.Log([]model.Entry{v2}, model.Meta{}); err != nil {
			t.Fatal(err)
		}
		// Snapshots taken after v1 only: the first Commit folds v2 from
		// the log, the second has nothing logged to fold.
		for range 2 {
			if err := b.Commit([]model.Entry{v1}, metaAt(1, 1, 1)); err != nil {
				t.Fatal(err)
			}
		}
		checkLoad(t, b, []model.Entry{v2}, metaAt(1, 1, 2))
		checkLoad(t, reopen(), []model.Entry{v2}, metaAt(1, 1, 2))
	})

	t.Run("MaxKeySize", func(t *testing.T) {
		b, reopen := open(t)
		e := model.Entry{Key: bytes.Repeat([]byte("k"), MaxKeySize), Value: []byte("v"), Seq: 1}
		if err := b.Commit([]model.Entry{e}, model.Meta{}); err != nil {
			t.Fatalf("Commit with a %d-byte key: %v", MaxKeySize, err)
		}
		checkLoad(t, reopen(), []model.Entry{e}, model.Meta{})
	})

	t.Run("Closed", func(t *testing.T) {
		b, _ := open(t)
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := b.Commit([]model.Entry{entry("a", "1", 1, 1, 1)}, metaAt(1, 1, 1)); !errors.Is(err, ErrClosed) {
			t.Errorf("Commit after Close = %v, want ErrClosed", err)
		}
		if err := b.Log([]model.Entry{entry("a", "1", 1, 1, 1)}, model.Meta{}); !errors.Is(err, ErrClosed) {
			t.Errorf("Log after Close = %v, want ErrClosed", err)
		}
		if err := b.Checkpoint(); !errors.Is(err, ErrClosed) {
			t.Errorf("Checkpoint after Close = %v, want ErrClosed", err)
		}
		if _, err := b.Load(); !errors.Is(err, ErrClosed) {
			t.Errorf("Load after Close = %v, want ErrClosed", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
	})
}

// entry builds write origin:seq, whose version is (wall, 0, origin).
func entry(key, value string, wall int64, origin uint32, seq uint64) model.Entry {
	return model.Entry{Key: []byte(key), Value: []byte(value), Version: model.Version{Wall: wall, Origin: origin}, Seq: seq, Src: uint64(origin)}
}

// metaAt builds a meta with clock wall and a seen prefix from (origin, n)
// pairs.
func metaAt(wall int64, pairs ...uint64) model.Meta {
	var m model.Meta
	for i := 0; i+1 < len(pairs); i += 2 {
		m.Seen.Prefix = m.Seen.Prefix.With(pairs[i], pairs[i+1])
	}
	m.Clock = model.Version{Wall: wall, Origin: 1}
	return m
}

func checkLoad(t *testing.T, b Backend, want []model.Entry, wantMeta model.Meta) {
	t.Helper()
	got, meta := load(t, b)
	checkEntries(t, got, want)
	checkMeta(t, meta, wantMeta)
}

// load loads b and fails the test if it reports damage.
func load(t *testing.T, b Backend) ([]model.Entry, model.Meta) {
	t.Helper()
	st, err := b.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(st.Damage) > 0 {
		t.Fatalf("Load reported damage: %q", st.Damage)
	}
	return st.Entries, st.Meta
}

func checkEntries(t *testing.T, got, want []model.Entry) {
	t.Helper()
	sortEntries(got)
	sortEntries(want)
	if len(got) != len(want) {
		t.Fatalf("Load returned %d entries, want %d: %s", len(got), len(want), describe(got[:min(len(got), 20)]))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) || g.Version != w.Version || g.Seq != w.Seq || g.Src != w.Src || g.Deleted != w.Deleted {
			t.Fatalf("entry %d = %s, want %s", i, describe(got[i:i+1]), describe(want[i:i+1]))
		}
	}
}

func checkMeta(t *testing.T, got, want model.Meta) {
	t.Helper()
	if !got.Seen.Equal(want.Seen) || got.Clock != want.Clock {
		t.Fatalf("meta = %v %v, want %v %v", got.Seen, got.Clock, want.Seen, want.Clock)
	}
	if got.Stable.Version != want.Stable.Version || !got.Stable.Cover.Equal(want.Stable.Cover) || !slices.Equal(got.Members, want.Members) {
		t.Fatalf("meta's stable point %v %v and members %v, want %v %v and %v",
			got.Stable.Version, got.Stable.Cover, got.Members, want.Stable.Version, want.Stable.Cover, want.Members)
	}
}

func sortEntries(es []model.Entry) {
	sort.Slice(es, func(i, j int) bool { return bytes.Compare(es[i].Key, es[j].Key) < 0 })
}

func describe(es []model.Entry) string {
	var b bytes.Buffer
	for _, e := range es {
		v := e.Value
		if len(v) > 16 {
			v = v[:16]
		}
		fmt.Fprintf(&b, "[%q=%q(%d bytes) %v #%d]", e.Key, v, len(e.Value), e.Version, e.Seq)
	}
	return b.String()
}
