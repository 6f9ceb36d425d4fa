// Package storage keeps the durable state of one gossipkv server: the store
// (per key, the entry that currently wins) and one meta record (the set of
// writes held and the hybrid logical clock). A Backend has two
// implementations behind one contract: Bolt, a bbolt file, for real servers,
// and Memory, for tests that run servers in one process and simulate crashes.
//
// Two ways in. Log makes a server's own new writes durable with one append
// and one fdatasync to a write-ahead log beside the bbolt file; the server
// answers its puts after it. Commit writes everything that changed (its own
// writes again, others' writes, the meta) in one bbolt transaction (group
// commit: two fdatasyncs for any number of writes), and empties the log,
// which it covers. A server commits others' writes only every few
// milliseconds, so a put costs one small append, not a transaction that
// also carries the writes relayed to it since the last one. bbolt's
// DB.Batch would not help here, since there is only ever one writer.
//
// On disk (format version 1) the file has two buckets. "store" maps 'k'+key
// to a msgpack record of the entry without its key; the one-byte prefix lets
// the empty key be stored, which bbolt would refuse. "meta" holds "replica",
// the msgpack model.Meta, and "format", the version number checked on open.
// The log, FILE.wal, is a sequence of checksummed records of entries (see
// wal); Load folds it into what it returns, and the next Commit into the
// file.
//
// Caveats:
//   - A failed Commit or Log leaves a Bolt refusing every later one: after an I/O
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
