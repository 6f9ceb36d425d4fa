package model

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"testing"
)

// randomWrites issues n writes at random replicas of a fresh cluster, each
// replica applying what it issues, and returns them in issue order.
func randomWrites(rng *rand.Rand, n, servers, keys int) []Entry {
	reps := make([]*Replica, servers)
	for i := range reps {
		reps[i] = NewReplica(uint32(i), uint64(i), nil, Meta{})
	}
	var out []Entry
	now := int64(1000)
	for i := 0; i < n; i++ {
		r := reps[rng.Intn(servers)]
		// Some writes depend on what another replica holds (a client that
		// moved); the clock sometimes stands still to exercise the counter.
		var dep Version
		if len(out) > 0 && rng.Intn(3) == 0 {
			dep = out[rng.Intn(len(out))].Version
		}
		if rng.Intn(4) != 0 {
			now += int64(rng.Intn(3))
		}
		key := []byte(fmt.Sprintf("k%d", rng.Intn(keys)))
		var e Entry
		if rng.Intn(5) == 0 {
			e = r.Delete(key, dep, now)
		} else {
			e = r.Put(key, []byte(fmt.Sprintf("v%d", i)), dep, now)
		}
		out = append(out, e)
		// Let the writes spread a little so later writes see earlier ones.
		if rng.Intn(2) == 0 {
			reps[rng.Intn(servers)].Apply(e)
		}
	}
	return out
}

// expected is the store the conflict order prescribes: per key, the write
// with the greatest version.
func expected(writes []Entry) map[string]Entry {
	m := map[string]Entry{}
	for _, e := range writes {
		if cur, ok := m[string(e.Key)]; !ok || cur.Less(e) {
			m[string(e.Key)] = e
		}
	}
	return m
}

// Tombstones at or below the replica's stable point are expected gone:
// collected (a value there instead is a delete undone).
func sameStore(t *testing.T, r *Replica, want map[string]Entry) {
	t.Helper()
	want = maps.Clone(want)
	maps.DeleteFunc(want, func(_ string, e Entry) bool {
		return e.Deleted && !r.Stable().IsZero() && !r.Stable().Version.Less(e.Version)
	})
	snap := r.Snapshot()
	if len(snap) != len(want) {
		t.Fatalf("replica holds %d keys, want %d", len(snap), len(want))
	}
	for _, e := range snap {
		w := want[string(e.Key)]
		if w.Version != e.Version || !bytes.Equal(w.Value, e.Value) || w.Deleted != e.Deleted {
			t.Fatalf("key %s = %s@%v (deleted %v), want %s@%v (deleted %v)", e.Key, e.Value, e.Version, e.Deleted, w.Value, w.Version, w.Deleted)
		}
	}
	sameKeys(t, r, want)
}

// sameKeys checks the live-key index against want: Keys lists exactly the
// keys whose winning write is a value, in key order, and LiveLen counts
// them.
func sameKeys(t *testing.T, r *Replica, want map[string]Entry) {
	t.Helper()
	var live []string
	for k, e := range want {
		if !e.Deleted {
			live = append(live, k)
		}
	}
	slices.Sort(live)
	if r.LiveLen() != len(live) {
		t.Fatalf("LiveLen = %d, want %d", r.LiveLen(), len(live))
	}
	keys, more := r.Keys(nil, len(live)+1)
	if more || fmt.Sprint(strs(keys)) != fmt.Sprint(live) {
		t.Fatalf("Keys(nil) = %q (more %v), want %q", keys, more, live)
	}
}

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// Keys walks the live keys in pages from any point, including a key that
// is not in the store, and a replica rebuilt from its entries (tombstones
// among them) indexes the same keys.
func TestReplica_Keys_Pages(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for round := 0; round < 30; round++ {
		writes := randomWrites(rng, 80, 3, 12)
		want := expected(writes)
		r := NewReplica(9, 9, nil, Meta{})
		for _, i := range rng.Perm(len(writes)) {
			r.Apply(writes[i])
		}
		sameKeys(t, r, want)
		sameKeys(t, NewReplica(9, 10, r.Snapshot(), r.Meta()), want)

		all, _ := r.Keys(nil, 1000)
		for limit := 1; limit <= 4; limit++ {
			var got [][]byte
			var from []byte
			for {
				page, more := r.Keys(from, limit)
				if len(page) > limit || (more && len(page) != limit) {
					t.Fatalf("Keys(%q, %d) = %q, more %v", from, limit, page, more)
				}
				got = append(got, page...)
				if !more {
					break
				}
				from = append(page[len(page)-1], 0)
			}
			if fmt.Sprint(strs(got)) != fmt.Sprint(strs(all)) {
				t.Fatalf("pages of %d = %q, want %q", limit, got, all)
			}
		}
		// From a key not in the store ("k5x" sorts between "k5" and "k6"),
		// or one that is: listed from there, that key included.
		for _, from := range []string{"k5x", "k5", "k50"} {
			page, _ := r.Keys([]byte(from), 1000)
			var want []string
			for _, k := range all {
				if string(k) >= from {
					want = append(want, string(k))
				}
			}
			if fmt.Sprint(strs(page)) != fmt.Sprint(want) {
				t.Fatalf("Keys(%q) = %q, want %q", from, page, want)
			}
		}
		if n, _ := r.Keys(nil, 0); n != nil {
			t.Fatalf("Keys(nil, 0) = %q", n)
		}
	}
}

