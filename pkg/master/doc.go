// Package master runs a gossipkv script: it reads commands one line at a
// time, drives the watchdogs, clients and servers over net/rpc, prints what
// get and printStore return on stdout, and reports every bad or failed line
// on stderr without stopping.
//
// It is built from three parts. A launcher starts the local watchdogs and
// clients that are not already answering and stops only those at exit. A
// link view, pure and tested on its own, is the master's record of which
// servers run and which server links it has cut; stabilize groups servers
// by it, since the servers' own view is the thing being waited on. The
// executor checks each command against config and that record, then makes
// its calls, each with a deadline, so a dead process gives an error line and
// never a hang.
//
// A run has an identity: the config's cluster name and a run id the master
// draws at start. Every process it starts gets the run (-run) and refuses
// every other (package rpcconn), so two masters on one machine never drive
// each other's processes. Before the script, the master checks every port of
// the config: one answered by another cluster's or run's process, or by
// something that is not gossipkv, stops it with ExitStart and an error per
// port naming who holds it. It also holds an exclusive lock on its data
// directory (master.lock, with master.owner saying who holds it) for the
// whole run, and Cleanup through CleanupDataDir refuses while a live master
// holds it.
//
// Caveats:
//   - stabilize compares what servers report (their Seen sets and store
//     digests) within each connected group; it cannot see writes held only
//     by a dead server, which reach the others when that server rejoins.
//   - Processes the master did not start are never signalled, but the
//     servers it started through them are killed at exit. Such processes
//     (started by hand, without -run) serve any run of their cluster, one
//     master at a time being the user's business.
//   - Started processes get SIGKILL from the kernel if the master dies
//     (Linux), so a crashed master leaves no watchdog or client behind;
//     the watchdogs do the same for their servers.
package master
