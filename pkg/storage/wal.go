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
//	"GKVR" | payload length (4 bytes LE) | payload sum | header sum | payload
//
// where the payload is a msgpack walPayload, the payload sum is the
// CRC-32C of the salt and the payload, and the header sum that of the salt
// and the header's first 12 bytes. The salt makes a record of another
// segment (or one planted in a value) fail both sums.
//
// Every Log is one append, synced before the next, so only the last
// record can be torn, and a torn record is cut off at open. A record that
// fails its sums with records after it that verify is not torn but
// damaged: replay finds the next record by its marker and header sum,
// keeps what verifies, and reports what it skipped. The writes in a
// skipped record are missing (see Bolt.Load, which then claims only what
// it can vouch for), and the server takes them back from its peers.
type wal struct {
	path   string
	f      *os.File
	size   int64
	seed   uint32 // CRC-32C of the salt: every sum starts from it
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
	Src     uint64        `msgpack:"r"`
}

var (
	walMagic    = []byte("GKVLOG\x00\x03")
	recordMagic = []byte("GKVR")
)

const (
	walHeaderSize = 16 // walMagic and the salt
	recHeaderSize = 16
)

// walMaxRecord bounds a record's announced length on replay, so that a torn
// length field cannot make replay allocate gigabytes. A Log of more is
// refused before it is written.
const walMaxRecord = 256 << 20

// walDamage is what replay found wrong in a segment, beyond a torn last
// record (which is normal after a crash and cut off without a word).
type walDamage struct {
	// header: the segment header is unreadable; none of its records can
	// be checked.
	header bool
	// skipped are the damaged spans replay stepped over, each followed
	// by a record that verifies.
	skipped []span
	// tail is a span at the end that is not a torn record (garbage where
	// a record's header should be), cut off.
	tail span
	// after counts the records that verified after the first damage.
	after int
}

type span struct{ off, n int64 }

func (d walDamage) any() bool { return d.header || len(d.skipped) > 0 || d.tail.n > 0 }

// describe says what replay found, for the server's log.
func (d walDamage) describe(path string, size int64) string {
	switch {
	case d.header:
		return fmt.Sprintf("%s: segment header unreadable: its %d bytes of records were dropped", path, size)
	case len(d.skipped) > 0:
		s := d.skipped[0]
		msg := fmt.Sprintf("%s: %d damaged span(s) of records, the first of %d bytes at offset %d; %d later records verified and were kept",
			path, len(d.skipped), s.n, s.off, d.after)
		if d.tail.n > 0 {
			msg += fmt.Sprintf("; %d unverifiable bytes at the end were cut off", d.tail.n)
		}
		return msg
	default:
		return fmt.Sprintf("%s: %d unverifiable bytes at offset %d (not a torn record) were cut off", path, d.tail.n, d.tail.off)
	}
}