func TestReplica_Apply_AnyOrderSameStore(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 50; round++ {
		writes := randomWrites(rng, 60, 4, 6)
		want := expected(writes)
		var digest uint64
		var seen Seen
		for trial := 0; trial < 10; trial++ {
			r := NewReplica(9, 9, nil, Meta{})
			order := rng.Perm(len(writes))
			for _, i := range order {
				r.Apply(writes[i])
				if rng.Intn(4) == 0 { // duplicates change nothing
					if r.Apply(writes[i]) {
						t.Fatalf("second Apply of %v reported it new", writes[i].Dot())
					}
				}
			}
			sameStore(t, r, want)
			if trial == 0 {
				digest, seen = r.Digest(), r.Seen()
			} else if r.Digest() != digest || !r.Seen().Equal(seen) {
				t.Fatalf("round %d: digest or seen differs between delivery orders", round)
			}
			if r.Seen().Count() != uint64(len(writes)) {
				t.Fatalf("seen counts %d writes, want %d", r.Seen().Count(), len(writes))
			}
		}
	}
}

func TestReplica_Put_OrderedAfterDependencyAndClock(t *testing.T) {
	r := NewReplica(1, 1, nil, Meta{})
	dep := Version{Wall: 5000, Logical: 7, Origin: 4}
	e := r.Put([]byte("k"), []byte("v"), dep, 10) // physical clock far behind
	if !dep.Less(e.Version) {
		t.Fatalf("put version %v not after its dependency %v", e.Version, dep)
	}
	e2 := r.Put([]byte("other"), []byte("v"), Version{}, 10)
	if !e.Version.Less(e2.Version) {
		t.Fatalf("second put %v not after first %v at the same replica", e2.Version, e.Version)
	}
	if e.Seq != 1 || e2.Seq != 2 {
		t.Fatalf("seqs %d, %d; want 1, 2", e.Seq, e2.Seq)
	}
}

func TestReplica_Get_Sessions(t *testing.T) {
	r := NewReplica(0, 0, nil, Meta{})
	if _, st := r.Get([]byte("k"), Version{}); st != NoKey {
		t.Fatalf("empty replica, no dependency: %v, want NoKey", st)
	}
	if _, st := r.Get([]byte("k"), Version{Wall: 1, Origin: 2}); st != Behind {
		t.Fatalf("empty replica, with dependency: %v, want Behind", st)
	}
	old := r.Put([]byte("k"), []byte("old"), Version{}, 100)
	newer := Version{Wall: 200, Origin: 3}
	if _, st := r.Get([]byte("k"), newer); st != Behind {
		t.Fatalf("older value than the dependency: %v, want Behind", st)
	}
	if e, st := r.Get([]byte("k"), old.Version); st != Found || string(e.Value) != "old" {
		t.Fatalf("value equal to the dependency: %v %q", st, e.Value)
	}
	r.Apply(Entry{Key: []byte("k"), Value: []byte("new"), Version: Version{Wall: 300, Origin: 4}, Seq: 1, Src: 4})
	if e, st := r.Get([]byte("k"), newer); st != Found || string(e.Value) != "new" {
		t.Fatalf("newer value than the dependency: %v %q, want Found new", st, e.Value)
	}
}

