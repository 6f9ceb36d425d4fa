package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
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
		if err := b.Log(batch, model.Seen{}); err != nil {
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
	if err := b.Log([]model.Entry{y}, model.Seen{}); err != nil {
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
	if err := b.Log([]model.Entry{z}, model.Seen{}); err != nil {
		t.Fatal(err)
	}
	closeRaw(t, b)
	checkLoad(t, openBolt(t, path), []model.Entry{x, z}, seenMeta(1, 2))
}

func TestLog_BadChecksumEndsReplay(t *testing.T) {
	x, y := entry("x", "kept", 1, 1, 1), entry("y", "garbled", 2, 1, 2)
	path := logged(t, nil, model.Meta{}, []model.Entry{x}, []model.Entry{y})
	f, err := os.OpenFile(logFile(t, path), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	if _, err := f.WriteAt([]byte{'#'}, st.Size()-2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	checkLoad(t, openBolt(t, path), []model.Entry{x}, seenMeta(1, 1))
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

// A record whose checksum holds but whose payload does not decode was
// written so: the open fails and names the log, rather than dropping it
// and every record after it.
func TestLog_UndecodableRecordIsCorrupt(t *testing.T) {
	path := logged(t, nil, model.Meta{})
	payload, err := msgpack.Marshal([]string{"not", "records"})
	if err != nil {
		t.Fatal(err)
	}
	rec := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
	rec = binary.LittleEndian.AppendUint32(rec, crc32.Checksum(payload, castagnoli))
	if err := os.WriteFile(path+".wal1", append(rec, payload...), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = OpenBolt(path, BoltOptions{})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("OpenBolt = %v, want ErrCorrupt", err)
	}
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
		if st, err := os.Stat(name); err == nil && st.Size() > 0 {
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
		if st, err := os.Stat(fmt.Sprintf("%s.wal%d", path, i)); err != nil || st.Size() != 0 {
			t.Fatalf("segment %d after a checkpoint: %v %v, want empty", i, st, err)
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
	if err := b.Log([]model.Entry{y}, model.Seen{}); err != nil {
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
		if st, err := os.Stat(name); err == nil && st.Size() > 0 && name != first {
			return name
		}
	}
	return first
}
