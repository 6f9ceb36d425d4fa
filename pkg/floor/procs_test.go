package floor

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/model"
	"gossipkv/pkg/storage"
)

// partEnv makes the test binary play a hop of the chain (see TestMain):
// role, dir, peers, run and durability, separated by newlines.
const partEnv = "GOSSIPKV_FLOOR_TEST_PART"

// dieEnv makes a hop the test binary plays exit, without closing
// anything, that long after it starts: a process killed mid-run.
const dieEnv = "GOSSIPKV_FLOOR_TEST_DIE_AFTER"

func TestMain(m *testing.M) {
	if spec, ok := os.LookupEnv(partEnv); ok {
		if d, err := time.ParseDuration(os.Getenv(dieEnv)); err == nil {
			time.AfterFunc(d, func() { os.Exit(3) })
		}
		f := strings.Split(spec, "\n")
		d, err := ParseDurability(f[4])
		if err == nil {
			err = Serve(f[0], f[1], f[2], f[3], d, os.Stdin, os.Stdout)
		}
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testPart(t *testing.T) PartCommand {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return func(role, dir, serverAddr, run string, d Durability) *exec.Cmd {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), partEnv+"="+strings.Join([]string{role, dir, serverAddr, run, d.String()}, "\n"))
		return cmd
	}
}

// The chain across processes commits every put in the server process's
// database and counts the three processes' CPU.
func TestMeasureProcesses_CommitsEveryPutInTheServerProcess(t *testing.T) {
	dir := t.TempDir()
	rate, cpuS, err := MeasureProcesses(50, 100, dir, Commit, testPart(t))
	if err != nil {
		t.Fatal(err)
	}
	if rate <= 0 || cpuS <= 0 {
		t.Fatalf("rate %v, cpu %v s: want both above 0", rate, cpuS)
	}
	db, err := storage.OpenBolt(filepath.Join(dir, "floor.db"), storage.BoltOptions{})
	if err != nil {
		t.Fatal(err) // also if the server process still held the file
	}
	t.Cleanup(func() { db.Close() })
	st, err := db.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Entries) != 50 || st.Meta.Seen.Count() != uint64(warmup+50) {
		t.Fatalf("%d keys, %d writes stored; want 50 keys, %d writes", len(st.Entries), st.Meta.Seen.Count(), warmup+50)
	}
}

// A hop that cannot start says why: the error carries its own words.
func TestMeasureProcesses_AHopThatFailsSaysWhy(t *testing.T) {
	part := testPart(t)
	broken := func(role, dir, serverAddr, run string, d Durability) *exec.Cmd {
		if role == RoleClient {
			role = "relay" // no such role: the hop exits at once
		}
		return part(role, dir, serverAddr, run, d)
	}
	_, _, err := MeasureProcesses(5, 10, t.TempDir(), Commit, broken)
	if err == nil || !strings.Contains(err.Error(), `role "relay"`) {
		t.Fatalf("err %v, want the hop's own error", err)
	}
}

func TestServe_RefusesAnUnknownRoleAndAClientWithoutServer(t *testing.T) {
	if err := Serve("relay", t.TempDir(), "", "r", Commit, strings.NewReader(""), os.Stdout); err == nil {
		t.Error("role relay served")
	}
	if err := Serve(RoleClient, t.TempDir(), "", "r", Commit, strings.NewReader(""), os.Stdout); err == nil {
		t.Error("a client hop with no server address served")
	}
}

