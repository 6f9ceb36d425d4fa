package storage

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
)

// wal is one segment of a Bolt's write-ahead log: writes made durable by
// one append and one fdatasync, where a bbolt commit costs two fdatasyncs
// and a copy of every page from each changed leaf to the root. The next
// checkpoint folds what was logged before it into the file and empties
// the segment; Load folds the log into what it returns.
//
// A segment starts with a header, walMagic and 8 random bytes (the salt),
// written when the file is made. A record is:
//
//	"GKVR" | payload length (4 bytes LE) | sequence number (8) | payload sum (4) | header sum (4) | payload
//
// where the payload is a msgpack walPayload, the payload sum is the
// CRC-32C of the salt and the payload, and the header sum that of the salt
// and the header's first 20 bytes. The salt makes a record of another
// segment (or one planted in a value) fail both sums. Sequence numbers
// count every record the Bolt ever appended, across both segments; the
// file's meta record says up to which one it has folded them in.
//
// Every Log is one append, synced before the next, so only the last record
// appended can be torn. A scan reads what verifies and steps over what does
// not, finding the next record by its marker and header sum; the Bolt then
// decides, from both segments' sequence numbers, whether what failed is
// that torn last record (cut off without a word) or damage: a record
// missing from the sequence, a span stepped over, bytes at the end that
// are not the last append. The writes of a damaged record are missing
// (Bolt.Load then claims only what it can vouch for), and the server takes
// them back from its peers.
//
// A segment grows ahead of its records, by walChunk bytes of zeros at a
// time: an append then writes over bytes the file already has, and its
// fdatasync writes only the data, where an append that grows the file
// also commits the file's new size to the file system's journal
// (BenchmarkBolt_Log, one writer, on ext4: 202 against 281 µs an append).
// A scan reads the zeros after the last record as the end of the log, and
// Load cuts them off.
type wal struct {
	path string
	f    segmentFile
	fs   fileSystem
	// size is where the next record goes: the end of the last one.
	// alloc is the file's size, zeros from size on.
	size, alloc int64
	seed        uint32 // CRC-32C of the salt: every sum starts from it
	noSync      bool
	// synced counts the syncs made (BoltOptions.synced).
	synced func(n uint64)
	// scratch is the last append's bytes, kept for the next one: the
	// encoding of a record then costs no allocation and no zeroing of
	// one. Not kept past walScratchMax.
	scratch []byte
}

// logRecord is what one Log call made durable: entries, and a set of
// writes held (whose entries, where superseded, the store no longer has),
// under its sequence number.
type logRecord struct {
	lsn     uint64
	entries []model.Entry
	seen    model.Seen
	// stable and members are the replica's stable point and members when
	// the record was logged (see model.Meta); a fold takes the newer
	// point and the union of the members.
	stable  model.Stable
	members []uint32
}

// walPayload is a logRecord on disk.
type walPayload struct {
	Entries []walEntry    `msgpack:"e"`
	Seen    model.Seen    `msgpack:"s"`
	Stable  *model.Stable `msgpack:"f,omitempty"`
	Members []uint32      `msgpack:"m,omitempty"`
}

// walEntry is one logged entry.
type walEntry struct {
	Key     []byte        `msgpack:"k"`
	Value   []byte        `msgpack:"v"`
	Version model.Version `msgpack:"t"`
	Seq     uint64        `msgpack:"s"`
	Src     uint64        `msgpack:"r"`
	Deleted bool          `msgpack:"d,omitempty"`
}

var (
	walMagic    = []byte("GKVLOG\x00\x03")
	recordMagic = []byte("GKVR")
)

const (
	walHeaderSize = 16 // walMagic and the salt
	recHeaderSize = 24
)

// walChunk is how far a segment grows ahead of its records at a time: one
// write of zeros and one costlier sync per chunk, where each append would
// pay one. A checkpoint empties a segment every checkpoint_interval or
// durability.checkpoint_bytes of records (1 MiB by default), so at the
// defaults a chunk is zeroed about once per checkpoint.
const walChunk = 1 << 20

// zeros is what a segment grows by.
var zeros = make([]byte, walChunk)

// walMaxRecord bounds a record's announced length on replay, so that a torn
// length field cannot make replay allocate gigabytes. A Log of more is
// refused before it is written.
const walMaxRecord = 256 << 20

// walScratchMax bounds the buffer a segment keeps between appends: the
// records of a busy server are tens of KB, and one rare large record
// should not stay in memory for the segment's life.
const walScratchMax = 1 << 20

