// Package raftkv is gossipkv's linearizable store: a register per key,
// replicated by a Raft group (hashicorp/raft) of the servers. Membership and
// topology stay with memberlist; Raft orders the writes. The package does
// not depend on memberlist: it dials peers through a function the caller
// gives it and takes the streams the caller's transport accepts for it, so
// that the server can run Raft over its own cuttable transport and port.
//
// # The state machine
//
// The FSM holds, per key, a Register: value, version and a deleted flag.
// Commands are put, delete and cas (set NEW if the key holds OLD, or, for
// put-if-absent, if it holds no value), applied in log order; a write's
// version is (Wall: its log index, Origin: the server its client's
// operation arrived at), unique and ordered like the log. A delete writes a
// tombstone, even for a key that never had a value, so every delete has a
// version; a get of a deleted key finds nothing but reports the delete's
// version. Tombstones are kept (the key space bounds them). A cas matches
// only a present value equal to OLD: a missing or deleted key never
// matches, not even an empty OLD, since the empty string is a value and
// absence is not; put-if-absent is the cas that expects absence, so its
// check and its write are one entry. Beside the map the FSM keeps the keys
// sorted, for listing them in pages; snapshots hold the registers only, and
// a restore sorts the keys again. Snapshots (every SnapshotThreshold
// entries) keep the log bounded; a node that restarts, or joins with an
// empty directory, catches up from the newest snapshot and the log after
// it. Everything lives in the node's directory: raft.db (raft-boltdb: log
// and stable store) and snapshots/.
//
// # Operations
//
// Put, Delete, CAS, PutIfAbsent, Get and Keys go through the leader; a
// follower forwards them (see forward.go) and looks for a new leader when
// its own disappears, until the operation's timeout. Get and Keys (a page
// of the keys that hold a value, in byte order) are linearizable by Raft's
// read index: the leader notes its commit index, confirms with a quorum
// that it still leads (VerifyLeader), waits until its FSM has applied that
// index, and reads. A leader commits a no-op of its own term before its
// first read, since until then its commit index may miss entries its
// predecessors committed. No read ever answers from a follower's state.
//
// A node that cannot reach a leader backed by a quorum answers
// ErrUnavailable within its timeout, never a stale value. For a write,
// ErrUnavailable means the outcome is unknown: the entry may have entered
// the log before the quorum was lost, and may be committed later. A write
// is proposed again (on a new leader) only when the earlier attempt surely
// did not enter the log (the node was not the leader, or the leader could
// not be dialed), so no write is applied twice.
//
// # Streams
//
// Every stream starts, after what the caller's transport puts first, with
// a hello: a kind byte (raft's RPCs, or one forwarded operation), the
// cluster label and the dialer's address. The label keeps two clusters
// apart; the address tells the acceptor which peer a stream belongs to, so
// that Cut can close the streams raft keeps pooled and refuse new ones.
// A transport's cut refuses dials only: without Cut, raft would go on
// using the streams it opened before the cut.
//
// # Membership
//
// Bootstrap and AddVoter are explicit calls; the package has no rule of
// its own. gossipkv's servers start a group once in a cluster's life, at
// the one start the master marks (a server of itself alone, before it
// answers); every other server waits, and the leader adds every live
// memberlist member that is not yet a voter. A rule a server applies on
// its own view (bootstrap if no other server is seen) would let two
// servers that cannot see each other start two groups, whose logs Raft
// cannot reconcile. A
// member that dies stays a voter (its vote counts towards the quorum), as
// it must for a restart to keep what it acknowledged. A server whose data
// directory was lost must be removed (RemoveServer) and added again, not
// simply restarted under its old id: it would vote without its log.
//
// Caveats: streams are not encrypted (the server's AES-GCM frames cover
// its replication streams only); values and the whole FSM live in memory.
package raftkv
