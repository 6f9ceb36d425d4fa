package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"slices"
	"sort"

	"github.com/google/btree"
)

// GetStatus is the outcome of a read against a replica.
type GetStatus int

const (
	// Found: the replica's value satisfies the reader's dependency.
	Found GetStatus = iota
	// NoKey: no value, and the reader depends on none.
	NoKey
	// Behind: the replica has not seen the write the reader depends on.
	Behind
)

// Replica is one server's data: the store (the winning entry of each key),
// the set of writes it holds, and its hybrid logical clock. It is pure: time
// comes in as arguments, nothing touches disk or network, and it is not safe
// for concurrent use (one goroutine owns it).
//
// Apply is idempotent and commutative: any delivery order of the same writes,
// with any duplicates, leaves the same store.
type Replica struct {
	id    uint32
	src   uint64 // names our writes' dots: see NewSrc
	store map[string]Entry
	// live holds, in key order, the keys of store whose entry is a value
	// (not a tombstone): what Keys lists and LiveLen counts, without
	// sorting the store each time or copying values.
	live *btree.BTreeG[string]
	// servers maps the replica ids seen in entries to their servers: whose
	// shortest-path tree a dot travels along.
	servers map[uint64]uint32
	seen    Seen
	clock   Version
	// digest is the XOR of entryHash over the store, kept as entries change,
	// so that equal stores can be recognised without scanning them.
	digest uint64
	// dirty lists the keys changed since the last TakeDirty, and metaDirty
	// says whether seen or clock changed: what the next commit must write.
	dirty     map[string]struct{}
	metaDirty bool
	// recovered counts, since the last TakeRecovered, the writes of this
	// server's earlier lives that arrived from peers: writes its disk had
	// lost (see Apply).
	recovered int
	// stable is the cluster's stable point this replica has taken (see
	// Collect): no tombstone at or below stable.Version is in the store.
	// tombs holds the keys whose entry is a tombstone, the candidates of
	// the next collection; collected, the tombstones dropped since the
	// last TakeDirty, which the next commit removes from disk.
	stable    Stable
	tombs     map[string]struct{}
	collected []Entry
	// rebased is the stable version this replica was cut back to (see
	// Rebase): its store was rebuilt from peers above it, so a stable
	// point not above it does not call for another rebase.
	rebased Version
	// members is every server heard of, sorted (see Meta.Members).
	members []uint32
}

// NewReplica builds the replica of server id from its recovered state (nil
// entries and a zero Meta for a new one). src names the writes it issues
// from now on: a fresh one each time a server builds its replica from disk
// (see NewSrc).
func NewReplica(id uint32, src uint64, entries []Entry, meta Meta) *Replica {
	r := &Replica{
		id:      id,
		src:     src,
		servers: map[uint64]uint32{src: id},
		store:   make(map[string]Entry, len(entries)),
		live:    btree.NewOrderedG[string](liveDegree),
		seen:    meta.Seen.Clone(),
		clock:   meta.Clock,
		stable:  meta.Stable.Clone(),
		members: slices.Clone(meta.Members),
		dirty:   map[string]struct{}{},
		tombs:   map[string]struct{}{},
	}
	// Every write issued from now on must be above the stable point:
	// one below it could lose, on servers that collected its key's
	// tombstone, to nothing (its version is older than the delete's).
	r.clock = maxClock(r.clock, meta.Stable.Version)
	r.AddMember(id)
	r.metaDirty = false
	for _, e := range entries {
		if e.Deleted && !meta.Stable.Version.Less(e.Version) {
			continue // collected: the disk may not have dropped it yet
		}
		r.servers[e.Src] = e.Version.Origin
		r.store[string(e.Key)] = e
		r.digest ^= entryHash(e)
		r.clock = maxClock(r.clock, e.Version)
	}
	for k, e := range r.store {
		if e.Deleted {
			r.tombs[k] = struct{}{}
		} else {
			r.live.ReplaceOrInsert(k)
		}
	}
	return r
}

// liveDegree is the B-tree's degree: nodes of up to 63 keys, a few cache
// lines of string headers each.
const liveDegree = 32

// ID is the server id of the replica.
func (r *Replica) ID() uint32 { return r.id }

// Put issues a new write of key at this replica. dep is the newest version of
// key the writing client depends on; the write is ordered after it and after
// everything the replica has seen. now is the physical time in nanoseconds.
func (r *Replica) Put(key, value []byte, dep Version, now int64) Entry {
	return r.issue(Entry{Key: clone(key), Value: clone(value)}, dep, now)
}

