// Package rpcconn wraps net/rpc for gossipkv's control plane: every call has
// a deadline (net/rpc has none, and a stopped peer would hang its caller
// forever), a connection that failed is dropped and redialed on the next
// call, and a listener serves one named receiver until it is closed.
//
// It is the one place where control-plane connections are dialed and
// served, and every connection begins with a handshake before net/rpc
// starts: the dialer says who it is (an Identity: cluster, run, role, id,
// and its pid), and the listener answers with who it is and whether it
// accepts. A listener accepts dialers of its own cluster, and of its own run
// when it has one (a process the master started); a process started by
// hand has no run and accepts any run of its cluster. A refused dial fails
// with a *RefusedError naming both sides, and is not retried.
//
// The handshake keeps clusters and master runs apart by accident, not by
// design against an adversary: names and run ids are not secrets and
// nothing is authenticated. Whoever can reach a port can claim any
// identity.
//
// A listener reads at most a small bounded hello and drops a connection
// whose hello is malformed or does not come within a few seconds; a dialer
// bounds the handshake by its call's deadline. Neither side can be made to
// hang or to allocate more than a frame's bound by the other.
package rpcconn
