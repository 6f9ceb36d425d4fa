package front

import (
	"gossipkv/pkg/api"
	"gossipkv/pkg/model"
)

// Store is what a front needs of a server: the session-aware reads and
// writes of the script clients, a walk of its keys, and its status, lag
// and counters. Each front uses part of it (the Redis front neither
// PutIfAbsent nor the figures past Status, the memcache front no walk);
// one interface keeps the contract in one place. *server.Server is one;
// tests use fronttest.Store. Calls come from one goroutine per connection
// or request, concurrently.
type Store interface {
	// Put writes key=value after dep and returns once it is durable,
	// with the write's version (Status OK) or why it failed.
	Put(key, value []byte, dep model.Version) api.PutReply
	// PutIfAbsent is Put unless the store holds a value for key; stored
	// says whether it wrote (see server.Server.PutIfAbsent).
	PutIfAbsent(key, value []byte, dep model.Version) (reply api.PutReply, stored bool)
	// Delete writes a tombstone for key after dep, like Put.
	Delete(key []byte, dep model.Version) api.PutReply
	// Get reads key for a session that depends on dep: OK with the
	// value, ErrKey (no value; the version of a tombstone, if any), or
	// ErrDep when the store has not seen dep.
	Get(key []byte, dep model.Version) (api.GetReply, error)
	// Keys lists up to limit live keys in byte order from from on (from
	// itself included; nil: the first), and whether more follow.
	Keys(from []byte, limit int) (keys [][]byte, more bool, err error)
	// Status, Lag, Stats and Latencies are the figures the fronts show
	// (Redis INFO and DBSIZE, memcache stats, /v1/status and /metrics).
	Status() (api.StatusReply, error)
	Lag() (api.LagReply, error)
	Stats() api.StatsReply
	Latencies() api.Latencies
}
