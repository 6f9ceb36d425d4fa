package storage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

// lazyFS is a file system that, like LazyFS, keeps in a "disk" only what
// was synced: a power loss (crash) puts every file it opened back to its
// contents at its last datasync, and removes every file created since its
// directory was last synced. The files themselves are real (the log reads
// them back through the operating system), so everything else behaves as
// on the real disk.
type lazyFS struct {
	mu    sync.Mutex
	files map[string]*lazyState
}

// lazyState is what survives a power loss of one file.
type lazyState struct {
	durable []byte // the contents at the last datasync
	named   bool   // its directory entry is durable
}

type lazyFile struct {
	*os.File
	path string
}

func newLazyFS() *lazyFS { return &lazyFS{files: map[string]*lazyState{}} }

func (l *lazyFS) openFile(path string, flag int, perm os.FileMode) (segmentFile, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.files[path]; !ok {
		st := &lazyState{named: statErr == nil}
		if statErr == nil { // it was on the disk already: all of it is durable
			st.durable, _ = os.ReadFile(path)
		}
		l.files[path] = st
	}
	return &lazyFile{File: f, path: path}, nil
}

func (l *lazyFS) datasync(f segmentFile) error {
	lf := f.(*lazyFile)
	data, err := os.ReadFile(lf.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.files[lf.path].durable = data
	return nil
}

func (l *lazyFS) syncDir(dir string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for path, st := range l.files {
		if filepath.Dir(path) == dir {
			st.named = true
		}
	}
	return nil
}

// crash puts the disk back to what was synced. The files must be closed.
func (l *lazyFS) crash(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for path, st := range l.files {
		var err error
		if st.named {
			err = os.WriteFile(path, st.durable, 0o600)
		} else {
			err = os.Remove(path)
		}
		if err != nil {
			t.Fatalf("power loss of %s: %v", path, err)
		}
	}
	clear(l.files)
}

// Every write acknowledged by Log survives a power loss at any moment: a
// missing or misplaced sync on the put path (the append's datasync, the
// directory sync that makes a new segment's name durable) loses one.
// Between crashes the test folds the log into the file now and then, as
// the server's checkpoints do.
func TestPowerLoss_AcknowledgedLogWritesSurvive(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			path := filepath.Join(t.TempDir(), "store.db")
			fs := newLazyFS()
			acked := map[string]model.Entry{}
			seq := uint64(0)
			for life := range 4 {
				b, err := OpenBolt(path, BoltOptions{fs: fs})
				if err != nil {
					t.Fatalf("life %d: open: %v", life, err)
				}
				checkHolds(t, b, acked, life)
				for range 1 + rng.IntN(30) {
					seq++
					e := model.Entry{Key: fmt.Appendf(nil, "k%d", rng.IntN(20)), Value: fmt.Appendf(nil, "v%d", seq),
						Version: model.Version{Wall: int64(seq), Origin: 1}, Seq: seq, Src: 1}
					if err := b.Log([]model.Entry{e}, model.Meta{Seen: model.Seen{Prefix: vclock.Clock(nil).With(1, seq)}}); err != nil {
						t.Fatalf("life %d: Log: %v", life, err)
					}
					acked[string(e.Key)] = e
					if rng.IntN(10) == 0 {
						if err := b.Checkpoint(); err != nil {
							t.Fatalf("life %d: Checkpoint: %v", life, err)
						}
					}
				}
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				fs.crash(t)
			}
			b, err := OpenBolt(path, BoltOptions{fs: fs})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			checkHolds(t, b, acked, 4)
		})
	}
}

// checkHolds asserts that b's store holds every acknowledged entry.
func checkHolds(t *testing.T, b *Bolt, acked map[string]model.Entry, life int) {
	t.Helper()
	st, err := b.Load()
	if err != nil {
		t.Fatalf("life %d: Load: %v", life, err)
	}
	got := map[string]model.Entry{}
	for _, e := range st.Entries {
		got[string(e.Key)] = e
	}
	for k, want := range acked {
		if e, ok := got[k]; !ok || e.Version != want.Version {
			t.Fatalf("life %d: key %s holds %s@%v, want the acknowledged %s@%v (damage reported: %q)", life, k, e.Value, e.Version, want.Value, want.Version, st.Damage)
		}
		if !st.Meta.Seen.Contains(want.Dot()) {
			t.Fatalf("life %d: the set of writes held %v lacks the acknowledged %v", life, st.Meta.Seen, want.Dot())
		}
	}
}
