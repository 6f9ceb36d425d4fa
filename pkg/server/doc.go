// Package server runs one gossipkv replica: the protocol of package model,
// made durable with package storage and connected with memberlist.
//
// One goroutine (run) owns the replica. It takes puts, gets and control
// requests from net/rpc handlers, messages and membership events from
// memberlist's callbacks (which only decode and queue, and never block), and
// applies them; it then commits everything that changed in one bbolt
// transaction (group commit), answers the requests, and hands the protocol's
// messages to per-peer senders. A put is answered only after its commit.
//
// Replication travels on one persistent stream per peer, dialed through
// memberlist's transport (wrapped so that links can be cut) and framed with
// a length; memberlist itself carries membership, failure detection and the
// topology in node metadata. A peer memberlist thinks alive, or that sent us
// anything of late, and that is neither cut nor just failed, is a direct
// link.
//
// Caveats: a failed commit (a full disk) makes the server fail the puts it
// held and reload its last committed state; without Options.Reopen it stops.
// Fault injection (fault.go) exists for the checker's tests only.
package server