// Delete issues a delete of key: a tombstone, ordered like a put.
func (r *Replica) Delete(key []byte, dep Version, now int64) Entry {
	return r.issue(Entry{Key: clone(key), Value: []byte{}, Deleted: true}, dep, now)
}

// issue gives e a version and this replica's next dot, and applies it.
func (r *Replica) issue(e Entry, dep Version, now int64) Entry {
	e.Version = Tick(maxClock(r.clock, dep), now, r.id)
	// Our own writes come back only as copies of what we issued, so the
	// prefix is all of them.
	e.Seq, e.Src = r.seen.Prefix.Get(r.src)+1, r.src
	if !r.Apply(e) {
		panic(fmt.Sprintf("model: replica %d issued dot %v twice", r.id, e.Dot()))
	}
	return e
}

// ServerOf returns the server whose replica src is, if any entry of it
// was ever applied here.
func (r *Replica) ServerOf(src uint64) (uint32, bool) {
	s, ok := r.servers[src]
	return s, ok
}

// Src is the replica id that names this replica's writes.
func (r *Replica) Src() uint64 { return r.src }

// Apply merges a write from anywhere and reports whether the replica had not
// held it before. A write older than the key's current one is recorded as
// held (its dot joins the seen set) but changes nothing in the store.
//
// A write this server issued in an earlier life (its id, another replica
// id) that it did not hold is one its disk lost after acknowledging it, or
// never had (a data directory restored from an older copy, a corrupt
// record, a wiped directory): it counts as recovered.
func (r *Replica) Apply(e Entry) bool {
	if !r.seen.Add(e.Dot()) {
		return false
	}
	if e.Version.Origin == r.id && e.Src != r.src {
		r.recovered++
	}
	r.metaDirty = true
	r.clock = maxClock(r.clock, e.Version)
	r.servers[e.Src] = e.Version.Origin
	k := string(e.Key)
	cur, ok := r.store[k]
	if ok && !cur.Less(e) {
		return true
	}
	if ok {
		r.digest ^= entryHash(cur)
	}
	switch wasLive := ok && !cur.Deleted; {
	case !e.Deleted && !wasLive:
		r.live.ReplaceOrInsert(k)
	case e.Deleted && wasLive:
		r.live.Delete(k)
	}
	if e.Deleted {
		r.tombs[k] = struct{}{}
	} else {
		delete(r.tombs, k)
	}
	r.store[k] = e
	r.digest ^= entryHash(e)
	r.dirty[k] = struct{}{}
	return true
}

// TakeRecovered returns how many writes of this server's earlier lives it
// took back from peers since the last call (see Apply).
func (r *Replica) TakeRecovered() int {
	n := r.recovered
	r.recovered = 0
	return n
}

// Merge adds the writes of s to the held set. It is only sound after the
// replica has applied every entry that the sender of s held and the replica
// lacked (see Delta): the store then already reflects every write in s.
func (r *Replica) Merge(s Seen) {
	if r.seen.Covers(s) {
		return
	}
	r.seen.Union(s)
	r.metaDirty = true
}

// Get reads key for a client that depends on dep (zero: no dependency). A
// write at least as new as dep in the conflict order satisfies both Read
// Your Writes and Monotonic Reads: a value (Found), or a tombstone (NoKey,
// with the tombstone, whose version the reader then depends on: reading a
// deletion is a read too). An older write, or none while the reader
// depends on the key, means the replica is behind. (Dependencies are
// versions, so of two writes that share one, which only a server restarted
// from a disk that went back in time with its clock stepped back can
// issue, either satisfies the other's reader.)
//
// A key with no entry while the reader depends on a version at or below
// the stable point was deleted there and the tombstone collected: every
// write of it up to that point is held here, and the newest was a delete.
// That is NoKey too, with no version (see Stable).
func (r *Replica) Get(key []byte, dep Version) (Entry, GetStatus) {
	e, ok := r.store[string(key)]
	switch {
	case ok && !e.Version.Less(dep) && e.Deleted:
		return e, NoKey
	case ok && !e.Version.Less(dep):
		return e, Found
	case !ok && (dep.IsZero() || !r.stable.Version.Less(dep)):
		return Entry{}, NoKey
	}
	return Entry{}, Behind
}

