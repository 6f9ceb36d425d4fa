// Package api defines the net/rpc control plane between gossipkv's
// processes: the master drives watchdogs, clients and servers; clients talk
// to their server. net/rpc flattens errors to strings, so every reply that a
// caller must branch on carries a Status field; a returned error always means
// the call itself failed (bad request, or a process that is not answering).
//
// Service and method names are constants here so that callers and servers
// cannot drift apart. Who may call whom (cluster and run) is settled before
// any of these calls, by the handshake of package rpcconn.
package api