// recordBound is at least the size of rec as appendRecord encodes it.
// The log writes integers at their types' full widths, so every field but
// a key or a value has a fixed size; the bound takes the widest header of
// each map, array and bin.
func recordBound(rec logRecord) int {
	const (
		// map, "k" and a bin32 header, "v" and a bin32 header, "t" and
		// a version (map, "w" int64, "l" uint32, "o" uint32), "s" and
		// "r" uint64, "d" bool
		perEntry = 1 + 2 + 5 + 2 + 5 + 2 + 26 + 11 + 11 + 3
		perDot   = 1 + 2 + 9 + 2 + 9 // map, "i"/"o" uint64, "n"/"s" uint64
		seen     = 1 + 2 + 5 + 2 + 5 // map, "p" array, "x" array
		// map, "e" array, "s" seen, "f" and a stable point (map, "v"
		// version, "c" seen), "m" array
		fixed = 1 + 2 + 5 + 2 + seen + 2 + 1 + 2 + 26 + 2 + seen + 2 + 5
	)
	dots := len(rec.seen.Prefix) + len(rec.seen.Extra) + len(rec.stable.Cover.Prefix) + len(rec.stable.Cover.Extra)
	size := recHeaderSize + fixed + perDot*dots + 5*len(rec.members)
	for _, e := range rec.entries {
		size += perEntry + len(e.Key) + len(e.Value)
	}
	return size
}

type span struct{ off, n int64 }

// scan is what a segment holds, as read: the records that verify, the
// spans stepped over, and what follows the last record that verifies.
type scan struct {
	// header: the segment header is unreadable; none of its records can
	// be checked.
	header  bool
	records []logRecord
	// skipped are the spans stepped over, each followed by a record that
	// verifies; after counts the records that verified after the first.
	skipped []span
	after   int
	// tail is what follows the last record that verifies (n == 0: nothing).
	tail span
	// tailLSN is the sequence number of the record the tail starts with,
	// when its header verifies and nothing but that record's own bytes,
	// or fewer, follows: a record cut short or failing its payload sum,
	// as an append cut by a crash leaves it. Zero otherwise.
	tailLSN uint64
	// tailZeros: the tail is zeros, the room a segment grows by (or a
	// file extended before its data reached the disk). tailShort: it is
	// shorter than a record header, as an append cut short can leave it.
	tailZeros, tailShort bool
}

// openWAL opens or creates a segment. A new segment, or one whose header a
// crash left incomplete (no record can follow an unsynced header), gets a
// fresh header.
func openWAL(path string, noSync bool, fs fileSystem, synced func(uint64)) (*wal, error) {
	f, err := fs.openFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage: open log %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: open log %s: %w", path, err)
	}
	w := &wal{path: path, f: f, fs: fs, size: st.Size(), alloc: st.Size(), noSync: noSync, synced: synced}
	if w.size <= walHeaderSize {
		hdr := make([]byte, walHeaderSize)
		if _, err := io.ReadFull(io.NewSectionReader(f, 0, w.size), hdr[:w.size]); err != nil {
			f.Close()
			return nil, fmt.Errorf("storage: read log %s: %w", path, err)
		}
		if w.size < walHeaderSize || !bytes.Equal(hdr[:len(walMagic)], walMagic) {
			if err := w.reset(); err != nil {
				f.Close()
				return nil, err
			}
		}
	}
	return w, nil
}

// reset empties the segment and gives it a new header and salt.
func (w *wal) reset() error {
	hdr := make([]byte, walHeaderSize)
	copy(hdr, walMagic)
	if _, err := rand.Read(hdr[len(walMagic):]); err != nil {
		return err
	}
	if err := w.f.Truncate(0); err != nil {
		return fmt.Errorf("storage: reset log %s: %w", w.path, err)
	}
	w.size, w.alloc = 0, 0
	if _, err := w.f.WriteAt(hdr, 0); err != nil {
		return fmt.Errorf("storage: reset log %s: %w", w.path, err)
	}
	w.size, w.alloc = walHeaderSize, walHeaderSize
	w.seed = crc32.Checksum(hdr[len(walMagic):], castagnoli)
	if w.noSync {
		return nil
	}
	if err := w.datasync(); err != nil {
		return fmt.Errorf("storage: reset log %s: %w", w.path, err)
	}
	return nil
}

func (w *wal) read() ([]byte, error) {
	data := make([]byte, w.size)
	if _, err := io.ReadFull(io.NewSectionReader(w.f, 0, w.size), data); err != nil {
		return nil, fmt.Errorf("storage: read log %s: %w", w.path, err)
	}
	return data, nil
}

