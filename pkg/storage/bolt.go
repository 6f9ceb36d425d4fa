package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"gossipkv/pkg/model"
)

// formatVersion is written on creation and checked on open. Bump it with any
// change to the buckets or records that an older build would misread.
// Version 3 sealed every record with a checksum and gave the log's segments
// a header; versions 1 (no log) and 2 are upgraded on open (legacy.go).
const formatVersion uint32 = 3

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

// maxValueSize is bbolt's limit on one record.
const maxValueSize = bolt.MaxValueSize

// BoltOptions tunes OpenBolt.
type BoltOptions struct {
	// NoSync skips fdatasync (durability.fsync=false in the config): a
	// commit then survives a killed process but not a power loss. For
	// benchmarks of the rest of the system only.
	NoSync bool
	// LockTimeout is how long OpenBolt waits for the file lock of a previous
	// process; zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// Syncs, when set, counts every fdatasync and fsync the store makes:
	// the log's appends, resets and synced cuts, two per bbolt transaction
	// it commits (its data pages, then its meta page), and the directory
	// syncs. bbolt's fsync when it grows the file is not counted (it
	// happens once per growth of the file, not per put). One counter may
	// be shared by successive stores (a reopen).
	Syncs *atomic.Uint64
	// HoldUnsynced keeps the log's writes in the process until they are
	// synced, so that a kill loses what was not synced as a power loss
	// would (see heldFS): for harness runs whose kills stand for power
	// losses. Everything else is as without it.
	HoldUnsynced bool
	// fs is the log's file system; nil: the operating system's (or
	// heldFS). Tests put one there that loses what was not synced at a
	// simulated power loss.
	fs fileSystem
}

// synced counts n syncs in o.Syncs, when set.
func (o BoltOptions) synced(n uint64) {
	if o.Syncs != nil {
		o.Syncs.Add(n)
	}
}

// update runs fn in a read-write transaction of db and counts the two
// fdatasyncs of its commit.
func (o BoltOptions) update(db *bolt.DB, fn func(*bolt.Tx) error) error {
	err := db.Update(fn)
	if err == nil && !o.NoSync {
		o.synced(2)
	}
	return err
}

// fileSystem is the log's file system (see BoltOptions.fs).
func (o BoltOptions) fileSystem() fileSystem {
	switch {
	case o.fs != nil:
		return o.fs
	case o.HoldUnsynced:
		return heldFS{}
	}
	return osFS{}
}

// Bolt is a Backend in one bbolt file and its write-ahead log.
type Bolt struct {
	path string
	opts BoltOptions

	// mu serializes Load, Commit, Reset and Close, so that Close waits for
	// a commit in flight and a commit after Close sees db == nil.
	mu sync.Mutex
	// db is nil once closed.
	db *bolt.DB
	// opened is what OpenBolt found that Load must report: a store file
	// that was missing or empty beside a log, damage in the log.
	opened []string

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
	// nextLSN numbers the next record appended.
	nextLSN uint64
	closed  bool
	// failed is the error of a failed commit or log; once set, every
	// Commit and Log returns it (see the package caveats).
	failed error
	// damaged is set by a Load that reported damage, until Reset: the
	// file's meta may claim writes that are gone, and a commit would carry
	// the claim on.
	damaged bool

	// commitHook, when set (by tests only), runs last inside the commit
	// transaction; an error from it aborts the transaction.
	commitHook func(*bolt.Tx) error
}

