package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/fnv"
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
		dirty:   map[string]struct{}{},
	}
	for _, e := range entries {
		r.servers[e.Src] = e.Version.Origin
		r.store[string(e.Key)] = e
		r.digest ^= entryHash(e)
		r.clock = maxClock(r.clock, e.Version)
	}
	for k, e := range r.store {
		if !e.Deleted {
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
func (r *Replica) Get(key []byte, dep Version) (Entry, GetStatus) {
	e, ok := r.store[string(key)]
	switch {
	case ok && !e.Version.Less(dep) && e.Deleted:
		return e, NoKey
	case ok && !e.Version.Less(dep):
		return e, Found
	case !ok && dep.IsZero():
		return Entry{}, NoKey
	}
	return Entry{}, Behind
}

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

// Seen returns the set of writes held. The caller must not modify it.
func (r *Replica) Seen() Seen { return r.seen }

// Meta returns the recovery state to persist with the store.
func (r *Replica) Meta() Meta { return Meta{Seen: r.seen.Clone(), Clock: r.clock} }

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
func (r *Replica) Dirty() bool { return r.metaDirty || len(r.dirty) > 0 }

// TakeDirty returns the entries changed since the last call and whether the
// meta changed, and forgets them: what the next commit must write.
func (r *Replica) TakeDirty() (entries []Entry, metaChanged bool) {
	for k := range r.dirty {
		entries = append(entries, r.store[k])
	}
	clear(r.dirty)
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