// scan reads the segment. It changes nothing: what it found stays on disk
// as evidence until the Bolt decides (a torn last record is cut by cut;
// damage stays until Reset).
func (w *wal) scan() (scan, error) {
	data, err := w.read()
	if err != nil {
		return scan{}, err
	}
	var sc scan
	if !bytes.Equal(data[:len(walMagic)], walMagic) {
		sc.header = true
		return sc, nil
	}
	w.seed = crc32.Checksum(data[len(walMagic):walHeaderSize], castagnoli)
	pos := int64(walHeaderSize)
	for pos < int64(len(data)) {
		h, n, ok := w.verify(data, pos)
		if !ok {
			next := w.resync(data, pos+1)
			if next < 0 {
				sc.tail = span{pos, int64(len(data)) - pos}
				// The zeros a segment grows by follow a record cut
				// short, as they follow the last whole one: what the
				// tail holds ends at its last byte that is not zero.
				written := int64(len(bytes.TrimRight(data[pos:], "\x00")))
				sc.tailZeros = written == 0
				sc.tailShort = written < recHeaderSize
				if h, ok := w.header(data, pos); ok && recHeaderSize+int64(h.length) >= written {
					sc.tailLSN = h.lsn
				}
				break
			}
			sc.skipped = append(sc.skipped, span{pos, next - pos})
			pos = next
			continue
		}
		rec, err := decodeRecordPayload(data[pos+recHeaderSize : pos+n])
		if err != nil {
			// The sums matched what was written: not rot but a record
			// this build cannot read. Its writes are missing all the same.
			sc.skipped = append(sc.skipped, span{pos, n})
		} else {
			rec.lsn = h.lsn
			sc.records = append(sc.records, rec)
			if len(sc.skipped) > 0 {
				sc.after++
			}
		}
		pos += n
	}
	return sc, nil
}

// cut cuts the segment at off, durably, so that the next append follows
// the last record that verified.
func (w *wal) cut(off int64) error {
	if err := w.truncate(off, true); err != nil {
		return fmt.Errorf("storage: cut the end off log %s: %w", w.path, err)
	}
	return nil
}

// verify reports whether a whole record that passes both sums starts at
// pos, with its header and its length with its header.
func (w *wal) verify(data []byte, pos int64) (recHeader, int64, bool) {
	h, ok := w.header(data, pos)
	if !ok || int64(h.length) > int64(len(data))-pos-recHeaderSize {
		return h, 0, false
	}
	payload := data[pos+recHeaderSize : pos+recHeaderSize+int64(h.length)]
	if crc32.Update(w.seed, castagnoli, payload) != h.payloadSum {
		return h, 0, false
	}
	return h, recHeaderSize + int64(h.length), true
}

type recHeader struct {
	length, payloadSum uint32
	lsn                uint64
}

// header reads the record header at pos if its marker and sum check out.
func (w *wal) header(data []byte, pos int64) (recHeader, bool) {
	if int64(len(data))-pos < recHeaderSize {
		return recHeader{}, false
	}
	b := data[pos : pos+recHeaderSize]
	if !bytes.Equal(b[:4], recordMagic) || crc32.Update(w.seed, castagnoli, b[:20]) != binary.LittleEndian.Uint32(b[20:]) {
		return recHeader{}, false
	}
	h := recHeader{length: binary.LittleEndian.Uint32(b[4:]), lsn: binary.LittleEndian.Uint64(b[8:]), payloadSum: binary.LittleEndian.Uint32(b[16:])}
	return h, h.length <= walMaxRecord
}

