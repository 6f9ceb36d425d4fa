package model

// Entry is a write as it is stored, replicated and logged: the key's value
// at Version, issued as write number Seq of replica Src (a life of server
// Version.Origin). A server's store keeps, per key, the entry with the
// greatest Version. Deleted marks a delete: a tombstone with no value,
// which wins and loses against puts exactly as a put would, so that a
// deleted value cannot come back from a server that missed the delete.
type Entry struct {
	Key     []byte  `msgpack:"k"`
	Value   []byte  `msgpack:"v"`
	Version Version `msgpack:"t"`
	Seq     uint64  `msgpack:"s"`
	Src     uint64  `msgpack:"r"`
	Deleted bool    `msgpack:"d,omitempty"`
}

// Dot names the write.
func (e Entry) Dot() Dot { return Dot{Origin: e.Src, Seq: e.Seq} }

// Less reports whether e comes before o in the conflict order: by version
// and, between two writes that share one, by dot. Versions are unique but
// for one case: a server restarted from a disk that went back in time,
// with a clock behind the one it issued its lost writes by, may issue a
// version again (under a new replica id, so with another dot). The dot
// then decides, the same way on every replica, so that stores converge.
func (e Entry) Less(o Entry) bool {
	if c := e.Version.Compare(o.Version); c != 0 {
		return c < 0
	}
	return dotLess(e.Dot(), o.Dot())
}

// Size is roughly what the entry takes in a message or a log record: its
// key and value and a few dozen bytes of version and dot. It bounds
// batches, deltas and the log between checkpoints.
func (e Entry) Size() int { return len(e.Key) + len(e.Value) + 32 }

// Meta is the replica state that recovery needs besides the store: the set
// of writes held, the newest version seen (the hybrid logical clock), and
// the stable floor it has collected tombstones below (see Stable).
type Meta struct {
	Seen   Seen    `msgpack:"s"`
	Clock  Version `msgpack:"c"`
	Stable Stable  `msgpack:"f,omitempty"`
	// Members lists, sorted, every server of the cluster the replica has
	// heard of: whose holdings a stable point waits for (see Stable). It
	// survives restarts, so that a server back before it has heard from
	// anyone does not take itself for the whole cluster.
	Members []uint32 `msgpack:"m,omitempty"`
}

// Stable is a point below which the whole cluster agrees: every write at
// or below Version is held, durably, by every server of the cluster, and
// every such write is in Cover (the writes that made up the servers'
// holdings when the point was taken). Below it nothing can change any
// more: no write of a key at or below Version is still on its way to
// anyone, and every write issued from then on is newer. So a tombstone at
// or below it can be dropped (collected) without a deleted value coming
// back, and a server that holds Cover knows every key's fate up to
// Version, tombstones gone or not.
type Stable struct {
	Version Version `msgpack:"v"`
	Cover   Seen    `msgpack:"c"`
}

// IsZero reports whether s is the zero point (nothing collected).
func (s Stable) IsZero() bool { return s.Version.IsZero() }

// Clone returns a copy that shares no memory with s.
func (s Stable) Clone() Stable { return Stable{Version: s.Version, Cover: s.Cover.Clone()} }

// NewSrc turns 63 random bits into a replica id. A server takes a new one
// every time it builds its replica from disk, so that it never numbers a
// write with a dot an earlier life of it used, whatever happened to the
// disk since: a lost log tail, a data directory restored from an older
// copy or wiped leave its peers holding dots its disk no longer knows. The
// top bit is set so that a replica id never equals a small one chosen by a
// test.
func NewSrc(random uint64) uint64 { return random | 1<<63 }
