package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gossipkv/pkg/model"
)

// A crash in an append into the zeros a segment grew by can leave only the
// first bytes of the record's header on disk (the header straddles a page
// boundary and only the first page reached the disk), the rest still the
// zeros that were there. That is the last append cut short, as a file
// extended by fewer bytes than a header was before the segments grew
// ahead: it must be cut off without a word, not reported as damage.
func TestReview_HeaderCutShortBeforeZerosIsTorn(t *testing.T) {
	for _, kept := range []int64{4, 10, recHeaderSize - 4} {
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
			clear(data[whole+kept : end]) // the header's first bytes written, no more
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

// heldFS holds writes at any offset now, so a file may have a hole between
// held writes. Truncating it to a length inside the hole must leave it that
// long, as the operating system's Truncate does (zeros up to the length),
// not as long as the last held write below the cut.
func TestReview_HeldTruncateIntoAHoleKeepsTheLength(t *testing.T) {
	dir := t.TempDir()
	ops := func(f segmentFile) {
		t.Helper()
		for _, w := range []struct {
			off int64
			s   string
		}{{0, "head"}, {100, "far past a hole"}} {
			if _, err := f.WriteAt([]byte(w.s), w.off); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Truncate(50); err != nil {
			t.Fatal(err)
		}
	}
	osf, err := osFS{}.openFile(filepath.Join(dir, "os"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer osf.Close()
	held, err := heldFS{}.openFile(filepath.Join(dir, "held"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	ops(osf)
	ops(held)
	want, err := osf.Stat()
	if err != nil {
		t.Fatal(err)
	}
	got, err := held.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if got.Size() != want.Size() {
		t.Fatalf("held file's size after the cut: %d, want %d as the operating system has it", got.Size(), want.Size())
	}
	if err := heldFS.datasync(heldFS{}, held); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != want.Size() {
		t.Fatalf("held file on disk after its sync: %d bytes, want %d", st.Size(), want.Size())
	}
}
