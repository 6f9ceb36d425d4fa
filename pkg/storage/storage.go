package storage

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"gossipkv/pkg/model"
)

// Backend is the durable state of one server. Implementations must be safe
// for use by one writer goroutine at a time plus concurrent Close; Load is
// called once at startup.
type Backend interface {
	// Load returns every committed entry (any order) and the meta (zero Meta
	// for a new store), checking every record it reads. Nothing returned
	// shares memory with the backend. Damage (a record that fails its
	// checksum, a log record skipped) is not an error but reported in the
	// State, which then holds only what can be vouched for; the caller
	// must Reset to it before writing anything else.
	Load() (State, error)
	// Commit atomically and durably merges entries and meta into what is
	// stored: an entry replaces its key's record when its version is
	// newer, meta.Seen joins the stored set, the clock moves up to
	// meta.Clock, meta.Stable is taken where newer, and then a tombstone
	// at or below the stable point is dropped from the store rather than
	// kept (the entries passed may be collected tombstones, which is how
	// they leave the disk). Nothing stored goes back, so a
	// caller whose snapshot predates writes it logged (and an earlier
	// Commit folded in) loses none of them. After it returns nil, the whole
	// batch survives a crash (SIGKILL, power loss with fsync on); if it
	// returns an error none of it is visible after a restart. Entries may
	// be empty (meta-only commit). The backend keeps no reference to the
	// caller's slices.
	Commit(entries []model.Entry, meta model.Meta) error
	// Log makes entries and meta durable with one append to a log, more
	// cheaply than a Commit. After it returns nil they survive a crash,
	// and Load returns them folded in: meta.Seen and each entry's dot join
	// the set of writes held, meta.Stable is taken where newer (and the
	// tombstones at or below it are dropped, the entries passed among
	// them: how collected tombstones leave the disk), meta.Members joins
	// the members, and each entry is in the store unless the key holds a
	// newer one. meta.Seen is for writes held without their entries
	// (superseded ones learned from a peer's set); it may be empty, and
	// meta.Clock is not logged. Log may run while a Commit or Checkpoint
	// does; on error nothing of the batch survives a restart, and the
	// backend may refuse further calls like a failed Commit.
	Log(entries []model.Entry, meta model.Meta) error
	// Checkpoint folds everything logged before the call into the main
	// store and frees that part of the log; what Load returns does not
	// change.
	Checkpoint() error
	// Reset replaces everything stored, the log included, with entries and
	// meta, atomically and durably: how a server writes back the state a
	// damaged Load gave it, so that what the disk claims is again what it
	// holds.
	Reset(entries []model.Entry, meta model.Meta) error
	// Close releases the backend; later calls return ErrClosed. Closing
	// twice is harmless.
	Close() error
}

// State is what a Backend holds, as Load found it.
type State struct {
	Entries []model.Entry
	Meta    model.Meta
	// Damage says, one line each, what Load found missing or corrupt and
	// left out: records that failed their checksums, a damaged span of the
	// log, a store whose records do not add up to what its meta says, a
	// store file lost beside its log. When it is not empty, Meta.Seen
	// holds only writes Load could vouch for (the dots of the entries that
	// verified, and whatever undamaged parts vouch for), so that the
	// server's peers send it back everything else.
	Damage []string
}

var (
	_ Backend = (*Bolt)(nil)
	_ Backend = (*Memory)(nil)
)

var (
	// ErrClosed is returned by Load and Commit after Close (and, for Memory,
	// after Crash).
	ErrClosed = errors.New("storage: closed")
	// ErrCorrupt is returned by a commit that finds the meta record
	// damaged (Load reports damage in its State instead), and by an
	// upgrade from an older format that finds a record it cannot read.
	ErrCorrupt = errors.New("storage: corrupt record")
	// ErrUnreadable is returned by OpenBolt (and then by any call) for a
	// file bbolt cannot read: its pages are damaged or it was cut short.
	// The error says what the user can do: move it away, after which the
	// server rebuilds its store from its log and its peers.
	ErrUnreadable = errors.New("storage: database file unreadable")
	// ErrLocked is returned by OpenBolt when another process (or another
	// open Bolt) still holds the file after BoltOptions.LockTimeout.
	ErrLocked = errors.New("storage: database file locked")
	// ErrFormat is returned by OpenBolt for a file written in a format this
	// build does not read (or not by this package at all).
	ErrFormat = errors.New("storage: unknown database format")
)

// MaxKeySize is the longest key a Backend accepts: bbolt's limit less the
// one-byte key prefix. Both implementations enforce it, so that a test
// against Memory cannot pass where a server on Bolt would fail.
const MaxKeySize = bolt.MaxKeySize - 1

// validate rejects a batch that could not be committed or that Load would
// later refuse as corrupt, before anything is written.
func validate(entries []model.Entry, meta model.Meta) error {
	for i := range entries {
		if n := len(entries[i].Key); n > MaxKeySize {
			return fmt.Errorf("storage: entry %d: key of %d bytes is longer than %d", i, n, MaxKeySize)
		}
	}
	if !meta.Seen.Valid() {
		return fmt.Errorf("storage: meta seen set %v is not canonical", meta.Seen)
	}
	if !meta.Stable.Cover.Valid() {
		return fmt.Errorf("storage: stable point's set %v is not canonical", meta.Stable.Cover)
	}
	return nil
}
