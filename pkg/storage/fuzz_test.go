package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
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

// FuzzLogReplay damages the log of a store (bytes flipped anywhere in a
// segment, its end cut off) and opens it again. Whatever the damage:
//   - every entry Load returns is one that was logged;
//   - every record whose bytes the damage left alone is returned;
//   - a damaged record with anything after it in the segment is reported:
//     damage in the middle of the log is never taken for a torn last
//     record, and the set of writes held then claims no write Load did
//     not return.
//
// The seed corpus is in testdata/fuzz/FuzzLogReplay; go test runs it, and
// go test -fuzz=FuzzLogReplay ./pkg/storage searches for more.
func FuzzLogReplay(f *testing.F) {
	f.Add(uint8(3), []byte{}, uint16(0))                       // intact
	f.Add(uint8(3), []byte{0, 50, 0x01}, uint16(0))            // first record's payload
	f.Add(uint8(4), []byte{0, 20, 0xff}, uint16(0))            // first record's length
	f.Add(uint8(4), []byte{0, 9, 0x10}, uint16(0))             // the salt
	f.Add(uint8(2), []byte{}, uint16(5))                       // torn tail
	f.Add(uint8(5), []byte{1, 10, 0x80, 0, 200, 1}, uint16(3)) // two flips and a cut
	f.Fuzz(func(t *testing.T, n uint8, flips []byte, cut uint16) {
		n = 1 + n%6
		path := filepath.Join(t.TempDir(), "state.db")
		b, err := OpenBolt(path, BoltOptions{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		var want []model.Entry
		var spans []span
		w := b.logs[b.cur]
		for i := range int(n) {
			e := model.Entry{
				Key: []byte(fmt.Sprintf("k%d", i)), Value: bytes.Repeat([]byte{byte('a' + i)}, 1+i*37),
				Version: model.Version{Wall: int64(i + 1)}, Seq: uint64(i + 1), Src: 1,
			}
			start := w.size
			// Each record's set holds every write before it, as a
			// server's commit records do.
			if err := b.Log([]model.Entry{e}, model.Meta{Seen: model.Seen{Prefix: vclock.Clock(nil).With(1, uint64(i))}}); err != nil {
				t.Fatal(err)
			}
			want = append(want, e)
			spans = append(spans, span{start, w.size - start})
		}
		name := w.path
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		orig := bytes.Clone(data)
		for i := 0; i+2 < len(flips); i += 3 {
			data[int(binary.BigEndian.Uint16(flips[i:]))%len(data)] ^= flips[i+2]
		}
		end := len(data) - int(cut)%(len(data)/2+1)
		data = data[:end]
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		intact := func(s span) bool {
			return s.off+s.n <= int64(end) && bytes.Equal(data[s.off:s.off+s.n], orig[s.off:s.off+s.n])
		}
		b, err = OpenBolt(path, BoltOptions{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		st, err := b.Load()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]model.Entry{}
		for _, e := range st.Entries {
			got[string(e.Key)] = e
		}
		for i, e := range want {
			g, ok := got[string(e.Key)]
			if ok && !bytes.Equal(g.Value, e.Value) {
				t.Fatalf("Load returned %q=%q, which was never logged", g.Key, g.Value)
			}
			if !ok && st.Meta.Seen.Contains(e.Dot()) {
				t.Fatalf("Load claims write %v (%q) without returning it (damage %q)", e.Dot(), e.Key, st.Damage)
			}
			if intact(spans[i]) && !bytes.Equal(data[:walHeaderSize], orig[:walHeaderSize]) {
				continue // a damaged salt may cost every record; reported below
			}
			if intact(spans[i]) && !ok {
				t.Fatalf("record %d was not damaged but Load lost it (damage %q)", i, st.Damage)
			}
			damagedBefore := !intact(spans[i]) && spans[i].off+spans[i].n < int64(end)
			if damagedBefore && len(st.Damage) == 0 {
				t.Fatalf("record %d was damaged, bytes follow it, and Load reported nothing", i)
			}
		}
		if len(got) < len(want) && !bytes.Equal(data[:walHeaderSize], orig[:walHeaderSize]) && end > walHeaderSize+recHeaderSize && len(st.Damage) == 0 {
			t.Fatalf("the segment header was damaged, %d of %d records lost, and Load reported nothing", len(want)-len(got), len(want))
		}
	})
}
