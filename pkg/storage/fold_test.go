package storage

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"gossipkv/pkg/model"
)

// fold against the plain definition (every logged entry in turn, stored
// where newer than what its key holds) on random logs with repeated keys:
// the same store and meta, with one look-up and at most one store per
// distinct key.
func TestFold_SameAsEntryByEntry(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 1))
		keys := 1 + rng.IntN(8)
		entry := func() model.Entry {
			return model.Entry{
				Key:     []byte(fmt.Sprint("k", rng.IntN(keys))),
				Value:   []byte(fmt.Sprint(rng.Uint32())),
				Version: model.Version{Wall: int64(rng.IntN(6)), Origin: uint32(rng.IntN(2))},
				Seq:     1 + uint64(rng.IntN(4)),
				Src:     uint64(rng.IntN(2)),
			}
		}
		stored := map[string]model.Entry{}
		for range rng.IntN(keys + 1) {
			e := entry()
			stored[string(e.Key)] = e
		}
		var logged []logRecord
		for range rng.IntN(4) {
			var rec logRecord
			for range rng.IntN(6) {
				rec.entries = append(rec.entries, entry())
			}
			logged = append(logged, rec)
		}

		want := cloneStore(stored)
		var wantMeta model.Meta
		for _, rec := range logged {
			for _, e := range rec.entries {
				wantMeta.Seen.Add(e.Dot())
				if c, ok := want[string(e.Key)]; !ok || c.Less(e) {
					want[string(e.Key)] = e
				}
			}
		}

		got := cloneStore(stored)
		looked, puts := map[string]int{}, map[string]int{}
		var meta model.Meta
		fold(&meta, logged,
			func(key []byte) (model.Entry, bool) { looked[string(key)]++; e, ok := got[string(key)]; return e, ok },
			func(e model.Entry) { puts[string(e.Key)]++; got[string(e.Key)] = e })
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: fold stored %v, want %v", seed, got, want)
		}
		if meta.Seen.String() != wantMeta.Seen.String() {
			t.Fatalf("seed %d: fold's seen %v, want %v", seed, meta.Seen, wantMeta.Seen)
		}
		for k, n := range looked {
			if n != 1 || puts[k] > 1 {
				t.Fatalf("seed %d: key %s looked up %d times, stored %d times; want once, at most once", seed, k, n, puts[k])
			}
		}
	}
}

func cloneStore(m map[string]model.Entry) map[string]model.Entry {
	out := make(map[string]model.Entry, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// commitState with a stable point against the plain definition (each
// logged entry stored where newer, then every written key's tombstone at
// or below the point dropped): the same store, reading each key at most
// once.
func TestCommitState_ReadsEachKeyOnce(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 2))
		keys := 1 + rng.IntN(6)
		entry := func() model.Entry {
			e := model.Entry{
				Key:     []byte(fmt.Sprint("k", rng.IntN(keys))),
				Version: model.Version{Wall: 1 + int64(rng.IntN(8)), Origin: 1},
				Seq:     1 + uint64(rng.IntN(1000)),
				Src:     5,
			}
			if e.Deleted = rng.IntN(3) == 0; !e.Deleted {
				e.Value = []byte(fmt.Sprint(rng.Uint32()))
			}
			return e
		}
		stored := map[string]model.Entry{}
		for range rng.IntN(keys + 1) {
			e := entry()
			stored[string(e.Key)] = e
		}
		var logged []logRecord
		for range 1 + rng.IntN(3) {
			var rec logRecord
			for range rng.IntN(6) {
				rec.entries = append(rec.entries, entry())
			}
			logged = append(logged, rec)
		}
		stable := model.Stable{Version: model.Version{Wall: 1 + int64(rng.IntN(8)), Origin: 1}}
		logged[len(logged)-1].stable = stable

		want := cloneStore(stored)
		for _, rec := range logged {
			for _, e := range rec.entries {
				if c, ok := want[string(e.Key)]; !ok || c.Less(e) {
					want[string(e.Key)] = e
				}
			}
		}
		for _, rec := range logged {
			for _, e := range rec.entries {
				if c, ok := want[string(e.Key)]; ok && collectable(c, stable) {
					delete(want, string(e.Key))
				}
			}
		}

		got := cloneStore(stored)
		reads := map[string]int{}
		commitState(model.Meta{}, nil, nil, logged,
			func(key []byte) (model.Entry, bool) { reads[string(key)]++; e, ok := got[string(key)]; return e, ok },
			func(e model.Entry) { got[string(e.Key)] = e },
			func(key []byte) { delete(got, string(key)) })
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: store %v, want %v", seed, got, want)
		}
		for k, n := range reads {
			if n > 1 {
				t.Fatalf("seed %d: key %s read %d times, want once", seed, k, n)
			}
		}
	}
}