// resync returns the offset of the first whole record at or after from
// that passes both sums, or -1.
func (w *wal) resync(data []byte, from int64) int64 {
	for from < int64(len(data)) {
		i := bytes.Index(data[from:], recordMagic)
		if i < 0 {
			return -1
		}
		if _, _, ok := w.verify(data, from+int64(i)); ok {
			return from + int64(i)
		}
		from += int64(i) + 1
	}
	return -1
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func decodeRecordPayload(payload []byte) (logRecord, error) {
	var p walPayload
	if err := unmarshal(payload, &p); err != nil {
		return logRecord{}, err
	}
	if !p.Seen.Valid() {
		return logRecord{}, fmt.Errorf("seen set %v is not canonical", p.Seen)
	}
	if p.Stable != nil && !p.Stable.Cover.Valid() {
		return logRecord{}, fmt.Errorf("stable point's set %v is not canonical", p.Stable.Cover)
	}
	rec := logRecord{seen: p.Seen, members: p.Members, entries: make([]model.Entry, len(p.Entries))}
	if p.Stable != nil {
		rec.stable = *p.Stable
	}
	for i, e := range p.Entries {
		rec.entries[i] = model.Entry{Key: e.Key, Value: e.Value, Version: e.Version, Seq: e.Seq, Src: e.Src, Deleted: e.Deleted}
	}
	return rec, nil
}

// appendRecord durably appends one record under its sequence number. On
// failure it cuts the file back to its old size, so that a write the
// caller was told failed cannot come back at the next open; if even that
// fails, the log's state is unknown and the error says so.
func (w *wal) appendRecord(rec logRecord) error {
	p := walPayload{Seen: rec.seen, Members: rec.members, Entries: make([]walEntry, len(rec.entries))}
	if !rec.stable.IsZero() {
		p.Stable = &rec.stable
	}
	for i, e := range rec.entries {
		p.Entries[i] = walEntry{Key: e.Key, Value: e.Value, Version: e.Version, Seq: e.Seq, Src: e.Src, Deleted: e.Deleted}
	}
	// Sized for the record up front: growing the buffer for a record of
	// 1 KB values copies it (and zeroes the copy) several times over.
	if size := recordBound(rec); cap(w.scratch) < size {
		w.scratch = make([]byte, 0, size)
	}
	buf := bytes.NewBuffer(w.scratch[:recHeaderSize])
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(buf)
	if err := enc.Encode(&p); err != nil {
		return fmt.Errorf("storage: encode log record: %w", err)
	}
	raw := buf.Bytes()
	if cap(raw) <= walScratchMax {
		w.scratch = raw[:0]
	} else {
		w.scratch = nil
	}
	n := len(raw) - recHeaderSize
	if n > walMaxRecord {
		return fmt.Errorf("storage: log record of %d bytes is larger than %d", n, walMaxRecord)
	}
	copy(raw, recordMagic)
	binary.LittleEndian.PutUint32(raw[4:], uint32(n))
	binary.LittleEndian.PutUint64(raw[8:], rec.lsn)
	binary.LittleEndian.PutUint32(raw[16:], crc32.Update(w.seed, castagnoli, raw[recHeaderSize:]))
	binary.LittleEndian.PutUint32(raw[20:], crc32.Update(w.seed, castagnoli, raw[:20]))
	err := w.grow(w.size + int64(len(raw)))
	if err == nil {
		_, err = w.f.WriteAt(raw, w.size)
	}
	if err == nil && !w.noSync {
		err = w.datasync()
	}
	if err != nil {
		if terr := w.truncate(w.size, true); terr != nil {
			return fmt.Errorf("storage: append to log %s: %w (and cutting it back failed: %v)", w.path, err, terr)
		}
		return fmt.Errorf("storage: append to log %s: %w", w.path, err)
	}
	w.size += int64(len(raw))
	return nil
}

// grow makes the file at least end bytes long, in whole chunks of zeros
// past the header. Not synced: the append's sync that follows carries it.
func (w *wal) grow(end int64) error {
	for w.alloc < end {
		n := walChunk - (w.alloc-walHeaderSize)%walChunk
		if _, err := w.f.WriteAt(zeros[:n], w.alloc); err != nil {
			return err
		}
		w.alloc += n
	}
	return nil
}

// empty drops every record, keeping the header; the cut is not synced
// (losing it costs only a replay that changes nothing).
func (w *wal) empty() error { return w.truncate(walHeaderSize, false) }

// truncate cuts the log to size bytes, and with sync makes the cut durable
// (a cut that only saves a replay need not be).
func (w *wal) truncate(size int64, sync bool) error {
	if err := w.f.Truncate(size); err != nil {
		return err
	}
	w.size, w.alloc = size, size
	if !sync || w.noSync {
		return nil
	}
	return w.datasync()
}

// datasync makes the segment's data durable, and counts the call.
func (w *wal) datasync() error {
	if w.synced != nil {
		w.synced(1)
	}
	return w.fs.datasync(w.f)
}

// close closes the segment, first cutting off the zeros it grew by (not
// synced: after a crash they read as the end of the log all the same), so
// that a segment at rest ends with its last record.
func (w *wal) close() error {
	var err error
	if w.alloc > w.size {
		err = w.f.Truncate(w.size)
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// segmentFile is what the log needs of an open segment.
type segmentFile interface {
	io.WriterAt
	io.ReaderAt
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
}

// fileSystem is the log's way to the disk: the operating system's
// (osFS), or in tests one that forgets, at a simulated power loss, what
// was not synced.
type fileSystem interface {
	openFile(path string, flag int, perm os.FileMode) (segmentFile, error)
	// datasync makes f's data durable (fdatasync).
	datasync(f segmentFile) error
	// syncDir makes the directory's entries durable.
	syncDir(dir string) error
}

// osFS is the operating system's file system.
type osFS struct{}

func (osFS) openFile(path string, flag int, perm os.FileMode) (segmentFile, error) {
	return os.OpenFile(path, flag, perm)
}

func (osFS) datasync(f segmentFile) error { return fdatasync(f.(*os.File)) }

func (osFS) syncDir(dir string) error { return syncDir(dir) }

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
