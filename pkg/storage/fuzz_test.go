package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gossipkv/pkg/model"
)

// FuzzRecordDecoding: whatever bytes a corrupt disk holds where a record
// should be, decoding returns a record or an error; it never panics and
// never allocates what a garbage length header claims (see mpcheck).
func FuzzRecordDecoding(f *testing.F) {
	sk := storeKey([]byte("key"))
	rec, _ := seal(sk, &storeRecord{Value: []byte("value"), Version: model.Version{Wall: 5, Origin: 1}, Seq: 3, Src: 9})
	meta, _ := seal(replicaKey, &metaRecord{Seen: model.Seen{Extra: []model.Dot{{Origin: 1, Seq: 4}}}, Keys: 1, Digest: 7})
	f.Add(rec)
	f.Add(meta)
	f.Add([]byte{0, 0, 0, 0, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeRecord(sk, b)
		var m metaRecord
		if unseal(replicaKey, b, &m) == nil {
			_ = m.Seen.Valid() // Load refuses a non-canonical set; it must not panic
		}
	})
}

// FuzzLogReplay damages a log segment of a few records (bytes flipped
// anywhere, the end cut off) and replays it. Whatever the damage:
//   - every record replay returns is one that was logged, in order;
//   - every record whose bytes the damage left alone is returned;
//   - damage to a record followed by an undamaged one is reported: damage
//     in the middle of the log is never taken for a torn last record.
//
// The seed corpus is in testdata/fuzz/FuzzLogReplay; go test runs it, and
// go test -fuzz=FuzzLogReplay ./pkg/storage searches for more.
func FuzzLogReplay(f *testing.F) {
	f.Add(uint8(3), []byte{}, uint16(0))                       // intact
	f.Add(uint8(3), []byte{0, 40, 0x01}, uint16(0))            // first record's payload
	f.Add(uint8(4), []byte{0, 20, 0xff}, uint16(0))            // first record's length
	f.Add(uint8(4), []byte{0, 9, 0x10}, uint16(0))             // the salt
	f.Add(uint8(2), []byte{}, uint16(5))                       // torn tail
	f.Add(uint8(5), []byte{1, 10, 0x80, 0, 200, 1}, uint16(3)) // two flips and a cut
	f.Fuzz(func(t *testing.T, n uint8, flips []byte, cut uint16) {
		n = 1 + n%6
		dir := t.TempDir()
		path := filepath.Join(dir, "seg")
		w, err := openWAL(path, true)
		if err != nil {
			t.Fatal(err)
		}
		var want []logRecord
		var spans []span
		for i := range int(n) {
			rec := logRecord{entries: []model.Entry{{
				Key: []byte(fmt.Sprintf("k%d", i)), Value: bytes.Repeat([]byte{byte('a' + i)}, 1+i*37),
				Version: model.Version{Wall: int64(i + 1)}, Seq: uint64(i + 1), Src: 1,
			}}}
			start := w.size
			if err := w.appendRecord(rec); err != nil {
				t.Fatal(err)
			}
			want = append(want, rec)
			spans = append(spans, span{start, w.size - start})
		}
		w.close()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		orig := bytes.Clone(data)
		for i := 0; i+2 < len(flips); i += 3 {
			data[int(binary.BigEndian.Uint16(flips[i:]))%len(data)] ^= flips[i+2]
		}
		end := len(data) - int(cut)%(len(data)/2+1)
		touched := make([]bool, len(data))
		for i := range data {
			touched[i] = i >= end || data[i] != orig[i]
		}
		data = data[:end]
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		w, err = openWAL(path, true)
		if err != nil {
			t.Fatal(err)
		}
		defer w.close()
		got, dmg, err := w.replay()
		if err != nil {
			t.Fatal(err)
		}
		headerHit := false
		for i := range walHeaderSize {
			headerHit = headerHit || touched[i]
		}
		intact := func(s span) bool {
			for i := s.off; i < s.off+s.n; i++ {
				if touched[i] {
					return false
				}
			}
			return true
		}
		// Returned records are logged ones, in order.
		j := 0
		for _, g := range got {
			for j < len(want) && !bytes.Equal(want[j].entries[0].Key, g.entries[0].Key) {
				j++
			}
			if j == len(want) || !bytes.Equal(want[j].entries[0].Value, g.entries[0].Value) {
				t.Fatalf("replay returned a record that was never logged or out of order: %q", g.entries[0].Key)
			}
			j++
		}
		if headerHit {
			// A damaged salt costs every record, but never silently.
			if len(got) < len(want) && !dmg.any() {
				t.Fatalf("the segment header was damaged, %d of %d records lost, and replay reported nothing", len(want)-len(got), len(want))
			}
			return
		}
		have := map[string]bool{}
		for _, g := range got {
			have[string(g.entries[0].Key)] = true
		}
		for i, s := range spans {
			if intact(s) && !have[string(want[i].entries[0].Key)] {
				t.Fatalf("record %d was not damaged but replay lost it (damage %+v)", i, dmg)
			}
			if !intact(s) && i+1 < len(spans) && intact(spans[i+1]) && !dmg.any() {
				t.Fatalf("record %d was damaged, record %d after it was not, and replay reported nothing", i, i+1)
			}
		}
	})
}
