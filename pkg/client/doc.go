// Package client is gossipkv's client process: it holds one session with one
// server at a time and carries the session from server to server, so that the
// master can script a client moving between servers, losing its link and
// coming back.
//
// The session is, per key, the newest version the client has written or
// read. Every put and get sends it to the server as the request's
// dependency: a server that has not seen that version answers ERR_DEP rather
// than a stale value, which gives Read Your Writes and Monotonic Reads per
// key. The session lives in the client, not in the connection, so it
// survives Disconnect and Connect; it does not survive the process.
//
// The client is driven by the master over net/rpc (service "Client", methods
// named in package api). Nothing the client does is durable. A client started
// by the master (-run) refuses every other run; one started by hand serves
// any run of its cluster. It calls its server as a member of its own run, or
// else of the master that connected it, so a server of another run refuses
// it.
package client
