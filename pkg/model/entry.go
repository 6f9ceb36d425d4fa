package model

// Entry is a write as it is stored, replicated and logged: the key's value
// at Version, issued as write number Seq of server Version.Origin. A server's
// store keeps, per key, the entry with the greatest Version.
type Entry struct {
	Key     []byte  `msgpack:"k"`
	Value   []byte  `msgpack:"v"`
	Version Version `msgpack:"t"`
	Seq     uint64  `msgpack:"s"`
}

// Dot names the write.
func (e Entry) Dot() Dot { return Dot{Origin: e.Version.Origin, Seq: e.Seq} }

// Meta is the replica state that recovery needs besides the store: the set
// of writes held and the newest version seen (the hybrid logical clock).
type Meta struct {
	Seen  Seen    `msgpack:"s"`
	Clock Version `msgpack:"c"`
}
