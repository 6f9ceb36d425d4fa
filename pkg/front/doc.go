// Package front holds what a server's fronts for standard clients
// (packages resp, memcache and httpapi) share: Store, the one interface
// through which each of them reaches the server, and OneLine for the
// line-based protocols. Its subpackage fronttest has their test doubles.
package front
