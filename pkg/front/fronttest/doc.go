// Package fronttest has the test doubles of the fronts' tests (packages
// resp, memcache and httpapi): Store, a fake front.Store with one
// replica's semantics that records what it was asked and can be made to
// lag or fail; and Cluster, real servers in one process over an
// in-memory network, to put fronts on.
//
// Package server's own tests keep their cluster (after etcd-io/raft's
// newNetwork, with kills and restarts): they are inside package server,
// which this package imports.
package fronttest
