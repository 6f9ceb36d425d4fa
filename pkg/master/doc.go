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
// Up keeps a cluster up instead: it starts and joins every server and
// client of the config, prints the endpoints, and runs scripts that other
// masters send it (Attach; Run does the same when it finds a master that is
// up on its data directory) over a unix socket in the data directory,
// DATA_DIR/master.sock, until it is cancelled. The scripts run one at a
// time, each in full, in the up master's own state, their output and exit
// code sent back; the conversation is in control.go. A script's lines are
// read one at a time, each once the last has run and its output is out, so
// a terminal's prompt (the attacher's or the master's own) appears when the
// master is ready for the next line.
//
// Caveats:
//   - stabilize compares what servers report (their Seen sets and store
//     digests) within each connected group; it cannot see writes held only
//     by a dead server, which reach the others when that server rejoins.
//   - Processes the master did not start are never signalled, but the
//     servers it started through them are killed at exit. Such processes
//     (started by hand, without -run) serve any run of their cluster, one
//     master at a time being the user's business.
//   - A master that is up does not watch its servers: one that dies on its
//     own stays "running" in its link view until a script's killServer
//     finds it gone. -check, -stats, -history and -history-html are for
//     runs a master starts itself, and attached scripts may not ask for
//     them.
//   - Started processes get SIGKILL from the kernel if the master dies
//     (Linux), so a crashed master leaves no watchdog or client behind;
//     the watchdogs do the same for their servers.
package master
