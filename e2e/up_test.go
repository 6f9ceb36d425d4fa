package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gossipkv/pkg/config"
)

// upProc is a `master up` the test started.
type upProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string // its stdout, line by line
	mu     sync.Mutex  // guards stderr
	stderr bytes.Buffer
	done   chan struct{} // closed once it has exited
	code   int
}

// writeUpConfig writes a config of free loopback ports for nServers and
// nClients.
func writeUpConfig(t *testing.T, nServers, nClients int) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.LocalFreePorts(nServers, nClients, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := cfg.Write(path); err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

// startUp starts `master up -config cfgPath` with no stdin, waits for the
// end of its endpoint table and returns the table. It is stopped (SIGTERM,
// then SIGKILL) when the test ends if the test has not stopped it.
func startUp(t *testing.T, bin, cfgPath string) (*upProc, []string) {
	t.Helper()
	u := &upProc{t: t, lines: make(chan string, 1024), done: make(chan struct{})}
	u.cmd = exec.Command(filepath.Join(bin, "master"), "up", "-config", cfgPath)
	stdout, err := u.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	u.cmd.Stderr = writerFunc(func(p []byte) (int, error) { u.mu.Lock(); defer u.mu.Unlock(); return u.stderr.Write(p) })
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			u.lines <- sc.Text()
		}
		close(u.lines)
	}()
	go func() {
		u.cmd.Wait()
		u.code = u.cmd.ProcessState.ExitCode()
		close(u.done)
	}()
	t.Cleanup(func() {
		select {
		case <-u.done:
		default:
			u.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-u.done:
			case <-time.After(30 * time.Second):
				u.cmd.Process.Kill()
				<-u.done
			}
		}
		if t.Failed() {
			t.Logf("up's stderr:\n%s", u.errText())
		}
	})
	var table []string
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-u.lines:
			if !ok {
				<-u.done
				t.Fatalf("master up exited (%d) before its endpoints:\n%s\nstderr:\n%s", u.code, strings.Join(table, "\n"), u.errText())
			}
			table = append(table, line)
			if strings.HasPrefix(line, "stop:") {
				return u, table
			}
		case <-deadline:
			t.Fatalf("no endpoints from master up within a minute:\n%s", strings.Join(table, "\n"))
		}
	}
}

func (u *upProc) errText() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.stderr.String()
}

// signal sends sig and returns the exit code.
func (u *upProc) signal(sig syscall.Signal) int {
	u.t.Helper()
	if err := u.cmd.Process.Signal(sig); err != nil {
		u.t.Fatal(err)
	}
	select {
	case <-u.done:
	case <-time.After(60 * time.Second):
		u.t.Fatalf("master up still running a minute after %v", sig)
	}
	return u.code
}

