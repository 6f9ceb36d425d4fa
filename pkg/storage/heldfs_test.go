package storage

import (
	"os"
	"path/filepath"
	"testing"
)

// The store behaves the same with its log's writes held in the process:
// every contract test passes over heldFS.
func TestBolt_HoldUnsynced_Contract(t *testing.T) {
	testBackend(t, func(t *testing.T) (Backend, func() Backend) {
		path := filepath.Join(t.TempDir(), "state.db")
		open := func() *Bolt {
			b, err := OpenBolt(path, BoltOptions{HoldUnsynced: true})
			if err != nil {
				t.Fatalf("OpenBolt: %v", err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return b
		}
		cur := open()
		return cur, func() Backend {
			if err := cur.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			cur = open()
			return cur
		}
	})
}

// A process killed after an append loses the record unless it was synced.
// The kill is a segment abandoned without Close; a second open reads what
// the operating system has.
func TestHeldFS_KillLosesWhatWasNotSynced(t *testing.T) {
	records := func(t *testing.T, path string) int {
		t.Helper()
		w, err := openWAL(path, false, osFS{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.close()
		sc, err := w.scan()
		if err != nil {
			t.Fatal(err)
		}
		return len(sc.records)
	}
	for _, c := range []struct {
		name   string
		noSync bool
		want   int
	}{
		{"synced", false, 2},
		{"not synced", true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			w, err := openWAL(path, false, heldFS{}, nil) // its header is synced
			if err != nil {
				t.Fatal(err)
			}
			w.noSync = c.noSync
			for lsn := uint64(1); lsn <= 2; lsn++ {
				if err := w.appendRecord(logRecord{lsn: lsn, entries: nil}); err != nil {
					t.Fatal(err)
				}
			}
			// The writer reads back its own appends, held or not.
			if sc, err := w.scan(); err != nil || len(sc.records) != 2 {
				t.Fatalf("the writer's own scan: %d records, %v; want 2", len(sc.records), err)
			}
			if got := records(t, path); got != c.want {
				t.Errorf("after the kill: %d records, want %d", got, c.want)
			}
			// Closing in order loses nothing.
			if err := w.close(); err != nil {
				t.Fatal(err)
			}
			if got := records(t, path); got != 2 {
				t.Errorf("after Close: %d records, want 2", got)
			}
		})
	}
}

// A cut goes to what is held first, and below it to the file; writes
// over bytes the file has are held over them until a sync.
func TestHeldFile_TruncateAndOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := heldFS{}.openFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write := func(s string, off int64) {
		t.Helper()
		if _, err := f.WriteAt([]byte(s), off); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string {
		t.Helper()
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, st.Size())
		if n, err := f.ReadAt(buf, 0); err != nil || n != len(buf) {
			t.Fatalf("ReadAt: %d, %v", n, err)
		}
		return string(buf)
	}
	onDisk := func() string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write("durable", 0)
	if err := (heldFS{}).datasync(f); err != nil {
		t.Fatal(err)
	}
	write("held", 7)
	if got := read(); got != "durableheld" {
		t.Fatalf("read %q", got)
	}
	if got := onDisk(); got != "durable" {
		t.Fatalf("on disk before a sync: %q", got)
	}
	if err := f.Truncate(9); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "durablehe" {
		t.Fatalf("after a cut of the held bytes: %q", got)
	}
	if err := f.Truncate(3); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "dur" {
		t.Fatalf("after a cut into the file: %q", got)
	}
	write("x", 3)
	if got := read(); got != "durx" {
		t.Fatalf("after a write: %q", got)
	}
	// A write over synced bytes, and one past a gap, read as written (the
	// gap as zeros) and reach the disk only with the sync.
	if err := (heldFS{}).datasync(f); err != nil {
		t.Fatal(err)
	}
	write("UR", 1)
	write("y", 6)
	if got := read(); got != "dURx\x00\x00y" {
		t.Fatalf("after writes over the file and past its end: %q", got)
	}
	if got := onDisk(); got != "durx" {
		t.Fatalf("on disk before a sync: %q", got)
	}
	if err := (heldFS{}).datasync(f); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(); got != "dURx\x00\x00y" {
		t.Fatalf("on disk after a sync: %q", got)
	}
}

// heldFS holds writes at any offset, so a file may have a hole between
// held writes. Truncating it to a length inside the hole must leave it that
// long, as the operating system's Truncate does (zeros up to the length),
// not as long as the last held write below the cut.
func TestHeldFile_TruncateIntoAGapKeepsTheLength(t *testing.T) {
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
