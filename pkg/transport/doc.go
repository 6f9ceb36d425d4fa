// Package transport wraps a memberlist transport so that the harness can cut
// the link between two servers (breakConnection) and restore it
// (createConnection) without touching the operating system's network.
//
// A cut is applied at one end: that end drops its own packets to the peer,
// refuses its own dials to the peer, and drops the packets that arrive from
// the peer. Incoming streams cannot be told apart by source (TCP connections
// come from ephemeral ports), so they pass through; the master cuts both ends
// of a link, and the other end, also cut, never dials. A one-sided cut is
// therefore leaky for streams and should not be relied on.
//
// Two memberlist behaviours shape the design:
//
//   - A refused dial fails at once with a *net.OpError (Op "dial", Net
//     "tcp"), just as a refused TCP connection does, so that code which
//     classifies errors by type sees an unreachable peer, and memberlist's
//     TCP fallback probe gives up at once instead of using up the probe
//     interval. A dropped packet returns no error, as on a lossy network, so
//     the probe times out and memberlist goes on to indirect probes.
//   - Memberlist's member list is not link state: with only the link 0-1
//     cut, 0 and 1 keep seeing each other alive through indirect probes
//     relayed by a third server. Whoever needs the real link state must keep
//     it separately (the server gossips its own).
//
// Peers are recognised by address and by node name. Outgoing packets and
// dials carry the peer's node name and gossip address; incoming packets carry
// only their source address, so the address given to New must be the exact
// "host:port" the peer sends from (for NetTransport, its bind address and
// port; for memberlist.MockTransport, its mock address). An address or name
// that is not in the map is never dropped.
package transport
