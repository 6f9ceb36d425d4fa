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
// Caveats:
//   - stabilize compares what servers report (their Seen sets and store
//     digests) within each connected group; it cannot see writes held only
//     by a dead server, which reach the others when that server rejoins.
//   - Processes the master did not start are never signalled, but the
//     servers it started through them are killed at exit.
//   - Started processes get SIGKILL from the kernel if the master dies
//     (Linux), so a crashed master leaves no watchdog or client behind;
//     the watchdogs do the same for their servers.
package master
