package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"gossipkv/pkg/model"
	"gossipkv/pkg/mpcheck"
)

// formatVersion is written on creation and checked on open. Bump it with any
// change to the buckets or records that an older build would misread.
// Version 2 added the write-ahead log beside the file: a build that knew
// only version 1 would ignore it and lose what it holds, so it must refuse
// the file. A version-1 file (no log) is upgraded on open.
const formatVersion uint32 = 2

// upgradableVersion is the older format this build reads and upgrades.
const upgradableVersion uint32 = 1

// DefaultLockTimeout is how long OpenBolt waits for the file lock when
// BoltOptions.LockTimeout is zero: long enough for the kernel to release the
// lock of a process that is being killed, short enough that a second live
// server on the same file is reported rather than waited for.
const DefaultLockTimeout = 5 * time.Second

var (
	storeBucket = []byte("store")
	metaBucket  = []byte("meta")
	replicaKey  = []byte("replica")
	formatKey   = []byte("format")
)

// storeKeyPrefix starts every key of the store bucket, so that the empty key,
// which bbolt refuses, can be stored too.
const storeKeyPrefix = 'k'

// storeRecord is an entry as stored under its key; the key is not repeated.
type storeRecord struct {
	Value   []byte        `msgpack:"v"`
	Version model.Version `msgpack:"t"`
	Seq     uint64        `msgpack:"s"`
	Src     uint32        `msgpack:"r"`
}

// BoltOptions tunes OpenBolt.
type BoltOptions struct {
	// NoSync skips fdatasync (durability.fsync=false in the config): a
	// commit then survives a killed process but not a power loss. For
	// benchmarks of the rest of the system only.
	NoSync bool
	// LockTimeout is how long OpenBolt waits for the file lock of a previous
	// process; zero means DefaultLockTimeout.
	LockTimeout time.Duration
}

// Bolt is a Backend in one bbolt file and its write-ahead log.
type Bolt struct {
	path string

	// mu serializes Load, Commit and Close, so that Close waits for a commit
	// in flight and a commit after Close sees db == nil.
	mu sync.Mutex
	// db is nil once closed.
	db *bolt.DB

	// logMu guards the log, apart from the file: Log runs while a Commit
	// writes the file, so that a server answers puts during its commits.
	// Lock order: mu, then logMu.
	logMu sync.Mutex
	// logs are the log's two segments. Log appends to logs[cur]; a Commit
	// switches cur to the other one and folds into the file the segment it
	// left, which it empties once the file holds it. logged[i] are the
	// entries in logs[i]: what a crash left there, found at open, and what
	// was logged since.
	logs   [2]*wal
	logged [2][]logRecord
	cur    int
	closed bool
	// failed is the error of a failed commit or log; once set, every
	// Commit and Log returns it (see the package caveats).
	failed error

	// commitHook, when set (by tests only), runs last inside the commit
	// transaction; an error from it aborts the transaction.
	commitHook func(*bolt.Tx) error
}

// OpenBolt opens the database file at path, creating it and its parent
// directory if needed, and checks its format. The log's segments are
// path.wal0 and path.wal1.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: opts.LockTimeout,
		// The freelist is rebuilt by a scan on open instead of being
		// written on every commit: fewer pages per commit.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		NoSync:         opts.NoSync,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is still held by another process (or another open Bolt) after %v: %w",
			ErrLocked, path, opts.LockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	if err := db.Update(initFormat); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	// The bbolt file lock, held from here, covers the log too.
	b := &Bolt{path: path, db: db}
	for i := range b.logs {
		w, err := openWAL(fmt.Sprintf("%s.wal%d", path, i), opts.NoSync)
		if err == nil {
			// Replay also cuts a torn last record off, before anything
			// is appended after it.
			b.logged[i], err = w.replay()
			b.logs[i] = w
		}
		if err != nil {
			_ = b.Close()
			return nil, err
		}
	}
	// The file and the log's segments may have just been created: their
	// names must survive a power loss before anything is acknowledged.
	if !opts.NoSync {
		if err := syncDir(filepath.Dir(path)); err != nil {
			_ = b.Close()
			return nil, fmt.Errorf("storage: sync directory of %s: %w", path, err)
		}
	}
	// Append to the segment a crash left records in, if one did: the
	// first Commit then folds it into the file and empties it.
	if b.logs[0].size == 0 && b.logs[1].size > 0 {
		b.cur = 1
	}
	return b, nil
}

func storeKey(key []byte) []byte {
	k := make([]byte, 1+len(key))
	k[0] = storeKeyPrefix
	copy(k[1:], key)
	return k
}