// OpenBolt opens the database file at path, creating it and its parent
// directory if needed, checks its format and replays its log (path.wal0
// and path.wal1). A file bbolt cannot read is ErrUnreadable, with what to
// do about it; damage to records is not an error here but reported by
// Load.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	var opened []string
	_, logFound := logBytes(path)
	fresh := false
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		fresh = true
		if held, ok := logBytes(path); ok {
			opened = append(opened, fmt.Sprintf("%s is missing, though its log is there (%d bytes past its segments' headers): the store was lost, and is rebuilt from the log and from peers", path, held))
		}
	case err != nil:
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	case st.Size() == 0:
		fresh = true
		opened = append(opened, fmt.Sprintf("%s was empty (0 bytes): started from an empty store (and its log, if any); peers bring back what it held", path))
	default:
		if err := preflight(path, opts.LockTimeout); err != nil {
			return nil, err
		}
	}
	b := &Bolt{path: path, opts: opts, opened: opened, nextLSN: 1}
	var db *bolt.DB
	err = guard(path, func() error {
		var err error
		db, err = bolt.Open(path, 0o600, b.boltOptions())
		return err
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is still held by another process (or another open Bolt) after %v: %w",
			ErrLocked, path, opts.LockTimeout, err)
	}
	if err != nil {
		return nil, unreadable(path, err)
	}
	// A new file gets an empty meta record, unless a log is there: then
	// the store it went with was lost, and a file without a meta record
	// says so at every Load until Reset writes one, even if the server
	// dies before that.
	withMeta := fresh && !logFound
	var version uint32
	var folded uint64
	var foldedKnown bool
	if err := guard(path, func() error {
		return opts.update(db, func(tx *bolt.Tx) (err error) {
			if version, err = initFormat(tx, withMeta); err != nil {
				return err
			}
			var mr metaRecord
			if raw := tx.Bucket(metaBucket).Get(replicaKey); raw != nil && version == formatVersion && unseal(replicaKey, raw, &mr) == nil {
				folded, foldedKnown = mr.LSN, true
			}
			return nil
		})
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	// The bbolt file lock, held from here, covers the log too.
	b.db = db
	if version != formatVersion {
		entries, meta, err := readLegacy(db, path, version)
		if err == nil {
			err = b.rebuild(entries, meta)
		}
		if err == nil {
			err = removeLegacyLog(path)
		}
		if err != nil {
			_ = b.Close()
			return nil, fmt.Errorf("storage: upgrade %s from format %d: %w", path, version, err)
		}
		foldedKnown = true
	}
	if err := b.openLog(folded, foldedKnown); err != nil {
		_ = b.Close()
		return nil, err
	}
	// The file and the log's segments may have just been created: their
	// names must survive a power loss before anything is acknowledged.
	if !opts.NoSync {
		if err := opts.fileSystem().syncDir(filepath.Dir(path)); err != nil {
			_ = b.Close()
			return nil, fmt.Errorf("storage: sync directory of %s: %w", path, err)
		}
		opts.synced(1)
	}
	b.damaged = len(b.opened) > 0
	return b, nil
}

// openLog opens the log's segments and judges what their scans found,
// given the sequence number up to which the file has folded the log in
// (known unless the file's meta is unreadable). Records the file already
// holds are left out. The records after it must run on without a gap; a
// record missing from the sequence, a span stepped over, or bytes at a
// segment's end that are not the last append cut short is damage, which
// stays on disk and is reported by Load until Reset. The last append cut
// short is cut off, so that the next append follows the last good record.
func (b *Bolt) openLog(folded uint64, foldedKnown bool) error {
	var scans [2]scan
	for i := range b.logs {
		w, err := openWAL(segmentPath(b.path, i), b.opts.NoSync, b.opts.fileSystem(), b.opts.synced)
		if err != nil {
			return err
		}
		b.logs[i] = w
		if scans[i], err = w.scan(); err != nil {
			return err
		}
	}
	maxLSN := folded
	held := map[uint64]bool{}
	lowest := uint64(0)
	for i, sc := range scans {
		w := b.logs[i]
		if sc.header {
			b.opened = append(b.opened, fmt.Sprintf("%s: segment header unreadable: none of the %d bytes after it could be checked", w.path, w.size-walHeaderSize))
		}
		if n := len(sc.skipped); n > 0 {
			b.opened = append(b.opened, fmt.Sprintf("%s: %d damaged span(s) of records stepped over, the first of %d bytes at offset %d; %d later records verified and were kept",
				w.path, n, sc.skipped[0].n, sc.skipped[0].off, sc.after))
		}
		for _, rec := range sc.records {
			maxLSN = max(maxLSN, rec.lsn)
			if rec.lsn <= folded && foldedKnown {
				continue // the file holds it
			}
			if held[rec.lsn] {
				b.opened = append(b.opened, fmt.Sprintf("%s: record %d appears twice", w.path, rec.lsn))
				continue
			}
			held[rec.lsn] = true
			if lowest == 0 || rec.lsn < lowest {
				lowest = rec.lsn
			}
			b.logged[i] = append(b.logged[i], rec)
		}
	}
	base := folded
	if !foldedKnown && lowest > 0 {
		base = lowest - 1
	}
	if missing := int(maxLSN-base) - len(held); missing > 0 {
		first := base + 1
		for held[first] {
			first++
		}
		b.opened = append(b.opened, fmt.Sprintf("%s.wal*: %d record(s) missing from the log's sequence, the first number %d (the log runs to %d)", b.path, missing, first, maxLSN))
	}
	// Only one append can have been cut short: the one after the last.
	// Zeros hold nothing: the room a segment grows by, or an extension of
	// the file whose data never reached the disk; any segment may end so.
	cutShort := func(sc scan) bool { return !sc.tailZeros && (sc.tailShort || sc.tailLSN == maxLSN+1) }
	torn := 0
	for _, sc := range scans {
		if sc.tail.n > 0 && cutShort(sc) {
			torn++
		}
	}
	for i, sc := range scans {
		if sc.tail.n == 0 {
			continue
		}
		if sc.tailZeros || torn == 1 && cutShort(sc) {
			if err := b.logs[i].cut(sc.tail.off); err != nil {
				return err
			}
			continue
		}
		b.opened = append(b.opened, fmt.Sprintf("%s: %d bytes at offset %d that are not the last append cut short", b.logs[i].path, sc.tail.n, sc.tail.off))
	}
	b.nextLSN = maxLSN + 1
	// Append to the segment that holds the newest records: the first
	// checkpoint then folds both.
	if len(b.logged[1]) > 0 && (len(b.logged[0]) == 0 || b.logged[1][len(b.logged[1])-1].lsn > b.logged[0][len(b.logged[0])-1].lsn) {
		b.cur = 1
	}
	return nil
}

func (b *Bolt) boltOptions() *bolt.Options {
	return &bolt.Options{
		Timeout: b.opts.LockTimeout,
		// The freelist is written with every commit (a page or two), not
		// rebuilt at open by a walk of every page: bbolt walks on a
		// goroutine of its own, where a damaged page is a fault no
		// recover can catch, and the process would die with a stack
		// trace instead of an error that names the file.
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
		NoSync:         b.opts.NoSync,
	}
}

func segmentPath(path string, i int) string { return fmt.Sprintf("%s.wal%d", path, i) }

// logBytes is how many bytes the log's segments beside path hold past
// their headers (records, and any zeros grown ahead of them), and whether any segment is there at all: a log without its store
// file means the store was there once.
func logBytes(path string) (n int64, found bool) {
	for i := range 2 {
		if st, err := os.Stat(segmentPath(path, i)); err == nil {
			found = true
			n += max(0, st.Size()-walHeaderSize)
		}
	}
	return n, found
}

// preflight reads every key and value of an existing file through a
// read-only handle, on this goroutine, before the file is opened for
// writing, and checks that its pages are all in the file. A file written
// without a freelist (by an older build) gets one at its first open for
// writing, by a walk of every page on a goroutine of bbolt's own, where a
// damaged page (a pointer past the end of a truncated file, a key whose
// length runs off its page) is a fault no recover can catch.
func preflight(path string, lockTimeout time.Duration) error {
	return guard(path, func() error {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
		if errors.Is(err, berrors.ErrTimeout) {
			return fmt.Errorf("%w: %s is still held by another process (or another open Bolt) after %v: %w",
				ErrLocked, path, lockTimeout, err)
		}
		if err != nil {
			return unreadable(path, err)
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error {
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			if tx.Size() > st.Size() {
				return unreadable(path, fmt.Errorf("the file has %d bytes but its pages reach %d: it was cut short", st.Size(), tx.Size()))
			}
			var sum byte
			err = tx.ForEach(func(name []byte, b *bolt.Bucket) error {
				return b.ForEach(func(k, v []byte) error {
					for _, c := range k {
						sum ^= c
					}
					for _, c := range v {
						sum ^= c
					}
					return nil
				})
			})
			_ = sum
			return err
		})
	})
}

// guard runs fn, turning a panic (bbolt's assertions on a damaged page) or
// a memory fault (a read past the end of the mapped file) into an error
// naming the file.
func guard(path string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = unreadable(path, fmt.Errorf("bbolt failed reading it: %v", r))
		}
	}()
	return fn()
}

