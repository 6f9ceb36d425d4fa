package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
const formatVersion uint32 = 1

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

// Bolt is a Backend in one bbolt file.
type Bolt struct {
	path string

	// mu serializes Load, Commit and Close, so that Close waits for a commit
	// in flight and a commit after Close sees db == nil.
	mu sync.Mutex
	// db is nil once closed.
	db *bolt.DB
	// log holds what Log made durable since the last Commit, and logged
	// its entries: what a crash left in it, found at open, and what was
	// logged since.
	log    *wal
	logged []model.Entry
	// failed is the error of a failed commit; once set, every Commit
	// returns it (see the package caveats).
	failed error
	// commitHook, when set (by tests only), runs last inside the commit
	// transaction; an error from it aborts the transaction.
	commitHook func(*bolt.Tx) error
}

// OpenBolt opens the database file at path, creating it and its parent
// directory if needed, and checks its format.
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
	log, err := openWAL(path+".wal", opts.NoSync)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	// Replay also cuts a torn last record off, before anything is
	// appended after it.
	logged, err := log.replay()
	if err != nil {
		_ = log.close()
		_ = db.Close()
		return nil, err
	}
	return &Bolt{path: path, db: db, log: log, logged: logged}, nil
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
		v, err := msgpack.Marshal(formatVersion)
		if err != nil {
			return err
		}
		return meta.Put(formatKey, v)
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
	if v != formatVersion {
		return fmt.Errorf("%w: version %d, this build reads version %d", ErrFormat, v, formatVersion)
	}
	return nil
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
	return foldInto(&meta, entries, b.logged), meta, nil
}

// Commit writes the batch and the meta in one bbolt transaction.
func (b *Bolt) Commit(entries []model.Entry, meta model.Meta) error {
	if err := validate(entries, meta); err != nil {
		return err
	}
	// Encode before taking the lock: the transaction then only copies bytes
	// into pages. Each value gets its own buffer, since bbolt requires it to
	// stay valid for the life of the transaction.
	keys := make([][]byte, len(entries))
	vals := make([][]byte, len(entries))
	for i := range entries {
		v, err := encodeRecord(entries[i])
		if err != nil {
			return err
		}
		keys[i], vals[i] = storeKey(entries[i].Key), v
	}
	mv, err := msgpack.Marshal(&meta)
	if err != nil {
		return fmt.Errorf("storage: encode meta: %w", err)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return ErrClosed
	}
	if b.failed != nil {
		return fmt.Errorf("storage: %s: an earlier commit failed, reopen to recover: %w", b.path, b.failed)
	}
	err = b.db.Update(func(tx *bolt.Tx) error {
		store := tx.Bucket(storeBucket)
		// What the log holds goes into the file first: the caller's
		// entries cover what it logged since the open (the contract), but
		// not necessarily what a crash left there, which it only loaded.
		if err := b.foldLogged(tx); err != nil {
			return err
		}
		for i := range keys {
			if err := store.Put(keys[i], vals[i]); err != nil {
				return err
			}
		}
		if err := tx.Bucket(metaBucket).Put(replicaKey, mv); err != nil {
			return err
		}
		if b.commitHook != nil {
			return b.commitHook(tx)
		}
		return nil
	})
	if err != nil {
		b.failed = err
		return fmt.Errorf("storage: commit to %s: %w", b.path, err)
	}
	b.logged = nil
	if b.log.size > 0 {
		// The file now holds all of the log. Failing to empty it only
		// costs a replay that changes nothing; the next Log appends
		// after it.
		_ = b.log.truncate(0)
	}
	return nil
}

// foldLogged writes the logged entries into tx's store bucket where they
// are newer than what it holds.
func (b *Bolt) foldLogged(tx *bolt.Tx) error {
	if len(b.logged) == 0 {
		return nil
	}
	var meta model.Meta
	if raw := tx.Bucket(metaBucket).Get(replicaKey); raw != nil {
		if err := unmarshal(raw, &meta); err != nil {
			return corrupt(metaBucket, replicaKey, err)
		}
	}
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
	put := func(e model.Entry) {
		if failed != nil {
			return
		}
		v, err := encodeRecord(e)
		if err == nil {
			err = store.Put(storeKey(e.Key), v)
		}
		failed = err
	}
	fold(&meta, b.logged, cur, put)
	return failed
}

// Log makes entries, new writes of this replica, durable with one append
// to the write-ahead log (see Backend.Log).
func (b *Bolt) Log(entries []model.Entry) error {
	if err := validate(entries, model.Meta{}); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return ErrClosed
	}
	if b.failed != nil {
		return fmt.Errorf("storage: %s: an earlier commit failed, reopen to recover: %w", b.path, b.failed)
	}
	if err := b.log.appendRecord(entries); err != nil {
		b.failed = err
		return err
	}
	for _, e := range entries {
		b.logged = append(b.logged, cloneEntry(e))
	}
	return nil
}

// Close closes the file and releases its lock.
func (b *Bolt) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return nil
	}
	err := errors.Join(b.db.Close(), b.log.close())
	b.db = nil
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
