// Package gen writes random scripts for the master from a seed: puts,
// deletes and gets by clients that move between servers, interleaved with
// faults of many shapes (an isolated server, a split in two, majority and
// minority, a bridge, a chain, a tree, a ring, a flapping link, kills with
// and without a stabilize first, restarts, late joins, clock skews and
// pauses; Options.Kinds picks which kinds). The same seed and options always
// give the same script, so any run can be replayed, and a failing one
// shrunk (see cmd/master's shrink).
//
// Generate is pure: options in, lines out. The script is valid for the
// cluster layout of config.Local (servers 0..Servers-1, clients after
// them): it never names a server that is not running where the master
// would call that a bad line, and it only puts and deletes through clients
// connected to a live server, so a correct system runs it with exit status
// 0. Every script ends by healing every link, restarting every server, a
// stabilize and a printStore of each server, which gives a checker a final
// state to judge.
//
// Keys are k0..k(Keys-1), except that the puts right before a kill write
// keys of their own (d1, d2, ...), written once: a later write of the same
// key would supersede a lost one and hide the loss from a checker.
//
// About one write in eight is a delete of a k key, which may hold a value
// or not (never written yet, or deleted already); the writes of the probes
// that move a client across a partition and read the key back are deletes
// twice as often. Which writes are deletes comes from a random stream of
// its own, so that the rest of a seed's script (faults, clients, keys,
// values) does not depend on it.
//
// Skews and pauses (see Kinds) take about a third of the episodes when
// they are on, and draw every choice of theirs from a third stream: with
// only the older kinds (partition, kill) a seed gives the script it gave
// before they existed. A skew is within or beyond Options.MaxClockOffset,
// either way, and set right at the end of its episode; no stabilize is
// generated while a server's clock is beyond the offset behind (it
// refuses every other server's writes until then). A pause reads once
// through the paused server (ERR_CONN, after the client's rpc timeout),
// and routes every other op around it: a write through it would fail the
// line.
//
// Three more kinds draw from a fourth stream, and take about a third of
// the episodes that skews and pauses leave (none while a server is down,
// so that an older shape may restart it): deadorigin writes through a
// server cut off from all but one peer, kills it and heals that peer to
// the rest, which must get the write from the peer alone (stabilize, and
// the writer reads it back there) before the origin restarts; when the
// lowest id of the rest is below the peer's, it joins last, after a
// stabilize with it apart, which must wait for the peer's group and not
// only for the group ordered first; flap
// (shape flap-repair; the partition kind's flap shape is another) writes
// on one side of a split, heals it and cuts and heals links across it
// while the repair runs, before a stabilize; readback moves a client
// that wrote one key and read another through two or three more servers,
// reading both back at each (read your writes and monotonic reads across
// servers).
//
// Comments in the script say which fault each episode is ("# fault:
// ring 3-0-4-1-2-3"), so a transcript reads as a story.
package gen
