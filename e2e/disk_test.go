package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/config"
	"gossipkv/pkg/storage"
)

// A disk that goes back in time or rots, between two runs of the master
// with -keep-data: every server of the group ends with every write that
// any live server still held, and the damaged server's log says what it
// found and what it did.

// diskCluster is three servers and one client (id 3) with their own
// ports and data directory; adjust may change the config before it is
// written.
type diskCluster struct {
	t       *testing.T
	bin     string
	cfg     *config.Config
	cfgPath string
}

func newDiskCluster(t *testing.T, adjust func(*config.Config)) *diskCluster {
	t.Helper()
	bin := buildBinaries(t, moduleRoot(t))
	dir := t.TempDir()
	cfg, err := config.LocalFreePorts(3, 1, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(cfg)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := cfg.Write(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		checkNothingLeft(t, cfg)
		if t.Failed() {
			logProcessLogs(t, cfg.LogDir())
		}
	})
	return &diskCluster{t: t, bin: bin, cfg: cfg, cfgPath: path}
}

// run runs a script to its end (the master then kills every server) and
// fails the test unless every line ran. It returns stdout.
func (c *diskCluster) run(script string, keep bool) string {
	c.t.Helper()
	args := []string{"-config", c.cfgPath}
	if keep {
		args = append(args, "-keep-data")
	}
	out, errs, code := runMasterOut(c.t, c.bin, script, args...)
	if code != 0 {
		c.t.Fatalf("master exited %d:\n%s", code, errs)
	}
	return out
}

func (c *diskCluster) serverDir(id uint32) string { return c.cfg.ServerDir(id) }

// checkpoint folds server id's log into its store file, as the server's
// checkpoints do, so that what it holds is in store.db; it returns the
// file's path. The server must not be running.
func (c *diskCluster) checkpoint(id uint32) string {
	c.t.Helper()
	path := filepath.Join(c.serverDir(id), "store.db")
	b, err := storage.OpenBolt(path, storage.BoltOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := errors.Join(b.Checkpoint(), b.Close()); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// serverLog is what server id wrote to its log file.
func (c *diskCluster) serverLog(id uint32) string {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.cfg.LogDir(), fmt.Sprintf("server-%d.log", id)))
	if err != nil {
		c.t.Fatal(err)
	}
	return string(b)
}

const joinAll = "joinServer 0\njoinServer 1\njoinServer 2\njoinClient 3 0\n"

// converged checks that the three printStore outputs of a run's stdout are
// identical and hold exactly want.
func converged(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3*len(want) {
		t.Fatalf("printStore of the three servers gave %d lines, want 3 x %d:\n%s", len(lines), len(want), out)
	}
	for s := range 3 {
		got := strings.Join(lines[s*len(want):(s+1)*len(want)], "\n")
		if got != strings.Join(want, "\n") {
			t.Fatalf("server %d holds:\n%s\nwant:\n%s", s, got, strings.Join(want, "\n"))
		}
	}
}

const printAll = "printStore 0\nprintStore 1\nprintStore 2\n"

// checkpointOff keeps every write in the log between checkpoints, so that
// a test can damage the log where it wants.
func checkpointOff(cfg *config.Config) { cfg.Timing.Checkpoint = time.Hour }

// logWithValue returns the log segment of server dir that holds value, its
// bytes, and the offsets at which its records start.
func logWithValue(t *testing.T, dir, value string) (string, []byte, []int) {
	t.Helper()
	for i := range 2 {
		name := filepath.Join(dir, fmt.Sprintf("store.db.wal%d", i))
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte(value)) {
			continue
		}
		// The layout is pkg/storage's (wal.go): a 16-byte header, then
		// records of a 24-byte header ("GKVR", length at bytes 4-8) and a
		// payload, then the zeros the segment grew by, if any.
		var offs []int
		for pos := 16; pos+24 <= len(data) && string(data[pos:pos+4]) == "GKVR"; pos += 24 + int(binary.LittleEndian.Uint32(data[pos+4:])) {
			offs = append(offs, pos)
		}
		return name, data, offs
	}
	t.Fatalf("no log segment in %s holds %q", dir, value)
	return "", nil, nil
}

// recordOf is the index of the record of offs that holds byte at.
func recordOf(offs []int, at int) int {
	i := 0
	for i+1 < len(offs) && offs[i+1] <= at {
		i++
	}
	return i
}

var abc = "put 3 a value-of-a\nput 3 b value-of-b\nput 3 c value-of-c\nstabilize\n"
var abcd = []string{"a:value-of-a", "b:value-of-b", "c:value-of-c", "d:value-of-d"}

// The log lost its tail (writes b and c, acknowledged and replicated):
// the server takes them back from its peers and numbers d with a dot of a
// new replica id, which its peers do not mistake for b's.
func TestDisk_LogTailLost_WritesComeBack(t *testing.T) {
	c := newDiskCluster(t, checkpointOff)
	c.run(joinAll+abc, false)
	name, data, offs := logWithValue(t, c.serverDir(0), "value-of-a")
	a := recordOf(offs, bytes.Index(data, []byte("value-of-a")))
	if a+1 >= len(offs) {
		t.Fatalf("nothing was logged after a's record: %v", offs)
	}
	if err := os.Truncate(name, int64(offs[a+1])); err != nil {
		t.Fatal(err)
	}
	out := c.run(joinAll+"put 3 d value-of-d\nstabilize\n"+printAll, true)
	converged(t, out, abcd...)
	if log := c.serverLog(0); !strings.Contains(log, "took back 2 writes of this server's own") {
		t.Errorf("server 0's log does not say it took back b and c:\n%s", log)
	}
}

