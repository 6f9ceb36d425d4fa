package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
	bolt "go.etcd.io/bbolt"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

// damaged loads b and fails the test unless Load reports damage whose text
// holds every one of want.
func damaged(t *testing.T, b Backend, want ...string) State {
	t.Helper()
	st, err := b.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(st.Damage) == 0 {
		t.Fatalf("Load reported no damage; entries %s, seen %v", describe(st.Entries), st.Meta.Seen)
	}
	text := strings.Join(st.Damage, "\n")
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Fatalf("damage report %q lacks %q", st.Damage, w)
		}
	}
	return st
}

// twoKeys is a file holding "fine" (write 1:1) and "victim" (write 2:1),
// and a meta that holds both dots and write 1:2, superseded by 1:1's key
// elsewhere.
func twoKeys(t *testing.T) (path string, fine, victim model.Entry) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "state.db")
	fine, victim = entry("fine", "v", 1, 1, 1), entry("victim", "VICTIM-VALUE-0123456789", 2, 2, 1)
	b := openBolt(t, path)
	if err := b.Commit([]model.Entry{fine, victim}, metaAt(2, 1, 2, 2, 1)); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	return path, fine, victim
}

// A record that fails its checks is left out, and the set of writes held
// is what the records that verified vouch for: the damaged record's write,
// and whatever writes the meta claimed, are missing, so that the server's
// peers send them back.
func TestBolt_Load_DamagedStoreRecord(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(tx *bolt.Tx) error
		key   string
	}{
		{"FlippedValueByte", func(tx *bolt.Tx) error {
			raw := bytes.Clone(tx.Bucket(storeBucket).Get([]byte("kvictim")))
			i := bytes.Index(raw, []byte("VICTIM"))
			raw[i] ^= 0x20
			return tx.Bucket(storeBucket).Put([]byte("kvictim"), raw)
		}, "victim"},
		{"Garbage", func(tx *bolt.Tx) error {
			return tx.Bucket(storeBucket).Put([]byte("kvictim"), []byte{0xc1, 0x00, 0x13, 0x37, 0x01})
		}, "victim"},
		{"Truncated", func(tx *bolt.Tx) error {
			raw := tx.Bucket(storeBucket).Get([]byte("kvictim"))
			return tx.Bucket(storeBucket).Put([]byte("kvictim"), bytes.Clone(raw[:len(raw)-1]))
		}, "victim"},
		{"MovedToAnotherKey", func(tx *bolt.Tx) error {
			s := tx.Bucket(storeBucket)
			raw := bytes.Clone(s.Get([]byte("kvictim")))
			if err := s.Delete([]byte("kvictim")); err != nil {
				return err
			}
			return s.Put([]byte("kvictom"), raw)
		}, "victom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, fine, _ := twoKeys(t)
			rawUpdate(t, path, tc.plant)
			b := openBolt(t, path)
			st := damaged(t, b, path, tc.key, "failed their checks")
			checkEntries(t, st.Entries, []model.Entry{fine})
			if want := (model.Seen{Prefix: vclock.Clock{{ID: 1, N: 1}}}); !st.Meta.Seen.Equal(want) {
				t.Fatalf("seen = %v, want only the verified entry's dot %v", st.Meta.Seen, want)
			}
			resetAndReopen(t, b, path, st)
		})
	}
}

// resetAndReopen writes back a damaged Load's state, checks that nothing
// else may be written before, and that the file then loads clean.
func resetAndReopen(t *testing.T, b *Bolt, path string, st State) {
	t.Helper()
	if err := b.Log([]model.Entry{entry("x", "y", 9, 9, 1)}, model.Meta{}); err == nil {
		t.Fatal("Log before Reset of a damaged state succeeded")
	}
	if err := b.Checkpoint(); err == nil {
		t.Fatal("Checkpoint before Reset of a damaged state succeeded")
	}
	if err := b.Reset(st.Entries, st.Meta); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	checkLoad(t, openBolt(t, path), st.Entries, st.Meta)
}

