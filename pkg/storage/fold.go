package storage

import (
	"slices"

	"gossipkv/pkg/model"
)

// commitState is what a Commit (caller not nil) or a Checkpoint makes of
// the stored state: the caller's entries, then the logged ones, each where
// it is newer than what the key holds, and the stored meta with the
// caller's and the logged writes added (the caller's clock where newer).
// Nothing goes back: a caller whose snapshot predates writes that an
// earlier Commit folded in from the log leaves them whole.
//
// The caller's stable point is taken where newer, and then every tombstone
// at or below the stable point among the keys written is dropped (del): a
// replica that collects tombstones passes them in entries, and a tombstone
// logged before the point is dropped as its record is folded.
//
// What each key holds is read once: a key's entry as read or as written
// since is remembered, so that the tombstone check after the fold, which
// runs for every key written once there is a stable point, reads nothing
// again.
func commitState(stored model.Meta, caller *model.Meta, entries []model.Entry, logged []logRecord, cur func(key []byte) (model.Entry, bool), put func(model.Entry), del func(key []byte)) model.Meta {
	kc := keyCache{cur: cur, put: put, del: del, known: map[string]held{}}
	cur, put, del = kc.get, kc.set, kc.remove
	meta := stored
	meta.Seen = stored.Seen.Clone()
	if caller != nil {
		for _, e := range entries {
			putIfNewer(e, cur, put)
		}
		meta.Seen.Union(caller.Seen)
		meta.Clock = model.Max(meta.Clock, caller.Clock)
		if meta.Stable.Version.Less(caller.Stable.Version) {
			meta.Stable = caller.Stable.Clone()
		}
		meta.Members = unionSorted(meta.Members, caller.Members)
	}
	fold(&meta, logged, cur, put)
	if meta.Stable.IsZero() {
		return meta
	}
	collect := func(key []byte) {
		if c, ok := cur(key); ok && c.Deleted && collectable(c, meta.Stable) {
			del(key)
		}
	}
	for _, e := range entries {
		collect(e.Key)
	}
	for _, rec := range logged {
		for _, e := range rec.entries {
			collect(e.Key)
		}
	}
	return meta
}

// keyCache remembers what each key holds as it is read or written through
// it.
type keyCache struct {
	cur   func(key []byte) (model.Entry, bool)
	put   func(model.Entry)
	del   func(key []byte)
	known map[string]held
}

type held struct {
	e  model.Entry
	ok bool
}

func (kc *keyCache) get(key []byte) (model.Entry, bool) {
	if h, found := kc.known[string(key)]; found {
		return h.e, h.ok
	}
	e, ok := kc.cur(key)
	kc.known[string(key)] = held{e, ok}
	return e, ok
}

func (kc *keyCache) set(e model.Entry) {
	kc.put(e)
	kc.known[string(e.Key)] = held{e, true}
}

func (kc *keyCache) remove(key []byte) {
	kc.del(key)
	kc.known[string(key)] = held{}
}

// unionSorted merges two sorted lists of ids into a new one.
func unionSorted(a, b []uint32) []uint32 {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// collectable says whether e is a tombstone at or below the stable point s,
// which a backend drops rather than keeps.
func collectable(e model.Entry, s model.Stable) bool {
	return e.Deleted && !s.IsZero() && !s.Version.Less(e.Version)
}

// dropCollected removes from entries the tombstones at or below s, in
// place: what Load returns holds none (a crash may have come between the
// commit that took s and the one that removed them from the file).
func dropCollected(entries []model.Entry, s model.Stable) []model.Entry {
	return slices.DeleteFunc(entries, func(e model.Entry) bool { return collectable(e, s) })
}

// fold applies logged records to a loaded state: each record's seen set and
// each entry's dot join meta.Seen, and an entry replaces the key's when its
// version is newer. cur returns the version a key holds, put stores an
// entry. Folding a log twice changes nothing the second time (versions
// decide, not dots: the meta may already hold the dots of logged writes
// whose entries the file does not, see Bolt.Commit), so a crash between a
// Commit and the log's truncation is harmless.
//
// Only the newest of a key's logged entries is looked up and stored: the
// others could not win against it, and in a checkpoint each look-up reads
// and checks a record and each store rewrites one.
func fold(meta *model.Meta, logged []logRecord, cur func(key []byte) (model.Entry, bool), put func(model.Entry)) {
	n := 0
	for _, rec := range logged {
		meta.Seen.Union(rec.seen)
		if meta.Stable.Version.Less(rec.stable.Version) {
			meta.Stable = rec.stable.Clone()
		}
		meta.Members = unionSorted(meta.Members, rec.members)
		for _, e := range rec.entries {
			meta.Seen.Add(e.Dot())
		}
		n += len(rec.entries)
	}
	for _, e := range newestPerKey(logged, n) {
		putIfNewer(e, cur, put)
	}
}

// newestPerKey lists the newest of the logged entries of each key, in the
// order the keys first appear; n is how many entries there are in all.
func newestPerKey(logged []logRecord, n int) []model.Entry {
	out := make([]model.Entry, 0, n)
	at := make(map[string]int, n)
	for _, rec := range logged {
		for _, e := range rec.entries {
			i, ok := at[string(e.Key)]
			switch {
			case !ok:
				at[string(e.Key)] = len(out)
				out = append(out, e)
			case out[i].Less(e):
				out[i] = e
			}
		}
	}
	return out
}

// putIfNewer stores e unless its key holds an entry at least as new.
func putIfNewer(e model.Entry, cur func(key []byte) (model.Entry, bool), put func(model.Entry)) {
	if c, ok := cur(e.Key); !ok || c.Less(e) {
		put(e)
	}
}

// foldInto folds logged records into a loaded list of entries.
func foldInto(meta *model.Meta, entries []model.Entry, logged []logRecord) []model.Entry {
	if len(logged) == 0 {
		return entries
	}
	at := make(map[string]int, len(entries))
	for i, e := range entries {
		at[string(e.Key)] = i
	}
	cur := func(key []byte) (model.Entry, bool) {
		i, ok := at[string(key)]
		if !ok {
			return model.Entry{}, false
		}
		return entries[i], true
	}
	put := func(e model.Entry) {
		e = cloneEntry(e) // the caller may keep what Load returns
		if i, ok := at[string(e.Key)]; ok {
			entries[i] = e
			return
		}
		at[string(e.Key)] = len(entries)
		entries = append(entries, e)
	}
	fold(meta, logged, cur, put)
	return entries
}

// newRecord copies what a Log call is given.
func newRecord(entries []model.Entry, meta model.Meta) logRecord {
	rec := logRecord{seen: meta.Seen.Clone(), stable: meta.Stable.Clone(), members: slices.Clone(meta.Members), entries: make([]model.Entry, len(entries))}
	for i, e := range entries {
		rec.entries[i] = cloneEntry(e)
	}
	return rec
}
