package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
)

// wal is a Bolt's write-ahead log: the server's own new writes, made durable
// by one append and one fdatasync, where a bbolt commit costs two fdatasyncs
// and a copy of every page from each changed leaf to the root. The next
// Commit folds what was logged before it into the file and then empties
// that part of the log; Load folds the log into what it returns.
//
// A record is a 4-byte little-endian payload length, the payload's CRC-32C,
// and the payload: a msgpack walPayload. Only the last record can be
// torn (every Log is one append, synced before the next); replay stops at
// the first record that is cut short or fails its checksum and cuts it off,
// so that no new record follows a torn one.
type wal struct {
	path   string
	f      *os.File
	size   int64
	noSync bool
}

// logRecord is what one Log call made durable: entries, and a set of
// writes held (whose entries, where superseded, the store no longer has).
type logRecord struct {
	entries []model.Entry
	seen    model.Seen
}

// walPayload is a logRecord on disk.
type walPayload struct {
	Entries []walEntry `msgpack:"e"`
	Seen    model.Seen `msgpack:"s"`
}

// walEntry is one logged entry.
type walEntry struct {
	Key     []byte        `msgpack:"k"`
	Value   []byte        `msgpack:"v"`
	Version model.Version `msgpack:"t"`
	Seq     uint64        `msgpack:"s"`
	Src     uint32        `msgpack:"r"`
}

const walHeader = 8

// walMaxRecord bounds a record's announced length on replay, so that a torn
// length field cannot make replay allocate gigabytes. A Log of more is
// refused before it is written.
const walMaxRecord = 256 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func openWAL(path string, noSync bool) (*wal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage: open log %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: open log %s: %w", path, err)
	}
	return &wal{path: path, f: f, size: st.Size(), noSync: noSync}, nil
}

// replay returns every whole record, in the order logged, and cuts off a
// torn last record, so that the next append follows the last whole one.
func (w *wal) replay() ([]logRecord, error) {
	if w.size == 0 {
		return nil, nil
	}
	data := make([]byte, w.size)
	if _, err := io.ReadFull(io.NewSectionReader(w.f, 0, w.size), data); err != nil {
		return nil, fmt.Errorf("storage: read log %s: %w", w.path, err)
	}
	var records []logRecord
	whole := 0
	for rest := data; len(rest) >= walHeader; {
		n := binary.LittleEndian.Uint32(rest[0:4])
		sum := binary.LittleEndian.Uint32(rest[4:8])
		if n > walMaxRecord || int(n) > len(rest)-walHeader {
			break // torn
		}
		payload := rest[walHeader : walHeader+int(n)]
		if crc32.Checksum(payload, castagnoli) != sum {
			break // torn
		}
		var p walPayload
		err := unmarshal(payload, &p)
		if err == nil && !p.Seen.Valid() {
			err = fmt.Errorf("seen set %v is not canonical", p.Seen)
		}
		if err != nil {
			// The checksum matched what was written: this is not a torn
			// write but a record this build cannot read.
			return nil, fmt.Errorf("%w: log %s at offset %d: %v", ErrCorrupt, w.path, whole, err)
		}
		rec := logRecord{seen: p.Seen, entries: make([]model.Entry, len(p.Entries))}
		for i, e := range p.Entries {
			rec.entries[i] = model.Entry{Key: e.Key, Value: e.Value, Version: e.Version, Seq: e.Seq, Src: e.Src}
		}
		records = append(records, rec)
		rest = rest[walHeader+int(n):]
		whole += walHeader + int(n)
	}
	if int64(whole) < w.size {
		if err := w.truncate(int64(whole), true); err != nil {
			return nil, fmt.Errorf("storage: cut torn record off log %s: %w", w.path, err)
		}
	}
	return records, nil
}