// MeasureProcesses is MeasureDurability across processes: with Log, the
// server hop appends each put to the write-ahead log (as the one-process
// chain does) instead of committing it to bbolt.
func TestMeasureProcesses_LogDurabilityAppendsToTheLog(t *testing.T) {
	const puts, size = 30, 100
	walBytes := func(dir string) int64 {
		var n int64
		files, err := filepath.Glob(filepath.Join(dir, "floor.db.wal*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			n += fi.Size()
		}
		return n
	}
	inProcess := t.TempDir()
	if _, err := MeasureDurability(puts, size, inProcess, Log); err != nil {
		t.Fatal(err)
	}
	acrossProcesses := t.TempDir()
	if _, _, err := MeasureProcesses(puts, size, acrossProcesses, Log, testPart(t)); err != nil {
		t.Fatal(err)
	}
	want, got := walBytes(inProcess), walBytes(acrossProcesses)
	if got < want {
		t.Fatalf("with Log across processes the log holds %d bytes, in one process %d: the server hop did not append the puts to the log", got, want)
	}
}

// With peers, every put reaches every peer's own database: all hold the
// same newest write of every key (past 1000 puts the keys come round
// again, through another client's peer); and the CPU counted grows by
// theirs.
func TestMeasurePeers_EveryPeerHoldsEveryPut(t *testing.T) {
	const puts, peers = 1050, 3
	_, alone, err := MeasureProcesses(puts, 100, t.TempDir(), Log, testPart(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, replicated, err := MeasurePeers(puts, 100, dir, peers, peers, testPart(t))
	if err != nil {
		t.Fatal(err)
	}
	if replicated <= alone {
		t.Errorf("cpu with %d peers %.3f s, with one server %.3f s: want more with them", peers, replicated, alone)
	}
	// The last put to key k is put 1000+k for k under 50, put k after.
	newest := func(k int) int {
		if k < puts-1000 {
			return 1000 + k
		}
		return k
	}
	var first map[string]model.Version
	for p := range peers {
		st := loadFloorDB(t, filepath.Join(dir, fmt.Sprintf("peer-%d", p)))
		if len(st.Entries) != 1000 {
			t.Errorf("peer %d holds %d keys, want 1000", p, len(st.Entries))
		}
		held := map[string]model.Version{}
		for _, e := range st.Entries {
			held[string(e.Key)] = e.Version
			k := int(e.Key[0]-'a')*100 + int(e.Key[1]-'a')*10 + int(e.Key[2]-'a')
			if want := uint32(newest(k)%peers) + 1; e.Version.Origin != want {
				t.Errorf("peer %d: key %s from peer %d, want the newest write, from peer %d", p, e.Key, e.Version.Origin-1, want-1)
			}
		}
		if first == nil {
			first = held
		} else if !maps.Equal(first, held) {
			t.Errorf("peer %d holds other versions than peer 0", p)
		}
	}
}

// Without copies, each server holds only what its own clients put: put i
// goes through client i mod 4, on server (i mod 4) mod 3.
func TestMeasureUnreplicated_EachServerHoldsOnlyItsClientsPuts(t *testing.T) {
	const puts, servers, clients = 40, 3, 4
	dir := t.TempDir()
	rate, cpuS, err := MeasureUnreplicated(puts, 100, dir, servers, clients, Log, testPart(t))
	if err != nil {
		t.Fatal(err)
	}
	if rate <= 0 || cpuS <= 0 {
		t.Fatalf("rate %v, cpu %v s: want both above 0", rate, cpuS)
	}
	for s := range servers {
		st := loadFloorDB(t, filepath.Join(dir, fmt.Sprintf("server-%d", s)))
		var want []string
		for i := range puts {
			if i%clients%servers == s {
				want = append(want, string(Key(i)))
			}
		}
		var got []string
		for _, e := range st.Entries {
			got = append(got, string(e.Key))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("server %d holds %q, want %q", s, got, want)
		}
	}
	if _, _, err := MeasureUnreplicated(5, 10, t.TempDir(), 2, 0, Log, testPart(t)); err == nil {
		t.Error("no clients: measured")
	}
	if _, _, err := MeasureUnreplicated(5, 10, t.TempDir(), 0, 2, Log, testPart(t)); err == nil {
		t.Error("no servers: measured")
	}
}

func TestMeasurePeers_RefusesNoPeersAndServeABadIndex(t *testing.T) {
	if _, _, err := MeasurePeers(5, 10, t.TempDir(), 0, 1, testPart(t)); err == nil {
		t.Error("no peers: measured")
	}
	if err := Serve(RolePeer, t.TempDir(), "x", "r", Log, strings.NewReader(""), os.Stdout); err == nil {
		t.Error("a peer with index x served")
	}
}

// A peer that dies mid-run fails the measurement, which says so (the dead
// peer's exit among what it reports), and the other processes still stop.
func TestMeasurePeers_APeerThatDiesFailsTheRun(t *testing.T) {
	part := testPart(t)
	dying := func(role, dir, peers, run string, d Durability) *exec.Cmd {
		cmd := part(role, dir, peers, run, d)
		if role == RolePeer && peers == "1" {
			cmd.Env = append(cmd.Env, dieEnv+"=300ms")
		}
		return cmd
	}
	_, _, err := MeasurePeers(100000, 100, t.TempDir(), 3, 3, dying)
	if err == nil {
		t.Fatal("a run whose peer 1 died mid-run measured, want an error")
	}
	if !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("err %v: want the dead peer's exit among the errors", err)
	}
	t.Logf("the run failed: %v", err)
}

// loadFloorDB is what the floor's database in dir holds, once the process
// that wrote it has ended (opening it fails while one still holds it).
func loadFloorDB(t *testing.T, dir string) storage.State {
	t.Helper()
	db, err := storage.OpenBolt(filepath.Join(dir, "floor.db"), storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Load()
	if err != nil {
		t.Fatal(err)
	}
	return st
}
