package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

// logged opens a Bolt at a new path, commits base and logs each batch,
// then closes it without a commit, as a killed server leaves it.
func logged(t *testing.T, base []model.Entry, meta model.Meta, batches ...[]model.Entry) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	b := openBolt(t, path)
	if err := b.Commit(base, meta); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	for _, batch := range batches {
		if err := b.Log(batch, model.Meta{}); err != nil {
			t.Fatalf("Log: %v", err)
		}
	}
	closeRaw(t, b)
	return path
}

// closeRaw closes b's files without anything Close might add.
func closeRaw(t *testing.T, b *Bolt) {
	t.Helper()
	err := b.db.Close()
	for _, w := range b.logs {
		err = errors.Join(err, w.close())
	}
	if err != nil {
		t.Fatal(err)
	}
	b.db, b.closed = nil, true
}

func TestLog_TornTailIsDropped(t *testing.T) {
	x, y := entry("x", "kept", 1, 1, 1), entry("y", "torn", 2, 1, 2)
	path := logged(t, nil, model.Meta{}, []model.Entry{x})
	wal := logFile(t, path)
	st, err := os.Stat(wal)
	if err != nil {
		t.Fatal(err)
	}
	whole := st.Size()
	b := openBolt(t, path)
	if err := b.Log([]model.Entry{y}, model.Meta{}); err != nil {
		t.Fatal(err)
	}
	closeRaw(t, b)
	// Cut the second record short, as a crash in its write would.
	st, _ = os.Stat(wal)
	if err := os.Truncate(wal, st.Size()-3); err != nil {
		t.Fatal(err)
	}
	b = openBolt(t, path)
	if st, err := os.Stat(wal); err != nil || st.Size() != whole {
		t.Fatalf("log after open: %v, %v; want it cut back to its first record (%d bytes)", st, err, whole)
	}
	checkLoad(t, b, []model.Entry{x}, seenMeta(1, 1))
	// A new record goes where the torn one was, and reads back.
	z := entry("z", "after", 3, 1, 2)
	if err := b.Log([]model.Entry{z}, model.Meta{}); err != nil {
		t.Fatal(err)
	}
	closeRaw(t, b)
	checkLoad(t, openBolt(t, path), []model.Entry{x, z}, seenMeta(1, 2))
}

// A last record that fails its sum is what a crash in its append (or a
// power loss before its sync) leaves: cut off without a word.
func TestLog_LastRecordFailingItsSumIsTorn(t *testing.T) {
	x, y := entry("x", "kept", 1, 1, 1), entry("y", "garbled", 2, 1, 2)
	path := logged(t, nil, model.Meta{}, []model.Entry{x}, []model.Entry{y})
	flipAt(t, logFile(t, path), -2)
	checkLoad(t, openBolt(t, path), []model.Entry{x}, seenMeta(1, 1))
}

// flipAt flips the byte at offset off of the file at name (negative: from
// the end).
func flipAt(t *testing.T, name string, off int64) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if off < 0 {
		st, _ := f.Stat()
		off += st.Size()
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// recordOffsets are the offsets at which a segment's records start.
func recordOffsets(t *testing.T, name string) []int64 {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for pos := int64(walHeaderSize); pos+recHeaderSize <= int64(len(data)); {
		out = append(out, pos)
		pos += recHeaderSize + int64(binary.LittleEndian.Uint32(data[pos+4:]))
	}
	return out
}

// Damage in the middle of the log is not a torn tail: the records after it
// that verify are kept, the damage is reported, and the set of writes held
// claims none of the damaged record's, which the server's peers then send
// back. The later records' own sets (each a whole set of writes held,
// which covers the damaged record's) are not trusted either.
func TestLog_MidLogDamage_KeepsLaterRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   func(rec int64) int64 // what to flip, given where the record starts
	}{
		{"Payload", func(rec int64) int64 { return rec + recHeaderSize + 3 }},
		{"Length", func(rec int64) int64 { return rec + 5 }},
		{"Marker", func(rec int64) int64 { return rec }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, y, z := entry("x", "1", 1, 1, 1), entry("y", "2", 2, 1, 2), entry("z", "3", 3, 2, 1)
			path := filepath.Join(t.TempDir(), "state.db")
			b := openBolt(t, path)
			for _, e := range []model.Entry{x, y} {
				if err := b.Log([]model.Entry{e}, model.Meta{}); err != nil {
					t.Fatal(err)
				}
			}
			// A record of others' writes, logged with the whole set held.
			if err := b.Log([]model.Entry{z}, model.Meta{Seen: metaAt(0, 1, 2, 2, 1).Seen}); err != nil {
				t.Fatal(err)
			}
			closeRaw(t, b)
			name := logFile(t, path)
			flipAt(t, name, tc.at(recordOffsets(t, name)[1]))
			b = openBolt(t, path)
			st := damaged(t, b, name, "stepped over", "1 later records verified and were kept", "missing from the log's sequence")
			checkEntries(t, st.Entries, []model.Entry{x, z})
			want := model.Seen{Prefix: vclock.Clock{{ID: 1, N: 1}, {ID: 2, N: 1}}}
			if !st.Meta.Seen.Equal(want) {
				t.Fatalf("seen = %v, want %v: not y's dot 1:2", st.Meta.Seen, want)
			}
			resetAndReopen(t, b, path, st)
		})
	}
}