// openWAL opens or creates a segment. A new segment, or one whose header a
// crash left incomplete (no record can follow an unsynced header), gets a
// fresh header.
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
	w := &wal{path: path, f: f, size: st.Size(), noSync: noSync}
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
	w.size = 0
	if _, err := w.f.Write(hdr); err != nil {
		return fmt.Errorf("storage: reset log %s: %w", w.path, err)
	}
	w.size = walHeaderSize
	w.seed = crc32.Checksum(hdr[len(walMagic):], castagnoli)
	if w.noSync {
		return nil
	}
	if err := fdatasync(w.f); err != nil {
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

// replay returns every record that verifies, in the order logged, and
// what it found damaged. It cuts off what follows the last record that
// verifies, so that the next append follows it.
func (w *wal) replay() ([]logRecord, walDamage, error) {
	data, err := w.read()
	if err != nil {
		return nil, walDamage{}, err
	}
	var dmg walDamage
	if !bytes.Equal(data[:len(walMagic)], walMagic) {
		dmg.header = true
		return nil, dmg, w.reset()
	}
	w.seed = crc32.Checksum(data[len(walMagic):walHeaderSize], castagnoli)
	var records []logRecord
	pos, end := int64(walHeaderSize), int64(walHeaderSize)
	for pos < int64(len(data)) {
		n, ok := w.verify(data, pos)
		if !ok {
			next := w.resync(data, pos+1)
			if next < 0 {
				if !w.torn(data[pos:]) {
					dmg.tail = span{pos, int64(len(data)) - pos}
				}
				break
			}
			dmg.skipped = append(dmg.skipped, span{pos, next - pos})
			pos = next
			continue
		}
		payload := data[pos+recHeaderSize : pos+n]
		rec, err := decodeRecordPayload(payload)
		if err != nil {
			// The sums matched what was written: not rot but a record
			// this build cannot read. Its writes are missing all the same.
			dmg.skipped = append(dmg.skipped, span{pos, n})
		} else {
			records = append(records, rec)
			if len(dmg.skipped) > 0 {
				dmg.after++
			}
		}
		pos += n
		end = pos
	}
	if end < w.size {
		if err := w.truncate(end, true); err != nil {
			return nil, dmg, fmt.Errorf("storage: cut the end off log %s: %w", w.path, err)
		}
	}
	return records, dmg, nil
}

// verify reports whether a whole record that passes both sums starts at
// pos, and its length with its header.
func (w *wal) verify(data []byte, pos int64) (int64, bool) {
	h, ok := w.header(data, pos)
	if !ok || int64(h.length) > int64(len(data))-pos-recHeaderSize {
		return 0, false
	}
	payload := data[pos+recHeaderSize : pos+recHeaderSize+int64(h.length)]
	if crc32.Update(w.seed, castagnoli, payload) != h.payloadSum {
		return 0, false
	}
	return recHeaderSize + int64(h.length), true
}

type recHeader struct {
	length, payloadSum uint32
}

// header reads the record header at pos if its marker and sum check out.
func (w *wal) header(data []byte, pos int64) (recHeader, bool) {
	if int64(len(data))-pos < recHeaderSize {
		return recHeader{}, false
	}
	b := data[pos : pos+recHeaderSize]
	if !bytes.Equal(b[:4], recordMagic) || crc32.Update(w.seed, castagnoli, b[:12]) != binary.LittleEndian.Uint32(b[12:]) {
		return recHeader{}, false
	}
	h := recHeader{length: binary.LittleEndian.Uint32(b[4:]), payloadSum: binary.LittleEndian.Uint32(b[8:])}
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
		if _, ok := w.verify(data, from+int64(i)); ok {
			return from + int64(i)
		}
		from += int64(i) + 1
	}
	return -1
}

// torn reports whether what follows the last good record is what a crash
// in the middle of an append leaves: too little for a header, zeros (a
// file extended before its data reached the disk), or a header that
// verifies followed by less than it announces or a payload that fails its
// sum. Anything else there is damage.
func (w *wal) torn(tail []byte) bool {
	if len(tail) < recHeaderSize || allZero(tail) {
		return true
	}
	_, ok := w.header(tail, 0)
	return ok
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
	rec := logRecord{seen: p.Seen, entries: make([]model.Entry, len(p.Entries))}
	for i, e := range p.Entries {
		rec.entries[i] = model.Entry{Key: e.Key, Value: e.Value, Version: e.Version, Seq: e.Seq, Src: e.Src}
	}
	return rec, nil
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
	var buf bytes.Buffer
	buf.Write(make([]byte, recHeaderSize))
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	if err := enc.Encode(&p); err != nil {
		return fmt.Errorf("storage: encode log record: %w", err)
	}
	raw := buf.Bytes()
	n := len(raw) - recHeaderSize
	if n > walMaxRecord {
		return fmt.Errorf("storage: log record of %d bytes is larger than %d", n, walMaxRecord)
	}
	copy(raw, recordMagic)
	binary.LittleEndian.PutUint32(raw[4:], uint32(n))
	binary.LittleEndian.PutUint32(raw[8:], crc32.Update(w.seed, castagnoli, raw[recHeaderSize:]))
	binary.LittleEndian.PutUint32(raw[12:], crc32.Update(w.seed, castagnoli, raw[:12]))
	_, err := w.f.Write(raw)
	if err == nil && !w.noSync {
		err = fdatasync(w.f)
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

// empty drops every record, keeping the header; the cut is not synced
// (losing it costs only a replay that changes nothing).
func (w *wal) empty() error { return w.truncate(walHeaderSize, false) }

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
