package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
)

// session drives a master interactively: a line at a time on its stdin,
// its transcript read as it comes.
type session struct {
	t     *testing.T
	stdin io.WriteCloser
	lines chan string
	pid   int // the master's
}

// startSession starts a master on a config of free local ports for
// nServers servers and nClients clients, each edit applied to it first.
func startSession(t *testing.T, nServers, nClients int, edits ...func(*config.Config)) (*session, *config.Config) {
	t.Helper()
	bin := buildBinaries(t, moduleRoot(t))
	dir := t.TempDir()
	cfg, err := config.LocalFreePorts(nServers, nClients, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	for _, edit := range edits {
		edit(cfg)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := cfg.Write(cfgPath); err != nil {
		t.Fatal(err)
	}
	return startSessionWith(t, bin, cfg, cfgPath), cfg
}

// startSessionWith runs the master on the config at cfgPath (cfg is what
// it holds) until the test ends, when it closes the master's stdin and
// checks that nothing of the cluster is left.
func startSessionWith(t *testing.T, bin string, cfg *config.Config, cfgPath string) *session {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "master"), "-echo", "-config", cfgPath)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	var mu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return stderr.Write(p) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &session{t: t, stdin: stdin, lines: make(chan string, 1024), pid: cmd.Process.Pid}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		stdin.Close() // the master stops what it started at the end of its input
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("master stderr:\n%s", stderr.String())
			mu.Unlock()
		}
		checkNothingLeft(t, cfg)
	})
	return s
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (s *session) send(format string, args ...any) {
	s.t.Helper()
	if _, err := fmt.Fprintf(s.stdin, format+"\n", args...); err != nil {
		s.t.Fatalf("write to the master: %v", err)
	}
}

// expect reads the transcript until want appears. The deadline only guards
// against a hang; it asserts no speed.
func (s *session) expect(want string) {
	s.t.Helper()
	s.readUntil(want)
}

// readUntil reads the transcript until want appears and returns the lines
// before it.
func (s *session) readUntil(want string) []string {
	s.t.Helper()
	var before []string
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("master exited before printing %q", want)
			}
			if line == want {
				return before
			}
			before = append(before, line)
		case <-deadline:
			s.t.Fatalf("no %q from the master within a minute", want)
		}
	}
}

// serverPid asks server id for its pid.
func serverPid(t *testing.T, cfg *config.Config, id uint32) int {
	t.Helper()
	srv, _ := cfg.Server(id)
	pid, ok := answers(cfg, srv.RPCAddr(), api.ServerPing)
	if !ok || pid <= 0 {
		t.Fatalf("ping server %d: pid %d, answered %v", id, pid, ok)
	}
	return pid
}

// A server that stops answering (SIGSTOP) blocks neither puts at the other
// servers nor the master; once it resumes it catches up.
func TestStuckServer_OthersGoOn_ItCatchesUp(t *testing.T) {
	s, cfg := startSession(t, 3, 2) // servers 0-2, clients 3 and 4
	for id := 0; id < 3; id++ {
		s.send("joinServer %d", id)
	}
	s.send("joinClient 3 0")
	s.send("joinClient 4 2")
	s.send("put 3 before x")
	s.send("stabilize")
	s.send("get 4 before")
	s.expect("before:x")

	pid := serverPid(t, cfg, 1)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	// Writes through server 0, and through server 2, with 1 frozen.
	for i := 0; i < 50; i++ {
		s.send("put %d k%02d v%d", 3+i%2, i, i)
	}
	s.send("get 3 k48")
	s.expect("k48:v48")
	s.send("get 4 k49")
	s.expect("k49:v49")

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	s.send("stabilize")
	s.send("printStore 1")
	s.expect("> printStore 1")
	var store []string
	for len(store) < 51 {
		line, ok := <-s.lines
		if !ok {
			t.Fatalf("master exited; server 1 printed %d keys", len(store))
		}
		store = append(store, line)
	}
	if store[0] != "before:x" || store[50] != "k49:v49" || !strings.HasPrefix(store[1], "k00:") {
		t.Fatalf("server 1 after resuming: %v", store)
	}
}