// Bytes at the end of the log that are not a torn record (garbage where a
// record's header should be) are damage too, and reported.
func TestLog_GarbageTailIsDamage(t *testing.T) {
	x := entry("x", "kept", 1, 1, 1)
	path := logged(t, nil, model.Meta{}, []model.Entry{x})
	name := logFile(t, path)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte("garbage!"), 20)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st := damaged(t, openBolt(t, path), "not the last append cut short")
	checkEntries(t, st.Entries, []model.Entry{x})
}

// A damaged segment header (its salt) makes every record fail its sums:
// that is reported, not taken for an empty log.
func TestLog_DamagedSaltIsReported(t *testing.T) {
	x := entry("x", "lost", 1, 1, 1)
	path := logged(t, nil, model.Meta{}, []model.Entry{x})
	flipAt(t, logFile(t, path), 10)
	st := damaged(t, openBolt(t, path), "not the last append cut short")
	checkEntries(t, st.Entries, nil)
}

// A crash between a commit and the log's truncation leaves records the
// file already holds; folding them again must not bring back old values.
func TestLog_StaleLogChangesNothing(t *testing.T) {
	old := entry("a", "old", 1, 1, 1)
	path := logged(t, nil, model.Meta{}, []model.Entry{old})
	name := logFile(t, path)
	stale, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	b := openBolt(t, path)
	cur := entry("a", "new", 2, 1, 2)
	if err := b.Commit([]model.Entry{cur}, metaAt(2, 1, 2)); err != nil {
		t.Fatal(err)
	}
	closeRaw(t, b)
	if err := os.WriteFile(name, stale, 0o600); err != nil {
		t.Fatal(err)
	}
	checkLoad(t, openBolt(t, path), []model.Entry{cur}, metaAt(2, 1, 2))
}

// A record whose sums hold but whose payload does not decode was written
// so (by a build that wrote something else): it is reported and skipped,
// and the records after it are kept.
func TestLog_UndecodableRecordIsReported(t *testing.T) {
	x := entry("x", "kept", 1, 1, 1)
	path := filepath.Join(t.TempDir(), "state.db")
	b := openBolt(t, path)
	w := b.logs[b.cur]
	payload, err := msgpack.Marshal([]string{"not", "records"})
	if err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, recHeaderSize, recHeaderSize+len(payload))
	copy(rec, recordMagic)
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[8:], crc32.Update(w.seed, castagnoli, payload))
	binary.LittleEndian.PutUint32(rec[12:], crc32.Update(w.seed, castagnoli, rec[:12]))
	if _, err := w.f.WriteAt(append(rec, payload...), w.size); err != nil {
		t.Fatal(err)
	}
	w.size += int64(len(rec) + len(payload))
	w.alloc = max(w.alloc, w.size)
	if err := b.Log([]model.Entry{x}, model.Meta{}); err != nil {
		t.Fatal(err)
	}
	closeRaw(t, b)
	st := damaged(t, openBolt(t, path), "stepped over")
	checkEntries(t, st.Entries, []model.Entry{x})
}

