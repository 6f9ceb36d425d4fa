// Package memnet is an in-process network for memberlist, so that a test can
// run several gossipkv servers in one process without opening sockets.
//
// It follows the idea of memberlist's MockNetwork but behaves like a real
// network towards a host that has gone away. MockNetwork's channels are
// unbuffered and a transport that was shut down stays reachable, so a packet
// or a dial to a crashed server blocks its sender forever. Here, as on a real
// network:
//
//   - Packets are best effort: a packet to an unknown or shut-down address, or
//     to a host whose receive buffer is full, is dropped and the send reports
//     no error, as UDP would.
//   - A dial to an unknown or shut-down address fails at once with a
//     *net.OpError wrapping syscall.ECONNREFUSED, which is what memberlist's
//     failure detection expects from a dead peer. A dial never blocks longer
//     than its timeout.
//   - Shutting a transport down closes every stream it is an end of, as the
//     kernel does when a process dies, so a peer blocked reading or writing
//     such a stream is released.
//
// A server that is restarted under the same node name gets the address it had
// before, because memberlist peers know a node by its address and must find
// it there again.
//
// Streams are net.Pipe pairs, which have no buffer: a write completes only
// when the other end reads it. memberlist always has a reader on the other
// end and sets deadlines on streams, so this does not change its behaviour,
// but other users should not write to a stream nobody reads.
package memnet
