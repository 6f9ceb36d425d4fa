package master

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A second master on a data directory that a live master holds stops with
// exit 2 naming that master, and drives nothing; once the first is done,
// the directory is free again.
func TestRun_DataDirHeld_Exit2_NamesHolder(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	c := startFakeCluster(t, cfg)
	held, err := lockDataDir(cfg.DataDir, Owner{Pid: os.Getpid(), Command: "run", Run: "theirs",
		Started: time.Now(), Config: "/elsewhere/config.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	r := runScript(t, cfg, lines("joinServer 0"), nil)
	if r.code != ExitStart {
		t.Fatalf("exit %d, want %d", r.code, ExitStart)
	}
	checkStderr(t, r.stderr, "data directory "+cfg.DataDir+" is in use by master pid "+strconv.Itoa(os.Getpid())+" (run theirs, started ",
		"config /elsewhere/config.yaml): wait for it to finish, or give this run a data directory and ports of its own: `bin/master config ")
	if got := c.startCalls(); len(got) != 0 {
		t.Errorf("the second master drove the cluster: starts %v", got)
	}
	// The refused master did not disturb the holder's record.
	if o, err := readOwner(cfg.DataDir); err != nil || o.Run != "theirs" {
		t.Errorf("owner after a refused master: %+v, %v", o, err)
	}
	held.release()
	if r := runScript(t, cfg, lines("joinServer 0"), nil); r.code != ExitOK {
		t.Fatalf("after the holder let go: exit %d", r.code)
	}
	// A master leaves the lock free and no owner behind.
	if _, err := os.Stat(filepath.Join(cfg.DataDir, ownerName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("owner file after the run: %v", err)
	}
}

// While a master holds the data directory, what it records is who it is.
func TestLockDataDir_OwnerReadBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	want := Owner{Pid: 4242, Command: "run", Run: "0123456789abcdef", Started: time.Unix(1700000000, 0), Config: "/x/config.yaml"}
	l, err := lockDataDir(dir, want)
	if err != nil {
		t.Fatal(err)
	}
	defer l.release()
	_, err = lockDataDir(dir, Owner{Pid: 1})
	var inUse *InUseError
	if !errors.As(err, &inUse) || !errors.Is(err, ErrDataDirInUse) || inUse.Dir != dir {
		t.Fatalf("second lock: %v", err)
	}
	if !inUse.Owner.Started.Equal(want.Started) {
		t.Errorf("started %v, want %v", inUse.Owner.Started, want.Started)
	}
	inUse.Owner.Started = want.Started
	if inUse.Owner != want {
		t.Errorf("owner %+v, want %+v", inUse.Owner, want)
	}
}

// cleanup refuses while a live master holds the data directory (it would
// kill that master's processes by their pid files), and works once it is
// free.
func TestCleanupDataDir_RefusesWhileAMasterHoldsIt(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	sleep, _ = filepath.EvalSymlinks(sleep)
	cmd := exec.Command(sleep, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	dataDir := t.TempDir()
	pidFiles{PidDir(dataDir)}.write("client-7", cmd.Process.Pid, sleep)

	held, err := lockDataDir(dataDir, Owner{Pid: os.Getpid(), Command: "run", Run: "live"})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	n, err := CleanupDataDir(dataDir, "config.yaml", &out)
	var inUse *InUseError
	if !errors.As(err, &inUse) || n != 0 || !strings.Contains(err.Error(), "master pid "+strconv.Itoa(os.Getpid())+" (run live") {
		t.Fatalf("cleanup under a live master = %d, %v", n, err)
	}
	if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
		t.Fatalf("cleanup killed a live master's process: %v", err)
	}
	held.release()
	if n, err := CleanupDataDir(dataDir, "config.yaml", &out); n != 1 || err != nil {
		t.Fatalf("cleanup after the master = %d, %v (%s)", n, err, out.String())
	}
	// And a data directory that does not exist has nothing to clean.
	if n, err := CleanupDataDir(filepath.Join(dataDir, "nope"), "config.yaml", &out); n != 0 || err != nil {
		t.Fatalf("cleanup of a missing dir = %d, %v", n, err)
	}
}