func TestBolt_Load_DamagedMeta(t *testing.T) {
	unsorted, err := seal(replicaKey, &metaRecord{Seen: model.Seen{Prefix: vclock.Clock{{ID: 3, N: 1}, {ID: 1, N: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		plant func(tx *bolt.Tx) error
		want  string
	}{
		{"Garbage", func(tx *bolt.Tx) error { return tx.Bucket(metaBucket).Put(replicaKey, []byte{0xc1}) }, "meta record"},
		{"SeenNotCanonical", func(tx *bolt.Tx) error { return tx.Bucket(metaBucket).Put(replicaKey, unsorted) }, "not canonical"},
		{"Missing", func(tx *bolt.Tx) error { return tx.Bucket(metaBucket).Delete(replicaKey) }, "meta record missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, fine, victim := twoKeys(t)
			rawUpdate(t, path, tc.plant)
			b := openBolt(t, path)
			st := damaged(t, b, tc.want)
			checkEntries(t, st.Entries, []model.Entry{fine, victim})
			want := model.Seen{Prefix: vclock.Clock{{ID: 1, N: 1}, {ID: 2, N: 1}}}
			if !st.Meta.Seen.Equal(want) {
				t.Fatalf("seen = %v, want the entries' dots %v (not the meta's 1:2)", st.Meta.Seen, want)
			}
			resetAndReopen(t, b, path, st)
		})
	}
}

// A record that vanishes from bbolt's own pages (which have no checksums)
// shows as a store that does not add up to what its meta says.
func TestBolt_Load_RecordLostFromPages(t *testing.T) {
	path, fine, _ := twoKeys(t)
	rawUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket(storeBucket).Delete([]byte("kvictim")) })
	b := openBolt(t, path)
	st := damaged(t, b, "holds 1 records", "meta says 2")
	checkEntries(t, st.Entries, []model.Entry{fine})
	if want := (model.Seen{Prefix: vclock.Clock{{ID: 1, N: 1}}}); !st.Meta.Seen.Equal(want) {
		t.Fatalf("seen = %v, want %v", st.Meta.Seen, want)
	}
}

// Bytes rotting in the file itself, under bbolt, are found the same way.
func TestBolt_Load_RottenBytesInFile(t *testing.T) {
	path, fine, _ := twoKeys(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("VICTIM-VALUE"))
	if i < 0 || bytes.Index(data[i+1:], []byte("VICTIM-VALUE")) >= 0 {
		t.Fatal("the victim's value is not in the file exactly once")
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("vICTIM"), int64(i)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st := damaged(t, openBolt(t, path), "victim")
	checkEntries(t, st.Entries, []model.Entry{fine})
}

// A checkpoint over a damaged record replaces it (a record that fails its
// checks counts as absent), and keeps the count and digest right.
func TestBolt_Checkpoint_WritesOverDamagedRecord(t *testing.T) {
	path, fine, _ := twoKeys(t)
	b := openBolt(t, path)
	newer := entry("victim", "newer", 3, 2, 2)
	if err := b.Log([]model.Entry{newer}, model.Meta{}); err != nil {
		t.Fatal(err)
	}
	closeRaw(t, b)
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		raw := bytes.Clone(tx.Bucket(storeBucket).Get([]byte("kvictim")))
		raw[len(raw)-1] ^= 1
		return tx.Bucket(storeBucket).Put([]byte("kvictim"), raw)
	})
	b = openBolt(t, path)
	// Load would report the damage; a checkpoint run by a server that
	// found it while running (it loaded before the rot) repairs it.
	if err := b.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	closeRaw(t, b)
	checkLoad(t, openBolt(t, path), []model.Entry{fine, newer}, metaAt(2, 1, 2, 2, 2))
}

// A file bbolt cannot read fails to open with one error that names the
// file and says what to do, never a panic.
func TestBolt_Open_Unreadable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"CutTo64KB", func(t *testing.T, path string) {
			if err := os.Truncate(path, 64<<10); err != nil {
				t.Fatal(err)
			}
		}},
		{"BothMetaPagesZeroed", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, 2*4096), 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"NotABoltFile", func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 2000), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := bigFile(t)
			tc.damage(t, path)
			b, err := OpenBolt(path, BoltOptions{})
			if err == nil {
				b.Close()
				t.Fatal("OpenBolt succeeded")
			}
			if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move it away") {
				t.Fatalf("OpenBolt = %v, want ErrUnreadable naming %s and saying what to do", err, path)
			}
		})
	}
}