// unreadable wraps why a store file cannot be used at all in ErrUnreadable
// and says what the user can do.
func unreadable(path string, err error) error {
	if errors.Is(err, ErrUnreadable) || errors.Is(err, ErrLocked) {
		return err
	}
	return fmt.Errorf("%w: %s: %v; move it away (mv %s %s.broken) and start the server again: it rebuilds the store from its log and its peers",
		ErrUnreadable, path, err, path, path)
}

// initFormat creates the buckets and format record of a new file (and,
// withMeta, an empty meta record), or checks those of an existing one, and
// returns its format version.
func initFormat(tx *bolt.Tx, withMeta bool) (uint32, error) {
	meta, store := tx.Bucket(metaBucket), tx.Bucket(storeBucket)
	if meta == nil && store == nil {
		var err error
		if meta, err = tx.CreateBucket(metaBucket); err != nil {
			return 0, err
		}
		if _, err = tx.CreateBucket(storeBucket); err != nil {
			return 0, err
		}
		if withMeta {
			mv, err := seal(replicaKey, &metaRecord{})
			if err != nil {
				return 0, err
			}
			if err := meta.Put(replicaKey, mv); err != nil {
				return 0, err
			}
		}
		return formatVersion, putFormat(meta)
	}
	if meta == nil || store == nil {
		return 0, fmt.Errorf("%w: bucket %q or %q is missing", ErrFormat, metaBucket, storeBucket)
	}
	raw := meta.Get(formatKey)
	if raw == nil {
		return 0, fmt.Errorf("%w: no format record", ErrFormat)
	}
	var v uint32
	if err := unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("%w: format record: %v", ErrFormat, err)
	}
	if v != formatVersion && !slices.Contains(legacyVersions, v) {
		return 0, fmt.Errorf("%w: version %d, this build reads versions %v and %d", ErrFormat, v, legacyVersions, formatVersion)
	}
	return v, nil
}

