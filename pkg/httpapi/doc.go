// Package httpapi is a server's HTTP front (standard library only), on
// the server's http_port:
//
//	GET    /v1/kv/KEY            200, the value as the body; 404 if missing or deleted
//	HEAD   /v1/kv/KEY            the same without the body
//	PUT    /v1/kv/KEY            the body is the value; 204
//	PUT    /v1/kv/KEY + If-None-Match: *   only if KEY holds no value; 204, or 412
//	DELETE /v1/kv/KEY            204, whether KEY held a value or not
//	GET    /v1/kv/?prefix=P&limit=N&cursor=C   {"keys": [...], "next": C'}
//	GET    /v1/status            this server as JSON: id, links, topology, held writes, keys, lag
//	GET    /metrics              Prometheus text format
//
// Keys are the rest of the path after /v1/kv/, percent-decoded: any byte
// string can be a key (%2F for a slash inside a segment, %00 for a NUL,
// %FF for a byte that is not UTF-8; a plain / works too: /v1/kv/a/b is the
// key "a/b"). The path is taken as it comes, never cleaned, so "a//b" and
// "../x" are keys like any other. A key over max_key_bytes is 400, a value
// over max_value_bytes 413 (before the body is read, when its length is
// declared).
//
// # Sessions
//
// Every answer under /v1/kv carries a session token, in the
// X-Gossipkv-Session header and in the gossipkv_session cookie. A request
// that sends it back (header first, else cookie) is a client session with
// the guarantees of a script client, per key: Read Your Writes and
// Monotonic Reads, on any server of the cluster. The token holds, per key
// (by a 64-bit hash of it), the newest version the session wrote or read
// (a deletion read counts), for the 64 keys it used last: a session that
// touches more keys loses its guarantee for the ones it used least
// recently. A server that has not yet seen the write a request depends on
// answers
//
//	503 Service Unavailable, Retry-After: 1
//	server N has not yet seen a write this session depends on for key K: retry later, or at another server
//
// and never an older value (503 with Retry-After because it is a
// temporary state of this server that clients and proxies already know to
// retry). A token that is not one a server of this cluster made, or that
// was altered or cut, is 400 with what is wrong; a session that drops it
// starts afresh. Tokens are checked with an HMAC: keyed by the cluster's
// secret key when it has one (then they are tamper-evident), otherwise by
// the cluster's name (a checksum, not protection: a client can forge its
// own token, which only changes its own guarantees; versions from unknown
// servers or far in the future are refused all the same). Tokens are not
// secret. Listing, status and metrics are not part of a session.
//
// Caveats: listing shows this server's keys, which may lack the newest
// writes of other servers; keys come back percent-encoded as URL path
// segments (url.PathEscape), so that binary keys are exact in JSON and
// each can be appended to /v1/kv/ as it is. If-None-Match: * is checked
// and written in one step at this server, but two servers that have not
// seen each other's write may both accept it. In linearizable mode both
// go through Raft: a listing is a linearizable read of the group's keys,
// and If-None-Match: * one command, accepted once across the cluster.
// There is no compare-and-set (If-Match is refused) and no expiry.
package httpapi