// appendRecord durably appends one record. On failure it cuts the file back
// to its old size, so that a write the caller was told failed cannot come
// back at the next open; if even that fails, the log's state is unknown and
// the error says so.
func (w *wal) appendRecord(rec logRecord) error {
	p := walPayload{Seen: rec.seen, Entries: make([]walEntry, len(rec.entries))}
	for i, e := range rec.entries {
		p.Entries[i] = walEntry{Key: e.Key, Value: e.Value, Version: e.Version, Seq: e.Seq, Src: e.Src}
	}
	payload, err := msgpack.Marshal(&p)
	if err != nil {
		return fmt.Errorf("storage: encode log record: %w", err)
	}
	if len(payload) > walMaxRecord {
		return fmt.Errorf("storage: log record of %d bytes is larger than %d", len(payload), walMaxRecord)
	}
	buf := make([]byte, walHeader, walHeader+len(payload))
	binary.LittleEndian.PutUint32(buf[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[4:8], crc32.Checksum(payload, castagnoli))
	buf = append(buf, payload...)
	if _, err = w.f.Write(buf); err == nil && !w.noSync {
		err = fdatasync(w.f)
	}
	if err != nil {
		if terr := w.truncate(w.size, true); terr != nil {
			return fmt.Errorf("storage: append to log %s: %w (and cutting it back failed: %v)", w.path, err, terr)
		}
		return fmt.Errorf("storage: append to log %s: %w", w.path, err)
	}
	w.size += int64(len(buf))
	return nil
}

// truncate cuts the log to size bytes, and with sync makes the cut durable
// (a cut that only saves a replay need not be).
func (w *wal) truncate(size int64, sync bool) error {
	if err := w.f.Truncate(size); err != nil {
		return err
	}
	w.size = size
	if !sync || w.noSync {
		return nil
	}
	return fdatasync(w.f)
}

func (w *wal) close() error { return w.f.Close() }

// syncDir makes the directory's entries durable: files created in it
// survive a power loss only once it is synced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// commitState is what a Commit (caller not nil) or a Checkpoint makes of
// the stored state: the caller's entries, then the logged ones, each where
// it is newer than what the key holds, and the stored meta with the
// caller's and the logged writes added (the caller's clock where newer,
// and its replica id). Nothing goes back: a caller whose snapshot predates
// writes that an earlier Commit folded in from the log leaves them whole.
func commitState(stored model.Meta, caller *model.Meta, entries []model.Entry, logged []logRecord, cur func(key []byte) (model.Version, bool), put func(model.Entry)) model.Meta {
	meta := stored
	meta.Seen = stored.Seen.Clone()
	if caller != nil {
		for _, e := range entries {
			putIfNewer(e, cur, put)
		}
		meta.Seen.Union(caller.Seen)
		meta.Clock = model.Max(meta.Clock, caller.Clock)
		meta.Src = caller.Src
	}
	fold(&meta, logged, cur, put)
	return meta
}

// fold applies logged records to a loaded state: each record's seen set and
// each entry's dot join meta.Seen, and an entry replaces the key's when its
// version is newer. cur returns the version a key holds, put stores an
// entry. Folding a log twice changes nothing the second time (versions
// decide, not dots: the meta may already hold the dots of logged writes
// whose entries the file does not, see Bolt.Commit), so a crash between a
// Commit and the log's truncation is harmless.
func fold(meta *model.Meta, logged []logRecord, cur func(key []byte) (model.Version, bool), put func(model.Entry)) {
	for _, rec := range logged {
		meta.Seen.Union(rec.seen)
		for _, e := range rec.entries {
			meta.Seen.Add(e.Dot())
			putIfNewer(e, cur, put)
		}
	}
}

// putIfNewer stores e unless its key holds an entry at least as new.
func putIfNewer(e model.Entry, cur func(key []byte) (model.Version, bool), put func(model.Entry)) {
	if v, ok := cur(e.Key); !ok || v.Less(e.Version) {
		put(e)
	}
}

// foldInto folds logged records into a loaded list of entries.
func foldInto(meta *model.Meta, entries []model.Entry, logged []logRecord) []model.Entry {
	if len(logged) == 0 {
		return entries
	}
	at := make(map[string]int, len(entries))
	for i, e := range entries {
		at[string(e.Key)] = i
	}
	cur := func(key []byte) (model.Version, bool) {
		i, ok := at[string(key)]
		if !ok {
			return model.Version{}, false
		}
		return entries[i].Version, true
	}
	put := func(e model.Entry) {
		e = cloneEntry(e) // the caller may keep what Load returns
		if i, ok := at[string(e.Key)]; ok {
			entries[i] = e
			return
		}
		at[string(e.Key)] = len(entries)
		entries = append(entries, e)
	}
	fold(meta, logged, cur, put)
	return entries
}

// newRecord copies what a Log call is given.
func newRecord(entries []model.Entry, seen model.Seen) logRecord {
	rec := logRecord{seen: seen.Clone(), entries: make([]model.Entry, len(entries))}
	for i, e := range entries {
		rec.entries[i] = cloneEntry(e)
	}
	return rec
}
