// Package storage keeps the durable state of one gossipkv server: the store
// (per key, the entry that currently wins) and one meta record (the set of
// writes held and the hybrid logical clock). A Backend has two
// implementations behind one contract: Bolt, a bbolt file, for real servers,
// and Memory, for tests that run servers in one process and simulate crashes.
//
// The server's single writer goroutine calls Commit once per loop iteration
// with everything that changed (group commit), and answers the puts of that
// iteration only after Commit returns: one transaction, two fdatasyncs, for
// any number of puts. bbolt's DB.Batch would not help here, since there is
// only ever one writer.
//
// On disk (format version 1) the file has two buckets. "store" maps 'k'+key
// to a msgpack record of the entry without its key; the one-byte prefix lets
// the empty key be stored, which bbolt would refuse. "meta" holds "replica",
// the msgpack model.Meta, and "format", the version number checked on open.
//
// Caveats:
//   - A failed Commit leaves a Bolt refusing every later Commit: after an I/O
//     error (an fsync error above all) the file's state is unknown to this
//     process, so the only safe way on is to close, reopen and Load what is
//     really on disk.
//   - Load copies every byte out of the bbolt transaction; nothing it returns
//     points into the memory map, so results stay valid after Close.
//   - BoltOptions.NoSync gives up durability; it exists for benchmarks of
//     the rest of the system.
//   - One process at a time: bbolt holds an exclusive file lock, released by
//     the kernel the moment a killed process dies.
package storage