// encodeRecord is an entry's value in the store bucket.
func encodeRecord(e model.Entry) ([]byte, error) {
	v, err := msgpack.Marshal(&storeRecord{Value: e.Value, Version: e.Version, Seq: e.Seq, Src: e.Src})
	if err != nil {
		return nil, fmt.Errorf("storage: encode entry %q: %w", e.Key, err)
	}
	if len(v) > bolt.MaxValueSize {
		return nil, fmt.Errorf("storage: entry %q: record of %d bytes is larger than %d", e.Key, len(v), bolt.MaxValueSize)
	}
	return v, nil
}

// initFormat creates the buckets and format record of a new file, or checks
// those of an existing one.
func initFormat(tx *bolt.Tx) error {
	meta, store := tx.Bucket(metaBucket), tx.Bucket(storeBucket)
	if meta == nil && store == nil {
		var err error
		if meta, err = tx.CreateBucket(metaBucket); err != nil {
			return err
		}
		if _, err = tx.CreateBucket(storeBucket); err != nil {
			return err
		}
		return putFormat(meta)
	}
	if meta == nil || store == nil {
		return fmt.Errorf("%w: bucket %q or %q is missing", ErrFormat, metaBucket, storeBucket)
	}
	raw := meta.Get(formatKey)
	if raw == nil {
		return fmt.Errorf("%w: no format record", ErrFormat)
	}
	var v uint32
	if err := unmarshal(raw, &v); err != nil {
		return fmt.Errorf("%w: format record: %v", ErrFormat, err)
	}
	switch v {
	case formatVersion:
		return nil
	case upgradableVersion:
		return putFormat(meta)
	}
	return fmt.Errorf("%w: version %d, this build reads versions %d and %d", ErrFormat, v, upgradableVersion, formatVersion)
}

func putFormat(meta *bolt.Bucket) error {
	v, err := msgpack.Marshal(formatVersion)
	if err != nil {
		return err
	}
	return meta.Put(formatKey, v)
}

// Load reads the whole store and the meta in one read transaction and folds
// in what the log holds. It writes nothing: a server on a full disk can
// still reload its state.
func (b *Bolt) Load() ([]model.Entry, model.Meta, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return nil, model.Meta{}, ErrClosed
	}
	var entries []model.Entry
	var meta model.Meta
	err := b.db.View(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(metaBucket).Get(replicaKey); raw != nil {
			if err := unmarshal(raw, &meta); err != nil {
				return corrupt(metaBucket, replicaKey, err)
			}
			if !meta.Seen.Valid() {
				return corrupt(metaBucket, replicaKey, fmt.Errorf("seen set %v is not canonical", meta.Seen))
			}
		}
		return tx.Bucket(storeBucket).ForEach(func(k, v []byte) error {
			if len(k) == 0 || k[0] != storeKeyPrefix {
				return corrupt(storeBucket, k, errors.New("key lacks the store prefix"))
			}
			key := k[1:]
			if v == nil {
				return corrupt(storeBucket, key, errors.New("nested bucket"))
			}
			// msgpack copies []byte fields out of its input (checked by
			// TestUnmarshal_DoesNotAlias), so only the key needs a copy.
			var rec storeRecord
			if err := unmarshal(v, &rec); err != nil {
				return corrupt(storeBucket, key, err)
			}
			entries = append(entries, model.Entry{Key: bytes.Clone(key), Value: rec.Value, Version: rec.Version, Seq: rec.Seq, Src: rec.Src})
			return nil
		})
	})
	if err != nil {
		return nil, model.Meta{}, err
	}
	b.logMu.Lock()
	logged := slices.Concat(b.logged[0], b.logged[1])
	b.logMu.Unlock()
	return foldInto(&meta, entries, logged), meta, nil
}

// Commit merges the batch, then what was logged before the call, and the
// meta with the logged writes added, into the file in one bbolt
// transaction (see Backend); then it empties that part of the log. Log may
// run meanwhile: what it appends goes to the next Commit.
func (b *Bolt) Commit(entries []model.Entry, meta model.Meta) error {
	if err := validate(entries, meta); err != nil {
		return err
	}
	return b.commit(entries, &meta)
}

// Checkpoint folds what was logged before the call into the file, in one
// bbolt transaction, and empties that part of the log (see Backend).
func (b *Bolt) Checkpoint() error { return b.commit(nil, nil) }

