package master

import (
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCleanup_KillsRecordedProcesses_SparesReusedPids(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	sleep, _ = filepath.EvalSymlinks(sleep)
	start := func() *exec.Cmd {
		cmd := exec.Command(sleep, "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	orphan, other := start(), start()
	dir := t.TempDir()
	p := pidFiles{dir}
	p.write("server-3", orphan.Process.Pid, sleep)
	// A pid file whose pid now runs something else (a reused pid).
	p.write("client-7", other.Process.Pid, "/opt/gossipkv/bin/client")

	var out strings.Builder
	killed, err := Cleanup(dir, &out)
	if err != nil || killed != 1 || !strings.Contains(out.String(), "killed server-3") {
		t.Fatalf("Cleanup = %d, %v; said %q", killed, err, out.String())
	}
	waited := make(chan error, 1)
	go func() { waited <- orphan.Wait() }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("the recorded process is still running")
	}
	if err := syscall.Kill(other.Process.Pid, 0); err != nil {
		t.Fatalf("the process behind a reused pid was killed: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.pid")); len(left) != 0 {
		t.Fatalf("pid files left: %v", left)
	}
	if n, err := Cleanup(dir, io.Discard); n != 0 || err != nil {
		t.Fatalf("second Cleanup = %d, %v", n, err)
	}
}