// bigFile is a closed store file of a few hundred KB.
func bigFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	b := openBolt(t, path)
	var es []model.Entry
	for i := range 300 {
		es = append(es, entry(fmt.Sprintf("key-%04d", i), strings.Repeat("v", 1000), int64(i+1), 1, uint64(i+1)))
	}
	if err := b.Commit(es, metaAt(300, 1, 300)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Random bit flips anywhere in the file give an error or a Load (with or
// without damage, depending on where they fell), never a panic or a fault;
// and the state a Load returns, written back, loads clean.
func TestBolt_Open_RandomBitFlips(t *testing.T) {
	clean := bigFile(t)
	data, err := os.ReadFile(clean)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	outcomes := map[string]int{}
	for i := range 60 {
		path := filepath.Join(t.TempDir(), "state.db")
		bad := bytes.Clone(data)
		for range 1 + i%8 {
			bad[rng.IntN(len(bad))] ^= 1 << rng.IntN(8)
		}
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := OpenBolt(path, BoltOptions{})
		if err != nil {
			if !errors.Is(err, ErrUnreadable) && !errors.Is(err, ErrFormat) {
				t.Fatalf("flips %d: OpenBolt = %v, want ErrUnreadable or ErrFormat", i, err)
			}
			outcomes["unreadable"]++
			continue
		}
		st, err := b.Load()
		switch {
		case err != nil && !errors.Is(err, ErrUnreadable):
			t.Fatalf("flips %d: Load = %v", i, err)
		case err != nil:
			outcomes["unreadable at load"]++
		case len(st.Damage) > 0:
			outcomes["damage"]++
		default:
			outcomes["clean"]++
		}
		// Writing back what Load vouched for leaves a file that loads
		// clean, whatever else the flips hit.
		if err == nil {
			if err := b.Reset(st.Entries, st.Meta); err != nil {
				t.Fatalf("flips %d: Reset: %v", i, err)
			}
			if err := b.Close(); err != nil {
				t.Fatalf("flips %d: Close: %v", i, err)
			}
			b, err = OpenBolt(path, BoltOptions{})
			if err != nil {
				t.Fatalf("flips %d: reopen after Reset: %v", i, err)
			}
			after, err := b.Load()
			if err != nil || len(after.Damage) > 0 {
				t.Fatalf("flips %d: Load after Reset: %v %q", i, err, after.Damage)
			}
			checkEntries(t, after.Entries, st.Entries)
		}
		b.Close()
	}
	t.Logf("outcomes: %v", outcomes)
}

// An empty store file, or a missing one beside a log, is reported, not
// taken silently for a new store.
func TestBolt_Open_LostStoreFile(t *testing.T) {
	t.Run("Empty", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		b := openBolt(t, path)
		st := damaged(t, b, "was empty (0 bytes)")
		resetAndReopen(t, b, path, st)
	})
	t.Run("MissingBesideLog", func(t *testing.T) {
		x, y := entry("x", "1", 1, 1, 1), entry("y", "2", 2, 1, 2)
		path := logged(t, []model.Entry{x}, metaAt(1, 1, 1), []model.Entry{y})
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		b := openBolt(t, path)
		st := damaged(t, b, "is missing, though its log is there")
		checkEntries(t, st.Entries, []model.Entry{y})
		if want := (model.Seen{Extra: []model.Dot{{Origin: 1, Seq: 2}}}); !st.Meta.Seen.Equal(want) {
			t.Fatalf("seen = %v, want only the logged entry's dot %v", st.Meta.Seen, want)
		}
		resetAndReopen(t, b, path, st)
	})
}

// Files of formats 1 and 2 are upgraded on open: their records and log are
// kept, and the file is marked with the current format.
func TestBolt_Open_UpgradesLegacyFormats(t *testing.T) {
	for _, version := range legacyVersions {
		t.Run(fmt.Sprint(version), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			a, b, c := entry("a", "1", 1, 1, 1), entry("b", "2", 2, 1, 2), entry("a", "3", 3, 2, 1)
			writeLegacy(t, path, version, []model.Entry{a, b}, metaAt(2, 1, 2))
			if version == 2 {
				writeLegacyLog(t, path+".wal1", []model.Entry{c})
			}
			want := []model.Entry{a, b}
			wantMeta := metaAt(2, 1, 2)
			if version == 2 {
				want, wantMeta = []model.Entry{c, b}, metaAt(2, 1, 2, 2, 1)
			}
			up := openBolt(t, path)
			checkLoad(t, up, want, wantMeta)
			if err := up.Close(); err != nil {
				t.Fatal(err)
			}
			var got uint32
			rawUpdate(t, path, func(tx *bolt.Tx) error { return unmarshal(tx.Bucket(metaBucket).Get(formatKey), &got) })
			if got != formatVersion {
				t.Fatalf("format after the upgrade: %d, want %d", got, formatVersion)
			}
		})
	}
}