// respPing sends a raw RESP PING to addr and returns the reply line.
func respPing(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// `master up` starts the cluster and prints every server's endpoints (rpc,
// Redis, HTTP, memcache); the Redis ports answer; scripts sent by other masters run on it with their
// transcript and exit code; SIGINT stops everything it started, exit 0.
func TestUp_EndpointsAttachedScriptsSIGINT(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	cfg, cfgPath := writeUpConfig(t, 3, 2) // servers 0-2, clients 3 (to 0) and 4 (to 1)
	t.Cleanup(func() { checkNothingLeft(t, cfg) })

	u, table := startUp(t, bin, cfgPath)
	text := strings.Join(table, "\n")
	for _, id := range cfg.ServerIDs() {
		s, _ := cfg.Server(id)
		row := strconv.Itoa(int(id)) + "       " + strings.Join([]string{s.RPCAddr(), s.RESPAddr(), s.HTTPAddr(), s.MemcacheAddr()}, "  ")
		if !strings.Contains(text, row) {
			t.Errorf("the table lacks server %d's row %q:\n%s", id, row, text)
		}
		if reply, err := respPing(s.RESPAddr()); err != nil || reply != "+PONG\r\n" {
			t.Errorf("PING server %d at %s: %q, %v", id, s.RESPAddr(), reply, err)
		}
	}
	if !strings.Contains(text, "kill -INT "+strconv.Itoa(u.cmd.Process.Pid)) {
		t.Errorf("the table does not say how to stop it:\n%s", text)
	}

	stdout, stderr, code := runMasterOut(t, bin, "put 3 a 1\nput 3 b 2\nstabilize\nget 4 a\nprintStore 2\n", "-echo", "-attach", "-config", cfgPath)
	want := "> put 3 a 1\n> put 3 b 2\n> stabilize\n> get 4 a\na:1\n> printStore 2\na:1\nb:2\n"
	if code != 0 || stdout != want {
		t.Errorf("attached script: exit %d, stdout:\n%s\nwant exit 0 and:\n%s\nstderr:\n%s", code, stdout, want, stderr)
	}

	// Without -attach, a master on the same config finds the cluster up
	// and runs there too.
	stdout, stderr, code = runMasterOut(t, bin, "get 3 b\nstabilise\nget 4 b\n", "-config", cfgPath)
	if code != 1 || stdout != "b:2\nb:2\n" || !strings.Contains(stderr, `master: line 2: unknown command "stabilise"`) {
		t.Errorf("script with a bad line: exit %d, stdout %q, stderr:\n%s\nwant exit 1, both gets and the error", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "master: running the script on the cluster that is up: master pid "+strconv.Itoa(u.cmd.Process.Pid)) {
		t.Errorf("the attached master does not say where its script ran:\n%s", stderr)
	}

	// A second up on the same data directory names the first.
	// A script that asks for the other consistency is refused, not run
	// in the mode the cluster happens to be in.
	_, stderr, code = runMasterOut(t, bin, "get 3 a\n", "-consistency", "linearizable", "-config", cfgPath)
	if code != 2 || !strings.Contains(stderr, "it runs consistency eventual, and this master asks for linearizable") {
		t.Errorf("attach asking for linearizable to an eventual cluster: exit %d, stderr:\n%s", code, stderr)
	}
	_, stderr, code = runMasterOut(t, bin, "", "up", "-config", cfgPath)
	if want := "is in use by `master up` pid " + strconv.Itoa(u.cmd.Process.Pid); code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("second up: exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, want)
	}

	if code := u.signal(syscall.SIGINT); code != 0 {
		t.Errorf("master up after SIGINT: exit %d, want 0", code)
	}
	if !strings.Contains(u.errText(), "stopping the cluster: interrupt signal received") {
		t.Errorf("up's stderr does not say why it stopped:\n%s", u.errText())
	}
	for _, id := range cfg.ServerIDs() {
		s, _ := cfg.Server(id)
		if c, err := net.DialTimeout("tcp", s.RESPAddr(), time.Second); err == nil {
			c.Close()
			t.Errorf("server %d's Redis port still accepts after up stopped", id)
		}
	}
	_, stderr, code = runMasterOut(t, bin, "get 3 a\n", "-attach", "-config", cfgPath)
	if code != 2 || !strings.Contains(stderr, "no master is up on data directory") {
		t.Errorf("attach once up has stopped: exit %d, stderr:\n%s", code, stderr)
	}
}

// A `master up` killed hard leaves its pid files and socket: cleanup
// works from them, and the next up starts on the same data directory.
func TestUp_KilledHard_CleanupThenUpAgain(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	cfg, cfgPath := writeUpConfig(t, 2, 1)
	t.Cleanup(func() { checkNothingLeft(t, cfg) })

	u, _ := startUp(t, bin, cfgPath)
	if pids, _ := filepath.Glob(filepath.Join(cfg.DataDir, "pids", "*.pid")); len(pids) != 5 {
		t.Errorf("pid files while up: %v, want 5 (2 watchdogs, 2 servers, 1 client)", pids)
	}
	u.signal(syscall.SIGKILL)
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "master.sock")); err != nil {
		t.Errorf("the killed master's socket: %v", err)
	}
	if code, stderr := runMaster(t, bin, "", "cleanup", "-config", cfgPath); code != 0 {
		t.Fatalf("cleanup: exit %d\n%s", code, stderr)
	}
	if pids, _ := filepath.Glob(filepath.Join(cfg.DataDir, "pids", "*.pid")); len(pids) != 0 {
		t.Errorf("pid files after cleanup: %v", pids)
	}
	u, _ = startUp(t, bin, cfgPath)
	if stdout, stderr, code := runMasterOut(t, bin, "put 2 k v\nget 2 k\n", "-config", cfgPath); code != 0 || stdout != "k:v\n" {
		t.Errorf("script on the second up: exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	if code := u.signal(syscall.SIGTERM); code != 0 {
		t.Errorf("master up after SIGTERM: exit %d, want 0", code)
	}
}

// `master help` and -h list the subcommands; a stray word is an error
// (exit 2) that starts nothing.
func TestMaster_HelpAndStrayWords(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	cfg, cfgPath := writeUpConfig(t, 1, 1)
	stdout, _, code := runMasterOut(t, bin, "", "help")
	if code != 0 || !strings.Contains(stdout, "\n  up ") || !strings.Contains(stdout, "-attach") {
		t.Errorf("master help: exit %d, stdout:\n%s", code, stdout)
	}
	_, stderr, code := runMasterOut(t, bin, "", "-h")
	if code != 0 || !strings.Contains(stderr, "\n  up ") {
		t.Errorf("master -h: exit %d, stderr:\n%s", code, stderr)
	}
	for _, args := range [][]string{
		{"-config", cfgPath, "upp"},
		{"-config", cfgPath, "joinServer", "0"},
		{"up", "-config", cfgPath, "now"},
		{"cleanup", "-config", cfgPath, "all"},
	} {
		stdout, stderr, code := runMasterOut(t, bin, "joinServer 0\n", args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, "unexpected argument") {
			t.Errorf("master %q: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and an error", args, code, stdout, stderr)
		}
	}
	if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a stray word made the master touch its data directory (%v)", err)
	}
}