func putFormat(meta *bolt.Bucket) error {
	v, err := msgpack.Marshal(formatVersion)
	if err != nil {
		return err
	}
	return meta.Put(formatKey, v)
}

// fileState is what the bbolt file holds, as Load read it.
type fileState struct {
	entries []model.Entry
	meta    model.Meta
	// damage lists what failed its checks; a damaged file's meta cannot
	// be trusted to describe its entries.
	damage []string
}

// readFile reads and checks every record of the file.
func readFile(path string, tx *bolt.Tx) fileState {
	var fs fileState
	var mr metaRecord
	raw := tx.Bucket(metaBucket).Get(replicaKey)
	metaOK := false
	if raw != nil {
		err := unseal(replicaKey, raw, &mr)
		if err == nil && !mr.Seen.Valid() {
			err = fmt.Errorf("seen set %v is not canonical", mr.Seen)
		}
		if err != nil {
			fs.damage = append(fs.damage, fmt.Sprintf("%s: meta record: %v", path, err))
		} else {
			metaOK = true
			fs.meta = model.Meta{Seen: mr.Seen, Clock: mr.Clock, Stable: mr.Stable, Members: mr.Members}
		}
	}
	var keys, digest uint64
	var bad []string
	nBad := 0
	// A damaged branch page can show a key twice.
	at := map[string]int{}
	_ = tx.Bucket(storeBucket).ForEach(func(k, v []byte) error {
		keys++
		digest ^= recordHash(k, v)
		e, err := decodeRecord(k, v)
		if err == nil {
			if i, dup := at[string(k)]; dup {
				err = errors.New("key seen twice")
				if fs.entries[i].Less(e) {
					fs.entries[i] = e
				}
			}
		}
		if err != nil {
			if nBad++; len(bad) < 3 {
				bad = append(bad, fmt.Sprintf("%q (%v)", showKey(k), err))
			}
			return nil
		}
		at[string(k)] = len(fs.entries)
		fs.entries = append(fs.entries, e)
		return nil
	})
	if nBad > 0 {
		more := ""
		if nBad > len(bad) {
			more = fmt.Sprintf(" and %d more", nBad-len(bad))
		}
		fs.damage = append(fs.damage, fmt.Sprintf("%s: %d records failed their checks, treated as missing: %s%s", path, nBad, joinComma(bad), more))
	}
	switch {
	case metaOK && (mr.Keys != keys || mr.Digest != digest):
		fs.damage = append(fs.damage, fmt.Sprintf("%s: the store holds %d records (digest %016x) where its meta says %d (%016x): records were lost or changed in the file's own pages",
			path, keys, digest, mr.Keys, mr.Digest))
	case raw == nil:
		fs.damage = append(fs.damage, fmt.Sprintf("%s: meta record missing (beside %d records): the file is not the store the log went with, or was never completed", path, keys))
	}
	return fs
}

