// Package rpcconn wraps net/rpc for gossipkv's control plane: every call has
// a deadline (net/rpc has none, and a stopped peer would hang its caller
// forever), a connection that failed is dropped and redialed on the next
// call, and a listener serves one named receiver until it is closed.
package rpcconn