// A byte flipped in the middle of the log, with acknowledged records
// after it: the records after it are kept, the damaged one (b) comes back
// from the peers, and the log says so.
func TestDisk_LogDamagedMidway_LaterRecordsKept(t *testing.T) {
	c := newDiskCluster(t, checkpointOff)
	c.run(joinAll+abc, false)
	name, data, offs := logWithValue(t, c.serverDir(0), "value-of-b")
	at := bytes.Index(data, []byte("value-of-b"))
	if recordOf(offs, at)+1 >= len(offs) || !bytes.Contains(data[at:], []byte("value-of-c")) {
		t.Fatal("b's record is not followed by c's")
	}
	data[at+3] ^= 0x01
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out := c.run(joinAll+"put 3 d value-of-d\nstabilize\n"+printAll, true)
	converged(t, out, abcd...)
	log := c.serverLog(0)
	for _, want := range []string{"data directory damaged", "damaged span", "later records verified and were kept", "took back 1 writes"} {
		if !strings.Contains(log, want) {
			t.Errorf("server 0's log lacks %q:\n%s", want, log)
		}
	}
}

// A data directory replaced by a copy taken before b and c were written.
func TestDisk_RestoredFromOlderCopy(t *testing.T) {
	c := newDiskCluster(t, nil)
	c.run(joinAll+"put 3 a value-of-a\nstabilize\n", false)
	backup := filepath.Join(c.t.TempDir(), "backup")
	if out, err := exec.Command("cp", "-a", c.serverDir(0), backup).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	c.run(joinAll+"put 3 b value-of-b\nput 3 c value-of-c\nstabilize\n", true)
	if err := os.RemoveAll(c.serverDir(0)); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", backup, c.serverDir(0)).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	out := c.run(joinAll+"put 3 d value-of-d\nstabilize\n"+printAll, true)
	converged(t, out, abcd...)
	if log := c.serverLog(0); !strings.Contains(log, "took back 2 writes of this server's own") {
		t.Errorf("server 0's log does not say it took back b and c:\n%s", log)
	}
}

// Values rotting inside the store file are found by their checksums,
// treated as missing and repaired from the peers; stabilize does not call
// the group converged before they are. The log holds records written after
// the values reached the file, whose sets of writes held cover the rotten
// ones: they must not be trusted either.
func TestDisk_RottenValuesInStore_Repaired(t *testing.T) {
	c := newDiskCluster(t, checkpointOff)
	var script strings.Builder
	script.WriteString(joinAll)
	var want []string
	for i := range 5 {
		fmt.Fprintf(&script, "put 3 k%d rot-me-%d-%s\n", i, i, strings.Repeat("x", 40))
		want = append(want, fmt.Sprintf("k%d:rot-me-%d-%s", i, i, strings.Repeat("x", 40)))
	}
	script.WriteString("stabilize\n")
	c.run(script.String(), false)
	// The values are in store.db, where a byte inside each is flipped,
	// and the log holds what came after.
	path := c.checkpoint(0)
	c.run(joinAll+"put 3 later in-the-log\nstabilize\n", true)
	want = append(want, "later:in-the-log")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		at := bytes.Index(data, []byte(fmt.Sprintf("rot-me-%d-", i)))
		if at < 0 {
			t.Fatalf("value %d is not in store.db", i)
		}
		data[at+10] ^= 0x20
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out := c.run(joinAll+"stabilize\n"+printAll, true)
	converged(t, out, want...)
	if log := c.serverLog(0); !strings.Contains(log, "5 records failed their checks") {
		t.Errorf("server 0's log does not report the 5 rotten records:\n%s", log)
	}
}

// A store file bbolt cannot read stops the server with one clear line, on
// its stderr and in the master's report, that names the file and says what
// to do; done, the server rebuilds from its peers and says so.
func TestDisk_UnreadableStore_ClearError_ThenRebuilt(t *testing.T) {
	c := newDiskCluster(t, nil)
	var script strings.Builder
	script.WriteString(joinAll)
	for i := range 60 {
		fmt.Fprintf(&script, "put 3 k%02d %s\n", i, strings.Repeat("v", 2000))
	}
	script.WriteString("stabilize\n")
	c.run(script.String(), false)
	path := c.checkpoint(0)
	if st, err := os.Stat(path); err != nil || st.Size() <= 64<<10 {
		t.Fatalf("store.db: %v %v, want more than 64 KB", st, err)
	}
	if err := os.Truncate(path, 64<<10); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runMasterOut(t, c.bin, "joinServer 0\n", "-config", c.cfgPath, "-keep-data")
	if code != 1 {
		t.Fatalf("master exited %d, want 1 (joinServer 0 failed):\n%s", code, stderr)
	}
	for _, want := range []string{path, "cut short", "move it away"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the master's report lacks %q:\n%s", want, stderr)
		}
	}
	for _, bad := range []string{"goroutine ", "panic", "SIGSEGV"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("the master's report shows a crash (%q):\n%s", bad, stderr)
		}
	}
	if err := os.Rename(path, path+".broken"); err != nil {
		t.Fatal(err)
	}
	out := c.run(joinAll+"stabilize\nprintStore 0\n", true)
	if n := strings.Count(out, "\n"); n != 60 {
		t.Fatalf("server 0 holds %d keys after the rebuild, want 60", n)
	}
	if log := c.serverLog(0); !strings.Contains(log, "store.db is missing, though its log is there") {
		t.Errorf("server 0's log does not say its store was lost:\n%s", log)
	}
}
