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
// of writes held and the newest version seen (the hybrid logical clock).
type Meta struct {
	Seen  Seen    `msgpack:"s"`
	Clock Version `msgpack:"c"`
}

// NewSrc turns 63 random bits into a replica id. A server takes a new one
// every time it builds its replica from disk, so that it never numbers a
// write with a dot an earlier life of it used, whatever happened to the
// disk since: a lost log tail, a data directory restored from an older
// copy or wiped leave its peers holding dots its disk no longer knows. The
// top bit is set so that a replica id never equals a small one chosen by a
// test.
func NewSrc(random uint64) uint64 { return random | 1<<63 }