// A huge announced length (a torn header) is a torn record, not an
// allocation of that size.
func TestLog_HugeLengthIsTorn(t *testing.T) {
	x := entry("x", "kept", 1, 1, 1)
	path := logged(t, nil, model.Meta{}, []model.Entry{x})
	f, err := os.OpenFile(logFile(t, path), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	checkLoad(t, openBolt(t, path), []model.Entry{x}, seenMeta(1, 1))
}

// seenMeta is a meta that holds the dots of (origin, n) pairs and no clock:
// what logging alone leaves.
func seenMeta(pairs ...uint64) model.Meta {
	m := metaAt(0, pairs...)
	m.Clock = model.Version{}
	return m
}

// logFile is the log segment that holds records, which a test expects one
// of the two to do.
func logFile(t *testing.T, path string) string {
	t.Helper()
	var found []string
	for i := range 2 {
		name := fmt.Sprintf("%s.wal%d", path, i)
		if st, err := os.Stat(name); err == nil && st.Size() > walHeaderSize {
			found = append(found, name)
		}
	}
	if len(found) != 1 {
		t.Fatalf("log segments with records: %v, want one", found)
	}
	return found[0]
}

// A checkpoint moves the log into the file: the log's segments are empty
// after it, and the file alone holds the state.
func TestLog_CheckpointEmptiesTheLog(t *testing.T) {
	x := entry("x", "logged", 1, 1, 1)
	path := logged(t, nil, model.Meta{}, []model.Entry{x})
	b := openBolt(t, path)
	if err := b.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if st, err := os.Stat(fmt.Sprintf("%s.wal%d", path, i)); err != nil || st.Size() != walHeaderSize {
			t.Fatalf("segment %d after a checkpoint: %v %v, want only its header", i, st, err)
		}
	}
	closeRaw(t, b)
	b = openBolt(t, path)
	if len(b.logged[0])+len(b.logged[1]) != 0 {
		t.Fatalf("log records after a checkpoint and reopen: %v", b.logged)
	}
	checkLoad(t, b, []model.Entry{x}, seenMeta(1, 1))
}

// Records in both segments (a crash during a commit) are all folded by the
// next checkpoint.
func TestLog_CheckpointFoldsBothSegments(t *testing.T) {
	x, y := entry("x", "first", 1, 1, 1), entry("y", "second", 2, 1, 2)
	path := logged(t, nil, model.Meta{}, []model.Entry{x})
	// Plant y in the other segment, as if the crash came after a switch.
	first := logFile(t, path)
	b := openBolt(t, path)
	b.cur = 1 - b.cur
	if err := b.Log([]model.Entry{y}, model.Meta{}); err != nil {
		t.Fatal(err)
	}
	closeRaw(t, b)
	if second := logFile2(t, path, first); second == first {
		t.Fatal("both records in one segment")
	}
	b = openBolt(t, path)
	if err := b.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	closeRaw(t, b)
	// Only the file now: hide the log.
	for i := range 2 {
		if err := os.Remove(fmt.Sprintf("%s.wal%d", path, i)); err != nil {
			t.Fatal(err)
		}
	}
	checkLoad(t, openBolt(t, path), []model.Entry{x, y}, seenMeta(1, 2))
}

// logFile2 is the segment with records other than first.
func logFile2(t *testing.T, path, first string) string {
	t.Helper()
	for i := range 2 {
		name := fmt.Sprintf("%s.wal%d", path, i)
		if st, err := os.Stat(name); err == nil && st.Size() > walHeaderSize && name != first {
			return name
		}
	}
	return first
}

// A tombstone logged over a value replaces it, through a replay and
// through a checkpoint.
func TestLog_TombstoneReplacesValue(t *testing.T) {
	v := entry("k", "value", 1, 1, 1)
	del := model.Entry{Key: []byte("k"), Value: []byte{}, Version: model.Version{Wall: 2, Origin: 1}, Seq: 2, Src: 1, Deleted: true}
	path := logged(t, []model.Entry{v}, metaAt(1, 1, 1), []model.Entry{del})
	b := openBolt(t, path)
	checkLoad(t, b, []model.Entry{del}, metaAt(1, 1, 2))
	if err := b.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	closeRaw(t, b)
	checkLoad(t, openBolt(t, path), []model.Entry{del}, metaAt(1, 1, 2))
}
