package floor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gossipkv/pkg/model"
	"gossipkv/pkg/storage"
)

func TestMeasure_CommitsEveryPut(t *testing.T) {
	for _, d := range []Durability{Commit, Log} {
		t.Run(fmt.Sprint(d), func(t *testing.T) { testMeasure(t, d) })
	}
}

func testMeasure(t *testing.T, d Durability) {
	dir := t.TempDir()
	rate, err := MeasureDurability(50, 100, dir, d)
	if err != nil {
		t.Fatal(err)
	}
	if rate <= 0 {
		t.Fatalf("rate %v, want > 0", rate)
	}
	db, err := storage.OpenBolt(filepath.Join(dir, "floor.db"), storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := db.Load()
	if err != nil {
		t.Fatal(err)
	}
	entries, meta := st.Entries, st.Meta
	// Warmup and measured puts overwrite the same first 50 keys.
	if len(entries) != 50 {
		t.Fatalf("%d keys stored, want 50", len(entries))
	}
	for _, e := range entries {
		if len(e.Value) != 100 {
			t.Fatalf("key %q: value of %d bytes, want 100", e.Key, len(e.Value))
		}
	}
	if got, want := meta.Seen.Count(), uint64(warmup+50); got != want {
		t.Fatalf("meta holds %d writes, want %d", got, want)
	}
}

func TestMeasure_NoPuts_Fails(t *testing.T) {
	if _, err := Measure(0, t.TempDir()); err == nil {
		t.Fatal("Measure(0) succeeded")
	}
}

func TestKey_ThousandDistinctThreeLetterKeys(t *testing.T) {
	seen := map[string]bool{}
	for i := range 1000 {
		k := Key(i)
		if len(k) != 3 || bytes.ContainsFunc(k, func(r rune) bool { return r < 'a' || r > 'j' }) {
			t.Fatalf("Key(%d) = %q, want three letters a-j", i, k)
		}
		seen[string(k)] = true
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct keys, want 1000", len(seen))
	}
	if !bytes.Equal(Key(1000), Key(0)) {
		t.Fatalf("Key(1000) = %q, want it to wrap to %q", Key(1000), Key(0))
	}
}

// BenchmarkFloor is the bare chain of one put: master -> net/rpc -> client
// -> net/rpc -> server -> fsync'd bbolt commit -> replies, sequentially.
// Its puts/s is the ceiling of any cluster's sequential put rate here.
func BenchmarkFloor(b *testing.B) {
	for _, size := range []int{100, 1024, 10240} {
		b.Run(sizeName(size), func(b *testing.B) {
			c, err := start(b.TempDir(), Commit)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.close() })
			value := bytes.Repeat([]byte{'v'}, size)
			for i := range warmup {
				if err := c.put(i, value); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				if err := c.put(i, value); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

func sizeName(n int) string { return fmt.Sprintf("value=%dB", n) }

// The floor's checkpoints fold the log as a server's do: not before the
// interval or the bytes are due, and in the background once they are.
func TestCheckpoints_FoldTheLogOnceDue(t *testing.T) {
	dir := t.TempDir()
	db, err := openDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logBytes := func() (n int64) {
		files, _ := filepath.Glob(filepath.Join(dir, "floor.db.wal*"))
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				n += st.Size()
			}
		}
		return n
	}
	// Only the bytes make a checkpoint due here, whatever the disk's pace.
	defer func(d time.Duration) { checkpointEvery = d }(checkpointEvery)
	checkpointEvery = time.Hour
	c := newCheckpoints(db)
	var seq uint64
	logPuts := func(n int) {
		t.Helper()
		var es []model.Entry
		for range n {
			seq++
			es = append(es, model.Entry{Key: Key(int(seq)), Value: make([]byte, 1000), Version: model.Version{Wall: int64(seq), Origin: 1}, Seq: seq, Src: 1})
		}
		if err := db.Log(es, model.Meta{}); err != nil {
			t.Fatal(err)
		}
		if err := c.logged(es); err != nil {
			t.Fatal(err)
		}
	}
	logPuts(10)
	if err := c.wait(); err != nil {
		t.Fatal(err)
	}
	// A segment that holds records is at least a chunk of zeros long; a
	// checkpoint cuts it to its header.
	if n := logBytes(); n < 1000 {
		t.Fatalf("log of %d bytes after 10 KB logged at once: a checkpoint came before it was due", n)
	}
	logPuts(checkpointBytes / 1000)
	if err := c.wait(); err != nil {
		t.Fatal(err)
	}
	if n := logBytes(); n >= 1000 {
		t.Fatalf("log of %d bytes after %d bytes logged: want it folded", n, checkpointBytes)
	}
}

// Waiting for checkpoints while appends go on and start more is safe: a
// peer waits so at its stop while its committer still logs.
func TestCheckpoints_WaitWhileAppendsStartMore(t *testing.T) {
	db, err := storage.OpenBolt(filepath.Join(t.TempDir(), "floor.db"), storage.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	defer func(n int) { checkpointBytes = n }(checkpointBytes)
	checkpointBytes = 1 // every append makes one due
	c := newCheckpoints(db)
	done := make(chan error, 1)
	go func() {
		for i := range 3000 {
			e := []model.Entry{{Key: Key(i), Value: []byte("v"), Version: model.Version{Wall: int64(i + 1), Origin: 1}, Seq: uint64(i + 1), Src: 1}}
			if err := db.Log(e, model.Meta{}); err != nil {
				done <- err
				return
			}
			if err := c.logged(e); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if err := c.wait(); err != nil {
				t.Fatal(err)
			}
			return
		default:
			if err := c.wait(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
