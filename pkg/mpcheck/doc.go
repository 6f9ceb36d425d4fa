// Package mpcheck checks that bytes are well-formed msgpack before they are
// decoded. msgpack's length headers are trusted by decoders: eight bytes of
// garbage that announce an array of four billion elements make
// vmihailenco/msgpack allocate gigabytes and kill the process. Check walks
// the encoding without allocating and refuses any length that the remaining
// input cannot hold (every element takes at least one byte), so what a
// decoder then allocates is bounded by the size of the input.
package mpcheck
