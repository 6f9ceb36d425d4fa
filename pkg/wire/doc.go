// Package wire encodes the messages servers send each other on their data
// streams, and the node metadata they announce through memberlist: one type
// byte, then a msgpack body with explicit field tags.
//
// Everything a server sends one neighbour during one flush travels as one
// batch: fewer, larger frames cost each side fewer writes, reads and
// decodes. Decoding checks what it can (msgpack length headers against the
// input, canonical Seen sets, non-zero dots), so garbage from the network is
// refused with an error instead of reaching the replica.
package wire