// AddMember records that server id is part of the cluster.
func (r *Replica) AddMember(id uint32) {
	i, found := slices.BinarySearch(r.members, id)
	if !found {
		r.members = slices.Insert(r.members, i, id)
		r.metaDirty = true
	}
}

// Members lists every server of the cluster heard of, sorted. The caller
// must not modify it.
func (r *Replica) Members() []uint32 { return r.members }

// Stable is the stable point this replica has taken: tombstones at or
// below its version are collected. The caller must not modify it.
func (r *Replica) Stable() Stable { return r.stable }

// Collect takes the stable point p, if it is newer than the one held and
// this replica holds every write p covers, and drops the tombstones at or
// below it. It reports how many it dropped and whether p is taken (or
// was already). A replica that lacks part of p.Cover cannot take it yet:
// it lacks writes that are at or below p.Version (they come from peers),
// or, after its disk went back in time, it may hold values that a
// tombstone collected elsewhere had superseded (see Outdated).
func (r *Replica) Collect(p Stable) (dropped int, taken bool) {
	if !r.stable.Version.Less(p.Version) {
		return 0, true
	}
	if !r.seen.Covers(p.Cover) {
		return 0, false
	}
	r.stable = p.Clone()
	r.metaDirty = true
	for k := range r.tombs {
		e := r.store[k]
		if p.Version.Less(e.Version) {
			continue
		}
		delete(r.store, k)
		delete(r.tombs, k)
		delete(r.dirty, k)
		r.digest ^= entryHash(e)
		r.collected = append(r.collected, e)
		dropped++
	}
	return dropped, true
}

// Outdated reports whether this replica must be rebased before it can take
// the stable point p: it lacks writes p covers, which every server held
// when p was taken, and holds entries at or below p.Version. Its disk
// went back in time (a directory restored from an older copy, a lost
// log) past a point where the cluster may have collected tombstones: an
// entry at or below p.Version may be a value whose delete is gone
// everywhere else, and nothing would ever tell it so.
func (r *Replica) Outdated(p Stable) bool {
	if !r.rebased.Less(p.Version) || !r.stable.Version.Less(p.Version) || r.seen.Covers(p.Cover) {
		return false
	}
	for _, e := range r.store {
		if belowStable(e, p) {
			return true
		}
	}
	return false
}

// belowStable says whether e is one of the writes that every server held
// when the stable point p was made: at or below its version and in its
// cover. Only such an entry can be a value a collected delete superseded;
// a write at or below the version that the cover lacks is one no other
// server ever held, which a rebase must keep.
func belowStable(e Entry, p Stable) bool {
	return !p.Version.Less(e.Version) && p.Cover.Contains(e.Dot())
}

// Rebase returns what an outdated replica keeps (see Outdated): its
// entries but those every server held at p (see belowStable), the set of
// exactly their writes, its clock and its members. Everything at or below p.Version is held by every
// other server, which send back what is still live; keeping none of it
// here is what keeps a value whose tombstone was collected from coming
// back. The caller makes it durable and builds a replica of it under a
// new replica id (its peers must forget what they knew this one held),
// then calls SetRebased on it.
//
// The rebased replica has no stable point: it lacks, until its peers have
// refilled it, writes below any point it took before, so it must answer a
// reader that depends on one of them Behind, not NoKey. It takes p once it
// holds p's cover again.
func (r *Replica) Rebase(p Stable) (kept []Entry, meta Meta) {
	meta = Meta{Clock: r.clock, Members: slices.Clone(r.members)}
	for _, e := range r.store {
		if !belowStable(e, p) {
			kept = append(kept, e)
			meta.Seen.Add(e.Dot())
		}
	}
	sort.Slice(kept, func(i, j int) bool { return bytes.Compare(kept[i].Key, kept[j].Key) < 0 })
	return kept, meta
}

// SetRebased records that this replica was rebuilt by Rebase for a stable
// point at version v.
func (r *Replica) SetRebased(v Version) { r.rebased = v }

// Delta returns the entries a peer holding the set peer lacks, in dot order,
// at most maxBytes of keys and values (at least one entry when any is
// missing). complete says whether that is all of them: only then may the
// peer Merge this replica's seen set after applying them.
//
// Entries superseded in this store are not sent: the newer entry of the same
// key is, or the peer already holds it, and either way the peer's store ends
// as if it had applied the older write.
func (r *Replica) Delta(peer Seen, maxBytes int) (entries []Entry, complete bool) {
	for _, e := range r.store {
		if !peer.Contains(e.Dot()) {
			entries = append(entries, e)
		}
	}
	sort.Slice(entries, func(i, j int) bool { return dotLess(entries[i].Dot(), entries[j].Dot()) })
	size := 0
	for i, e := range entries {
		size += e.Size()
		if size > maxBytes && i > 0 {
			return entries[:i], false
		}
	}
	return entries, true
}

