package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

// A segment grows by a chunk of zeros ahead of its records, so that an
// append writes over bytes the file has and its sync commits no new size;
// a scan reads the zeros as the end, and a close cuts them off.
func TestWAL_GrowsAheadOfItsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, err := openWAL(path, false, osFS{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		t.Helper()
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	value := bytes.Repeat([]byte("v"), 1000)
	var ends []int64
	for lsn := uint64(1); lsn <= 50; lsn++ {
		if err := w.appendRecord(logRecord{lsn: lsn, entries: []model.Entry{{Key: []byte("k"), Value: value}}}); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, size())
	}
	for i, end := range ends {
		if end != walHeaderSize+walChunk {
			t.Fatalf("file size after append %d: %d, want %d throughout (one chunk past the header)", i+1, end, walHeaderSize+walChunk)
		}
	}
	// What a process opening the segment after a kill reads.
	r, err := openWAL(path, false, osFS{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := r.scan()
	r.f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.records) != 50 || !sc.tailZeros || sc.tail.off != w.size || len(sc.skipped) != 0 {
		t.Fatalf("scan: %d records, tail %+v (zeros %v), skipped %v; want 50 records and zeros from %d", len(sc.records), sc.tail, sc.tailZeros, sc.skipped, w.size)
	}
	logical := w.size
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	if got := size(); got != logical {
		t.Errorf("size after close: %d, want %d (the end of the last record)", got, logical)
	}
}

// A record longer than what is left of a chunk grows the file by as many
// chunks as it needs, and reads back whole.
func TestWAL_RecordLargerThanAChunk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, err := openWAL(path, false, osFS{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	big := bytes.Repeat([]byte("b"), 2*walChunk+100)
	for lsn := uint64(1); lsn <= 2; lsn++ {
		if err := w.appendRecord(logRecord{lsn: lsn, entries: []model.Entry{{Key: []byte("k"), Value: big}}}); err != nil {
			t.Fatal(err)
		}
	}
	if w.alloc < w.size || (w.alloc-walHeaderSize)%walChunk != 0 {
		t.Fatalf("alloc %d, size %d: want whole chunks covering the records", w.alloc, w.size)
	}
	sc, err := w.scan()
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.records) != 2 || !bytes.Equal(sc.records[1].entries[0].Value, big) {
		t.Fatalf("scan: %d records; want both, whole", len(sc.records))
	}
}

// killRaw abandons b as a killed process does: no Close, so the segments
// keep the zeros they grew by.
func killRaw(t *testing.T, b *Bolt) {
	t.Helper()
	err := b.db.Close()
	for _, w := range b.logs {
		err = errors.Join(err, w.f.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	b.db, b.closed = nil, true
}

// After a kill both segments may end in zeros: the one appended to, and
// the one a checkpoint emptied when the cut was lost. Neither is damage,
// and every write comes back.
func TestLog_ZerosAfterBothSegmentsAreNoDamage(t *testing.T) {
	x, y := entry("x", "folded", 1, 1, 1), entry("y", "logged", 2, 1, 2)
	path := filepath.Join(t.TempDir(), "state.db")
	b := openBolt(t, path)
	if err := b.Log([]model.Entry{x}, model.Meta{}); err != nil {
		t.Fatal(err)
	}
	first := path + ".wal0"
	before, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != walHeaderSize+walChunk {
		t.Fatalf("segment 0 holds %d bytes, want a chunk past its header", len(before))
	}
	if err := b.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := b.Log([]model.Entry{y}, model.Meta{}); err != nil {
		t.Fatal(err)
	}
	killRaw(t, b)
	// The checkpoint's cut of segment 0 was not synced: lost with the power.
	if err := os.WriteFile(first, before, 0o600); err != nil {
		t.Fatal(err)
	}
	b = openBolt(t, path)
	checkLoad(t, b, []model.Entry{x, y}, seenMeta(1, 2))
	for i, w := range b.logs {
		if w.alloc != w.size {
			t.Errorf("segment %d: %d bytes with zeros past its records at %d after the open; want them cut", i, w.alloc, w.size)
		}
	}
}

// A record cut short by a crash inside the zeros ahead of it (its first
// bytes written, the rest still the zeros that were there: part of its
// header, the header straddling a page boundary of which only the first
// page reached the disk, or its header and part of its payload) is a torn
// last append, as a file extended by too few bytes is: cut off without a
// word, not reported as damage.
func TestLog_TornRecordBeforeZerosIsTorn(t *testing.T) {
	for _, kept := range []int64{4, 10, recHeaderSize - 4, recHeaderSize + 4} {
		t.Run(fmt.Sprintf("%dBytes", kept), func(t *testing.T) {
			x, y := entry("x", "kept", 1, 1, 1), entry("y", "torn", 2, 1, 2)
			path := filepath.Join(t.TempDir(), "state.db")
			b := openBolt(t, path)
			if err := b.Log([]model.Entry{x}, model.Meta{}); err != nil {
				t.Fatal(err)
			}
			w := b.logs[b.cur]
			whole := w.size
			if err := b.Log([]model.Entry{y}, model.Meta{}); err != nil {
				t.Fatal(err)
			}
			end := w.size
			killRaw(t, b)
			name := path + ".wal0"
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			clear(data[whole+kept : end])
			if err := os.WriteFile(name, data, 0o600); err != nil {
				t.Fatal(err)
			}
			b = openBolt(t, path)
			checkLoad(t, b, []model.Entry{x}, seenMeta(1, 1))
			if st, err := os.Stat(name); err != nil || st.Size() != whole {
				t.Fatalf("log after open: %v, %v; want it cut back to its first record (%d bytes)", st, err, whole)
			}
		})
	}
}

// recordBound covers every record as appendRecord encodes it, so the
// encoding never grows its buffer; and the buffer a segment reuses from
// one append to the next leaves no bytes of a longer record in a shorter
// one: every record reads back as it was logged.
func TestWAL_RecordBoundAndReusedBuffer(t *testing.T) {
	w, err := openWAL(filepath.Join(t.TempDir(), "log"), true, osFS{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	rng := rand.New(rand.NewPCG(1, 2))
	// The log writes integers at full width, so their values do not
	// change the size; these make a canonical set of 2n dots.
	max := ^uint64(0)
	dots := func(n int) model.Seen {
		var s model.Seen
		for i := 1; i <= n; i++ {
			s.Prefix = append(s.Prefix, vclock.Entry{ID: uint64(i), N: 5})
		}
		for i := 1; i <= n; i++ {
			s.Extra = append(s.Extra, model.Dot{Origin: uint64(n + i), Seq: 10})
		}
		return s
	}
	entry := func(key, value int, deleted bool) model.Entry {
		return model.Entry{
			Key: bytes.Repeat([]byte("k"), key), Value: bytes.Repeat([]byte("v"), value),
			Version: model.Version{Wall: int64(max >> 1), Logical: math.MaxUint32, Origin: math.MaxUint32},
			Seq:     max, Src: max, Deleted: deleted,
		}
	}
	// The widest of each part on its own, then records drawn at random.
	widest := []logRecord{
		{seen: dots(20), stable: model.Stable{Version: model.Version{Wall: 1}, Cover: dots(20)}},
		{members: []uint32{math.MaxUint32, math.MaxUint32 - 1, math.MaxUint32 - 2}},
	}
	var deleted []model.Entry
	for i := 0; i < 40; i++ {
		deleted = append(deleted, entry(70000, 70000, true))
	}
	widest = append(widest, logRecord{entries: deleted})
	var logged []logRecord
	for lsn := uint64(1); lsn <= 200; lsn++ {
		rec := logRecord{lsn: lsn, seen: dots(rng.IntN(6))}
		isWidest := int(lsn) <= len(widest)
		if isWidest {
			rec = widest[lsn-1]
			rec.lsn = lsn
		}
		if !isWidest && rng.IntN(3) == 0 {
			rec.stable = model.Stable{Version: model.Version{Wall: -1 << 63, Logical: math.MaxUint32, Origin: math.MaxUint32}, Cover: dots(rng.IntN(6))}
		}
		for i := rng.IntN(4); i > 0 && !isWidest; i-- {
			rec.members = append(rec.members, math.MaxUint32-uint32(i))
		}
		// Sizes across the bin header widths: up to 255, 65535, and more.
		sizes := []int{0, 1, 200, 300, 70000}
		for i := rng.IntN(30); i >= 0 && !isWidest; i-- {
			rec.entries = append(rec.entries, entry(sizes[rng.IntN(len(sizes))], sizes[rng.IntN(len(sizes))], rng.IntN(2) == 0))
		}
		before := w.size
		if err := w.appendRecord(rec); err != nil {
			t.Fatal(err)
		}
		if n, bound := int(w.size-before), recordBound(rec); n > bound {
			t.Fatalf("record %d: %d bytes, above its bound %d (%d entries, %d dots, %d members)",
				lsn, n, bound, len(rec.entries), len(rec.seen.Prefix)+len(rec.seen.Extra)+len(rec.stable.Cover.Prefix)+len(rec.stable.Cover.Extra), len(rec.members))
		}
		logged = append(logged, rec)
	}
	sc, err := w.scan()
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.records) != len(logged) || len(sc.skipped) != 0 {
		t.Fatalf("scan: %d records, %d spans skipped; want %d and none", len(sc.records), len(sc.skipped), len(logged))
	}
	for i, got := range sc.records {
		want := logged[i]
		if got.lsn != want.lsn || len(got.entries) != len(want.entries) || !got.seen.Equal(want.seen) ||
			got.stable.Version != want.stable.Version || !got.stable.Cover.Equal(want.stable.Cover) || !slices.Equal(got.members, want.members) {
			t.Fatalf("record %d read back as lsn %d, %d entries, seen %v, stable %v, members %v; want lsn %d, %d entries, seen %v, stable %v, members %v",
				i, got.lsn, len(got.entries), got.seen, got.stable, got.members, want.lsn, len(want.entries), want.seen, want.stable, want.members)
		}
		for j := range want.entries {
			g, e := got.entries[j], want.entries[j]
			if !bytes.Equal(g.Key, e.Key) || !bytes.Equal(g.Value, e.Value) || g.Version != e.Version ||
				g.Seq != e.Seq || g.Src != e.Src || g.Deleted != e.Deleted {
				t.Fatalf("record %d entry %d read back changed", i, j)
			}
		}
	}
}
