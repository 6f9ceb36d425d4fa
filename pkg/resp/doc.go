// Package resp is a server's Redis front: it speaks the Redis protocol
// (RESP2, through github.com/tidwall/redcon) on the server's resp_port, so
// that redis-cli, redis-benchmark and Redis client libraries can use
// gossipkv as a store. It reaches the server only through front.Store, of
// which it uses the session-aware Put, Delete and Get of the script
// clients, a walk of the keys in byte order, and the status figures.
//
// Each connection is a client session with the guarantees of a script
// client, per key: Read Your Writes and Monotonic Reads. The connection
// keeps, per key, the newest version it wrote or read (a value, or a
// deletion) and sends it with every later call on that key; a server that
// has not seen it (one that reloaded its disk, say) answers
//
//	-TRYAGAIN server N has not yet seen a write this connection depends on for key K
//
// and never an older value. A missing or deleted key reads as nil.
//
// Commands: PING, ECHO, GET, SET key value, DEL, EXISTS, MGET, MSET, TYPE,
// SCAN (MATCH, COUNT, TYPE), KEYS, DBSIZE, INFO (server, clients,
// replication, keyspace), COMMAND (COUNT, LIST, INFO, DOCS), CONFIG GET,
// SELECT 0, CLIENT ID/GETNAME/SETNAME/SETINFO, HELLO 2, QUIT. Patterns
// follow Redis's glob rules, byte by byte (glob.go). Anything else is
// "-ERR unknown command", as in Redis.
//
// Where it differs from Redis, on purpose:
//   - SET takes no options (EX, PX, NX, XX, KEEPTTL, GET, ...): each is
//     refused with an error naming it. There is no expiry.
//   - MSET is one write per pair, in order, not atomic. DEL reads each key
//     first to count those that held a value, and writes a tombstone for
//     every key named, so that it also wins over a write of the key that
//     has not reached this server yet.
//   - SCAN and KEYS list this server's keys (every server stores every
//     key, but one may not have received the newest writes yet), sorted.
//     In linearizable mode they list the Raft group's keys instead, each
//     page a linearizable read (Store.Keys); a server without a quorum
//     answers an error naming ERR_UNAVAILABLE.
//     A SCAN cursor names where its next page starts, kept by the server
//     for its newest 4096 pages: a scan continues on any connection to the
//     same server, and a key present for the whole scan is returned
//     exactly once; an older cursor, or one from before a restart, is
//     refused.
//   - FLUSHALL and FLUSHDB are refused: a server can only delete the keys
//     it has received so far. AUTH is refused: the port has no
//     authentication (bind it to a trusted host, like the rpc ports).
//   - The empty key cannot be written (reads of it find nothing); keys and
//     values longer than max_key_bytes and max_value_bytes are refused.
//
// Caveats: a connection's dependencies grow with the keys it touches and
// last as long as it does. A value larger than max_value_bytes is refused
// only after redcon has read it whole.
package resp