func showKey(k []byte) []byte {
	if len(k) > 0 && k[0] == storeKeyPrefix {
		k = k[1:]
	}
	if len(k) > 64 {
		k = k[:64]
	}
	return k
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// Load reads the whole store and the meta in one read transaction, checks
// every record, and folds in what the log holds (see Backend.Load and
// State). It writes nothing: a server on a full disk can still reload its
// state.
func (b *Bolt) Load() (State, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return State{}, ErrClosed
	}
	var fs fileState
	err := guard(b.path, func() error {
		return b.db.View(func(tx *bolt.Tx) error {
			fs = readFile(b.path, tx)
			return nil
		})
	})
	if err != nil {
		return State{}, err
	}
	b.logMu.Lock()
	logged := slices.Concat(b.logged[0], b.logged[1])
	b.logMu.Unlock()
	st := recoverState(fs, logged, b.opened)
	if len(st.Damage) > 0 {
		b.damaged = true
	}
	return st, nil
}

// recoverState folds the log into the file's state. Where something was
// damaged, the set of writes held is rebuilt from what can be vouched for:
// the dots of the entries that verified, and the file's meta unless the
// file was damaged. The log records' sets are left out then: a record's
// set is the whole set its server held when it logged it, which covers
// every write before it, in the file and in a damaged record alike.
func recoverState(fs fileState, logged []logRecord, opened []string) State {
	st := State{Damage: slices.Concat(opened, fs.damage)}
	fileOK, logOK := len(fs.damage) == 0, len(opened) == 0
	st.Meta = model.Meta{Clock: fs.meta.Clock, Members: slices.Clone(fs.meta.Members)}
	if fileOK {
		st.Meta.Seen = fs.meta.Seen.Clone()
	} else {
		for _, e := range fs.entries {
			st.Meta.Seen.Add(e.Dot())
		}
	}
	// A record's set vouches for every write before it, in the file too.
	if !logOK || !fileOK {
		bare := make([]logRecord, len(logged))
		for i, rec := range logged {
			bare[i] = logRecord{entries: rec.entries, members: rec.members}
		}
		logged = bare
	}
	if fileOK {
		st.Meta.Stable = fs.meta.Stable.Clone()
	}
	st.Entries = foldInto(&st.Meta, fs.entries, logged)
	// The stable point holds only where everything held was vouched for:
	// a replica that takes it answers for every key up to it (see
	// model.Replica.Get), so a damaged one starts without, and takes it
	// again once its peers have filled it in. Its tombstones go either way.
	st.Entries = dropCollected(st.Entries, st.Meta.Stable)
	if len(st.Damage) > 0 {
		st.Meta.Stable = model.Stable{}
	}
	return st
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

// usable returns why nothing may be written now; logMu must be held.
func (b *Bolt) usable() error {
	if b.failed != nil {
		return fmt.Errorf("storage: %s: an earlier commit or log failed, reopen to recover: %w", b.path, b.failed)
	}
	if b.damaged {
		return fmt.Errorf("storage: %s: Load reported damage; Reset must write the state it returned first", b.path)
	}
	return nil
}

// commit is Commit, or with meta nil a Checkpoint: the file's own meta
// then takes the logged writes.
func (b *Bolt) commit(entries []model.Entry, meta *model.Meta) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return ErrClosed
	}
	b.logMu.Lock()
	if err := b.usable(); err != nil {
		b.logMu.Unlock()
		return err
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

	err := guard(b.path, func() error {
		return b.opts.update(b.db, func(tx *bolt.Tx) error {
			w, mr, err := openStore(tx)
			if err != nil {
				return err
			}
			stored := model.Meta{Seen: mr.Seen, Clock: mr.Clock, Stable: mr.Stable, Members: mr.Members}
			next := commitState(stored, meta, entries, logged, w.get, w.put, w.del)
			if w.err != nil {
				return w.err
			}
			lsn := mr.LSN
			for _, rec := range logged {
				lsn = max(lsn, rec.lsn)
			}
			if err := w.finish(next, lsn); err != nil {
				return err
			}
			if b.commitHook != nil {
				return b.commitHook(tx)
			}
			return nil
		})
	})
	b.logMu.Lock()
	defer b.logMu.Unlock()
	if err != nil {
		b.failed = err
		return fmt.Errorf("storage: commit to %s: %w", b.path, err)
	}
	b.logged[seg] = nil
	b.logged[other] = slices.Delete(b.logged[other], 0, older)
	if b.logs[seg].size > walHeaderSize {
		// The file now holds the segment. Failing to empty it, or losing
		// the cut in a crash, only costs a replay that changes nothing;
		// appends then follow it.
		_ = b.logs[seg].empty()
	}
	return nil
}

