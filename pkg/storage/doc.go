// Package storage keeps the durable state of one gossipkv server: the store
// (per key, the entry that currently wins) and one meta record (the set of
// writes held and the hybrid logical clock). A Backend has two
// implementations behind one contract: Bolt, a bbolt file, for real servers,
// and Memory, for tests that run servers in one process and simulate crashes.
//
// Writes go in two ways. Log makes entries durable with one append and one
// fdatasync to a write-ahead log beside the bbolt file (into room the
// segment grew ahead, so the sync commits no new file size): a server logs its
// own new writes and answers their puts, and every commit_delay logs the
// rest of what changed (others' writes) with its whole set of writes held.
// Checkpoint, every checkpoint_interval, folds the log into the bbolt file
// in one transaction and empties it; Commit does the same with entries and
// a meta of the caller's (tests, the floor benchmark). A bbolt transaction costs two fdatasyncs and rewrites
// every page from each changed leaf to the root, a 4 KB leaf for a 1 KB
// entry; folding a batch at a time rewrites each page once for all the
// writes to it. Log runs while a Checkpoint or Commit does (the log has two
// segments), so puts are answered during them. bbolt's DB.Batch would not
// help here, since there is only ever one writer.
//
// On disk (format version 3) the file has two buckets. "store" maps
// 'k'+key to the record of the entry without its key; the one-byte prefix
// lets the empty key be stored, which bbolt would refuse. "meta" holds
// "replica", the set of writes held, the clock, and the count and digest of
// the store's records, and "format", the version number checked on open.
// Every record is sealed with a CRC-32C of its bbolt key and body, checked
// whenever it is read. The log, FILE.wal0 and FILE.wal1, is a sequence of
// checksummed records of entries and seen sets (see wal); Load folds it
// into what it returns. Files of formats 1 and 2 are upgraded on open.
//
// Integrity. Load checks every record, and that the store's records add up
// to the count and digest the meta gives (bbolt's own pages carry no
// checksums: a damaged branch page can lose or repeat a record). A record
// that fails is left out; the log's replay steps over a damaged record and
// keeps the ones after it that verify. Whatever was damaged, Load returns
// only what it can vouch for (the set of writes held then claims none of
// the lost ones, so the server's peers send them back) and says what it
// found in State.Damage; the caller writes that state back with Reset,
// which rebuilds the file from it. A file bbolt cannot open at all is
// ErrUnreadable, with what the user can do. bbolt panics on some damaged
// pages and faults on others; every call into it runs on the caller's
// goroutine with faults turned into panics and recovered (the freelist is
// kept in the file, so that opening it walks no pages on a goroutine of
// bbolt's own, where a fault would kill the process).
//
// Caveats:
//   - A failed Commit or Log leaves a Bolt refusing every later one: after an I/O
//     error (an fsync error above all) the file's state is unknown to this
//     process, so the only safe way on is to close, reopen and Load what is
//     really on disk.
//   - After a Load that reported damage, Log, Commit and Checkpoint refuse
//     until Reset has written back the state Load returned: the file's meta
//     may claim writes that are gone, and a commit would carry the claim on.
//   - Load copies every byte out of the bbolt transaction; nothing it returns
//     points into the memory map, so results stay valid after Close.
//   - BoltOptions.NoSync gives up durability; it exists for benchmarks of
//     the rest of the system.
//   - One process at a time: bbolt holds an exclusive file lock, released by
//     the kernel the moment a killed process dies.
package storage
