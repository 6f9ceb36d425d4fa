// Package vclock implements vector clocks: the causal partial order of
// events at a set of nodes.
//
// gossipkv uses them as delivery vectors: component i of a server's clock
// says how many writes of origin server i it holds as an unbroken prefix.
// Clocks are sorted slices, never maps, so that two equal clocks encode to
// the same bytes in msgpack and can be hashed and compared as bytes.
//
// Caveat: vector clocks order events only partially; they cannot pick a
// winner between concurrent writes. The total conflict order lives in
// package model (a hybrid logical clock with the origin id as tie-break).
package vclock