// storeWriter writes entries into the store bucket of a transaction and
// keeps the meta's count and digest of its records in step.
type storeWriter struct {
	tx     *bolt.Tx
	store  *bolt.Bucket
	keys   uint64
	digest uint64
	puts   int
	err    error
}

// openStore starts writing to tx's store, from the count and digest its
// meta record gives.
func openStore(tx *bolt.Tx) (*storeWriter, metaRecord, error) {
	var mr metaRecord
	if raw := tx.Bucket(metaBucket).Get(replicaKey); raw != nil {
		if err := unseal(replicaKey, raw, &mr); err != nil {
			return nil, mr, fmt.Errorf("%w: meta record: %v", ErrCorrupt, err)
		}
	}
	return &storeWriter{tx: tx, store: tx.Bucket(storeBucket), keys: mr.Keys, digest: mr.Digest}, mr, nil
}

// get returns the entry stored under key, without its value (commitState
// only orders and collects by what it returns); a record that fails its
// checks counts as absent, so that the entry written over it repairs it.
func (w *storeWriter) get(key []byte) (model.Entry, bool) {
	sk := storeKey(key)
	raw := w.store.Get(sk)
	if raw == nil {
		return model.Entry{}, false
	}
	e, err := decodeRecordHead(sk, raw)
	return e, err == nil
}

func (w *storeWriter) put(e model.Entry) {
	if w.err != nil {
		return
	}
	// A checkpoint may fold thousands of entries, next to a server
	// answering puts on as few as one thread for Go code
	// (runtime.gomaxprocs): let it run between them, rather than wait for
	// the scheduler's 10 ms time slice.
	if w.puts++; w.puts%16 == 0 {
		runtime.Gosched()
	}
	sk := storeKey(e.Key)
	v, err := encodeRecord(sk, e)
	if err != nil {
		w.err = err
		return
	}
	if old := w.store.Get(sk); old != nil {
		w.digest ^= recordHash(sk, old)
		w.keys--
	}
	if w.err = w.store.Put(sk, v); w.err == nil {
		w.digest ^= recordHash(sk, v)
		w.keys++
	}
}

// del removes key's record.
func (w *storeWriter) del(key []byte) {
	if w.err != nil {
		return
	}
	sk := storeKey(key)
	old := w.store.Get(sk)
	if old == nil {
		return
	}
	w.digest ^= recordHash(sk, old)
	w.keys--
	w.err = w.store.Delete(sk)
}

