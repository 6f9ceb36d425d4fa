// Package model is gossipkv's replication protocol, pure: no memberlist, no
// net/rpc, no disk, no clock. Time comes in as arguments, messages go out as
// values, and a test can drive any number of replicas step by step.
//
// A Replica is one server's data: the store (per key, the write with the
// greatest Version), the Seen set of writes it holds, and its hybrid logical
// clock. Version is the conflict order: (wall nanoseconds, logical counter,
// origin server id), total and consistent with causality, so that every
// replica picks the same winner whatever order writes arrive in. Applying a
// write is idempotent and commutative.
//
// A Node wraps a Replica with the protocol: Put issues a write, Step handles
// a message from a neighbour, SetNeighbors and SetLinks give it the topology,
// Tick lets time pass, and Ready returns what to send once the caller has
// committed the replica's dirty state (acks promise durability). Writes
// travel along their origin's shortest-path tree; each node makes sure each
// neighbour ends up holding everything it holds (acks, deltas from the store,
// a slow safety net), so every live server of a connected group converges,
// even on the writes of an origin that has died.
//
// Caveats: a Replica and a Node are owned by one goroutine. The store is in
// memory (the server persists it through package storage), so a server holds
// all its data in RAM.
package model
