// Package check judges a run of gossipkv after the fact: the master records a
// History (every put, delete and get with its client, server, outcome and
// version; every server start, kill, link cut and heal; every stabilize with
// the stores it left), and Check compares it with a model of what the system
// may and must do. It is pure: a history in, a Verdict out, no clock and no I/O,
// so every kind of violation is unit-tested with a hand-made history.
//
// # The model
//
// Writes. Each put or delete that a server acknowledged is a write, named by
// its version (unique in the conflict order). A delete is a write of a
// tombstone: it takes part in everything below exactly like a put, and a
// put and a delete of one key are ordered by their versions like two puts.
// A tombstone shows up as an Item with Deleted set in a store dump, and as
// ERR_KEY with the tombstone's version from a get; either is identified
// with the delete at that version (a tombstone at a version that is no
// delete of the key is a phantom, like a value that no put wrote). A put or
// delete that failed (ERR_CONN, ERR_FAILED) may or may not have taken
// effect: it is a write whose version is unknown until a read or a dump
// shows it (matched by key, origin server, and value or tombstone).
//
// Topology. The checker keeps its own copy of the master's link view: live
// servers, and cut links (a cut stays while either end is dead; a start
// clears the cuts of the server started, as joinServer does). A group is a
// connected component of live servers and uncut links. A paused server
// (SIGSTOP, until resumed or killed) is live, but every one of its links
// counts as down: it may neither receive nor serve, so it is a group of its
// own, and stabilize, which leaves it out, is not expected to show its
// store. A put through it that timed out (ERR_CONN) may still take effect
// once it resumes, like any write of unknown outcome.
//
// Possibly held (may). A write is possibly held by its origin once put, and
// by every member of the origin's group at that moment. Whenever the
// topology changes, every member of a group becomes a possible holder of
// what any member possibly holds: if a link is up while one end may hold a
// write, the other may receive it. A dead server keeps its possible writes
// (its disk), and so on restart does its new group. This over-approximates
// delivery, so a value outside it is a real violation ("extra write": a write
// crossed a cut link, or came from a dead server).
//
// Known held (floor). For each server and key, the checker keeps the newest
// version the server is known to hold: from the put or delete it
// acknowledged (a write is durable before its ack), from a value or
// tombstone it served, and from its store at each stabilize. A correct
// server never goes below that floor for a key: writes only move forward in
// the conflict order and everything served was committed first. So a get
// answered with an older value or tombstone, or with ERR_KEY and no version
// (nothing held), is a "lost write". A killed server keeps its floors; its
// writes are not expected in its old group while it is down, and are
// expected again once it is back. A fresh start (the first of a run)
// empties both sets.
//
// At each stabilize, for each group: all members must hold identical
// stores, tombstones included (else "diverged": a tombstone differs from
// the key's older value and from nothing); for every key, the store must
// hold a version at least the greatest floor of any member (else "lost
// write", naming the write and the server known to hold it); every value
// or tombstone must be a write the member may hold (else "extra write",
// naming the write and the dead server or cut links that should have kept
// it out), and a write at all (else "phantom"). A stabilize that did not
// converge is itself a violation. Then every member is known to hold what
// it showed.
//
// Deletions stay deleted. Tombstones are floors like values, so once a
// server held a tombstone, an older value of the key from it (a get) or
// from any member of its group (a stabilize) is a lost delete.
//
// Collected tombstones. A server drops a tombstone once it is at or below
// the cluster's stable point (see model.Stable), which the server reports
// with a get answered ERR_KEY without a version and with each dump. Such
// an answer claims that every write of the key up to the point is in the
// server's past and that the newest of them, if any, was a delete: it is a
// lost write when the server is known to hold a newer version, or when the
// newest write of the key at or below the point is a put; and a session
// violation when the client saw something newer than the point. A dump
// may lack a tombstone at or below its server's point where the server is
// known to hold it, and members of a group are compared without the
// tombstones at or below the newest point among them (one may have
// collected what another still holds).
//
// Sessions. Per client and key the checker keeps the newest version the
// client wrote (an acknowledged put or delete) or read (a value, or a
// tombstone through ERR_KEY with its version). A read returning an older
// version, or ERR_KEY without a version while the client depends on the key
// (the server must then answer ERR_DEP unless it holds something at least
// as new), violates Read Your Writes when the dependency came from the
// client's own write and Monotonic Reads when it came from a read; the
// violation names what was returned and what the client should at least
// have seen. ERR_KEY with a tombstone's version at least the dependency
// satisfies both. A put or delete acknowledged with a version not above
// what its client had already seen of the key is a causality violation
// (the conflict order would let an older write win over it).
//
// ERR_DEP. Judged against the dependency the client sent: necessary when no
// write of the key (put or delete) at or above it may be at the server;
// spurious (an availability loss, and a violation: SPEC §3.4 allows ERR_DEP
// only for a server that is really behind) when the server is known to hold
// such a version, a tombstone included; undetermined otherwise. Each is
// counted.
//
// Stale reads are counted, not judged: a read (value or ERR_KEY) older than
// the newest write of the key (put or delete) acknowledged anywhere so far.
// Eventual consistency allows them; the count says how often a client saw
// the past.
//
// Clocks. Nothing here assumes that the later write of a script wins, or
// that versions follow real time: writes are named and ordered by their
// versions only. So a skewed clock (skewClock), which lets a later write
// of one client lose to an earlier write of another, is no violation;
// what stays judged under skew is causality: a client's write must be
// above whatever that client wrote or read of the key. Skew events are
// recorded for the reader of a history and judge nothing themselves.
//
// Caveats: the model trusts versions to name writes and to order them, so it
// cannot tell which of two concurrent writes "should" win, only that a
// group agrees, keeps what it must and holds nothing it cannot. It assumes
// every server's first start in the history is empty (the master refuses
// -check with -keep-data).
package check
