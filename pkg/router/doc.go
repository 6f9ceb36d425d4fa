// Package router turns the link state that servers gossip into routing
// answers: which neighbour to hand a message to, and which shortest-path tree
// a write of a given origin travels down.
//
// Each server announces the peers it has a live direct link to. A link
// counts only when both ends announce it: a cut is applied at both ends, so a
// one-sided claim is either stale or half-applied and must not carry traffic.
//
// Every answer comes from a breadth-first search that visits neighbours in
// ascending id order. The result depends only on the graph, never on map
// order or timing, so every server that holds the same link state computes
// the same trees; the replication protocol relies on that to forward each
// write along one tree without coordination.
//
// The package is pure (no clock, no network): a Graph is an immutable value
// built by New, and a topology change means building a new Graph. It is sized
// for clusters of up to about a hundred servers.
package router
