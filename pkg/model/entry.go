package model

// Entry is a write as it is stored, replicated and logged: the key's value
// at Version, issued as write number Seq of replica Src (the data directory
// of server Version.Origin that took it). A server's store keeps, per key,
// the entry with the greatest Version.
type Entry struct {
	Key     []byte  `msgpack:"k"`
	Value   []byte  `msgpack:"v"`
	Version Version `msgpack:"t"`
	Seq     uint64  `msgpack:"s"`
	Src     uint32  `msgpack:"r"`
}

// Dot names the write.
func (e Entry) Dot() Dot { return Dot{Origin: e.Src, Seq: e.Seq} }

// Size is roughly what the entry takes in a message or a log record: its
// key and value and a few dozen bytes of version and dot. It bounds
// batches, deltas and the log between checkpoints.
func (e Entry) Size() int { return len(e.Key) + len(e.Value) + 32 }

// Meta is the replica state that recovery needs besides the store: the set
// of writes held, the newest version seen (the hybrid logical clock), and
// the replica id that names this data directory's writes.
//
// Dots are numbered per replica, not per server, so that a server whose
// disk was wiped (a new data directory under an old id) never reissues the
// numbers of writes its peers still hold. Zero means "not assigned": the
// server id is used, which suits tests; servers assign a random id to every
// new data directory (see NewSrc).
type Meta struct {
	Seen  Seen    `msgpack:"s"`
	Clock Version `msgpack:"c"`
	Src   uint32  `msgpack:"r"`
}

// NewSrc turns 31 random bits into the replica id of a new data directory.
// The top bit is set so that it never equals a server id used as the
// default (ids of configured servers stay far below 2^31).
func NewSrc(random uint32) uint32 { return random | 1<<31 }