// A dependency is a whole version: a value that shares the dependency's
// wall time but comes before it by its logical counter or its origin is
// older, and a reader depending on the newer one is told the server is
// behind. (Two writes share a wall time whenever one server issues them
// within a clock tick, or skewed clocks meet.)
func TestReplica_Get_DependencyComparesWholeVersion(t *testing.T) {
	for _, tc := range []struct{ held, dep Version }{
		{Version{Wall: 500, Logical: 1, Origin: 9}, Version{Wall: 500, Logical: 2, Origin: 1}},
		{Version{Wall: 500, Logical: 3, Origin: 1}, Version{Wall: 500, Logical: 3, Origin: 2}},
	} {
		r := NewReplica(0, 0, nil, Meta{})
		r.Apply(Entry{Key: []byte("k"), Value: []byte("older"), Version: tc.held, Seq: 1, Src: 7})
		if e, st := r.Get([]byte("k"), tc.dep); st != Behind {
			t.Errorf("holding %v, reader depends on %v: %v %q, want Behind", tc.held, tc.dep, st, e.Value)
		}
		if _, st := r.Get([]byte("k"), tc.held); st != Found {
			t.Errorf("holding %v, reader depends on it: %v, want Found", tc.held, st)
		}
	}
}

func TestReplica_Delta_ThenMerge_EqualsSender(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for round := 0; round < 100; round++ {
		writes := randomWrites(rng, 80, 4, 5)
		a, b := NewReplica(7, 7, nil, Meta{}), NewReplica(8, 8, nil, Meta{})
		for _, e := range writes {
			if rng.Intn(3) != 0 {
				a.Apply(e)
			}
			if rng.Intn(3) == 0 {
				b.Apply(e)
			}
		}
		// Deltas bounded to a few entries each, as over a slow link.
		for i := 0; ; i++ {
			entries, complete := a.Delta(b.Seen(), 20)
			for _, e := range entries {
				b.Apply(e)
			}
			if complete {
				b.Merge(a.Seen())
				break
			}
			if i > 1000 {
				t.Fatal("delta never completes")
			}
		}
		if !b.Seen().Covers(a.Seen()) {
			t.Fatalf("round %d: after delta+merge b does not cover a", round)
		}
		// b's store is a's plus whatever b alone held, resolved by the order.
		var held []Entry
		for _, e := range writes {
			if b.Seen().Contains(e.Dot()) {
				held = append(held, e)
			}
		}
		sameStore(t, b, expected(held))
	}
}

func TestReplica_Recover_FromCommittedState(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	writes := randomWrites(rng, 50, 3, 8)
	r := NewReplica(1, 1, nil, Meta{})
	var committed []Entry
	for _, e := range writes {
		r.Apply(e)
	}
	dirty, changed := r.TakeDirty()
	if !changed {
		t.Fatal("TakeDirty reports no change after applies")
	}
	committed = append(committed, dirty...)
	again := NewReplica(1, NewSrc(1), committed, r.Meta())
	if again.Digest() != r.Digest() || !again.Seen().Equal(r.Seen()) {
		t.Fatal("recovered replica differs from the one that committed")
	}
	// The recovered clock is not behind anything it holds.
	e := again.Put([]byte("k0"), []byte("x"), Version{}, 0)
	for _, w := range writes {
		if !w.Version.Less(e.Version) {
			t.Fatalf("put after recovery %v not after held %v", e.Version, w.Version)
		}
	}
}

