// Package memcache is a server's memcache front: the memcache text
// protocol on the server's memcache_port, so that memcached clients
// (libmemcached's tools, pymemcache, ...) can use gossipkv as a store.
//
// Commands: get and gets (any number of keys), set, add, delete, version,
// stats (the general group), verbosity, quit. Replies and errors are
// memcached's: ERROR for an unknown command, CLIENT_ERROR for a request
// that cannot be done, SERVER_ERROR for a failure of the server. noreply is
// honoured on set, add, delete, flush_all and verbosity: as in memcached it
// drops every reply of the command, errors too, once its line has been
// understood.
//
// Each connection is a client session with the guarantees of a script
// client, per key: Read Your Writes and Monotonic Reads. The connection
// keeps, per key, the newest version it wrote or read (a value, or a
// deletion) and sends it with every later command on that key; a server
// that has not seen it (one that reloaded a disk that lost it, say)
// answers
//
//	SERVER_ERROR behind: server N has not yet seen a write this connection depends on for key K; retry later or at another server
//
// and never an older value. A get of several keys fails whole when one of
// them is behind.
//
// Where it differs from memcached, on purpose:
//   - There are no per-key flags: a set or add with flags other than 0 is
//     refused (CLIENT_ERROR), rather than losing them silently, and get
//     answers flags 0. There is no expiry: an exptime that lies ahead is
//     refused, and so are touch, gat and gats. One already past (negative,
//     or a Unix time gone by, as memcached reads one over 30 days) is taken
//     as memcached takes it: set then deletes the key,
//     and add only tests whether the key holds a value (NOT_STORED) or
//     not (STORED, nothing written), which is how libmemcached's
//     memcached_exist and memcexist ask.
//   - add writes only if the key holds no value (a deleted key holds
//     none). The check and the write are one step at the server it goes
//     to, so of two adds there, one wins; but two servers that have not
//     yet seen each other's write may both store, and the later one in
//     the conflict order wins everywhere. It is not a lock. (In
//     linearizable mode it is one Raft command: of adds of a key at any
//     servers, one stores.)
//   - gets answers a "cas unique" derived from the value's version (it
//     changes whenever the value does), but cas is refused, as are
//     replace, append, prepend, incr and decr: none can be atomic across
//     the servers of an eventually consistent store. flush_all is refused
//     (a server can only delete the keys it has received so far).
//   - delete writes a tombstone whether or not the key held a value here
//     (DELETED or NOT_FOUND says which), so that it also wins over a write
//     of the key that has not reached this server yet.
//   - Keys are at most 250 bytes (the protocol's bound, which clients
//     check too) and at most max_key_bytes, of any bytes but the space and
//     the line end that delimit them; values at most max_value_bytes (SERVER_ERROR object too large for
//     cache; the data is read and dropped, so the connection goes on).
//     A command line is at most 64 KiB: a longer one closes the
//     connection, since what follows it cannot be told apart.
//   - The binary protocol, the meta commands (mg, ms, ...) and UDP are not
//     served.
//
// Caveats: a connection's dependencies grow with the keys it touches and
// last as long as it does. The port has no authentication (nor has
// memcached's text protocol): bind it to a trusted host.
package memcache