// commit is Commit, or with meta nil a Checkpoint: the file's own meta
// then takes the logged writes.
func (b *Bolt) commit(entries []model.Entry, meta *model.Meta) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return ErrClosed
	}
	b.logMu.Lock()
	if b.failed != nil {
		b.logMu.Unlock()
		return fmt.Errorf("storage: %s: an earlier commit or log failed, reopen to recover: %w", b.path, b.failed)
	}
	// Appends go to the other segment from here. It is empty, unless a
	// crash or a failed commit left records in both: those are folded
	// too, and dropped from memory; their bytes stay until that segment's
	// own turn (a replay of them changes nothing).
	seg, other := b.cur, 1-b.cur
	b.cur = other
	older := len(b.logged[other])
	logged := slices.Concat(b.logged[other], b.logged[seg])
	b.logMu.Unlock()
	if meta == nil && len(logged) == 0 {
		return nil // nothing to checkpoint
	}

	err := b.db.Update(func(tx *bolt.Tx) error {
		store := tx.Bucket(storeBucket)
		var failed error
		cur := func(key []byte) (model.Version, bool) {
			raw := store.Get(storeKey(key))
			if raw == nil || failed != nil {
				return model.Version{}, false
			}
			var rec storeRecord
			if err := unmarshal(raw, &rec); err != nil {
				failed = corrupt(storeBucket, key, err)
			}
			return rec.Version, true
		}
		puts := 0
		put := func(e model.Entry) {
			if failed != nil {
				return
			}
			// A checkpoint may fold thousands of entries, next to a server
			// answering puts on as few as one thread for Go code
			// (runtime.gomaxprocs): let it run between them, rather than
			// wait for the scheduler's 10 ms time slice.
			if puts++; puts%16 == 0 {
				runtime.Gosched()
			}
			v, err := encodeRecord(e)
			if err == nil {
				err = store.Put(storeKey(e.Key), v)
			}
			failed = err
		}
		var stored model.Meta
		if raw := tx.Bucket(metaBucket).Get(replicaKey); raw != nil {
			if err := unmarshal(raw, &stored); err != nil {
				return corrupt(metaBucket, replicaKey, err)
			}
		}
		meta := commitState(stored, meta, entries, logged, cur, put)
		if failed != nil {
			return failed
		}
		mv, err := msgpack.Marshal(&meta)
		if err != nil {
			return fmt.Errorf("encode meta: %w", err)
		}
		if err := tx.Bucket(metaBucket).Put(replicaKey, mv); err != nil {
			return err
		}
		if b.commitHook != nil {
			return b.commitHook(tx)
		}
		return nil
	})
	b.logMu.Lock()
	defer b.logMu.Unlock()
	if err != nil {
		b.failed = err
		return fmt.Errorf("storage: commit to %s: %w", b.path, err)
	}
	b.logged[seg] = nil
	b.logged[other] = slices.Delete(b.logged[other], 0, older)
	if b.logs[seg].size > 0 {
		// The file now holds the segment. Failing to empty it, or losing
		// the cut in a crash, only costs a replay that changes nothing;
		// appends then follow it.
		_ = b.logs[seg].truncate(0, false)
	}
	return nil
}

// Log makes entries and seen durable with one append to the write-ahead log
// (see Backend.Log). It does not wait for a Commit in progress.
func (b *Bolt) Log(entries []model.Entry, seen model.Seen) error {
	if err := validate(entries, model.Meta{Seen: seen}); err != nil {
		return err
	}
	b.logMu.Lock()
	defer b.logMu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.failed != nil {
		return fmt.Errorf("storage: %s: an earlier commit or log failed, reopen to recover: %w", b.path, b.failed)
	}
	rec := newRecord(entries, seen)
	if err := b.logs[b.cur].appendRecord(rec); err != nil {
		b.failed = err
		return err
	}
	b.logged[b.cur] = append(b.logged[b.cur], rec)
	return nil
}

// Close closes the files and releases the lock.
func (b *Bolt) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logMu.Lock()
	defer b.logMu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	err := b.db.Close()
	b.db = nil
	for _, w := range b.logs {
		if w != nil {
			err = errors.Join(err, w.close())
		}
	}
	if err != nil {
		return fmt.Errorf("storage: close %s: %w", b.path, err)
	}
	return nil
}

// unmarshal decodes exactly one msgpack value that fills all of data;
// trailing bytes mean the record is not what was written.
func unmarshal(data []byte, v any) error {
	// A corrupt length header would otherwise have the decoder allocate
	// whatever it announces; mpcheck also refuses trailing bytes.
	if err := mpcheck.Check(data); err != nil {
		return err
	}
	r := bytes.NewReader(data)
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(r)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if r.Len() != 0 {
		return fmt.Errorf("%d trailing bytes", r.Len())
	}
	return nil
}

func corrupt(bucket, key []byte, err error) error {
	return fmt.Errorf("%w: bucket %q key %q: %v", ErrCorrupt, bucket, key, err)
}