// Clock is the replica's hybrid logical clock: the newest version it has
// seen. Every write it issues from now on is above it.
func (r *Replica) Clock() Version { return r.clock }

// Seen returns the set of writes held. The caller must not modify it.
func (r *Replica) Seen() Seen { return r.seen }

// Meta returns the recovery state to persist with the store.
func (r *Replica) Meta() Meta {
	return Meta{Seen: r.seen.Clone(), Clock: r.clock, Stable: r.stable.Clone(), Members: slices.Clone(r.members)}
}

// Digest identifies the store's contents: equal stores have equal digests.
func (r *Replica) Digest() uint64 { return r.digest }

// Len is the number of keys, tombstones included.
func (r *Replica) Len() int { return len(r.store) }

// LiveLen is the number of keys with a value: Len less the tombstones.
func (r *Replica) LiveLen() int { return r.live.Len() }

// Keys returns, in key-byte order, up to limit keys from the key from on
// (itself included; nil: from the first), leaving out deleted keys, and
// whether more follow. The keys are copies; values are not read. Listing
// from just after the last key seen (that key with a 0 byte appended, the
// next possible key) walks the store in pages while it changes: a key
// present the whole time is listed exactly once.
func (r *Replica) Keys(from []byte, limit int) (keys [][]byte, more bool) {
	if limit <= 0 {
		return nil, r.live.Len() > 0
	}
	r.live.AscendGreaterOrEqual(string(from), func(k string) bool {
		if len(keys) == limit {
			more = true
			return false
		}
		keys = append(keys, []byte(k))
		return true
	})
	return keys, more
}

// Dirty reports whether anything changed since the last TakeDirty.
func (r *Replica) Dirty() bool { return r.metaDirty || len(r.dirty) > 0 || len(r.collected) > 0 }

// TakeDirty returns the entries changed since the last call and whether the
// meta changed, and forgets them: what the next commit must write. The
// tombstones collected since (see Collect) come too, after the changed
// entries: the stable point in the meta says they are to be dropped, and
// a backend drops them (and any older record of their keys).
func (r *Replica) TakeDirty() (entries []Entry, metaChanged bool) {
	for k := range r.dirty {
		entries = append(entries, r.store[k])
	}
	entries = append(entries, r.collected...)
	clear(r.dirty)
	r.collected = nil
	metaChanged = r.metaDirty || len(entries) > 0
	r.metaDirty = false
	return entries, metaChanged
}

// Snapshot returns the store sorted by key bytes, tombstones included.
func (r *Replica) Snapshot() []Entry {
	out := make([]Entry, 0, len(r.store))
	for _, e := range r.store {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out
}

// maxClock is the newer of the clock and v ignoring origin: the clock only
// tracks time, the origin of a new version is always the issuing replica.
func maxClock(c, v Version) Version {
	if v.Wall > c.Wall || (v.Wall == c.Wall && v.Logical > c.Logical) {
		return Version{Wall: v.Wall, Logical: v.Logical}
	}
	return c
}

// entryHash hashes what makes two stores equal: key, version and value. A
// version names one write, so in a sound cluster it stands for the value;
// the value is hashed all the same (CRC-32C, which the CPU computes at
// several bytes a cycle), so that a value damaged on one server (a rotten
// disk, a bug) makes its store differ from its peers' instead of hiding
// behind an equal version.
func entryHash(e Entry) uint64 {
	h := fnv.New64a()
	var b [8 + 8 + 4 + 4 + 4]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(len(e.Key)))
	binary.LittleEndian.PutUint64(b[8:], uint64(e.Version.Wall))
	binary.LittleEndian.PutUint32(b[16:], e.Version.Logical)
	binary.LittleEndian.PutUint32(b[20:], e.Version.Origin)
	sum := crc32.Checksum(e.Value, castagnoli)
	if e.Deleted {
		sum = ^sum // a tombstone is not the empty value
	}
	binary.LittleEndian.PutUint32(b[24:], sum)
	h.Write(b[:])
	h.Write(e.Key)
	return h.Sum64()
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func clone(b []byte) []byte { return append([]byte{}, b...) }