// finish writes the meta record, with the store's count and digest and the
// sequence number of the last log record the file holds.
func (w *storeWriter) finish(meta model.Meta, lsn uint64) error {
	mv, err := seal(replicaKey, &metaRecord{Seen: meta.Seen, Clock: meta.Clock, Stable: meta.Stable, Members: meta.Members, Keys: w.keys, Digest: w.digest, LSN: lsn})
	if err != nil {
		return fmt.Errorf("encode meta: %w", err)
	}
	return w.tx.Bucket(metaBucket).Put(replicaKey, mv)
}

// Reset replaces everything stored, the log included, with entries and
// meta (see Backend.Reset). It writes them to a new file beside the old
// one and renames it over the old: damage to bbolt's own pages (a freelist
// that frees a page in use, a branch that lost a leaf) does not survive
// it. A crash before the rename leaves the old file, after it the new one
// beside the old log; either way the next Load finds the same damage (or
// none) and the server resets again.
func (b *Bolt) Reset(entries []model.Entry, meta model.Meta) error {
	if err := validate(entries, meta); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return ErrClosed
	}
	b.logMu.Lock()
	defer b.logMu.Unlock()
	if b.failed != nil {
		return fmt.Errorf("storage: %s: an earlier commit or log failed, reopen to recover: %w", b.path, b.failed)
	}
	if err := b.rebuild(entries, meta); err != nil {
		b.failed = err
		return fmt.Errorf("storage: reset %s: %w", b.path, err)
	}
	for i, l := range b.logs {
		if err := l.reset(); err != nil {
			b.failed = err
			return fmt.Errorf("storage: reset %s: %w", b.path, err)
		}
		b.logged[i] = nil
	}
	b.cur, b.damaged, b.opened = 0, false, nil
	return nil
}

// rebuild writes entries and meta to a new file and puts it in the old
// one's place, leaving b.db open on it (or nil on failure).
func (b *Bolt) rebuild(entries []model.Entry, meta model.Meta) error {
	tmp := b.path + ".rebuild"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	sorted := slices.Clone(entries)
	sort.Slice(sorted, func(i, j int) bool { return string(sorted[i].Key) < string(sorted[j].Key) })
	ndb, err := bolt.Open(tmp, 0o600, b.boltOptions())
	if err != nil {
		return err
	}
	err = b.opts.update(ndb, func(tx *bolt.Tx) error {
		if _, err := initFormat(tx, false); err != nil {
			return err
		}
		w := &storeWriter{tx: tx, store: tx.Bucket(storeBucket)}
		for _, e := range sorted {
			w.put(e)
		}
		if w.err != nil {
			return w.err
		}
		// Every record logged so far is in it: a log that outlives the
		// rename (a crash before Reset empties it) is then left alone.
		return w.finish(meta, b.nextLSN-1)
	})
	if err = errors.Join(err, ndb.Close()); err != nil {
		return err
	}
	// The file lock is released from here to the reopen below: only
	// this server's process uses its data directory (the watchdog runs
	// one at a time), so nothing takes it meanwhile.
	if err := b.db.Close(); err != nil {
		return err
	}
	b.db = nil
	if err := os.Rename(tmp, b.path); err != nil {
		return err
	}
	if !b.opts.NoSync {
		if err := syncDir(filepath.Dir(b.path)); err != nil {
			return err
		}
		b.opts.synced(1)
	}
	return guard(b.path, func() error {
		var err error
		b.db, err = bolt.Open(b.path, 0o600, b.boltOptions())
		return err
	})
}

// Log makes entries and meta durable with one append to the write-ahead log
// (see Backend.Log). It does not wait for a Commit in progress.
func (b *Bolt) Log(entries []model.Entry, meta model.Meta) error {
	if err := validate(entries, meta); err != nil {
		return err
	}
	b.logMu.Lock()
	defer b.logMu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if err := b.usable(); err != nil {
		return err
	}
	rec := newRecord(entries, meta)
	rec.lsn = b.nextLSN
	if err := b.logs[b.cur].appendRecord(rec); err != nil {
		b.failed = err
		return err
	}
	b.nextLSN++
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
	var err error
	if b.db != nil {
		err = b.db.Close()
	}
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

func corrupt(bucket, key []byte, err error) error {
	return fmt.Errorf("%w: bucket %q key %q: %v", ErrCorrupt, bucket, key, err)
}
