// Package server runs one gossipkv replica: the protocol of package model,
// made durable with package storage and connected with memberlist.
//
// One goroutine (run) owns the replica. It takes puts, gets and control
// requests from net/rpc handlers, messages and membership events from
// memberlist's callbacks (which only decode and queue, and never block), and
// applies them. A loop's new local writes are appended to the write-ahead
// log (one fdatasync for all of them) and their puts answered; everything
// else that changed goes to the committer goroutine, at most every
// commit_delay, as one append with the whole set of writes held, and the
// protocol's messages that describe it (acks, forwards, repairs) go to the
// per-peer senders once it is durable. A checkpointer goroutine folds the
// log into the bbolt file every checkpoint_interval or checkpoint_bytes of
// log. A put is answered only after its append.
//
// Replication travels on one persistent stream per peer, dialed through
// memberlist's transport (wrapped so that links can be cut) and framed with
// a length; memberlist itself carries membership, failure detection and the
// topology in node metadata. A peer memberlist thinks alive, or that sent us
// anything of late, and that is neither cut nor just failed, is a direct
// link.
//
// Servers gossip under memberlist's label "gossipkv/CLUSTER/RUN", and each
// data stream starts with the same label (bound into the frames' AES-GCM
// additional data when there is a secret key): servers of two clusters, or
// of two masters' runs, never merge or take each other's writes, even when
// one's config names the other's addresses. The label is not a secret;
// against a stranger that means harm, only the secret key protects.
//
// Every way in meets in the same methods: the net/rpc handlers of the
// master's script clients and the fronts for standard clients (packages
// resp, httpapi and memcache) call Put, Delete, Get, PutIfAbsent, Keys,
// Status and Lag, each handed to the owner goroutine; Put, Delete and Get
// count and time every call (Stats, Latencies), so the figures cover them
// all.
//
// In linearizable mode (Options.Raft) the server also runs a raftkv.Node
// (linear.go): its streams go through the same demux and cuttable
// transport under the same label, the server the master marks
// (Options.RaftBootstrap) starts the group, a membership loop has the
// leader add live members as voters, and Put, Delete, Get, CAS,
// PutIfAbsent and Keys go to the node instead of the owner goroutine,
// whose store then stays empty.
//
// Caveats: a failed append or checkpoint (a full disk) makes the server fail
// the puts it held and reload its durable state (file plus log); without
// Options.Reopen it stops.
// Fault injection (fault.go) exists for the checker's tests only.
package server
