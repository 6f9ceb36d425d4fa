// Package storage keeps the durable state of one gossipkv server: the store
// (per key, the entry that currently wins) and one meta record (the set of
// writes held and the hybrid logical clock). A Backend has two
// implementations behind one contract: Bolt, a bbolt file, for real servers,
// and Memory, for tests that run servers in one process and simulate crashes.
//
// Writes go in two ways. Log makes entries durable with one append and one
// fdatasync to a write-ahead log beside the bbolt file: a server logs its
// own new writes and answers their puts, and every commit_delay logs the
// rest of what changed (others' writes) with its whole set of writes held.
// Checkpoint, every checkpoint_interval, folds the log into the bbolt file
// in one transaction and empties it; Commit does the same with entries and
// a meta of the caller's (a new data directory's first state, tests, the
// floor benchmark). A bbolt transaction costs two fdatasyncs and rewrites
// every page from each changed leaf to the root, a 4 KB leaf for a 1 KB
// entry; folding a batch at a time rewrites each page once for all the
// writes to it. Log runs while a Checkpoint or Commit does (the log has two
// segments), so puts are answered during them. bbolt's DB.Batch would not
// help here, since there is only ever one writer.
//
// On disk (format version 1) the file has two buckets. "store" maps 'k'+key
// to a msgpack record of the entry without its key; the one-byte prefix lets
// the empty key be stored, which bbolt would refuse. "meta" holds "replica",
// the msgpack model.Meta, and "format", the version number checked on open.
// The log, FILE.wal0 and FILE.wal1, is a sequence of checksummed records of
// entries and seen sets (see wal); Load folds it into what it returns.
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