// writeLegacy writes a file as a build of the given format did.
func writeLegacy(t *testing.T, path string, version uint32, entries []model.Entry, meta model.Meta) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type legacyMeta struct {
		Seen  model.Seen    `msgpack:"s"`
		Clock model.Version `msgpack:"c"`
		Src   uint32        `msgpack:"r"`
	}
	err = db.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucket(metaBucket)
		s, _ := tx.CreateBucket(storeBucket)
		v, _ := msgpack.Marshal(version)
		mv, _ := msgpack.Marshal(&legacyMeta{Seen: meta.Seen, Clock: meta.Clock, Src: 1<<31 | 5})
		if err := errors.Join(m.Put(formatKey, v), m.Put(replicaKey, mv)); err != nil {
			return err
		}
		for _, e := range entries {
			rv, _ := msgpack.Marshal(&storeRecord{Value: e.Value, Version: e.Version, Seq: e.Seq, Src: e.Src})
			if err := s.Put(storeKey(e.Key), rv); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeLegacyLog writes a format-2 log segment with one record.
func writeLegacyLog(t *testing.T, path string, entries []model.Entry) {
	t.Helper()
	p := walPayload{}
	for _, e := range entries {
		p.Entries = append(p.Entries, walEntry{Key: e.Key, Value: e.Value, Version: e.Version, Seq: e.Seq, Src: e.Src})
	}
	payload, err := msgpack.Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	rec := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
	rec = binary.LittleEndian.AppendUint32(rec, crc32.Checksum(payload, castagnoli))
	if err := os.WriteFile(path, append(rec, payload...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A log record's set is the whole set its server held when it logged it:
// it covers the file's records too, so a damaged file record leaves the
// log's sets untrusted, and the record's write unclaimed.
func TestBolt_Load_DamagedFile_LogSetsNotTrusted(t *testing.T) {
	path, fine, _ := twoKeys(t)
	b := openBolt(t, path)
	x := entry("x", "logged", 3, 3, 1)
	if err := b.Log([]model.Entry{x}, model.Meta{Seen: metaAt(0, 1, 2, 2, 1).Seen}); err != nil {
		t.Fatal(err)
	}
	closeRaw(t, b)
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		raw := bytes.Clone(tx.Bucket(storeBucket).Get([]byte("kvictim")))
		raw[len(raw)-1] ^= 1
		return tx.Bucket(storeBucket).Put([]byte("kvictim"), raw)
	})
	st := damaged(t, openBolt(t, path), "victim")
	checkEntries(t, st.Entries, []model.Entry{fine, x})
	if want := (model.Seen{Prefix: vclock.Clock{{ID: 1, N: 1}, {ID: 3, N: 1}}}); !st.Meta.Seen.Equal(want) {
		t.Fatalf("seen = %v, want %v: not the victim's 2:1", st.Meta.Seen, want)
	}
}

// What Load found damaged is found again at the next open if the server
// dies before Reset: nothing at open destroys the evidence.
func TestBolt_DamageEvidence_SurvivesUntilReset(t *testing.T) {
	reopenTwice := func(t *testing.T, path string, wantEntries []model.Entry, notClaimed model.Dot) {
		t.Helper()
		for range 2 {
			b := openBolt(t, path)
			st := damaged(t, b)
			checkEntries(t, st.Entries, wantEntries)
			if st.Meta.Seen.Contains(notClaimed) {
				t.Fatalf("seen %v claims %v, whose write is gone", st.Meta.Seen, notClaimed)
			}
			closeRaw(t, b) // killed before Reset
		}
	}
	t.Run("MissingStoreFile", func(t *testing.T) {
		x, y := entry("x", "1", 1, 1, 1), entry("y", "2", 2, 1, 2)
		path := logged(t, []model.Entry{x}, metaAt(1, 1, 1))
		b := openBolt(t, path)
		if err := b.Log([]model.Entry{y}, model.Meta{Seen: metaAt(0, 1, 1).Seen}); err != nil {
			t.Fatal(err)
		}
		closeRaw(t, b)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		reopenTwice(t, path, []model.Entry{y}, x.Dot())
	})
	t.Run("DamagedRecordInOlderSegment", func(t *testing.T) {
		// x in one segment, then (a checkpoint that never finished) y in
		// the other with the whole set, which covers x.
		x, y := entry("x", "1", 1, 1, 1), entry("y", "2", 2, 1, 2)
		path := logged(t, nil, model.Meta{}, []model.Entry{x})
		older := logFile(t, path)
		b := openBolt(t, path)
		b.cur = 1 - b.cur
		if err := b.Log([]model.Entry{y}, model.Meta{Seen: metaAt(0, 1, 1).Seen}); err != nil {
			t.Fatal(err)
		}
		closeRaw(t, b)
		// x's payload rots: its header still verifies, so it looks like
		// an append cut short, but it is not the last one.
		flipAt(t, older, -2)
		reopenTwice(t, path, []model.Entry{y}, x.Dot())
	})
	t.Run("TwoDamagedRecordsAtTheEnd", func(t *testing.T) {
		x, y, z := entry("x", "1", 1, 1, 1), entry("y", "2", 2, 1, 2), entry("z", "3", 3, 1, 3)
		path := logged(t, nil, model.Meta{}, []model.Entry{x}, []model.Entry{y}, []model.Entry{z})
		name := logFile(t, path)
		offs := recordOffsets(t, name)
		flipAt(t, name, offs[1]+recHeaderSize+2)
		flipAt(t, name, -2)
		reopenTwice(t, path, []model.Entry{x}, y.Dot())
	})
	t.Run("CrashBetweenRebuildAndLogReset", func(t *testing.T) {
		path, fine, victim := twoKeys(t)
		b := openBolt(t, path)
		if err := b.Log([]model.Entry{entry("x", "logged", 3, 3, 1)}, model.Meta{Seen: metaAt(0, 1, 2, 2, 1).Seen}); err != nil {
			t.Fatal(err)
		}
		closeRaw(t, b)
		rawUpdate(t, path, func(tx *bolt.Tx) error {
			raw := bytes.Clone(tx.Bucket(storeBucket).Get([]byte("kvictim")))
			raw[len(raw)-1] ^= 1
			return tx.Bucket(storeBucket).Put([]byte("kvictim"), raw)
		})
		b = openBolt(t, path)
		st := damaged(t, b)
		// Reset's first half: the new file is in place, the log not yet
		// emptied.
		if err := b.rebuild(st.Entries, st.Meta); err != nil {
			t.Fatal(err)
		}
		closeRaw(t, b)
		b = openBolt(t, path)
		got, meta := load(t, b)
		checkEntries(t, got, st.Entries)
		if meta.Seen.Contains(victim.Dot()) || !meta.Seen.Contains(fine.Dot()) {
			t.Fatalf("seen after the crash = %v: must hold %v and not %v", meta.Seen, fine.Dot(), victim.Dot())
		}
	})
}