// Two writes that share a version (a server restarted from a disk that
// went back in time, its clock behind, under a new replica id) are ordered
// by their dots: every delivery order keeps the same one, and the digest,
// which covers values, tells stores that kept different ones apart.
func TestReplica_Apply_EqualVersionsOrderedByDot(t *testing.T) {
	v := Version{Wall: 100, Origin: 3}
	a := Entry{Key: []byte("k"), Value: []byte("before the rollback"), Version: v, Seq: 7, Src: 1<<63 | 1}
	b := Entry{Key: []byte("k"), Value: []byte("after the rollback"), Version: v, Seq: 1, Src: 1<<63 | 2}
	ab, ba := NewReplica(0, 10, nil, Meta{}), NewReplica(1, 11, nil, Meta{})
	ab.Apply(a)
	ab.Apply(b)
	ba.Apply(b)
	ba.Apply(a)
	for _, r := range []*Replica{ab, ba} {
		if e, _ := r.Get([]byte("k"), Version{}); string(e.Value) != string(b.Value) {
			t.Fatalf("replica %d kept %q, want %q (the greater dot)", r.ID(), e.Value, b.Value)
		}
	}
	if ab.Digest() != ba.Digest() {
		t.Fatal("equal stores, different digests")
	}
	only := NewReplica(2, 12, nil, Meta{})
	only.Apply(a)
	if only.Digest() == ab.Digest() {
		t.Fatal("stores holding different values under one version have equal digests")
	}
}

// Writes of this server's earlier lives that arrive from a peer are ones
// its disk lost: they are counted, once each, and nothing else is.
func TestReplica_TakeRecovered(t *testing.T) {
	old := NewReplica(4, 1<<63|1, nil, Meta{})
	lost := old.Put([]byte("k"), []byte("acknowledged, then lost"), Version{}, 100)
	kept := old.Put([]byte("j"), []byte("kept"), Version{}, 101)

	// Restarted from a disk that kept only the second write.
	r := NewReplica(4, 1<<63|2, []Entry{kept}, Meta{Seen: Seen{Extra: []Dot{kept.Dot()}}})
	r.Put([]byte("new"), []byte("own, this life"), Version{}, 200)
	other := Entry{Key: []byte("x"), Value: []byte("y"), Version: Version{Wall: 150, Origin: 5}, Seq: 1, Src: 9}
	for _, e := range []Entry{kept, other, lost, lost} {
		r.Apply(e)
	}
	if n := r.TakeRecovered(); n != 1 {
		t.Fatalf("TakeRecovered = %d, want 1 (the lost write, once)", n)
	}
	if n := r.TakeRecovered(); n != 0 {
		t.Fatalf("second TakeRecovered = %d, want 0", n)
	}
}

// A tombstone reads as no key to a reader it satisfies, with its version
// (reading a deletion is a read: the reader now depends on it), and as
// behind to a reader that depends on a newer write; a put after it wins.
func TestReplica_Delete_ReadsAsNoKey(t *testing.T) {
	r := NewReplica(0, 0, nil, Meta{})
	put := r.Put([]byte("k"), []byte("v"), Version{}, 100)
	del := r.Delete([]byte("k"), put.Version, 100)
	if !put.Version.Less(del.Version) || !del.Deleted || len(del.Value) != 0 {
		t.Fatalf("delete %+v not a tombstone after the put %v", del, put.Version)
	}
	for _, dep := range []Version{{}, put.Version, del.Version} {
		if e, st := r.Get([]byte("k"), dep); st != NoKey || e.Version != del.Version {
			t.Fatalf("get with dep %v: %v %v, want NoKey at the tombstone's version %v", dep, st, e.Version, del.Version)
		}
	}
	if _, st := r.Get([]byte("k"), Version{Wall: 500, Origin: 1}); st != Behind {
		t.Fatalf("get with a newer dep: %v, want Behind", st)
	}
	again := r.Put([]byte("k"), []byte("back"), del.Version, 100)
	if e, st := r.Get([]byte("k"), del.Version); st != Found || string(e.Value) != "back" || !del.Version.Less(again.Version) {
		t.Fatalf("put after the delete: %v %q", st, e.Value)
	}
	// A replica that missed the delete but holds the put converges on the
	// tombstone, and a store with the tombstone differs from one without.
	other := NewReplica(1, 1, nil, Meta{})
	other.Apply(put)
	if other.Digest() == NewReplica(2, 2, []Entry{put, del}[1:], Meta{}).Digest() {
		t.Fatal("a store with the value and one with the tombstone have equal digests")
	}
	other.Apply(del)
	if e, st := other.Get([]byte("k"), put.Version); st != NoKey || e.Version != del.Version {
		t.Fatalf("after the tombstone arrived: %v %v", st, e.Version)
	}
}
