// Package session keeps what a client session depends on, per key: the
// newest version it has written or read of the key (a value, or a
// deletion). Every later call on the key sends that version to the
// server as its dependency, and a server that has not seen it answers
// ErrDep rather than anything older: Read Your Writes and Monotonic
// Reads, per key. The script client (package client) and the
// connections of the Redis and memcache fronts keep one each; the HTTP
// front carries its sessions in bounded tokens instead (httpapi).
//
// Caveats: Deps grows with the keys a session touches and is not safe
// for concurrent use; its owner guards it.
package session
